//! Lesson 6: when a `recv` brings less, or more, than one message.
//!
//! The server is lesson 5's, in slow motion: it sends its four framed
//! messages as one stream, in pieces of 5 bytes unless `--chunk` says
//! otherwise, so that pieces cut headers and glue the end of one message
//! to the start of the next, as a real network may.
//!
//! The client hands the bytes of each `recv` to two readers. The first is
//! the tutorial's lesson-5 client, ported as written: it takes the length
//! from the first `recv` of each message and waits until it has exactly
//! that many bytes. The client says where that goes wrong. The second is
//! lesson 5's reader, which gets every message right from the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_pickle::{HashableValue, SerOptions, Value};
use socket_lessons::cli::{Patience, SlowMotion, seconds};
use socket_lessons::errors::Deadline;
use socket_lessons::framing::{self, DEFAULT_MAX_LEN, Piece, Reassembler};
use socket_lessons::output::{address, plural};
use socket_lessons::pickle;
use socket_lessons::text::bytes_repr;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_06",
    about: "when a recv brings less, or more, than one message",
    port: 4106,
    wait: "10",
    show: true,
    server,
    client,
};

/// The tutorial's `a = 10`: the header's size, and its client's buffer.
const A: usize = 10;

/// The most of a value's `repr` the client prints; then `...`.
const MAX_REPR: usize = 1000;

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    /// Send in pieces of at most BYTES bytes, each its own send: 5 cut the
    /// headers, and end three of the four messages inside a piece
    #[arg(long, value_name = "BYTES", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..))]
    chunk: u16,
    /// The pause between pieces
    #[arg(long, value_name = "SECONDS", default_value = "0.2",
          value_parser = seconds)]
    pause: Duration,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The most one recv may return
    #[arg(long, value_name = "BYTES", default_value_t = A as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    buffer: u16,
    #[command(flatten)]
    patience: Patience,
}

fn main() -> ExitCode {
    LESSON.main()
}

/// Lesson 5's values, in order.
fn messages() -> Result<Vec<Value>, serde_pickle::Error> {
    Ok(vec![
        serde_pickle::to_value(&BTreeMap::from([
            (1, "Client"),
            (2, "Server"),
        ]))?,
        Value::List(vec![
            Value::I64(1),
            Value::I64(2),
            Value::String("abc".into()),
        ]),
        serde_pickle::to_value(&("Rust", 2024, 3.5, true))?,
        Value::Set(BTreeSet::from([1, 2, 3].map(HashableValue::I64))),
    ])
}

