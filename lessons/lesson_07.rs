//! Lesson 7: a request and its answer, and the half-close, with `std::net`.
//!
//! The client sends its `--message`, then shuts down its writing half: the
//! server's `recv` returns 0, although the connection stays open for the
//! answer. The server reads until that 0, answers with exactly the bytes it
//! received, and closes; the client reads until its own `recv` returns 0.
//! `--no-shutdown` skips the half-close, to show the deadlock it prevents.
//!
//! Lessons 1 to 6 build their sockets with socket2, call by call. This one
//! uses the standard library's `TcpListener` and `TcpStream`, the usual way
//! in Rust.
//!
//! ```text
//! cargo run --example lesson_07                  # both, in one process
//! cargo run --example lesson_07 -- server        # terminal 1
//! cargo run --example lesson_07 -- client        # terminal 2
//! ```

use std::cell::Cell;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use socket_lessons::cli::{Patience, SlowMotion};
use socket_lessons::errors::{self, Deadline, Situation};
use socket_lessons::output::plural;
use socket_lessons::text::escape;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::SockRef;

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_07",
    about: "a request, its answer, and the half-close (std::net)",
    port: 4107,
    wait: "10",
    show: true,
    server,
    client,
};

/// The longest request the server takes, and the longest answer the client
/// reads: 1 MiB.
const MAX_LEN: usize = 1024 * 1024;

/// The most one recv asks for.
const BUFFER: usize = 64 * 1024;

/// How long the server waits for each recv and each send: a client that
/// never finishes its request, or never reads the answer, cannot hold it.
const SERVER_WAIT: Duration = Duration::from_secs(3);

/// The most the server gives one client to send its whole request.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// How many bytes of a request or an answer are printed: a 1 MiB request
/// printed whole would flood the terminal.
const PREVIEW: usize = 32;

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    #[command(flatten)]
    slow: SlowMotion,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// What to send
    #[arg(long, value_name = "TEXT", default_value = "Hello, server!")]
    message: String,
    /// Do not shut down the writing half after sending
    #[arg(long)]
    no_shutdown: bool,
    #[command(flatten)]
    patience: Patience,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    // socket(2), SO_REUSEADDR (on Unix), bind(2) and listen(2) with a
    // backlog of 128, in one call: Python's socket.create_server.
    let listener = TcpListener::bind(config.address)?;
    out.listening(&SockRef::from(&listener))?;
    loop {
        // accept(2): a TcpStream, connected to the client.
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {from} established"));
        if let Err(error) = answer(&client, &config.options.slow, out) {
            // A client that misbehaves must not stop the server.
            let situation = Situation::Serving { address: config.address };
            out.error(format_args!(
                "{from}: {}",
                errors::explain(&error, situation)
            ));
        }
        // Dropping the stream closes it: the client's recv returns 0.
        drop(client);
        if config.once {
            return Ok(());
        }
    }
}

