//! Message framing: a 10-character length header in front of every message.
//!
//! TCP carries a stream of bytes, not messages: one `recv` may return half a
//! header, or the end of one message and the start of the next. So lesson 5
//! writes each message as `b'41        '` + 41 bytes of pickle: the length in
//! ASCII decimal, left-aligned and padded with spaces to 10 characters, as
//! Python's `f"{len(msg):<10}"` writes it. The reader here does not touch a
//! socket: the lesson hands it whatever each `recv` returned, and it hands
//! back a header, then a whole message, as soon as they are complete. So it
//! can be tested on any cutting of a stream: `tests/framing.rs` tries random
//! ones.

use std::fmt;
use std::io;

/// How many bytes the length header takes.
pub const HEADER_LEN: usize = 10;

/// The longest message a [`Reassembler`] accepts unless told otherwise: 16 MiB.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024 * 1024;

/// Puts the length header in front of `message`.
pub fn frame(message: &[u8]) -> io::Result<Vec<u8>> {
    let header = format!("{:<width$}", message.len(), width = HEADER_LEN);
    if header.len() > HEADER_LEN {
        let why = format!(
            "a message of {} bytes is too long for a {HEADER_LEN}-digit header",
            message.len()
        );
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    Ok([header.as_bytes(), message].concat())
}

/// What the reader found in the stream so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole header: the raw 10 bytes, and the length they announce.
    Header { raw: [u8; HEADER_LEN], length: usize },
    /// A whole message, as many bytes as its header said.
    Message(&'a [u8]),
}

/// What can be wrong with a framed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramingError {
    /// The header is not a length: only digits, with spaces around them, are.
    NotALength { raw: [u8; HEADER_LEN] },
    /// The header announces more than this reader accepts.
    TooLong { length: usize, max: usize },
    /// The stream ended part-way through a header or a message.
    Truncated { what: &'static str, got: usize, expected: usize },
    /// The stream ended before any message.
    Empty,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotALength { raw } => write!(
                f,
                "the header {} is not a length: it must be digits, padded \
                 with spaces to {HEADER_LEN} characters",
                crate::text::bytes_repr(raw)
            ),
            Self::TooLong { length, max } => write!(
                f,
                "the header announces a message of {length} bytes, more than \
                 the {max} this reader accepts"
            ),
            Self::Truncated { what, got, expected } => write!(
                f,
                "the connection closed after {got} of the {expected} bytes \
                 of a {what}"
            ),
            Self::Empty => {
                write!(f, "the connection closed before the first message")
            }
        }
    }
}

impl std::error::Error for FramingError {}

impl From<FramingError> for io::Error {
    fn from(error: FramingError) -> Self {
        use io::ErrorKind::{InvalidData, UnexpectedEof};
        let cut = matches!(error, FramingError::Truncated { .. });
        let kind = if cut || error == FramingError::Empty {
            UnexpectedEof
        } else {
            InvalidData
        };
        io::Error::new(kind, error)
    }
}

/// Rebuilds headers and messages from the pieces `recv` returns: give it
/// each `recv`'s bytes with `feed`, then take `next_piece` until `None`.
///
/// The bytes wait in one buffer, read from an offset so that many messages
/// in one `recv` cost no move each; `feed` drops what was handed back. So
/// the reader holds at most the piece being received and one `recv`.
#[derive(Debug)]
pub struct Reassembler {
    /// Bytes received; those before `read` were handed back.
    buffer: Vec<u8>,
    read: usize,
    /// The length of the message being received once its header is read,
    /// or what was wrong with the stream: the bytes after a bad header
    /// cannot be read, so they are not.
    length: Result<Option<usize>, FramingError>,
    max_len: usize,
    /// Messages completed so far.
    messages: usize,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::with_max_len(DEFAULT_MAX_LEN)
    }
}

impl Reassembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// A reader that refuses messages longer than `max_len` bytes, before
    /// reserving any memory for them: a length header is a promise from the
    /// peer, not a fact.
    pub fn with_max_len(max_len: usize) -> Self {
        let (buffer, read, length, messages) = (Vec::new(), 0, Ok(None), 0);
        Reassembler { buffer, read, length, max_len, messages }
    }

    /// Takes the bytes one `recv` returned.
    pub fn feed(&mut self, received: &[u8]) {
        let Ok(length) = self.length.clone() else { return };
        // What was handed back goes. A message whose header came gets all
        // its memory at once, so that the recvs to come fill it in place.
        self.buffer.drain(..self.read);
        self.read = 0;
        let room = length.unwrap_or(0).max(self.buffer.len() + received.len());
        self.buffer.reserve_exact(room - self.buffer.len());
        self.buffer.extend_from_slice(received);
    }

    /// The next complete header or message, or `None` once more bytes are
    /// needed.
    pub fn next_piece(&mut self) -> Result<Option<Piece<'_>>, FramingError> {
        let start = self.read;
        let Some(length) = self.length.clone()? else {
            let Some(&raw) = self.buffer[start..].first_chunk() else {
                return Ok(None);
            };
            let length = parse_header(&raw, self.max_len).inspect_err(|e| {
                (self.buffer, self.read) = (Vec::new(), 0);
                self.length = Err(e.clone());
            })?;
            (self.read, self.length) = (start + HEADER_LEN, Ok(Some(length)));
            return Ok(Some(Piece::Header { raw, length }));
        };
        let Some(message) = self.buffer[start..].get(..length) else {
            return Ok(None);
        };
        (self.read, self.length) = (start + length, Ok(None));
        self.messages += 1;
        Ok(Some(Piece::Message(message)))
    }

    /// Call when `recv` returns 0 (the peer closed) and `next_piece` has
    /// returned `None`: returns how many messages came, or says what was cut
    /// off. Closing between messages is the normal end of the stream.
    pub fn finish(&self) -> Result<usize, FramingError> {
        let got = self.buffer.len() - self.read;
        let cut =
            |what, expected| FramingError::Truncated { what, got, expected };
        match self.length.clone()? {
            Some(length) => Err(cut("message", length)),
            None if got > 0 => Err(cut("header", HEADER_LEN)),
            None if self.messages == 0 => Err(FramingError::Empty),
            None => Ok(self.messages),
        }
    }

    /// How many bytes the reader has memory for.
    pub fn held(&self) -> usize {
        self.buffer.capacity()
    }
}

/// Reads a header as Python's `int()` would, but stricter: ASCII digits, with
/// spaces around them; and refuses a length over `max`.
fn parse_header(raw: &[u8; 10], max: usize) -> Result<usize, FramingError> {
    let digits = std::str::from_utf8(raw).unwrap_or("").trim_matches(' ');
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(FramingError::NotALength { raw: *raw });
    }
    // Ten digits may not fit in a 32-bit usize: too long, then.
    match digits.parse().unwrap_or(usize::MAX) {
        length if length > max => Err(FramingError::TooLong { length, max }),
        length => Ok(length),
    }
}
