//! The helper library the lessons share.
//!
//! Each lesson in `lessons/` holds the socket calls it teaches, in the order
//! the tutorial makes them: `Socket::new`, `bind`, `listen`, `accept`,
//! `connect`, `send` and `recv`, the close. What every lesson needs around
//! those calls lives here, so that it is written once:
//!
//! - [`lesson`]: a [`Lesson`] is a server and a client; `Lesson::main`
//!   runs one as a demo, a server or a client, and turns errors into
//!   messages and exit codes.
//! - [`cli`]: the command line all lessons share, and the options a lesson
//!   adds.
//! - [`wire`]: the socket as a lesson shows it: `--trace`, `--hex`,
//!   `--chunk`, and the deadlines.
//! - [`output`]: labelled, coloured lines (`[server]`, `[client]`) folded
//!   at 80 columns, hex dumps, and the `listening on` line tests and the
//!   demo wait for.
//! - [`errors`]: explains what went wrong (a port in use, a refused
//!   connection, a reset) and what to do.
//! - [`framing`]: lesson 5's 10-character length header, and the reader
//!   that rebuilds messages from whatever `recv` returns.
//! - [`python`]: prints values and bytes the way Python's `repr` does, so
//!   Rust and Python print the same lines.
//! - [`unpickle`]: reads pickles from a peer that may be hostile: checks the
//!   opcodes within bounds, then builds the value, serde-pickle decoding
//!   each number, string and bytes; lists opcodes as `pickletools.dis`
//!   does.
//!
//! Run a lesson with `cargo run --example lesson_01`; `-- --help` lists its
//! options.

pub mod cli;
pub mod errors;
pub mod framing;
pub mod lesson;
pub mod output;
pub mod pickle;
pub mod python;
pub mod text;
pub mod unpickle;
pub mod wire;

pub use lesson::{ClientConfig, Lesson, ServerConfig};
pub use output::Out;
pub use wire::Wire;

use socket2::Socket;

/// Sets `SO_REUSEADDR` on a server socket, before `bind(2)`, where it does what
/// a restarting server wants.
///
/// When a server stops, its last connections linger for a minute or two (TCP's
/// `TIME_WAIT`), and without this option `bind` refuses the port until they are
/// gone. On Unix the option only lifts that wait. On Windows it means something
/// else, letting another program bind the same port while this one uses it, so
/// there it is left off.
pub fn reuse_address(socket: &Socket) -> std::io::Result<()> {
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    #[cfg(not(unix))]
    let _ = socket;
    Ok(())
}
