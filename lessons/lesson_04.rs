//! Lesson 4: the server closes, and the client knows the message is over.
//!
//! The server sends, then closes the connection. The client reads 7-byte
//! pieces until `recv` returns 0 bytes, which on a stream socket means:
//! the other side will send no more.
//!
//! ```text
//! cargo run --example lesson_04                  # both, in one process
//! cargo run --example lesson_04 -- server        # terminal 1
//! cargo run --example lesson_04 -- client        # terminal 2
//! ```

use std::io::{self, Read};
use std::process::ExitCode;

use clap::Args;
use socket_lessons::cli::{Patience, SlowMotion};
use socket_lessons::errors::Deadline;
use socket_lessons::output::{address, plural};
use socket_lessons::text::{bytes_repr, escape};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_04",
    about: "close detection",
    port: 4104,
    wait: "10",
    show: true,
    server,
    client,
};

const MESSAGE: &[u8] = b"Socket Programming in Rust";

/// The most the client keeps: a server could send without end.
const MAX_MESSAGE: usize = 1024 * 1024;

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
    #[command(flatten)]
    patience: Patience,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
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
        let bytes = plural(MESSAGE.len(), "byte");
        out.say(format_args!("sending {bytes}, then closing the connection"));
        if let Err(error) = config.options.slow.send_all(&client, MESSAGE, out)
        {
            // A client that left early must not stop the server.
            let why = config.explain(&error);
            out.error(format_args!("sending to {}: {why}", address(&from)));
        }
        // close(2): Python's clt.close(). The drop is written out because
        // this close is the lesson: the system sends the client an end of
        // stream (FIN) after the last byte, and the client's recv returns
        // 0 once it has read the rest.
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
    // Each recv waits at most --wait; a server that sends a byte now and
    // then could still keep this loop for ever: --deadline bounds it all.
    let deadline = Deadline::after(config.options.patience.deadline);

    let mut message = Vec::new();
    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    loop {
        server.set_read_timeout(Some(deadline.wait_at_most(config.wait)?))?;
        let result = out.traced(format!("recv({size})"), "bytes", || {
            (&server).read(&mut buffer)
        });
        let received = match result {
            Err(error) if timed_out(&error) => {
                // If --deadline cut this wait short, say that instead.
                deadline.wait_at_most(config.wait)?;
                if message.is_empty() {
                    return Err(error); // nothing came: said as everywhere
                }
                return Err(io::Error::new(
                    error.kind(),
                    format!(
                        "{} came, then nothing for {} s (--wait), and no close",
                        plural(message.len(), "byte"),
                        config.wait.as_secs_f64()
                    ),
                ));
            }
            result => result?,
        };
        if received == 0 {
            out.say(format_args!(
                "recv({size}) returned 0 bytes: the server closed; the message \
                 ends here"
            ));
            break;
        }
        out.hex("received", &buffer[..received]);
        out.say(format_args!(
            "recv({size}) returned {}: {}",
            plural(received, "byte"),
            bytes_repr(&buffer[..received])
        ));
        // A peer could send without end: keep a bounded amount.
        if message.len() + received > MAX_MESSAGE {
            return Err(io::Error::other(format!(
                "the server sent more than the {MAX_MESSAGE} bytes this \
                 client keeps; stopping"
            )));
        }
        message.extend_from_slice(&buffer[..received]);
    }
    // Decoded once, at the end: the tutorial decodes every piece, which
    // breaks when a piece ends inside a character that takes more than one
    // byte in UTF-8.
    let text = String::from_utf8_lossy(&message);
    out.say(format_args!("complete message: {}", escape(&text)));
    Ok(())
}
// ANCHOR_END: client

/// Whether a recv gave up because its read timeout ran out (Unix says
/// `EAGAIN`, Windows `WSAETIMEDOUT`).
fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
