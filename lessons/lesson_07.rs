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
//! in Rust. Each connected stream is then handed to the lesson's `Wire`
//! (`Socket::from(stream)`: the same file descriptor, no copy), so that
//! `--trace`, `--hex` and `--chunk` still show every read and write.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::old::cli::{Defaults, LessonOption, Side, Value};
use socket_lessons::old::python::escape_unprintable;
use socket_lessons::old::wire::is_timeout;
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig};
use socket2::{SockRef, Socket};

const LESSON: Lesson = Lesson {
    name: "lesson_07",
    title: "a request, its answer, and the half-close (std::net)",
    defaults: Defaults {
        port: 4107,
        wait: Duration::from_secs(10),
        buffer: None,
    },
    options: &[
        LessonOption {
            flag: "--message",
            value: Value::Text,
            placeholder: "TEXT",
            default: "Hello, server!",
            side: Side::Client,
            help: "what to send",
        },
        LessonOption {
            flag: "--no-shutdown",
            value: Value::Switch,
            placeholder: "",
            default: "",
            side: Side::Client,
            help: "do not shut down the writing half after sending",
        },
    ],
    server,
    client,
};

/// The longest request the server takes, and the longest answer the client
/// reads: 1 MiB.
const MAX_LEN: usize = 1024 * 1024;

/// How long the server waits for each read and each write: a client that
/// never finishes its request, or never reads the answer, cannot hold it.
const SERVER_WAIT: Duration = Duration::from_secs(3);

/// The most the server gives one client to send its whole request.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    // socket(2), SO_REUSEADDR (on Unix), bind(2) and listen(2) with a
    // backlog of 128, in one call.
    let listener = TcpListener::bind(config.address)?;
    out.listening(&SockRef::from(&listener))?;

    config.serve_clients(out, || {
        // accept(2)
        let (stream, address) = listener.accept()?;
        out.say(format_args!("Connection to {address} established"));
        stream.set_write_timeout(Some(SERVER_WAIT))?;
        // Pieces of --chunk leave in segments of their own.
        stream.set_nodelay(config.pace.chunk.is_some())?;
        let mut client = config.wire(Socket::from(stream), out);
        client.set_read_timeout(Some(SERVER_WAIT))?;
        // Each recv waits SERVER_WAIT at most, and the whole request
        // REQUEST_LIMIT: a client sending a byte now and then cannot keep
        // the server for itself.
        client.set_deadline(REQUEST_LIMIT);

        // recv(2) until it returns 0, the client's half-close, but never
        // more than MAX_LEN + 1 bytes: one more says the request is too long.
        let mut request = Vec::new();
        let limit = MAX_LEN as u64 + 1;
        match (&mut client).take(limit).read_to_end(&mut request) {
            Err(error) if is_timeout(&error) => {
                out.say(format_args!(
                    "{} bytes came, then no end of the request within {} s \
                     (this server's read timeout): the client has not shut \
                     down its writing half. Closing without an answer.",
                    request.len(),
                    SERVER_WAIT.as_secs_f64()
                ));
                return Ok(());
            }
            result => result?,
        };
        if request.len() > MAX_LEN {
            out.say(format_args!(
                "the request is longer than {MAX_LEN} bytes: refused, \
                 closing without an answer"
            ));
            return Ok(());
        }
        out.say(format_args!(
            "recv returned 0: the request is over, {} bytes: {}",
            request.len(),
            escape_unprintable(&String::from_utf8_lossy(&request))
        ));
        // send(2) the same bytes back, each write bounded by SERVER_WAIT.
        client.write_all(&request)?;
        out.say(format_args!("answered {} bytes, closing", request.len()));
        Ok(())
        // Dropping `client` closes the socket: the client's recv returns 0.
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    out.say(format_args!("connecting to {}", config.server));
    // socket(2) and connect(2), given up after --wait.
    let stream =
        TcpStream::connect_timeout(&config.server.into(), config.wait)?;
    out.say(format_args!(
        "connected from {}: the port the system gave this side",
        stream.local_addr()?
    ));
    stream.set_write_timeout(Some(config.wait))?;
    let mut server = config.wire(Socket::from(stream), out);
    server.set_read_timeout(Some(config.wait))?;

    let message = config.extra.text("--message").as_bytes();
    out.say(format_args!(
        "sending {} bytes: {}",
        message.len(),
        escape_unprintable(&String::from_utf8_lossy(message))
    ));
    server.write_all(message)?;
    if config.extra.switch("--no-shutdown") {
        out.say(
            "not shutting down the writing half (--no-shutdown): the server \
             cannot tell that the request is over",
        );
    } else {
        // shutdown(2) with SHUT_WR: this side sends no more, and the
        // server's recv returns 0. Reading stays open, for the answer.
        server.shutdown(Shutdown::Write)?;
        out.say("shutdown(SHUT_WR): this side will send no more");
    }

    // recv(2) until it returns 0: the server's close ends the answer.
    let mut answer = Vec::new();
    (&mut server).take(MAX_LEN as u64 + 1).read_to_end(&mut answer)?;
    if answer.len() > MAX_LEN {
        return Err(io::Error::other(format!(
            "the answer is longer than {MAX_LEN} bytes: not reading more"
        )));
    }
    let verdict = match answer.as_slice() {
        [] => "the server closed without answering",
        same if same == message => "the same bytes as sent",
        _ => "not the bytes sent",
    };
    let text = escape_unprintable(&String::from_utf8_lossy(&answer));
    out.say(format_args!(
        "recv returned 0: the answer is over, {} bytes, {verdict}{}",
        answer.len(),
        if answer.is_empty() { String::new() } else { format!(": {text}") }
    ));
    Ok(())
}
// ANCHOR_END: client
