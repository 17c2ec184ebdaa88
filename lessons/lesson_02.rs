//! Lesson 2: a tiny buffer truncates the message.
//!
//! The server is lesson 1's, unchanged. The client makes the same single `recv`, but into a
//! 7-byte buffer: it gets `Socket ` and nothing more. The other 19 bytes did arrive, and wait
//! unread in the socket until the client closes it.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::cli::Defaults;
use socket_lessons::python::bytes_repr;
use socket_lessons::{ClientConfig, Lesson, Out};
use socket2::{Domain, Socket, Type};

// Lesson 1's file, for its server: the point of this lesson is the client alone.
#[allow(dead_code)]
#[path = "lesson_01.rs"]
mod lesson_01;

const LESSON: Lesson = Lesson {
    name: "lesson_02",
    title: "tiny buffer truncation",
    defaults: Defaults { port: 4102, wait: Duration::from_secs(10) },
    server: lesson_01::server,
    client,
};

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let mut server = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    let mut buffer = [0; 7];
    // recv(2) never returns more than the buffer holds: 7 bytes here, however many arrived.
    let received = server.read(&mut buffer)?;
    out.say(format_args!(
        "recv(7) returned {received} bytes: {}",
        bytes_repr(&buffer[..received])
    ));
    out.say(String::from_utf8_lossy(&buffer[..received]));
    out.say("the buffer is full, so anything else the server sent is still unread; closing anyway");
    Ok(())
    // Dropping `server` closes the socket with bytes unread, and the system discards them.
}
// ANCHOR_END: client
