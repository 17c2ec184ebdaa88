//! Lesson 6: when a `recv` brings less, or more, than one message.
//!
//! The server is lesson 5's, in slow motion: it sends its four framed
//! messages as one stream, in pieces of 5 bytes unless `--chunk` says
//! otherwise, so that pieces cut headers in two and glue the end of one
//! message to the start of the next, as a real network may.
//!
//! The client hands the bytes of each `recv` to two readers. The first is
//! the tutorial's lesson-5 client, ported as written: it takes the length
//! from the first `recv` of each message and waits until it has exactly
//! that many bytes. The client says where that goes wrong. The second is
//! lesson 5's reader, which gets every message right from the same bytes.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use socket_lessons::old::cli::{Defaults, Pace};
use socket_lessons::old::framing::{DEFAULT_MAX_LEN, Piece, Reassembler};
use socket_lessons::old::python::{self, bytes_repr};
use socket_lessons::old::unpickle::unpickle;
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig};
use socket2::{Domain, Socket, Type};

// Lesson 5's file, for its server: the point of this lesson is the client.
#[allow(dead_code)]
#[path = "lesson_05.rs"]
mod lesson_05;

const LESSON: Lesson = Lesson {
    name: "lesson_06",
    title: "when a recv brings less, or more, than one message",
    defaults: Defaults {
        port: 4106,
        wait: Duration::from_secs(10),
        buffer: Some(A),
    },
    options: &[],
    server,
    client,
};

/// The piece size of the server's sends unless `--chunk` says otherwise:
/// 5 bytes cut each 10-byte header in two, and the messages (38, 24, 29
/// and 37 bytes long) end in the middle of a piece.
const DEFAULT_CHUNK: usize = 5;

/// The tutorial's `a = 10`: the header's size, and its client's buffer.
const A: usize = 10;

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
/// Lesson 5's server, sending in pieces of `DEFAULT_CHUNK` bytes unless
/// `--chunk` asks for another size.
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    let chunk = config.pace.chunk.unwrap_or(DEFAULT_CHUNK);
    let pace = Pace { chunk: Some(chunk), ..config.pace };
    lesson_05::server(&ServerConfig { pace, ..config.clone() }, out)
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    // One stream, two readers: each gets exactly the bytes of each recv.
    let mut tutorial = TutorialClient::new();
    let mut reassembler = Reassembler::new();
    let mut buffer = vec![0; config.buffer];
    loop {
        // mymsg = s.recv(10)
        let received = server.read(&mut buffer)?;
        let mymsg = &buffer[..received];
        out.say(format_args!(
            "recv({}) returned {}",
            buffer.len(),
            bytes_repr(mymsg)
        ));
        if received == 0 {
            break;
        }
        tutorial.receive(mymsg, out);
        let mut pieces = reassembler.feed(mymsg);
        while let Some(piece) = pieces.next_piece()? {
            match piece {
                Piece::Header { raw, length } => out.say(format_args!(
                    "  lesson 5: header {}: the message is {length} bytes",
                    bytes_repr(&raw)
                )),
                Piece::Message(pickled) => {
                    let value = unpickle(pickled)?;
                    out.say(format_args!(
                        "  lesson 5: {}",
                        python::repr(&value)
                    ));
                }
            }
        }
    }
    tutorial.closed(out);
    let count = reassembler.finish()?;
    out.say(format_args!(
        "the tutorial's reader got {} of the {count} messages; lesson 5's \
         reader got all {count}",
        tutorial.messages
    ));
    Ok(())
}
// ANCHOR_END: client

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
            match unpickle(&pickled) {
                Ok(value) => {
                    self.messages += 1;
                    out.say(format_args!(
                        "  tutorial: {} bytes after the header, as x says: \
                         {}",
                        self.x,
                        python::repr(&value)
                    ));
                }
                Err(error) => {
                    self.stop(
                        out,
                        format!(
                            "{} bytes after the header, as x says, but \
                         pickle.loads({}) raises an error: {error}",
                            self.x,
                            bytes_repr(&pickled)
                        ),
                    );
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
                "  tutorial: len(complete_info)-a is now {body}, past x = \
                 {}: it took {}, the first {extra} of what follows, as part \
                 of this message, and == x can never be true again",
                self.x,
                bytes_repr(&self.complete_info[from..])
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
            self.stop_message(
                out,
                "recv returned b'', and int(b'') raises ValueError",
            );
            return;
        }
        let length = self.overshot.unwrap_or(self.complete_info.len());
        out.say(format_args!(
            "  tutorial: every recv now returns b'' at once, and \
             len(complete_info)-a stays {}, never x = {}: the tutorial's \
             loop would spin here forever",
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
            "  tutorial: {what}: the tutorial's client stops here, with an \
             error"
        ));
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
