//! Lesson 11: your own types, with serde.
//!
//! Lesson 5 builds pickle values by hand. Here both sides use their own Rust
//! structs, and serde turns them into pickles and back: the client asks for a
//! lesson by number (a `Request`), the server answers with a `LessonInfo`,
//! each behind lesson 5's length header. To Python both are plain dicts.
//!
//! The client decodes the answer straight into its struct: if a field is
//! missing or of the wrong type, decoding fails with a message that names the
//! field, before the program touches the data.
//!
//! ```text
//! cargo run --example lesson_11                  # both, in one process
//! cargo run --example lesson_11 -- server        # terminal 1
//! cargo run --example lesson_11 -- client        # terminal 2
//! ```

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_pickle::SerOptions;
use socket_lessons::cli::{Patience, SlowMotion};
use socket_lessons::errors::Deadline;
use socket_lessons::framing::{self, Piece, Reassembler};
use socket_lessons::output::{address, plural};
use socket_lessons::pickle;
use socket_lessons::text::escape;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_11",
    about: "your own types, with serde",
    port: 4111,
    wait: "10",
    show: true,
    server,
    client,
};

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    #[command(flatten)]
    slow: SlowMotion,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The number of the lesson to ask about
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=999))]
    lesson: u32,
    #[command(flatten)]
    patience: Patience,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: types
/// What the client asks: `{'lesson': 10}` in Python.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(deserialize_with = "named::lesson")]
    lesson: u32,
}

/// What the server answers about a lesson: a dict in Python.
#[derive(Debug, Serialize, Deserialize)]
struct LessonInfo {
    #[serde(deserialize_with = "named::number")]
    number: u32,
    #[serde(deserialize_with = "named::title")]
    title: String,
    /// How its sockets talk: an enum, which serde-pickle writes as the
    /// variant's name, `'Tcp'`.
    #[serde(deserialize_with = "named::transport")]
    transport: Transport,
    /// The calls its client makes. A Vec is a Python list.
    #[serde(deserialize_with = "named::calls")]
    calls: Vec<String>,
    /// An Option is the value or `None`: the last lesson has no next one.
    #[serde(deserialize_with = "named::next")]
    next: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Transport {
    Tcp,
    Udp,
}

/// What the server answers a request it cannot serve: `{'error': '...'}`.
#[derive(Debug, Serialize, Deserialize)]
struct Refusal {
    error: String,
}
// ANCHOR_END: types

// ANCHOR: named
/// serde's own message says what came and what was expected ("invalid
/// type: string \"ten\", expected u32") but not in which field. Each field
/// above is decoded through one of these, which adds its name.
mod named {
    use super::*;

    fn field<'de, T, D>(name: &str, deserializer: D) -> Result<T, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        T::deserialize(deserializer).map_err(|error| {
            // serde-pickle starts every message so; once is enough.
            let text = error.to_string();
            let text = text.strip_prefix("decoding error: ").unwrap_or(&text);
            D::Error::custom(format_args!("field `{name}`: {text}"))
        })
    }

    macro_rules! fields {
        ($($name:ident: $type:ty),*) => {$(
            pub fn $name<'de, D>(deserializer: D) -> Result<$type, D::Error>
            where
                D: Deserializer<'de>,
            {
                field(stringify!($name), deserializer)
            }
        )*};
    }

    fields!(lesson: u32, number: u32, title: String, transport: Transport,
        calls: Vec<String>, next: Option<u32>);
}
// ANCHOR_END: named

/// The lessons the server knows about: number, title, transport, and the
/// calls the lesson's client makes.
const LESSONS: [(u32, &str, Transport, &[&str]); 11] = {
    use Transport::{Tcp, Udp};
    const STREAM: &[&str] = &["socket", "connect", "recv"];
    [
        (1, "basic send", Tcp, STREAM),
        (2, "tiny buffer truncation", Tcp, STREAM),
        (3, "loop receive", Tcp, STREAM),
        (4, "close detection", Tcp, STREAM),
        (5, "pickled object transfer", Tcp, STREAM),
        (6, "when a recv brings less, or more, than one message", Tcp, STREAM),
        (
            7,
            "a request, its answer, and the half-close (std::net)",
            Tcp,
            &["socket", "connect", "send", "shutdown", "recv"],
        ),
        (8, "many clients at once", Tcp, STREAM),
        (9, "a chat room", Tcp, &["socket", "connect", "send", "recv"]),
        (
            10,
            "UDP datagrams keep their edges, and may be lost",
            Udp,
            &["socket", "sendto", "recvmsg", "bind", "setsockopt"],
        ),
        (
            11,
            "your own types, with serde",
            Tcp,
            &["socket", "connect", "send", "recv"],
        ),
    ]
};

/// The longest request the server reads: `{'lesson': N}` pickles to about
/// 30 bytes, so a longer one is not a request.
const MAX_REQUEST: usize = 256;