// ANCHOR: server
/// Lesson 5's server, its sends always in slow motion.
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.address);
    let listener = Socket::new(domain, Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;
    let ServerOptions { chunk, pause } = config.options;
    let slow = SlowMotion { chunk: Some(chunk), pause };
    loop {
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {} established", address(&from)));
        let mut stream = Vec::new();
        for value in messages().map_err(io::Error::other)? {
            let pickled = serde_pickle::value_to_vec(&value, SerOptions::new())
                .map_err(io::Error::other)?;
            let (repr, size) = (unpickled(&pickled)?, pickled.len());
            out.say(format_args!("{repr} pickles to {size} bytes"));
            stream.extend(framing::frame(&pickled)?);
        }
        out.say(format_args!(
            "sending {} bytes in pieces of {chunk}, then closing",
            stream.len()
        ));
        // One stream, cut where --chunk says, not where messages end.
        if let Err(error) = slow.send_all(&client, &stream, out) {
            out.error(format_args!("sending to {}: {error}", address(&from)));
        }
        drop(client);
        if config.once {
            return Ok(());
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
    // The tutorial's loop never ends on its own: --deadline ends this one.
    let deadline = Deadline::after(config.options.patience.deadline);

    // One stream, two readers: each gets exactly the bytes of each recv.
    let mut tutorial = TutorialClient::new();
    let mut reassembler = Reassembler::new();
    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    loop {
        server.set_read_timeout(Some(deadline.wait_at_most(config.wait)?))?;
        // mymsg = s.recv(10)
        let received = out.traced(format!("recv({size})"), "bytes", || {
            (&server).read(&mut buffer)
        })?;
        let mymsg = &buffer[..received];
        out.say(format_args!("recv({size}) returned {}", bytes_repr(mymsg)));
        if received == 0 {
            break;
        }
        tutorial.receive(mymsg, out);
        reassembler.feed(mymsg);
        while let Some(piece) = reassembler.next_piece()? {
            match piece {
                Piece::Header { raw, length } => out.say(format_args!(
                    "  lesson 5: header {}: the message is {length} bytes",
                    bytes_repr(&raw)
                )),
                Piece::Message(pickled) => {
                    out.say(format_args!("  lesson 5: {}", unpickled(pickled)?))
                }
            }
        }
    }
    tutorial.closed(out);
    let count = reassembler.finish()?;
    let (got, all) = (tutorial.messages, plural(count, "message"));
    out.say(format_args!(
        "the tutorial's reader got {got} of {all}, lesson 5's all {count}"
    ));
    Ok(())
}
// ANCHOR_END: client

/// `repr(pickle.loads(pickled))`: the pickle read as plain data only (a
/// peer's pickle could otherwise run code), its repr cut after `MAX_REPR`
/// characters.
fn unpickled(pickled: &[u8]) -> io::Result<String> {
    let value = pickle::loads(pickled).map_err(|why| {
        io::Error::other(format!("refused to unpickle the message: {why}"))
    })?;
    Ok(value.repr(MAX_REPR))
}

// ANCHOR: tutorial
/// The tutorial's lesson-5 client, one `recv` at a time. Its loop, with
/// its own names (the line that prints each piece left out):
///
/// ```python
/// while True:
///     mymsg = s.recv(10)
///     if rec_msg:
///         x = int(mymsg[:a])
///         rec_msg = False
///     complete_info += mymsg
///     if len(complete_info)-a == x:
///         m = pickle.loads(complete_info[a:])
///         print(m)
///         rec_msg = True
///         complete_info = b''
/// ```
struct TutorialClient {
    complete_info: Vec<u8>,
    /// True when the next `recv` is the first of a message.
    rec_msg: bool,
    /// The length it believes the message has.
    x: i64,
    /// `len(complete_info)` once it has gone past `a + x`: from then on
    /// the bytes are only counted, since `==` can never be true again.
    overshot: Option<usize>,
    /// Set when the tutorial's client would have stopped with an error.
    stopped: bool,
    messages: usize,
}

impl TutorialClient {
    fn new() -> Self {
        TutorialClient {
            complete_info: Vec::new(),
            rec_msg: true,
            x: 0,
            overshot: None,
            stopped: false,
            messages: 0,
        }
    }

    /// The loop's body, for the bytes one `recv` returned.
    fn receive(&mut self, mymsg: &[u8], out: &Out) {
        if self.stopped {
            return;
        }
        if self.rec_msg {
            // x = int(mymsg[:a]): whatever this recv brought, whole header
            // or not.
            let header = &mymsg[..mymsg.len().min(A)];
            let Some(x) = python_int(header) else {
                self.stop(
                    out,
                    format!("int({}) raises ValueError", bytes_repr(header)),
                );
                return;
            };
            let part = match header.len() {
                A => String::new(),
                got => format!(", from {got} of the {A} bytes of the header"),
            };
            out.say(format_args!(
                "  tutorial: x = int({}) = {x}{part}",
                bytes_repr(header)
            ));
            self.x = x;
            self.rec_msg = false;
            if x > DEFAULT_MAX_LEN as i64 {
                // Unlike the tutorial, this one does not keep gigabytes for
                // a peer.
                self.stop(
                    out,
                    format!(
                        "x = {x} is more than the {DEFAULT_MAX_LEN} bytes this \
                         client keeps"
                    ),
                );
                return;
            }
        }
        if let Some(length) = &mut self.overshot {
            *length += mymsg.len();
            return;
        }
        // complete_info += mymsg
        self.complete_info.extend_from_slice(mymsg);
        let body = self.complete_info.len() as i64 - A as i64;
        if body == self.x {
            // len(complete_info)-a == x: the message is complete, it
            // believes.
            // A header such as b'-5' makes x negative: then the body is
            // empty, not a slice past the end.
            let pickled = self.complete_info.get(A..).unwrap_or_default();
            let pickled = pickled.to_vec();
            match unpickled(&pickled) {
                Ok(repr) => {
                    self.messages += 1;
                    out.say(format_args!(
                        "  tutorial: {} bytes after the header, as x says: \
                         {repr}",
                        self.x,
                    ));
                }
                Err(_) => {
                    let what =
                        format!("pickle.loads({}) fails", preview(&pickled));
                    self.stop(out, what);
                    return;
                }
            }
            self.rec_msg = true;
            self.complete_info.clear();
        } else if body > self.x {
            let extra = body - self.x;
            // complete_info[len - extra:], as Python slices: a start below
            // 0 (a negative x does that) counts from the end.
            let len = self.complete_info.len() as i64;
            let from = match len - extra {
                from if from < 0 => (len + from).max(0),
                from => from,
            } as usize;
            out.say(format_args!(
                "  tutorial: len(complete_info)-a = {body} > x = {}: it took \
                 {} of the next message",
                self.x,
                preview(&self.complete_info[from..])
            ));
            self.overshot = Some(self.complete_info.len());
            self.complete_info = Vec::new();
        }
    }

    /// What the tutorial's loop does once `recv` returns `b''`.
    fn closed(&self, out: &Out) {
        if self.stopped {
            return;
        }
        if self.rec_msg {
            self.stop_message(out, "int(b'') raises ValueError");
            return;
        }
        let length = self.overshot.unwrap_or(self.complete_info.len());
        out.say(format_args!(
            "  tutorial: len(complete_info)-a stays {}, never x = {}: it \
             spins on b'' for ever",
            length as i64 - A as i64,
            self.x
        ));
    }

    fn stop(&mut self, out: &Out, what: String) {
        self.stopped = true;
        self.stop_message(out, what);
    }

    fn stop_message(&self, out: &Out, what: impl std::fmt::Display) {
        out.say(format_args!(
            "  tutorial: {what}: its client stops here, with an error"
        ));
    }
}

/// At most 20 of `bytes`, as Python writes bytes: a peer's bytes may be
/// megabytes.
fn preview(bytes: &[u8]) -> String {
    match bytes.get(..20) {
        Some(start) if bytes.len() > 20 => format!("{}...", bytes_repr(start)),
        _ => bytes_repr(bytes),
    }
}

/// Python's `int()` of bytes, for what a 10-byte header can hold: digits,
/// single underscores between them, an optional sign, and whitespace around
/// (`b' \t\n\r\x0b\x0c'`). `None` where Python raises `ValueError`.
fn python_int(bytes: &[u8]) -> Option<i64> {
    let whitespace = |byte: &u8| b" \t\n\r\x0b\x0c".contains(byte);
    let start = bytes.iter().position(|byte| !whitespace(byte))?;
    let end = bytes.iter().rposition(|byte| !whitespace(byte))? + 1;
    let text = std::str::from_utf8(&bytes[start..end]).ok()?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let underscores_between_digits = !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__");
    let only_digits =
        digits.bytes().all(|byte| byte.is_ascii_digit() || byte == b'_');
    if digits.is_empty() || !only_digits || !underscores_between_digits {
        return None;
    }
    text.replace('_', "").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::python_int;

    #[test]
    fn reads_headers_as_pythons_int_does() {
        // Checked against python3: int(b' 42 '), int(b'1_0'), ...
        for (header, python) in [
            (&b" 42       "[..], Some(42)),
            (b"1_0", Some(10)),
            (b"-5\x0b", Some(-5)),
            (b"\x0c+7", Some(7)),
            (b"1__0", None),
            (b"_1", None),
            (b"1_", None),
            (b"", None),
            (b"  ", None),
            (b"4x", None),
            (b"- 5", None),
        ] {
            assert_eq!(python_int(header), python, "{header:?}");
        }
    }
}
// ANCHOR_END: tutorial
