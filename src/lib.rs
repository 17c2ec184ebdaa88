//! The small library the lessons share. A reader may skip it: each lesson
//! in `lessons/` makes its own socket calls, in the tutorial's order.
//!
//! - [`lesson`]: runs a lesson as a demo, a server or a client, and turns
//!   an error into one line and an exit status.
//! - [`cli`]: the options the lessons share, as clap structs a lesson
//!   flattens into its own.
//! - [`output`]: `[server]` and `[client]` lines, `--trace` and `--hex`,
//!   and the `listening on` line that tests and the demo wait for.
//! - [`errors`]: what went wrong in words (a port in use, a refused
//!   connection, a reset), and a client's `--deadline`.
//! - [`framing`]: lesson 5's 10-character length header, and the reader
//!   that rebuilds messages from whatever `recv` returns.
//! - [`pickle`]: reads a peer's pickle of plain data as Python would build
//!   it (dicts in the order sent), within bounds, and prints its `repr`.
//! - [`text`]: Python's `repr` of str, bytes and float, and a peer's text
//!   made safe to print.

pub mod cli;
pub mod errors;
pub mod framing;
pub mod lesson;
pub mod output;
pub mod pickle;
pub mod text;

pub use lesson::{Client, Lesson, Server};
pub use output::Out;
