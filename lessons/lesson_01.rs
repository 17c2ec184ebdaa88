//! Lesson 1: basic send.
//!
//! The server accepts a connection, says so, and sends one line of text. The client connects,
//! asks for up to 1024 bytes with a single `recv`, and prints what came.
//!
//! ```text
//! cargo run --example lesson_01                      # both, in one process
//! cargo run --example lesson_01 -- server            # terminal 1
//! cargo run --example lesson_01 -- client            # terminal 2
//! ```

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::cli::Defaults;
use socket_lessons::{
    ClientConfig, Lesson, Out, ServerConfig, output, reuse_address,
};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_01",
    title: "basic send",
    defaults: Defaults { port: 4101, wait: Duration::from_secs(10) },
    server,
    client,
};

/// What the server sends every client: UTF-8 text, which on the wire is just bytes.
pub const MESSAGE: &[u8] = b"Socket Programming in Rust";

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
pub fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    // socket(2): an IPv4 (AF_INET) stream (SOCK_STREAM) socket, that is TCP. Python's
    // socket.socket(socket.AF_INET, socket.SOCK_STREAM).
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    reuse_address(&listener)?;
    // bind(2): claim the address and port that clients will ask for.
    listener.bind(&config.address.into())?;
    // listen(2): from now on the system queues incoming connections, up to 5 waiting at once.
    listener.listen(5)?;
    out.listening(&listener)?;

    config.serve_clients(out, || {
        // accept(2): wait for the next connection. It comes with a new socket, for talking to
        // that one client, and the client's address.
        let (mut client, address) = listener.accept()?;
        out.say(format_args!(
            "Connection to {} established",
            output::address(&address)
        ));
        out.say(format_args!("sending {} bytes", MESSAGE.len()));
        // send(2) until every byte is out (Python's sendall): one send may take only part.
        client.write_all(MESSAGE)?;
        Ok(())
        // `client` is dropped here, and dropping a socket closes it: close(2).
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let mut server = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    // connect(2), given up after --wait seconds, and every recv below waits at most as long:
    // a client should not hang forever on a server that is not answering.
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    let mut buffer = [0; 1024];
    // recv(2): wait until some bytes have arrived, then take up to 1024 of them. `read` on a
    // socket is recv with no flags; it returns how many bytes it put in the buffer.
    let received = server.read(&mut buffer)?;
    out.say(format_args!("recv(1024) returned {received} bytes"));
    // Bytes become text only when decoded, as Python's msg.decode("utf-8") does.
    out.say(String::from_utf8_lossy(&buffer[..received]));
    Ok(())
}
// ANCHOR_END: client