/// Reads the client's request to its end, and sends it back.
fn answer(client: &TcpStream, slow: &SlowMotion, out: &Out) -> io::Result<()> {
    client.set_write_timeout(Some(SERVER_WAIT))?;
    let started = Instant::now();
    // Each recv waits SERVER_WAIT at most, and all of them REQUEST_LIMIT:
    // a client sending a byte now and then cannot keep the server.
    let wait = || match REQUEST_LIMIT.saturating_sub(started.elapsed()) {
        Duration::ZERO => Err(io::Error::new(
            ErrorKind::TimedOut,
            format!("no FIN in {} s in all", REQUEST_LIMIT.as_secs()),
        )),
        left => Ok(left.min(SERVER_WAIT)),
    };
    let mut request = Vec::new();
    match recv_until_closed(client, &mut request, "client", wait, out) {
        Err(error) if is_timeout(&error) => {
            let why = match error.get_ref() {
                Some(limit) => limit.to_string(),
                None => format!("nothing for {} s", SERVER_WAIT.as_secs()),
            };
            let came = plural(request.len(), "byte");
            out.say(format_args!(
                "{came} came, then {why}: closing, no answer"
            ));
            return Ok(());
        }
        result => result?,
    }
    if request.len() > MAX_LEN {
        out.say(format_args!(
            "the request is longer than {MAX_LEN} bytes: closing, no answer"
        ));
        return Ok(());
    }
    let size = plural(request.len(), "byte");
    out.say(format_args!("recv returned 0: the request is over, {size}"));
    out.say(format_args!("the request: {}", preview(&request)));
    // send(2) the same bytes back, each send bounded by SERVER_WAIT.
    slow.send_all(&SockRef::from(client), &request, out)?;
    out.say(format_args!("answered {size}, closing"));
    Ok(())
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let options = &config.options;
    let limit = options.patience.deadline;
    let deadline = Deadline::after(limit);
    // Each wait is --wait, or what is left of --deadline if that is less;
    // one that runs out says which.
    let cut_short = Cell::new(false);
    let wait = || {
        let wait = deadline.wait_at_most(config.wait)?;
        cut_short.set(wait < config.wait);
        Ok(wait)
    };
    let ran_out = |error: io::Error| match is_timeout(&error) {
        true if cut_short.get() => {
            let limit = limit.as_secs_f64();
            let why = format!("gave up after {limit} s in all (--deadline)");
            io::Error::new(ErrorKind::TimedOut, why)
        }
        _ => error,
    };
    out.say(format_args!("connecting to {}", config.server));
    // socket(2) and connect(2), given up after the wait: Python's
    // socket.create_connection.
    let (server, _) = out
        .traced("connect()", "the handshake", || {
            let stream = TcpStream::connect_timeout(&config.server, wait()?)?;
            Ok((stream, config.server))
        })
        .map_err(ran_out)?;
    out.say(format_args!("connected from {}", server.local_addr()?));
    server.set_write_timeout(Some(config.wait))?;

    let message = options.message.as_bytes();
    let size = plural(message.len(), "byte");
    out.say(format_args!("sending {size}: {}", preview(message)));
    out.traced(format!("send({size})"), "room in the send buffer", || {
        (&server).write_all(message).map(|()| message.len())
    })?;
    out.hex("sent", message);
    if options.no_shutdown {
        out.say("not shutting down the writing half (--no-shutdown)");
    } else {
        // shutdown(2) with SHUT_WR: this side sends no more (a FIN), and
        // the server's recv returns 0. Reading stays open, for the answer.
        out.traced("shutdown(Write)", "nothing", || {
            server.shutdown(Shutdown::Write)
        })?;
        out.say("shutdown(SHUT_WR): this side will send no more");
    }

    // recv(2) until it returns 0: the server's close ends the answer.
    let mut answer = Vec::new();
    recv_until_closed(&server, &mut answer, "server", wait, out)
        .map_err(ran_out)?;
    if answer.len() > MAX_LEN {
        return Err(io::Error::other(format!(
            "the answer is longer than {MAX_LEN} bytes: not reading more"
        )));
    }
    let size = plural(answer.len(), "byte");
    out.say(format_args!("recv returned 0: the answer is over, {size}"));
    let verdict = match answer.as_slice() {
        [] => "the server closed without answering",
        same if same == message => "the same bytes as sent",
        _ => "not the bytes sent",
    };
    match answer.is_empty() {
        true => out.say(verdict),
        false => out.say(format_args!("{verdict}: {}", preview(&answer))),
    }
    Ok(())
}
// ANCHOR_END: client

/// recv(2) into `bytes` until it returns 0, the `peer`'s half-close (its
/// FIN), or until MAX_LEN + 1 bytes came: one more says it is too long.
/// Each recv waits as long as `wait` says.
fn recv_until_closed(
    stream: &TcpStream,
    bytes: &mut Vec<u8>,
    peer: &str,
    wait: impl Fn() -> io::Result<Duration>,
    out: &Out,
) -> io::Result<()> {
    let mut buffer = vec![0; BUFFER];
    let waits_for = format!("bytes, or the {peer}'s FIN");
    while bytes.len() <= MAX_LEN {
        stream.set_read_timeout(Some(wait()?))?;
        let size = buffer.len().min(MAX_LEN + 1 - bytes.len());
        let received =
            match out.traced(format!("recv({size})"), &waits_for, || {
                let mut stream = stream;
                stream.read(&mut buffer[..size])
            }) {
                // Stopped and continued (Ctrl-Z, fg): the recv ends in EINTR.
                Err(error) if error.kind() == ErrorKind::Interrupted => {
                    continue;
                }
                result => result?,
            };
        if received == 0 {
            break;
        }
        out.hex("received", &buffer[..received]);
        bytes.extend_from_slice(&buffer[..received]);
    }
    Ok(())
}

/// A read or a connect that waited its time out.
fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The first PREVIEW bytes of a peer's bytes, as escaped text, and how
/// many more there are.
fn preview(bytes: &[u8]) -> String {
    let shown =
        escape(&String::from_utf8_lossy(&bytes[..bytes.len().min(PREVIEW)]));
    match bytes.len().checked_sub(PREVIEW) {
        Some(more) if more > 0 => format!("{shown}... ({more} more)"),
        _ => shown,
    }
}