/// How long the server waits for a client's whole request.
const REQUEST_WAIT: Duration = Duration::from_secs(10);

/// How long the server reads what a client still sends after the answer,
/// before it closes.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// The most characters of a value's `repr` a line prints.
const MAX_REPR: usize = 1000;
/// The most values a pickle may hold once written out, each copy of a
/// shared one counted: a request or an answer holds a few.
const MAX_VALUES: usize = 100_000;

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.address);
    let listener = Socket::new(domain, Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;
    loop {
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {} established", address(&from)));
        // A client that leaves early, or never asks, must not stop the
        // server.
        if let Err(error) = answer(&client, config, out) {
            out.error(format_args!("{}: {error}", address(&from)));
        }
        close_well(&client, out);
        if config.once {
            return Ok(());
        }
    }
}

/// Reads one request from `client`, and answers it, or says why not.
fn answer(
    client: &Socket,
    config: &Server<ServerOptions>,
    out: &Out,
) -> io::Result<()> {
    // A client that sends nothing, or a byte now and then, must not hold
    // the server for ever: its request has REQUEST_WAIT in all.
    let until = Instant::now() + REQUEST_WAIT;
    let time_left = || Ok(until.saturating_duration_since(Instant::now()));
    // A header that is not a length, or announces more than MAX_REQUEST
    // bytes, is a bad request like any other: answered.
    let request = match receive_one(client, MAX_REQUEST, time_left, out) {
        Err(error) if error.kind() == io::ErrorKind::InvalidData => {
            Err(error.to_string())
        }
        Err(error) if timed_out(&error) => {
            let wait = REQUEST_WAIT.as_secs();
            let late = format!("no whole request within {wait} s");
            return Err(io::Error::new(io::ErrorKind::TimedOut, late));
        }
        result => Ok(result?),
    };
    // Typed decoding: a pickle that is not {'lesson': <int>} is refused
    // here, with the reason, and the reason goes back to the client.
    let answer = request
        .and_then(|request| {
            // The bounded reader first, then serde fits the value to the
            // struct.
            let value = loads(&request)?;
            serde_pickle::from_value::<Request>(value)
                .map_err(|error| error.to_string())
        })
        .and_then(|request| {
            out.say(format_args!("asked for lesson {}", request.lesson));
            lesson_info(request.lesson)
        });
    let pickled = match answer {
        Ok(info) => {
            let pickled = to_pickle(&info)?;
            out.say(format_args!("answering {}", repr(&pickled)));
            pickled
        }
        Err(error) => {
            // serde's message may quote the peer's own text.
            out.say(format_args!("refusing: {}", escape(&error)));
            to_pickle(&Refusal { error })?
        }
    };
    config.options.slow.send_all(client, &framing::frame(&pickled)?, out)
}

/// The record about lesson `number`, or why there is none.
fn lesson_info(number: u32) -> Result<LessonInfo, String> {
    let Some(index) = LESSONS.iter().position(|lesson| lesson.0 == number)
    else {
        let numbers: Vec<String> =
            LESSONS.iter().map(|lesson| lesson.0.to_string()).collect();
        return Err(format!(
            "there is no lesson {number} here: this server knows lessons {}",
            numbers.join(", ")
        ));
    };
    let (_, title, transport, calls) = LESSONS[index];
    Ok(LessonInfo {
        number,
        title: title.to_string(),
        transport,
        calls: calls.iter().map(|call| call.to_string()).collect(),
        next: LESSONS.get(index + 1).map(|next| next.0),
    })
}

