//! Lesson 3: receiving in a loop, with no end in sight.
//!
//! The client calls `recv` with a 7-byte buffer again and again, and gets
//! the whole message in pieces. But the server sends and then keeps the
//! connection open, so nothing in the stream says the message is over: the
//! next `recv` just waits. The tutorial's client waits for ever; this one
//! gives up after `--wait` seconds (2 by default) and says why it had to.
//!
//! ```text
//! cargo run --example lesson_03                  # both, in one process
//! cargo run --example lesson_03 -- server        # terminal 1
//! cargo run --example lesson_03 -- client        # terminal 2
//! ```

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use socket_lessons::cli::{Patience, SlowMotion};
use socket_lessons::errors::Deadline;
use socket_lessons::output::{address, plural};
use socket_lessons::text::bytes_repr;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_03",
    about: "loop receive",
    port: 4103,
    // The waiting is the lesson: long enough to see, short enough to wait.
    wait: "2",
    show: true,
    server,
    client,
};

const MESSAGE: &[u8] = b"Socket Programming in Rust";

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    /// How long a client may stay connected
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    hold: u64,
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
    let hold = Duration::from_secs(config.options.hold);
    loop {
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {} established", address(&from)));
        let bytes = plural(MESSAGE.len(), "byte");
        out.say(format_args!("sending {bytes}, then holding the connection"));
        let served = config.options.slow.send_all(&client, MESSAGE, out);
        match served.and_then(|()| hold_open(&client, hold)) {
            Ok(true) => out.say("the client hung up, so this side closes too"),
            Ok(false) => out.say(format_args!(
                "the client is still there after {} s (--hold): closing",
                hold.as_secs()
            )),
            // A client that reset or left early must not stop the server.
            Err(error) => {
                let why = config.explain(&error);
                out.error(format_args!("serving {}: {why}", address(&from)));
            }
        }
        drop(client);
        if config.once {
            return Ok(());
        }
    }
}

/// Keeps `client` open until it hangs up (true) or `hold` has passed in
/// all (false), however slowly it sends: while it is held, other clients
/// wait in the backlog.
///
/// The tutorial's server never closes: Python keeps `clt` open until the
/// loop reuses the name. Rust would close `client` at the end of its
/// block, so this lesson holds it on purpose, reading until recv returns 0
/// and dropping whatever comes.
fn hold_open(mut client: &Socket, hold: Duration) -> io::Result<bool> {
    let end = Instant::now() + hold;
    let mut unread = [0; 512];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        // A timeout under a microsecond reaches the system as 0: no timeout.
        if left < Duration::from_millis(1) {
            return Ok(false);
        }
        client.set_read_timeout(Some(left))?;
        match client.read(&mut unread) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(error) if timed_out(&error) => return Ok(false),
            Err(error) => return Err(error),
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
    // A server that sends a byte now and then could keep this loop going
    // for ever, each recv within --wait: --deadline bounds the whole.
    let deadline = Deadline::after(config.options.patience.deadline);

    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    let mut total = 0;
    loop {
        // Here the read timeout is the lesson: how long recv may wait.
        server.set_read_timeout(Some(deadline.wait_at_most(config.wait)?))?;
        let result = out.traced(format!("recv({size})"), "bytes", || {
            (&server).read(&mut buffer)
        });
        match result {
            // The server will send no more: every recv from now on would
            // return 0 at once. The tutorial's loop would go on printing
            // empty strings; this one stops. Lesson 4 is about this.
            Ok(0) => {
                out.say(format_args!(
                    "recv({size}) returned 0 bytes: the server closed"
                ));
                return Ok(());
            }
            Ok(received) => {
                total += received;
                out.hex("received", &buffer[..received]);
                out.say(format_args!(
                    "recv({size}) returned {}: {}",
                    plural(received, "byte"),
                    bytes_repr(&buffer[..received])
                ));
            }
            // The wait ran out with no byte and no close: from here, the
            // client cannot tell "the message is over" from "the rest is
            // on its way".
            Err(error) if timed_out(&error) => {
                // If --deadline cut this wait short, say that instead.
                deadline.wait_at_most(config.wait)?;
                let waited = config.wait.as_secs_f64();
                if total > 0 {
                    out.say(format_args!(
                        "recv({size}) is still waiting after {waited} s: \
                         nothing says the message is over"
                    ));
                } else {
                    out.say(format_args!(
                        "nothing arrived in {waited} s: is the server busy \
                         with another client?"
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

/// Whether a recv gave up because its read timeout ran out (Unix says
/// `EAGAIN`, Windows `WSAETIMEDOUT`).
fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
