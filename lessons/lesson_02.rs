//! Lesson 2: a tiny buffer truncates the message.
//!
//! The server is lesson 1's, unchanged. The client makes the same single
//! `recv`, but into a 7-byte buffer: it gets `Socket ` and nothing more. The
//! other 19 bytes did arrive, and wait unread in the socket until the client
//! closes it.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::old::cli::Defaults;
use socket_lessons::old::python::{bytes_repr, escape_unprintable};
use socket_lessons::old::{ClientConfig, Lesson, Out};
use socket2::{Domain, Socket, Type};

// Lesson 1's file, for its server: the point of this lesson is the client.
#[allow(dead_code)]
#[path = "old_lesson_01.rs"]
mod lesson_01;

const LESSON: Lesson = Lesson {
    name: "lesson_02",
    title: "tiny buffer truncation",
    defaults: Defaults {
        port: 4102,
        wait: Duration::from_secs(10),
        buffer: Some(7),
    },
    options: &[],
    server: lesson_01::server,
    client,
};

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    // 7 bytes, the tutorial's recv(7); --buffer BYTES sets another.
    let mut buffer = vec![0; config.buffer];
    // recv(2) never returns more than the buffer holds, however many bytes
    // have arrived.
    let received = server.read(&mut buffer)?;
    let (size, piece) = (buffer.len(), &buffer[..received]);
    out.say(format_args!(
        "recv({size}) returned {received} bytes: {}",
        bytes_repr(piece)
    ));
    out.say(escape_unprintable(&String::from_utf8_lossy(piece)));
    if received == 0 {
        out.say("the server will send no more, and sent nothing");
    } else if received == size {
        out.say(
            "the buffer is full, so anything else the server sent is still \
             unread; closing anyway",
        );
    } else {
        out.say(
            "the buffer is not full: that was all that had arrived when \
             recv returned; closing anyway",
        );
    }
    Ok(())
    // Dropping `server` closes the socket with bytes unread: the system
    // discards them, and answers the server with a reset (RST).
}
// ANCHOR_END: client
