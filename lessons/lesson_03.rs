//! Lesson 3: receiving in a loop, with no end in sight.
//!
//! The client calls `recv` with a 7-byte buffer again and again, and gets the whole message in
//! pieces. But the server sends and then keeps the connection open, so nothing in the stream
//! says the message is over: the next `recv` just waits. The tutorial's client waits forever;
//! this one gives up after `--wait` seconds (2 by default) and says why it had to.

use std::io::{self, ErrorKind, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::cli::Defaults;
use socket_lessons::python::bytes_repr;
use socket_lessons::{
    ClientConfig, Lesson, Out, ServerConfig, output, reuse_address,
};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_03",
    title: "loop receive",
    defaults: Defaults { port: 4103, wait: Duration::from_secs(2) },
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
        out.say(format_args!("Connection to {} established", output::address(&address)));
        out.say(format_args!(
            "sending {} bytes, then keeping the connection open until the client hangs up",
            MESSAGE.len()
        ));
        client.write_all(MESSAGE)?;
        // The tutorial's server never closes: Python keeps `clt` open until the loop reuses
        // the name. Rust would close `client` as soon as this closure returns, so to show the
        // same thing it is held open on purpose, by reading until the client hangs up
        // (recv returns 0). Whatever the client might send is thrown away.
        io::copy(&mut client, &mut io::sink())?;
        out.say("the client hung up, so this side closes too");
        Ok(())
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let mut server = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    // Here the read timeout is the lesson: it is how long we let recv wait for more.
    server.set_read_timeout(Some(config.wait))?;

    let mut buffer = [0; 7];
    loop {
        match server.read(&mut buffer) {
            // A closed connection: every recv from now on returns 0 at once. (The tutorial's
            // loop would go on printing empty strings; this one stops. Lesson 4 is about this.)
            Ok(0) => {
                out.say("recv(7) returned 0 bytes: the server closed the connection");
                return Ok(());
            }
            Ok(received) => {
                out.say(format_args!(
                    "recv(7) returned {received} bytes: {}",
                    bytes_repr(&buffer[..received])
                ));
            }
            // The read timeout ran out with no byte and no close: from here, the client cannot
            // tell "the message is over" from "the rest is on its way".
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                ) =>
            {
                out.say(format_args!(
                    "recv(7) is still waiting after {} s: nothing in the stream says the message is over",
                    config.wait.as_secs_f64()
                ));
                out.say("giving up, and closing the connection");
                return Ok(());
            }
            Err(error) => return Err(error),
        }
    }
}
// ANCHOR_END: client
