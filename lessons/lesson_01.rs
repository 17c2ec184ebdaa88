//! Lesson 1: basic send.
//!
//! The server accepts a connection, says so, and sends one line of text.
//! The client connects, asks for up to 1024 bytes with a single `recv`, and
//! prints what came.
//!
//! ```text
//! cargo run --example lesson_01                  # both, in one process
//! cargo run --example lesson_01 -- server        # terminal 1
//! cargo run --example lesson_01 -- client        # terminal 2
//! ```

use std::io::{self, Read};
use std::process::ExitCode;

use clap::Args;
use socket_lessons::cli::SlowMotion;
use socket_lessons::output::{address, plural};
use socket_lessons::text::escape;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_01",
    about: "basic send",
    port: 4101,
    wait: "10",
    show: true,
    server,
    client,
};

/// What the server sends every client: UTF-8 text, which on the wire is
/// just bytes.
const MESSAGE: &[u8] = b"Socket Programming in Rust";

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    #[command(flatten)]
    slow: SlowMotion,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The most one recv may return
    #[arg(long, value_name = "BYTES", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..))]
    buffer: u16,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    // socket(2): an IPv4 (AF_INET) stream (SOCK_STREAM) socket, that is
    // TCP: Python's socket.socket(socket.AF_INET, socket.SOCK_STREAM).
    let domain = Domain::for_address(config.address);
    let listener = Socket::new(domain, Type::STREAM, None)?;
    // So that a restarted server may bind at once; Windows gives this
    // option another meaning (sharing the port), so only on Unix.
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    // bind(2): claim the address and port that clients will ask for.
    listener.bind(&config.address.into())?;
    // listen(2): from now on the system answers clients' handshakes itself
    // and queues the connections for accept. The backlog, 5, bounds how
    // many may wait there, not how many clients the server may have.
    listener.listen(5)?;
    out.listening(&listener)?;
    loop {
        // accept(2): wait for the next connection. It comes with a new
        // socket, for talking to that one client, and the client's address.
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {} established", address(&from)));
        out.say(format_args!("sending {}", plural(MESSAGE.len(), "byte")));
        // send(2) until every byte is out, as Python's sendall.
        if let Err(error) = config.options.slow.send_all(&client, MESSAGE, out)
        {
            // A client that left early must not stop the server.
            let why = config.explain(&error);
            out.error(format_args!("sending to {}: {why}", address(&from)));
        }
        // Dropping `client` closes its socket: close(2).
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
    // connect(2), given up after --wait seconds; every recv below waits at
    // most as long: a client should not hang on a silent server.
    out.traced("connect()", "the handshake", || {
        server.connect_timeout(&config.server.into(), config.wait)
    })?;
    out.say(format_args!("connected from {}", address(&server.local_addr()?)));
    server.set_read_timeout(Some(config.wait))?;

    // 1024 bytes, the tutorial's recv(1024).
    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    // recv(2): wait until some bytes have arrived, then take as many as
    // have arrived, up to the buffer's size. `read` on a socket is recv
    // with no flags; it returns how many bytes it put in the buffer.
    let received = out.traced(format!("recv({size})"), "bytes", || {
        (&server).read(&mut buffer)
    })?;
    out.hex("received", &buffer[..received]);
    out.say(format_args!("recv({size}) returned {}", plural(received, "byte")));
    // Bytes become text when decoded, as Python's msg.decode("utf-8").
    // Control characters are shown escaped: printed raw, a peer's bytes
    // could clear the screen or fake a line of this program's.
    let text = String::from_utf8_lossy(&buffer[..received]);
    out.say(escape(&text));
    Ok(())
}
// ANCHOR_END: client
