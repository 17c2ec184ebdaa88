//! However TCP cuts the stream into `recv` results, the library's
//! reassembler (`src/framing.rs`, lesson 5's reader) rebuilds the same
//! messages, holds no more than one message and one `recv`, and says where
//! a stream cut short ended: property tests over random messages and random
//! cuttings, then examples of each case.

use libtest_mimic::Trial;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use socket_lessons::framing::{
    FramingError, HEADER_LEN, Piece, Reassembler, frame,
};

pub fn tests() -> Vec<Trial> {
    tests![
        every_cutting_yields_the_same_messages,
        memory_stays_within_one_message_and_one_recv,
        a_stream_cut_short_is_an_error_that_says_where,
        one_byte_at_a_time_and_all_at_once_agree,
        headers_are_left_aligned_and_padded_like_python,
        a_message_split_anywhere_comes_out_whole,
        messages_whole_in_one_recv_are_read_where_they_lie,
        a_message_cut_by_a_recv_gets_memory_reserved_once,
        a_header_split_across_recvs_is_read_whole,
        an_empty_message_is_a_message,
        headers_python_int_would_take_with_spaces_around_are_read,
        anything_but_digits_and_spaces_is_not_a_length,
        a_length_above_the_maximum_is_refused_at_the_header,
        a_close_part_way_says_how_much_came,
    ]
}

/// Feeds `stream` to a reader in chunks of the given sizes (repeated), as
/// recv would return it, and returns the messages and how the stream ended.
fn reassemble(
    stream: &[u8],
    sizes: &[usize],
) -> (Vec<Vec<u8>>, Result<usize, FramingError>) {
    let mut reader = Reassembler::new();
    let mut messages = Vec::new();
    let mut rest = stream;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, after) = rest.split_at(size.min(rest.len()));
        rest = after;
        reader.feed(chunk);
        loop {
            match reader.next_piece() {
                Ok(Some(Piece::Message(message))) => {
                    messages.push(message.to_vec())
                }
                Ok(Some(Piece::Header { .. })) => {}
                Ok(None) => break,
                Err(error) => return (messages, Err(error)),
            }
        }
    }
    (messages, reader.finish())
}

fn framed(messages: &[Vec<u8>]) -> Vec<u8> {
    messages.iter().flat_map(|message| frame(message).unwrap()).collect()
}

/// proptest's runner with its default 256 cases, and no file of failures
/// to keep (a module of the one test binary has no source file of its own
/// for proptest to find).
fn runner() -> TestRunner {
    TestRunner::new(Config { failure_persistence: None, ..Config::default() })
}

/// Runs `test` on random messages and recv sizes (proptest's default 256
/// cases, shrunk to the smallest failing one).
fn for_random_streams(
    body: std::ops::Range<usize>,
    count: std::ops::Range<usize>,
    test: impl Fn(Vec<Vec<u8>>, Vec<usize>) -> Result<(), TestCaseError>,
) -> Result<(), String> {
    let strategy = (vec(vec(any::<u8>(), body), count), vec(1usize..50, 1..20));
    runner()
        .run(&strategy, |(messages, sizes)| test(messages, sizes))
        .map_err(|error| error.to_string())
}

fn every_cutting_yields_the_same_messages() -> Result<(), String> {
    for_random_streams(0..40, 1..6, |messages, sizes| {
        let (found, end) = reassemble(&framed(&messages), &sizes);
        prop_assert_eq!(end, Ok(messages.len()));
        prop_assert_eq!(found, messages);
        Ok(())
    })
}

fn memory_stays_within_one_message_and_one_recv() -> Result<(), String> {
    for_random_streams(0..40, 1..6, |messages, sizes| {
        let stream = framed(&messages);
        let longest = messages.iter().map(Vec::len).max().unwrap_or(0);
        // What is left of one piece (a message, or a header) and a recv.
        let bound = longest.max(HEADER_LEN) + sizes.iter().max().unwrap();
        let mut reader = Reassembler::new();
        let mut rest = &stream[..];
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, after) = rest.split_at(size.min(rest.len()));
            rest = after;
            reader.feed(chunk);
            while reader.next_piece().unwrap().is_some() {}
            prop_assert!(reader.held() <= bound, "{} > {bound}", reader.held());
        }
        Ok(())
    })
}

fn a_stream_cut_short_is_an_error_that_says_where() -> Result<(), String> {
    let strategy = (
        vec(vec(any::<u8>(), 1..40), 1..4),
        vec(1usize..50, 1..20),
        any::<prop::sample::Index>(),
    );
    runner()
        .run(&strategy, |(messages, sizes, cut)| {
            let stream = framed(&messages);
            let length = cut.index(stream.len());
            let (found, end) = reassemble(&stream[..length], &sizes);
            // Where does the cut fall? Walk the frames up to it.
            let mut start = 0;
            let mut whole = 0;
            for message in &messages {
                if start + HEADER_LEN + message.len() > length {
                    break;
                }
                start += HEADER_LEN + message.len();
                whole += 1;
            }
            let got = length - start;
            let expected = match got {
                0 if whole == 0 => Err(FramingError::Empty),
                0 => Ok(whole),
                _ if got < HEADER_LEN => Err(FramingError::Truncated {
                    what: "header",
                    got,
                    expected: HEADER_LEN,
                }),
                _ => Err(FramingError::Truncated {
                    what: "message",
                    got: got - HEADER_LEN,
                    expected: messages[whole].len(),
                }),
            };
            prop_assert_eq!(end, expected);
            prop_assert_eq!(found, messages[..whole].to_vec());
            Ok(())
        })
        .map_err(|error| error.to_string())
}

