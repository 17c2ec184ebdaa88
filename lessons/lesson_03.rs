//! Lesson 3: receiving in a loop, with no end in sight.
//!
//! The client calls `recv` with a 7-byte buffer again and again, and gets the
//! whole message in pieces. But the server sends and then keeps the
//! connection open, so nothing in the stream says the message is over: the
//! next `recv` just waits. The tutorial's client waits forever; this one
//! gives up after `--wait` seconds (2 by default) and says why it had to.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::old::cli::{Defaults, LessonOption, Side, Value};
use socket_lessons::old::python::bytes_repr;
use socket_lessons::old::wire::{is_past_deadline, is_timeout};
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig};
use socket_lessons::old::{output, reuse_address};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_03",
    title: "loop receive",
    defaults: Defaults {
        port: 4103,
        wait: Duration::from_secs(2),
        buffer: Some(7),
    },
    options: &[HOLD],
    server,
    client,
};

/// How long the server holds a connection the client keeps open.
const HOLD: LessonOption = LessonOption {
    flag: "--hold",
    value: Value::Count { max: 3600 },
    placeholder: "SECONDS",
    default: "30",
    side: Side::Server,
    help: "how long to wait for a client to hang up",
};

const MESSAGE: &[u8] = b"Socket Programming in Rust";

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
    let hold = Duration::from_secs(config.extra.count(HOLD.flag));

    config.serve_clients(out, || {
        let (mut client, address) = listener.accept()?;
        let address = output::address(&address);
        out.say(format_args!("Connection to {address} established"));
        out.say(format_args!(
            "sending {} bytes, then keeping the connection open until the \
             client hangs up",
            MESSAGE.len()
        ));
        client.write_all(MESSAGE)?;
        // The tutorial's server never closes: Python keeps `clt` open until
        // the loop reuses the name. Rust would close `client` when this
        // closure returns, so it is held open on purpose, by reading until
        // the client hangs up (recv returns 0). Whatever comes is dropped.
        // While it is held, other clients wait in the backlog; so that one
        // client cannot hold the server for ever, the hold is bounded: in
        // all, however slowly the client sends.
        client.set_deadline(hold);
        match io::copy(&mut client, &mut io::sink()) {
            Ok(_) => out.say("the client hung up, so this side closes too"),
            Err(error) if is_past_deadline(&error) => out.say(format_args!(
                "the client has not hung up after {} s: closing its \
                 connection, to serve the next client",
                hold.as_secs()
            )),
            Err(error) => return Err(error),
        }
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
    // Here the read timeout is the lesson: how long recv may wait for more.
    server.set_read_timeout(Some(config.wait))?;

    let mut buffer = vec![0; config.buffer];
    let size = buffer.len();
    let mut total = 0;
    loop {
        match server.read(&mut buffer) {
            // The server will send no more: every recv from now on returns
            // 0 at once. (The tutorial's loop would go on printing empty
            // strings; this one stops. Lesson 4 is about this.)
            Ok(0) => {
                out.say(format_args!(
                    "recv({size}) returned 0 bytes: the server will send no \
                     more"
                ));
                return Ok(());
            }
            Ok(received) => {
                total += received;
                out.say(format_args!(
                    "recv({size}) returned {received} bytes: {}",
                    bytes_repr(&buffer[..received])
                ));
            }
            // The wait ran out with no byte and no close: from here, the
            // client cannot tell "the message is over" from "the rest is on
            // its way".
            Err(error) if is_timeout(&error) => {
                let waited = config.wait.as_secs_f64();
                if total > 0 {
                    out.say(format_args!(
                        "recv({size}) is still waiting after {waited} s: \
                         nothing in the stream says the message is over"
                    ));
                } else {
                    out.say(format_args!(
                        "nothing arrived within {waited} s. The server serves \
                         one client at a time: while another is connected, \
                         this connection waits in its backlog"
                    ));
                }
                out.say("giving up, and closing the connection");
                return Ok(());
            }
            Err(error) => return Err(error),
        }
    }
}
// ANCHOR_END: client
