//! Lesson 2: a tiny buffer truncates the message.
//!
//! The server is lesson 1's. The client makes the same single `recv`, but
//! into a 7-byte buffer: it gets `Socket ` and nothing more. The other 19
//! bytes did arrive, and wait unread in the socket until the client closes
//! it.
//!
//! ```text
//! cargo run --example lesson_02                  # both, in one process
//! cargo run --example lesson_02 -- server        # terminal 1
//! cargo run --example lesson_02 -- client        # terminal 2
//! ```

use std::io::{self, Read};
use std::process::ExitCode;

use clap::Args;
use socket_lessons::cli::SlowMotion;
use socket_lessons::output::{address, plural};
use socket_lessons::text::{bytes_repr, escape};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_02",
    about: "tiny buffer truncation",
    port: 4102,
    wait: "10",
    show: true,
    server,
    client,
};

/// What the server sends every client.
const MESSAGE: &[u8] = b"Socket Programming in Rust";

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    #[command(flatten)]
    slow: SlowMotion,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The most one recv may return
    #[arg(long, value_name = "BYTES", default_value_t = 7,
          value_parser = clap::value_parser!(u16).range(1..))]
    buffer: u16,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
/// Lesson 1's server, line for line: this lesson is about the client.
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.address);
    let listener = Socket::new(domain, Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;
    loop {
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {} established", address(&from)));
        out.say(format_args!("sending {}", plural(MESSAGE.len(), "byte")));
        if let Err(error) = config.options.slow.send_all(&client, MESSAGE, out)
        {
            // A client that left early must not stop the server.
            let why = config.explain(&error);
            out.error(format_args!("sending to {}: {why}", address(&from)));
        }
        drop(client);
        if config.once {
            return Ok(());
        }
    }
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.server);
    let server = Socket::new(domain, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    out.traced("connect()", "the handshake", || {
        server.connect_timeout(&config.server.into(), config.wait)
    })?;
    out.say(format_args!("connected from {}", address(&server.local_addr()?)));
    server.set_read_timeout(Some(config.wait))?;

    // 7 bytes, the tutorial's recv(7).
    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    // recv(2) never returns more than the buffer holds, however many bytes
    // have arrived.
    let received = out.traced(format!("recv({size})"), "bytes", || {
        (&server).read(&mut buffer)
    })?;
    let piece = &buffer[..received];
    out.hex("received", piece);
    out.say(format_args!(
        "recv({size}) returned {}: {}",
        plural(received, "byte"),
        bytes_repr(piece)
    ));
    out.say(escape(&String::from_utf8_lossy(piece)));
    if received == 0 {
        out.say("the server closed without sending anything");
    } else if received == size {
        out.say("the buffer is full: anything more waits unread; closing");
    } else {
        out.say(
            "the buffer is not full: that was all that had arrived; closing",
        );
    }
    Ok(())
    // Dropping `server` closes the socket with bytes unread: the system
    // discards them, and answers the server with a reset (RST).
}
// ANCHOR_END: client