/// Closing well: a close with unread bytes (a client that sent more than
/// one request, or a body the server refused to read) sends an RST, which
/// can destroy the answer before the client reads it. So: shutdown(2) the
/// sending side (a FIN after the answer), read what the client still sends
/// for at most DRAIN_WAIT, then close.
fn close_well(client: &Socket, out: &Out) {
    let until = Instant::now() + DRAIN_WAIT;
    if client.shutdown(Shutdown::Write).is_err() {
        return; // the client is gone already
    }
    let mut buffer = [0; 1024];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1)
            || client.set_read_timeout(Some(left)).is_err()
        {
            break;
        }
        match (&*client).read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(more) => out.trace(format_args!("drained {more} more bytes")),
        }
    }
    // Dropping the socket, where the caller's scope ends, is close(2).
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let deadline = Deadline::after(config.options.patience.deadline);
    // Each wait is --wait, or what is left of --deadline if that is less;
    // one that runs out says which.
    let cut_short = Cell::new(false);
    let time_left = || {
        let wait = deadline.wait_at_most(config.wait)?;
        cut_short.set(wait < config.wait);
        Ok(wait)
    };
    let ran_out = |error: io::Error| match timed_out(&error) {
        true if cut_short.get() => {
            let limit = config.options.patience.deadline.as_secs_f64();
            let why = format!("gave up after {limit} s in all (--deadline)");
            io::Error::new(io::ErrorKind::TimedOut, why)
        }
        _ => error,
    };
    let domain = Domain::for_address(config.server);
    let server = Socket::new(domain, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    let wait = time_left()?;
    out.traced("connect()", "the handshake", || {
        server.connect_timeout(&config.server.into(), wait)
    })
    .map_err(ran_out)?;

    let request = Request { lesson: config.options.lesson };
    let pickled = to_pickle(&request)?;
    out.say(format_args!(
        "asking for {request:?}, pickled as {}",
        repr(&pickled)
    ));
    let framed = framing::frame(&pickled)?;
    let name = format!("send({})", plural(framed.len(), "byte"));
    out.traced(name, "room in this side's send buffer", || {
        // send(2) until every byte is out, as Python's sendall.
        (&server).write_all(&framed).map(|()| framed.len())
    })?;
    out.hex("sent", &framed);

    let answer = receive_one(&server, framing::DEFAULT_MAX_LEN, time_left, out)
        .map_err(ran_out)?;
    // pickle.loads, but typed: the answer must have every field of a
    // LessonInfo, each of its type, or this fails and says which.
    let value = loads(&answer).map_err(|error| {
        let error =
            format!("the answer is not a pickle of plain data: {error}");
        io::Error::new(io::ErrorKind::InvalidData, error)
    })?;
    let info = match serde_pickle::from_value::<LessonInfo>(value.clone()) {
        Ok(info) => info,
        Err(error) => {
            let message = match serde_pickle::from_value::<Refusal>(value) {
                Ok(refusal) => {
                    format!("the server refused: {}", escape(&refusal.error))
                }
                Err(_) => format!("the answer is not a LessonInfo: {error}"),
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
    };
    out.say(format_args!(
        "lesson {}: {}, over {:?}",
        info.number,
        repr(&to_pickle(&info.title)?),
        info.transport
    ));
    out.say(format_args!("its calls: {}", repr(&to_pickle(&info.calls)?)));
    match info.next {
        Some(next) => out.say(format_args!("the next lesson: {next}")),
        None => out.say("the next lesson: None, this is the last"),
    }
    Ok(())
}
// ANCHOR_END: client

/// Reads from `peer` until one framed message is complete, refusing any
/// longer than `max_len` before reading it; each recv waits at most what
/// `time_left` says.
fn receive_one(
    peer: &Socket,
    max_len: usize,
    time_left: impl Fn() -> io::Result<Duration>,
    out: &Out,
) -> io::Result<Vec<u8>> {
    let mut reassembler = Reassembler::with_max_len(max_len);
    let mut buffer = [0; 1024];
    loop {
        let left = time_left()?;
        if left < Duration::from_millis(1) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        peer.set_read_timeout(Some(left))?;
        let received = match out
            .traced("recv(1024)", "bytes", || (&*peer).read(&mut buffer))
        {
            // Stopped (Ctrl-Z) and continued, a recv with a timeout
            // ends in EINTR: it is asked again.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                continue;
            }
            received => received?,
        };
        out.hex("received", &buffer[..received]);
        if received == 0 {
            reassembler.finish()?;
        }
        reassembler.feed(&buffer[..received]);
        while let Some(piece) = reassembler.next_piece()? {
            if let Piece::Message(message) = piece {
                return Ok(message.to_vec());
            }
        }
    }
}

/// A recv that waited its `SO_RCVTIMEO` out.
fn timed_out(error: &io::Error) -> bool {
    use io::ErrorKind::{TimedOut, WouldBlock};
    matches!(error.kind(), WouldBlock | TimedOut)
}

/// `pickle.dumps(value)`, protocol 3, for any type that derives Serialize.
fn to_pickle(value: &impl Serialize) -> io::Result<Vec<u8>> {
    serde_pickle::to_vec(value, SerOptions::new()).map_err(io::Error::other)
}

/// `pickle.loads(pickled)` for a peer's bytes, as serde-pickle's `Value`,
/// which serde decodes into a struct. serde-pickle copies each shared object
/// in full, so the library's bounded reader first checks that the bytes are
/// plain data, and small once written out.
fn loads(pickled: &[u8]) -> Result<serde_pickle::Value, String> {
    let value = pickle::loads(pickled).map_err(|why| why.to_string())?;
    if value.written_out() > MAX_VALUES {
        return Err(format!("more than {MAX_VALUES} values, copies counted"));
    }
    let options = serde_pickle::DeOptions::new();
    serde_pickle::value_from_slice(pickled, options).map_err(|e| e.to_string())
}

/// `repr(pickle.loads(pickled))`, as Python prints it, at most `MAX_REPR`
/// characters.
fn repr(pickled: &[u8]) -> String {
    match pickle::loads(pickled) {
        Ok(value) => value.repr(MAX_REPR),
        Err(refused) => format!("<unreadable: {refused}>"),
    }
}
