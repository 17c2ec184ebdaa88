//! Message framing: a 10-character length header in front of every message.
//!
//! TCP carries a stream of bytes, not messages: one `recv` may return half a
//! header, or the end of one message and the start of the next. So lesson 5
//! writes each message as
//!
//! ```text
//! b'41        ' + 41 bytes of pickle
//! ```
//!
//! the length in ASCII decimal, left-aligned and padded with spaces to 10
//! characters, as Python's `f"{len(msg):<10}"` writes it. The reader here does
//! not touch a socket: the lesson hands it whatever each `recv` returned, and
//! it hands back a header, then a whole message, as soon as they are complete.
//! Because it never sees the socket, it can be tested on any way a stream may
//! be cut into pieces: `tests/framing.rs` tries random ones.

use std::fmt;
use std::io;

/// How many bytes the length header takes.
pub const HEADER_LEN: usize = 10;

/// The longest message a [`Reassembler`] accepts unless told otherwise: 16 MiB.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024 * 1024;

/// Puts the length header in front of `message`.
///
/// ```
/// let framed = socket_lessons::framing::frame(b"abc").unwrap();
/// assert_eq!(framed, b"3         abc");
/// ```
pub fn frame(message: &[u8]) -> io::Result<Vec<u8>> {
    let header = format!("{:<width$}", message.len(), width = HEADER_LEN);
    if header.len() > HEADER_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a message of {} bytes is too long for a {HEADER_LEN}-digit \
                 header",
                message.len()
            ),
        ));
    }
    Ok([header.as_bytes(), message].concat())
}

/// What the reader found in the stream so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A whole header: the raw 10 bytes, and the length they announce.
    Header { raw: [u8; HEADER_LEN], length: usize },
    /// A whole message, as many bytes as its header said: borrowed from the
    /// bytes given to [`Reassembler::feed`] when it came whole in them, from
    /// the reader's own copy when it came across several.
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
            FramingError::NotALength { raw } => write!(
                f,
                "the header {} is not a length: it must be digits, padded \
                 with spaces to {HEADER_LEN} characters",
                crate::text::bytes_repr(raw)
            ),
            FramingError::TooLong { length, max } => write!(
                f,
                "the header announces a message of {length} bytes, more than \
                 the {max} this reader accepts"
            ),
            FramingError::Truncated { what, got, expected } => {
                write!(
                    f,
                    "the connection closed after {got} of the {expected} \
                     bytes of a {what}"
                )
            }
            FramingError::Empty => {
                write!(f, "the connection closed before the first message")
            }
        }
    }
}

impl std::error::Error for FramingError {}

impl From<FramingError> for io::Error {
    fn from(error: FramingError) -> Self {
        let kind = match error {
            FramingError::Truncated { .. } | FramingError::Empty => {
                io::ErrorKind::UnexpectedEof
            }
            FramingError::NotALength { .. } | FramingError::TooLong { .. } => {
                io::ErrorKind::InvalidData
            }
        };
        io::Error::new(kind, error)
    }
}

/// Rebuilds headers and messages from the pieces `recv` returns.
///
/// A message that comes whole in one `recv` is handed back where it lies, in
/// the caller's buffer: no copy. Only a message cut by the end of a `recv` is
/// copied, to wait for the rest, into memory reserved once for all of it when
/// its first part arrives (its header having been found not too long).
/// Headers, 10 bytes each, are gathered in an array of the reader's own. So
/// the reader holds at most one message at a time, and only one that did not
/// fit in a `recv`.
#[derive(Debug)]
pub struct Reassembler {
    /// What the next bytes of the stream belong to.
    expecting: Expecting,
    /// The bytes of a message cut by the end of a `recv`, in memory reserved
    /// for all of it; once whole, handed back from here.
    copied: Vec<u8>,
    /// What was wrong with the stream, once something was: the bytes after a
    /// bad header cannot be read, so they are not.
    error: Option<FramingError>,
    max_len: usize,
    /// Messages completed so far.
    messages: usize,
}

/// The piece of the stream being received.
#[derive(Debug)]
enum Expecting {
    /// A header, `got` bytes of it so far.
    Header { raw: [u8; HEADER_LEN], got: usize },
    /// A message of `length` bytes; those of its bytes that came in earlier
    /// `recv`s are in `copied`.
    Message { length: usize },
}

