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

#[cfg(test)]
mod tests {
    use super::*;

    /// A piece the test can keep after the reader has moved on.
    #[derive(Debug, PartialEq)]
    enum Kept {
        Header([u8; HEADER_LEN], usize),
        Message(Vec<u8>),
    }

    fn pieces(stream: &[&[u8]]) -> Result<Vec<Kept>, FramingError> {
        let mut reader = Reassembler::new();
        let mut found = Vec::new();
        for chunk in stream {
            let mut pieces = reader.feed(chunk);
            while let Some(piece) = pieces.next_piece()? {
                found.push(match piece {
                    Piece::Header { raw, length } => Kept::Header(raw, length),
                    Piece::Message(message) => Kept::Message(message.to_vec()),
                });
            }
        }
        reader.finish()?;
        Ok(found)
    }

    /// Whether `inner` lies inside `outer`'s memory.
    fn points_into(inner: &[u8], outer: &[u8]) -> bool {
        outer.as_ptr_range().contains(&inner.as_ptr())
            && inner.as_ptr_range().end <= outer.as_ptr_range().end
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
                Kept::Header(*b"5         ", 5),
                Kept::Message(b"hello".to_vec()),
                Kept::Header(*b"2         ", 2),
                Kept::Message(b"ok".to_vec()),
            ]
        );
    }

    #[test]
    fn messages_whole_in_one_recv_are_not_copied() {
        let received = [frame(b"one"), frame(b""), frame(b"three")]
            .map(Result::unwrap)
            .concat();
        let mut reader = Reassembler::new();
        let mut pieces = reader.feed(&received);
        let mut messages = Vec::new();
        while let Some(piece) = pieces.next_piece().unwrap() {
            if let Piece::Message(message) = piece {
                // Handed back where it lies, in the caller's buffer.
                assert!(points_into(message, &received), "{message:?}");
                messages.push(message.to_vec());
            }
        }
        assert_eq!(messages, [&b"one"[..], b"", b"three"]);
        // And the reader kept no copy of anything.
        assert_eq!(reader.copied.capacity(), 0);
        assert_eq!(reader.finish(), Ok(3));
    }

    #[test]
    fn a_message_cut_by_a_recv_is_copied_into_memory_reserved_once() {
        let stream = frame(b"abcdefgh").unwrap();
        let (first, rest) = stream.split_at(HEADER_LEN + 2);
        let mut reader = Reassembler::new();
        let mut pieces = reader.feed(first);
        assert_eq!(
            pieces.next_piece(),
            Ok(Some(Piece::Header { raw: *b"8         ", length: 8 }))
        );
        assert_eq!(pieces.next_piece(), Ok(None));
        assert!(reader.copied.capacity() >= 8, "reserved for all of it");
        let reserved = reader.copied.as_ptr();
        for chunk in rest.chunks(3) {
            let mut pieces = reader.feed(chunk);
            if let Some(Piece::Message(message)) = pieces.next_piece().unwrap()
            {
                assert_eq!(message, b"abcdefgh");
                // Never moved: filled where it was first reserved.
                assert_eq!(message.as_ptr(), reserved);
            }
        }
        assert_eq!(reader.finish(), Ok(1));
        // Freed once the next header is asked for.
        assert_eq!(reader.feed(b"").next_piece(), Ok(None));
        assert_eq!(reader.copied.capacity(), 0);
    }

    #[test]
    fn a_header_split_across_recvs_is_read_whole() {
        let found =
            pieces(&[b"1", b"2 ", b"       ", b"hello, world"]).unwrap();
        assert_eq!(
            found,
            [
                Kept::Header(*b"12        ", 12),
                Kept::Message(b"hello, world".to_vec()),
            ]
        );
    }

    #[test]
    fn an_empty_message_is_a_message() {
        let found = pieces(&[b"0         "]).unwrap();
        assert_eq!(found[1], Kept::Message(Vec::new()));
        let found = pieces(&[b"0      ", b"   "]).unwrap();
        assert_eq!(found[1], Kept::Message(Vec::new()));
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
        let mut pieces = reader.feed(b"101       and some of it");
        let too_long = FramingError::TooLong { length: 101, max: 100 };
        assert_eq!(pieces.next_piece(), Err(too_long.clone()));
        // Nothing was reserved for it, and the reader stays refused.
        assert_eq!(pieces.next_piece(), Err(too_long.clone()));
        assert_eq!(reader.copied.capacity(), 0);
        let mut pieces = reader.feed(b"3         abc");
        assert_eq!(pieces.next_piece(), Err(too_long.clone()));
        assert_eq!(reader.finish(), Err(too_long));
        let mut reader = Reassembler::new();
        assert!(matches!(
            reader.feed(b"9999999999").next_piece(),
            Err(FramingError::TooLong { .. })
        ));
        assert_eq!(reader.copied.capacity(), 0);
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
        assert_eq!(
            pieces(&[b"12        ", b"ab", b"c"]),
            Err(FramingError::Truncated {
                what: "message",
                got: 3,
                expected: 12
            })
        );
        assert_eq!(
            pieces(&[b"12        "]),
            Err(FramingError::Truncated {
                what: "message",
                got: 0,
                expected: 12
            })
        );
        assert_eq!(pieces(&[]), Err(FramingError::Empty));
    }
}
