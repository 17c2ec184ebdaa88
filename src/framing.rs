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
//! Because it never sees the socket, the same code can be tested on every way a
//! stream can be cut into pieces.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A whole header: the raw 10 bytes, and the length they announce.
    Header { raw: [u8; HEADER_LEN], length: usize },
    /// A whole message, as many bytes as its header said.
    Message(Vec<u8>),
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
                crate::python::bytes_repr(raw)
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
/// A message's bytes are copied into a buffer reserved whole as soon as its
/// header is in (and found not too long), and that buffer is what is handed
/// back. Bytes that arrive past the end of a message wait, copied, until that
/// message has been handed back: so the reader never holds two big messages
/// at once.
#[derive(Debug)]
pub struct Reassembler {
    /// What the next bytes of the stream belong to.
    filling: Filling,
    /// A header or message complete and not yet handed back.
    ready: Option<Piece>,
    /// Bytes received after `ready` was complete, not yet sorted into a
    /// header or message; the first `sorted` of them are done with.
    unsorted: Vec<u8>,
    sorted: usize,
    /// What was wrong with the stream, once something was: the bytes after a
    /// bad header cannot be read, so they are not.
    error: Option<FramingError>,
    max_len: usize,
    /// Messages completed so far.
    messages: usize,
}

/// The piece of the stream being received.
#[derive(Debug)]
enum Filling {
    /// A header, `got` bytes of it so far.
    Header { raw: [u8; HEADER_LEN], got: usize },
    /// A message of `length` bytes, whose buffer already has room for all of
    /// them.
    Message { length: usize, bytes: Vec<u8> },
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
            filling: Filling::Header { raw: [0; HEADER_LEN], got: 0 },
            ready: None,
            unsorted: Vec::new(),
            sorted: 0,
            error: None,
            max_len,
            messages: 0,
        }
    }

    /// Adds the bytes one `recv` returned.
    pub fn push(&mut self, received: &[u8]) {
        if self.ready.is_none() && self.sorted == self.unsorted.len() {
            // The usual case: the bytes go straight where they belong, and
            // only what comes after a complete piece has to wait.
            let taken = self.sort(received);
            let rest = &received[taken..];
            self.unsorted.clear();
            self.sorted = 0;
            // Exactly: the rest of one recv, not twice that.
            self.unsorted.reserve_exact(rest.len());
            self.unsorted.extend_from_slice(rest);
        } else {
            self.unsorted.extend_from_slice(received);
        }
    }

    /// The next complete header or message, or `None` until more bytes
    /// arrive.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, FramingError> {
        if self.ready.is_none() {
            let unsorted = std::mem::take(&mut self.unsorted);
            self.sorted += self.sort(&unsorted[self.sorted..]);
            self.unsorted = unsorted;
        }
        match (self.ready.take(), &self.error) {
            (Some(piece), _) => Ok(Some(piece)),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => Ok(None),
        }
    }

    /// Call when `recv` returns 0 (the peer closed) and `next_piece` has
    /// returned `None`: returns how many messages came, or says what was cut
    /// off. Closing between messages is the normal end of the stream.
    pub fn finish(&self) -> Result<usize, FramingError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        match &self.filling {
            Filling::Message { length, bytes } => {
                Err(FramingError::Truncated {
                    what: "message",
                    got: bytes.len(),
                    expected: *length,
                })
            }
            Filling::Header { got: 0, .. } if self.messages == 0 => {
                Err(FramingError::Empty)
            }
            Filling::Header { got: 0, .. } => Ok(self.messages),
            Filling::Header { got, .. } => Err(FramingError::Truncated {
                what: "header",
                got: *got,
                expected: HEADER_LEN,
            }),
        }
    }

    /// Copies `bytes` into the header or message being received, up to the
    /// end of the first piece to complete; returns how many it took.
    fn sort(&mut self, bytes: &[u8]) -> usize {
        // One recv may end anywhere: inside a header, inside a message, or
        // after several of each. So take only what the current piece still
        // lacks, and stop once a piece is ready to be handed back.
        let mut taken = 0;
        while self.ready.is_none() && self.error.is_none() {
            let rest = &bytes[taken..];
            match &mut self.filling {
                // Checked before looking for more bytes: an empty message
                // needs none.
                Filling::Message { length, bytes }
                    if bytes.len() == *length =>
                {
                    self.ready = Some(Piece::Message(std::mem::take(bytes)));
                    self.messages += 1;
                    self.filling =
                        Filling::Header { raw: [0; HEADER_LEN], got: 0 };
                }
                _ if rest.is_empty() => break,
                Filling::Header { raw, got } => {
                    let take = rest.len().min(HEADER_LEN - *got);
                    raw[*got..*got + take].copy_from_slice(&rest[..take]);
                    *got += take;
                    taken += take;
                    if *got == HEADER_LEN {
                        let raw = *raw;
                        self.header_complete(raw);
                    }
                }
                Filling::Message { length, bytes } => {
                    let take = rest.len().min(*length - bytes.len());
                    // Never more than the room reserved: no reallocation.
                    bytes.extend_from_slice(&rest[..take]);
                    taken += take;
                }
            }
        }
        taken
    }

    fn header_complete(&mut self, raw: [u8; HEADER_LEN]) {
        match parse_header(&raw) {
            Ok(length) if length > self.max_len => {
                self.error =
                    Some(FramingError::TooLong { length, max: self.max_len });
            }
            Ok(length) => {
                self.ready = Some(Piece::Header { raw, length });
                // The length is now known and allowed, and the message before
                // this one has been handed back: reserve this one's memory
                // once, so that filling it never moves what came before.
                let bytes = Vec::with_capacity(length);
                self.filling = Filling::Message { length, bytes };
            }
            Err(error) => self.error = Some(error),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(stream: &[&[u8]]) -> Result<Vec<Piece>, FramingError> {
        let mut reader = Reassembler::new();
        let mut found = Vec::new();
        for chunk in stream {
            reader.push(chunk);
            while let Some(piece) = reader.next_piece()? {
                found.push(piece);
            }
        }
        reader.finish()?;
        Ok(found)
    }

    #[test]
    fn headers_are_left_aligned_and_padded_like_python() {
        assert_eq!(frame(b"abc").unwrap(), b"3         abc");
        assert_eq!(frame(&[0; 1234]).unwrap()[..HEADER_LEN], *b"1234      ");
    }

    #[test]
    fn a_message_split_anywhere_comes_out_whole() {
        let found =
            pieces(&[b"5    ", b"     he", b"llo2  ", b"       ", b"ok"])
                .unwrap();
        assert_eq!(
            found,
            [
                Piece::Header { raw: *b"5         ", length: 5 },
                Piece::Message(b"hello".to_vec()),
                Piece::Header { raw: *b"2         ", length: 2 },
                Piece::Message(b"ok".to_vec()),
            ]
        );
    }

    #[test]
    fn an_empty_message_is_a_message() {
        let found = pieces(&[b"0         "]).unwrap();
        assert_eq!(found[1], Piece::Message(Vec::new()));
    }

    #[test]
    fn headers_python_int_would_take_with_spaces_around_are_read() {
        assert_eq!(parse_header(b"   42     "), Ok(42));
        assert_eq!(parse_header(b"0000000007"), Ok(7));
    }

    #[test]
    fn anything_but_digits_and_spaces_is_not_a_length() {
        for raw in [
            b"          ",
            b"-5        ",
            b"+5        ",
            b"4 2       ",
            b"5\t        ",
            b"1_000     ",
            b"abc       ",
        ] {
            assert_eq!(
                parse_header(raw),
                Err(FramingError::NotALength { raw: *raw }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_length_above_the_maximum_is_refused_at_the_header() {
        let mut reader = Reassembler::with_max_len(100);
        reader.push(b"101       ");
        assert_eq!(
            reader.next_piece(),
            Err(FramingError::TooLong { length: 101, max: 100 })
        );
        let mut reader = Reassembler::new();
        reader.push(b"9999999999");
        assert!(matches!(
            reader.next_piece(),
            Err(FramingError::TooLong { .. })
        ));
    }

    #[test]
    fn a_close_part_way_says_how_much_came() {
        assert_eq!(
            pieces(&[b"12  "]),
            Err(FramingError::Truncated {
                what: "header",
                got: 4,
                expected: 10
            })
        );
        assert_eq!(
            pieces(&[b"12        abc"]),
            Err(FramingError::Truncated {
                what: "message",
                got: 3,
                expected: 12
            })
        );
        assert_eq!(pieces(&[]), Err(FramingError::Empty));
    }
}