fn one_byte_at_a_time_and_all_at_once_agree() {
    let messages = vec![b"first".to_vec(), Vec::new(), vec![b' '; 300]];
    let stream = framed(&messages);
    assert_eq!(reassemble(&stream, &[1]), (messages.clone(), Ok(3)));
    assert_eq!(reassemble(&stream, &[stream.len()]), (messages, Ok(3)));
}

// Examples, one case each.

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
        reader.feed(chunk);
        while let Some(piece) = reader.next_piece()? {
            found.push(match piece {
                Piece::Header { raw, length } => Kept::Header(raw, length),
                Piece::Message(message) => Kept::Message(message.to_vec()),
            });
        }
    }
    reader.finish()?;
    Ok(found)
}

fn headers_are_left_aligned_and_padded_like_python() {
    assert_eq!(frame(b"abc").unwrap(), b"3         abc");
    assert_eq!(frame(&[0; 1234]).unwrap()[..HEADER_LEN], *b"1234      ");
}

fn a_message_split_anywhere_comes_out_whole() {
    let found =
        pieces(&[b"5    ", b"     he", b"llo2  ", b"       ", b"ok"]).unwrap();
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

fn messages_whole_in_one_recv_are_read_where_they_lie() {
    let received = [frame(b"one"), frame(b""), frame(b"three")]
        .map(Result::unwrap)
        .concat();
    let mut reader = Reassembler::new();
    reader.feed(&received);
    let mut messages = Vec::new();
    let mut addresses = Vec::new();
    while let Some(piece) = reader.next_piece().unwrap() {
        if let Piece::Message(message) = piece {
            addresses.push(message.as_ptr() as usize);
            messages.push(message.to_vec());
        }
    }
    assert_eq!(messages, [&b"one"[..], b"", b"three"]);
    // One copy of the recv, read from an offset: nothing moved between
    // messages.
    let step = |message: &Vec<u8>| message.len() + HEADER_LEN;
    assert_eq!(addresses[1] - addresses[0], step(&messages[0]));
    assert_eq!(addresses[2] - addresses[1], step(&messages[1]));
    assert_eq!(reader.held(), received.len());
    assert_eq!(reader.finish(), Ok(3));
}

fn a_message_cut_by_a_recv_gets_memory_reserved_once() {
    let message = [b'x'; 40];
    let stream = frame(&message).unwrap();
    let (first, rest) = stream.split_at(HEADER_LEN + 2);
    let mut reader = Reassembler::new();
    reader.feed(first);
    assert_eq!(
        reader.next_piece(),
        Ok(Some(Piece::Header { raw: *b"40        ", length: 40 }))
    );
    assert_eq!(reader.next_piece(), Ok(None));
    // Reserved for all of it at the next recv, and never grown: never moved.
    for chunk in rest.chunks(3) {
        reader.feed(chunk);
        if let Some(Piece::Message(whole)) = reader.next_piece().unwrap() {
            assert_eq!(whole, message);
        }
        assert_eq!(reader.held(), 40);
    }
    assert_eq!(reader.finish(), Ok(1));
}

fn a_header_split_across_recvs_is_read_whole() {
    let found = pieces(&[b"1", b"2 ", b"       ", b"hello, world"]).unwrap();
    assert_eq!(
        found,
        [
            Kept::Header(*b"12        ", 12),
            Kept::Message(b"hello, world".to_vec()),
        ]
    );
}

fn an_empty_message_is_a_message() {
    let found = pieces(&[b"0         "]).unwrap();
    assert_eq!(found[1], Kept::Message(Vec::new()));
    let found = pieces(&[b"0      ", b"   "]).unwrap();
    assert_eq!(found[1], Kept::Message(Vec::new()));
}

/// The length the reader reads in `raw`, or its error.
fn parse_header(raw: &[u8; HEADER_LEN]) -> Result<usize, FramingError> {
    let mut reader = Reassembler::new();
    reader.feed(raw);
    match reader.next_piece()? {
        Some(Piece::Header { length, .. }) => Ok(length),
        other => panic!("not a header: {other:?}"),
    }
}

fn headers_python_int_would_take_with_spaces_around_are_read() {
    assert_eq!(parse_header(b"   42     "), Ok(42));
    assert_eq!(parse_header(b"0000000007"), Ok(7));
}

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

fn a_length_above_the_maximum_is_refused_at_the_header() {
    let mut reader = Reassembler::with_max_len(100);
    reader.feed(b"101       and some of it");
    let too_long = FramingError::TooLong { length: 101, max: 100 };
    assert_eq!(reader.next_piece(), Err(too_long.clone()));
    // Nothing was reserved for it, and the reader stays refused.
    assert_eq!(reader.next_piece(), Err(too_long.clone()));
    assert_eq!(reader.held(), 0);
    reader.feed(b"3         abc");
    assert_eq!(reader.next_piece(), Err(too_long.clone()));
    assert_eq!(reader.finish(), Err(too_long));
    let mut reader = Reassembler::new();
    reader.feed(b"9999999999");
    assert!(matches!(reader.next_piece(), Err(FramingError::TooLong { .. })));
    assert_eq!(reader.held(), 0);
}

fn a_close_part_way_says_how_much_came() {
    assert_eq!(
        pieces(&[b"12  "]),
        Err(FramingError::Truncated { what: "header", got: 4, expected: 10 })
    );
    assert_eq!(
        pieces(&[b"12        abc"]),
        Err(FramingError::Truncated { what: "message", got: 3, expected: 12 })
    );
    assert_eq!(
        pieces(&[b"12        ", b"ab", b"c"]),
        Err(FramingError::Truncated { what: "message", got: 3, expected: 12 })
    );
    assert_eq!(
        pieces(&[b"12        "]),
        Err(FramingError::Truncated { what: "message", got: 0, expected: 12 })
    );
    assert_eq!(pieces(&[]), Err(FramingError::Empty));
}
