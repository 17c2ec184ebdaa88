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

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_pickle::SerOptions;
use socket_lessons::old::cli::{Defaults, LessonOption, Side, Value};
use socket_lessons::old::framing::{self, Piece, Reassembler};
use socket_lessons::old::python::escape_unprintable;
use socket_lessons::old::unpickle::unpickle;
use socket_lessons::old::{
    ClientConfig, Lesson, Out, ServerConfig, Wire, output, python,
    reuse_address,
};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_11",
    title: "your own types, with serde",
    defaults: Defaults {
        port: 4111,
        wait: Duration::from_secs(10),
        buffer: None,
    },
    options: &[LessonOption {
        flag: "--lesson",
        value: Value::Count { max: 999 },
        placeholder: "N",
        default: "10",
        side: Side::Client,
        help: "the number of the lesson to ask about",
    }],
    server,
    client,
};

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
            "UDP datagrams keep their edges",
            Udp,
            &["socket", "sendto", "recvmsg", "bind"],
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

/// The longest answer the client reads.
const MAX_ANSWER: usize = 64 * 1024;

/// How long the server waits for a client's request.
const REQUEST_WAIT: Duration = Duration::from_secs(10);

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
        // A client that sends nothing, or a byte now and then, must not
        // hold the server for ever: its request has REQUEST_WAIT in all.
        client.set_deadline(REQUEST_WAIT);
        // A header that is not a length, or announces more than
        // MAX_REQUEST bytes, is a bad request like any other: answered.
        let request = match receive_one(&mut client, MAX_REQUEST) {
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                Err(error.to_string())
            }
            result => Ok(result?),
        };
        // Typed decoding: a pickle that is not {'lesson': <int>} is refused
        // here, with the reason, and the reason goes back to the client.
        let answer = request
            .and_then(|request| {
                // Lesson 5's bounded checks first, then serde fits the value
                // to the struct.
                let value =
                    unpickle(&request).map_err(|error| error.to_string())?;
                serde_pickle::from_value::<Request>(value.into())
                    .map_err(|error| error.to_string())
            })
            .and_then(|request| {
                out.say(format_args!("asked for lesson {}", request.lesson));
                lesson_info(request.lesson)
            });
        let pickled = match answer {
            Ok(info) => {
                let value = to_value(&info)?;
                out.say(format_args!("answering {}", python::repr(&value)));
                to_pickle(&info)?
            }
            Err(error) => {
                // serde's message may quote the peer's own text.
                out.say(format_args!(
                    "refusing: {}",
                    escape_unprintable(&error)
                ));
                to_pickle(&Refusal { error })?
            }
        };
        client.write_all(&framing::frame(&pickled)?)?;
        Ok(())
    })
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
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    let lesson = u32::try_from(config.extra.count("--lesson"))
        .map_err(io::Error::other)?;
    let request = Request { lesson };
    out.say(format_args!(
        "asking for {request:?}, that is {}",
        python::repr(&to_value(&request)?)
    ));
    server.write_all(&framing::frame(&to_pickle(&request)?)?)?;

    let answer = receive_one(&mut server, MAX_ANSWER)?;
    // pickle.loads, but typed: the answer must have every field of a
    // LessonInfo, each of its type, or this fails and says which.
    // The bytes pass lesson 5's bounded checks before serde sees them.
    let value = serde_pickle::Value::from(unpickle(&answer)?);
    let info = match serde_pickle::from_value::<LessonInfo>(value.clone()) {
        Ok(info) => info,
        Err(error) => {
            let message = match serde_pickle::from_value::<Refusal>(value) {
                Ok(refusal) => format!(
                    "the server refused: {}",
                    python::escape_unprintable(&refusal.error)
                ),
                Err(_) => {
                    format!("the answer is not a LessonInfo: {error}")
                }
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
    };
    let title = serde_pickle::Value::String(info.title);
    out.say(format_args!(
        "lesson {}: {}, over {:?}",
        info.number,
        python::repr(&title),
        info.transport
    ));
    out.say(format_args!(
        "its calls: {}",
        python::repr(&to_value(&info.calls)?)
    ));
    match info.next {
        Some(next) => out.say(format_args!("the next lesson: {next}")),
        None => out.say("the next lesson: None, this is the last"),
    }
    Ok(())
}
// ANCHOR_END: client

/// Reads from `peer` until one framed message is complete, refusing any
/// longer than `max_len` before reading it.
fn receive_one(peer: &mut Wire, max_len: usize) -> io::Result<Vec<u8>> {
    let mut reassembler = Reassembler::with_max_len(max_len);
    let mut buffer = [0; 1024];
    loop {
        let received = peer.read(&mut buffer)?;
        if received == 0 {
            reassembler.finish()?;
        }
        let mut pieces = reassembler.feed(&buffer[..received]);
        while let Some(piece) = pieces.next_piece()? {
            if let Piece::Message(message) = piece {
                return Ok(message.to_vec());
            }
        }
    }
}

fn to_pickle(value: &impl Serialize) -> io::Result<Vec<u8>> {
    serde_pickle::to_vec(value, SerOptions::new()).map_err(io::Error::other)
}

fn to_value(value: &impl Serialize) -> io::Result<serde_pickle::Value> {
    serde_pickle::to_value(value).map_err(io::Error::other)
}
