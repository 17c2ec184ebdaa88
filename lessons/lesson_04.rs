//! Lesson 4: the server closes, and the client knows the message is over.
//!
//! The server sends, then closes the connection. The client reads 7-byte
//! pieces until `recv` returns 0 bytes, which on a stream socket means: the
//! other side will send no more.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::old::cli::Defaults;
use socket_lessons::old::python::{bytes_repr, escape_unprintable};
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig};
use socket_lessons::old::{output, reuse_address};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_04",
    title: "close detection",
    defaults: Defaults {
        port: 4104,
        wait: Duration::from_secs(10),
        buffer: Some(7),
    },
    options: &[],
    server,
    client,
};

const MESSAGE: &[u8] = b"Socket Programming in Rust";

/// The most the client keeps: a server could send without end.
const MAX_MESSAGE: usize = 1024 * 1024;

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let listener = config.wire(socket, out);
    reuse_address(&listener)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;

    config.serve_clients(out, || {
        let (mut client, address) = listener.accept()?;
        let address = output::address(&address);
        out.say(format_args!("Connection to {address} established"));
        out.say(format_args!(
            "sending {} bytes, then closing the connection",
            MESSAGE.len()
        ));
        client.write_all(MESSAGE)?;
        // close(2): Python's clt.close(). In Rust, dropping a socket closes
        // it; the drop is written out because this close is the lesson. The
        // system sends the client an end of stream (FIN) after the last
        // byte, and the client's recv returns 0 once it has read the rest.
        drop(client);
        Ok(())
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    let mut message = Vec::new();
    let mut buffer = vec![0; config.buffer];
    let size = buffer.len();
    loop {
        let received = server.read(&mut buffer)?;
        if received == 0 {
            out.say(format_args!(
                "recv({size}) returned 0 bytes: the server will send no \
                 more, so the message ends here"
            ));
            break;
        }
        out.say(format_args!(
            "recv({size}) returned {received} bytes: {}",
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
    out.say(format_args!("complete message: {}", escape_unprintable(&text)));
    Ok(())
}
// ANCHOR_END: client
