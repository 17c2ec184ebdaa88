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

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::old::cli::Defaults;
use socket_lessons::old::python::escape_unprintable;
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig};
use socket_lessons::old::{output, reuse_address};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_01",
    title: "basic send",
    defaults: Defaults {
        port: 4101,
        wait: Duration::from_secs(10),
        buffer: Some(1024),
    },
    options: &[],
    server,
    client,
};

/// What the server sends every client: UTF-8 text, which on the wire is
/// just bytes.
pub const MESSAGE: &[u8] = b"Socket Programming in Rust";

#[allow(dead_code)]
fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
pub fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    // socket(2): an IPv4 (AF_INET) stream (SOCK_STREAM) socket, that is
    // TCP: Python's socket.socket(socket.AF_INET, socket.SOCK_STREAM).
    // `config.wire` adds what --trace, --hex and --chunk ask for.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let listener = config.wire(socket, out);
    reuse_address(&listener)?;
    // bind(2): claim the address and port that clients will ask for.
    listener.bind(&config.address.into())?;
    // listen(2): from now on the system answers clients' handshakes itself
    // and queues the connections for accept. The backlog, 5, bounds how
    // many completed connections may wait there, not how many clients the
    // server may have.
    listener.listen(5)?;
    out.listening(&listener)?;

    config.serve_clients(out, || {
        // accept(2): wait for the next connection. It comes with a new
        // socket, for talking to that one client, and the client's address.
        let (mut client, address) = listener.accept()?;
        let address = output::address(&address);
        out.say(format_args!("Connection to {address} established"));
        out.say(format_args!("sending {} bytes", MESSAGE.len()));
        // send(2) until every byte is out (Python's sendall): one send may
        // take only part.
        client.write_all(MESSAGE)?;
        Ok(())
        // `client` is dropped here, and dropping a socket closes it.
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("connecting to {}", config.server));
    // connect(2), given up after --wait seconds, and every recv below waits
    // at most as long: a client should not hang on a silent server.
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    // 1024 bytes, the tutorial's recv(1024); --buffer BYTES sets another.
    let mut buffer = vec![0; config.buffer];
    // recv(2): wait until some bytes have arrived, then take as many as
    // have arrived, up to the buffer's size. `read` on a socket is recv
    // with no flags; it returns how many bytes it put in the buffer.
    let received = server.read(&mut buffer)?;
    let size = buffer.len();
    out.say(format_args!("recv({size}) returned {received} bytes"));
    // Bytes become text when decoded, as Python's msg.decode("utf-8")
    // does. Control characters are shown escaped: printed raw, a peer's
    // bytes could clear the screen or fake a line of this program's.
    let text = String::from_utf8_lossy(&buffer[..received]);
    out.say(escape_unprintable(&text));
    Ok(())
}
// ANCHOR_END: client
