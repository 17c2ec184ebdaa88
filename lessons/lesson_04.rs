//! Lesson 4: the server closes, and the client knows the message is complete.
//!
//! The server sends, then closes the connection. The client reads 7-byte pieces until `recv`
//! returns 0 bytes, which on a stream socket means one thing: the other side closed, and
//! everything it sent has been read.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::cli::Defaults;
use socket_lessons::python::bytes_repr;
use socket_lessons::{
    ClientConfig, Lesson, Out, ServerConfig, output, reuse_address,
};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_04",
    title: "close detection",
    defaults: Defaults { port: 4104, wait: Duration::from_secs(10) },
    server,
    client,
};

const MESSAGE: &[u8] = b"Socket Programming in Rust";

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    reuse_address(&listener)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;

    config.serve_clients(out, || {
        let (mut client, address) = listener.accept()?;
        out.say(format_args!(
            "Connection to {} established",
            output::address(&address)
        ));
        out.say(format_args!(
            "sending {} bytes, then closing the connection",
            MESSAGE.len()
        ));
        client.write_all(MESSAGE)?;
        // close(2): Python's clt.close(). In Rust, dropping a socket closes it; the drop is
        // written out because this close is the lesson. It sends the client an end-of-stream
        // after the last byte, and its recv returns 0 once it has read everything before it.
        drop(client);
        Ok(())
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let mut server = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    let mut message = Vec::new();
    let mut buffer = [0; 7];
    loop {
        let received = server.read(&mut buffer)?;
        if received == 0 {
            out.say("recv(7) returned 0 bytes: the server closed the connection, so the message is complete");
            break;
        }
        out.say(format_args!(
            "recv(7) returned {received} bytes: {}",
            bytes_repr(&buffer[..received])
        ));
        message.extend_from_slice(&buffer[..received]);
    }
    // Decoded once, at the end: the tutorial decodes every piece, which breaks when a piece
    // ends in the middle of a character that takes more than one byte in UTF-8.
    out.say(format_args!(
        "complete message: {}",
        String::from_utf8_lossy(&message)
    ));
    Ok(())
}
// ANCHOR_END: client