/// The bytes of one `recv`, being read by a [`Reassembler`]: ask for
/// [`next_piece`](Pieces::next_piece) until it returns `None`. Bytes not read
/// when this is dropped are lost to the reader.
#[must_use = "the bytes are only read by next_piece"]
#[derive(Debug)]
pub struct Pieces<'r, 'b> {
    reader: &'r mut Reassembler,
    /// What is left of the bytes given to `feed`.
    received: &'b [u8],
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
        Reassembler {
            expecting: Expecting::Header { raw: [0; HEADER_LEN], got: 0 },
            copied: Vec::new(),
            error: None,
            max_len,
            messages: 0,
        }
    }

    /// Takes the bytes one `recv` returned; the pieces they complete come
    /// from [`Pieces::next_piece`].
    pub fn feed<'r, 'b>(&'r mut self, received: &'b [u8]) -> Pieces<'r, 'b> {
        Pieces { reader: self, received }
    }

    /// Call when `recv` returns 0 (the peer closed) and `next_piece` has
    /// returned `None`: returns how many messages came, or says what was cut
    /// off. Closing between messages is the normal end of the stream.
    pub fn finish(&self) -> Result<usize, FramingError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        match self.expecting {
            Expecting::Message { length } => Err(FramingError::Truncated {
                what: "message",
                got: self.copied.len(),
                expected: length,
            }),
            Expecting::Header { got: 0, .. } if self.messages == 0 => {
                Err(FramingError::Empty)
            }
            Expecting::Header { got: 0, .. } => Ok(self.messages),
            Expecting::Header { got, .. } => Err(FramingError::Truncated {
                what: "header",
                got,
                expected: HEADER_LEN,
            }),
        }
    }

    /// The length a header announces, if it is one this reader accepts.
    fn allowed_length(
        &self,
        raw: &[u8; HEADER_LEN],
    ) -> Result<usize, FramingError> {
        let length = parse_header(raw)?;
        if length > self.max_len {
            return Err(FramingError::TooLong { length, max: self.max_len });
        }
        Ok(length)
    }

    /// How many bytes the reader holds for a message cut by the end of a
    /// `recv` (0 while none is): at most one message's.
    pub fn held(&self) -> usize {
        self.copied.capacity()
    }

    fn message_done(&mut self) {
        self.expecting = Expecting::Header { raw: [0; HEADER_LEN], got: 0 };
        self.messages += 1;
    }
}

impl Pieces<'_, '_> {
    /// The next complete header or message, or `None` once every byte of
    /// this `recv` has been read and more are needed.
    pub fn next_piece(&mut self) -> Result<Option<Piece<'_>>, FramingError> {
        let reader = &mut *self.reader;
        if let Some(error) = &reader.error {
            return Err(error.clone());
        }
        // One recv may end anywhere: inside a header, inside a message, or
        // after several of each. So take only what the current piece still
        // lacks, and leave the rest for the next call.
        match &mut reader.expecting {
            Expecting::Header { raw, got } => {
                // A message copied here was handed back by the last call, and
                // is done with: free it before the next is reserved.
                reader.copied = Vec::new();
                // A header cut by the end of a recv waits in `raw`, 10 bytes
                // of the reader's own, for the rest of it.
                let take = self.received.len().min(HEADER_LEN - *got);
                raw[*got..*got + take].copy_from_slice(&self.received[..take]);
                *got += take;
                self.received = &self.received[take..];
                if *got < HEADER_LEN {
                    return Ok(None);
                }
                let raw = *raw;
                // Checked now, before anything is reserved for the message:
                // a header is a promise from the peer, not a fact.
                match reader.allowed_length(&raw) {
                    Ok(length) => {
                        reader.expecting = Expecting::Message { length };
                        Ok(Some(Piece::Header { raw, length }))
                    }
                    Err(error) => {
                        reader.error = Some(error.clone());
                        Err(error)
                    }
                }
            }
            Expecting::Message { length } => {
                let length = *length;
                if reader.copied.is_empty() && self.received.len() >= length {
                    // The usual case: the whole message is in this recv.
                    // Hand it back where it lies, without copying it.
                    let (message, rest) = self.received.split_at(length);
                    self.received = rest;
                    reader.message_done();
                    return Ok(Some(Piece::Message(message)));
                }
                if self.received.is_empty() {
                    return Ok(None);
                }
                // The message goes on past this recv, so its bytes must wait
                // for the rest: reserve its memory once, the length being
                // known and allowed, so that filling it never moves it.
                if reader.copied.is_empty() {
                    reader.copied.reserve_exact(length);
                }
                let take =
                    self.received.len().min(length - reader.copied.len());
                reader.copied.extend_from_slice(&self.received[..take]);
                self.received = &self.received[take..];
                if reader.copied.len() < length {
                    return Ok(None);
                }
                reader.message_done();
                Ok(Some(Piece::Message(&reader.copied)))
            }
        }
    }
}

/// Reads a header as Python's `int()` would, but stricter: ASCII digits, with
/// spaces around them.
fn parse_header(raw: &[u8; HEADER_LEN]) -> Result<usize, FramingError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| FramingError::NotALength { raw: *raw })?;
    let digits = text.trim_matches(' ');
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(FramingError::NotALength { raw: *raw });
    }
    // Ten digits fit in a u64 and, on 64-bit machines, a usize; on smaller
    // ones a huge length is simply too long.
    Ok(digits.parse().unwrap_or(usize::MAX))
}
