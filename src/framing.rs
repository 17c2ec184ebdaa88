//! Lesson 5's framing: a 10-character length header before every message,
//! as Python's `f"{len(msg):<10}"` writes it (`b'41        '` + 41 bytes).
//!
//! TCP carries a stream of bytes, not messages: a `recv` may end anywhere,
//! inside a header or after several messages. So [`Reassembler`] takes what
//! each `recv` returned and hands back each header and message once whole.
//! It never touches a socket: `tests/framing.rs` tries it on random cuttings.

use std::{fmt, io};

pub const HEADER_LEN: usize = 10;

/// The longest message a [`Reassembler`] accepts unless told otherwise: 16 MiB.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024 * 1024;

/// Puts the length header in front of `message`.
pub fn frame(message: &[u8]) -> io::Result<Vec<u8>> {
    let header = format!("{:<HEADER_LEN$}", message.len());
    if header.len() > HEADER_LEN {
        return Err(io::Error::other("a message too long for the header"));
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
        let cut_short = matches!(error, FramingError::Truncated { .. })
            || error == FramingError::Empty;
        let kind = if cut_short { UnexpectedEof } else { InvalidData };
        io::Error::new(kind, error)
    }
}

/// Rebuilds headers and messages from what each `recv` returns: `feed` it
/// the bytes, then take `next_piece` until `None`. It reads its buffer from
/// an offset (many messages in one `recv` cost no move each) and `feed` drops
/// what was read: it holds one message being received and one `recv` at most.
#[derive(Debug)]
pub struct Reassembler {
    /// Bytes received; those before `read` were handed back.
    buffer: Vec<u8>,
    read: usize,
    /// The length of the message being received once its header is read; or
    /// what was wrong: the bytes after a bad header cannot be read.
    length: Result<Option<usize>, FramingError>,
    max_len: usize,
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

    /// A reader that refuses messages over `max_len` bytes before reserving
    /// memory for them: a length header is a promise from the peer, not a fact.
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

    /// The next whole header or message; `None` until more bytes come.
    pub fn next_piece(&mut self) -> Result<Option<Piece<'_>>, FramingError> {
        let Some(length) = self.length.clone()? else {
            let Some(&raw) = self.buffer[self.read..].first_chunk() else {
                return Ok(None);
            };
            let length = length_in(raw, self.max_len);
            self.length = length.clone().map(Some);
            let length = length.inspect_err(|_| self.buffer = Vec::new())?;
            self.read += HEADER_LEN;
            return Ok(Some(Piece::Header { raw, length }));
        };
        let Some(message) = self.buffer[self.read..].get(..length) else {
            return Ok(None);
        };
        (self.read, self.length) = (self.read + length, Ok(None));
        self.messages += 1;
        Ok(Some(Piece::Message(message)))
    }

    /// Call when `recv` returns 0 and `next_piece` has returned `None`: how
    /// many messages came, or what was cut off (between messages, none was).
    pub fn finish(&self) -> Result<usize, FramingError> {
        let length = self.length.clone()?;
        let got = self.buffer.len() - self.read;
        let (what, expected) = match length {
            Some(length) => ("message", length),
            None if got > 0 => ("header", HEADER_LEN),
            None if self.messages == 0 => return Err(FramingError::Empty),
            None => return Ok(self.messages),
        };
        Err(FramingError::Truncated { what, got, expected })
    }

    /// How many bytes the reader has memory for.
    pub fn held(&self) -> usize {
        self.buffer.capacity()
    }
}

/// The length in a header, read as Python's `int()` would, but stricter:
/// ASCII digits with spaces around them; refused if over `max`.
fn length_in(raw: [u8; HEADER_LEN], max: usize) -> Result<usize, FramingError> {
    let digits = std::str::from_utf8(&raw).unwrap_or("").trim_matches(' ');
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(FramingError::NotALength { raw });
    }
    // Ten digits may not fit in a 32-bit usize: too long, then.
    match digits.parse().unwrap_or(usize::MAX) {
        length if length > max => Err(FramingError::TooLong { length, max }),
        length => Ok(length),
    }
}
