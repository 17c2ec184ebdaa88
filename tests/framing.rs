//! However TCP cuts the stream into `recv` results, the library's
//! reassembler (`src/framing.rs`, lesson 5's reader) rebuilds the same
//! messages, copies only those a `recv` cut, and says where a stream cut
//! short ended: property tests over random messages and random cuttings.

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
        only_the_messages_a_recv_cuts_are_copied,
        a_stream_cut_short_is_an_error_that_says_where,
        one_byte_at_a_time_and_all_at_once_agree,
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
        let mut pieces = reader.feed(chunk);
        loop {
            match pieces.next_piece() {
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

fn only_the_messages_a_recv_cuts_are_copied() -> Result<(), String> {
    for_random_streams(1..40, 1..6, |messages, sizes| {
        let stream = framed(&messages);
        // Where each recv ends, in the stream.
        let mut ends = Vec::new();
        for &size in sizes.iter().cycle() {
            let end = ends.last().copied().unwrap_or(0);
            if end == stream.len() {
                break;
            }
            ends.push((end + size).min(stream.len()));
        }
        // A message is cut when a recv ends inside it.
        let mut cut = Vec::new();
        let mut start = 0;
        for message in &messages {
            let body = start + HEADER_LEN;
            let end = body + message.len();
            cut.push(ends.iter().any(|&at| body < at && at < end));
            start = end;
        }
        let mut reader = Reassembler::new();
        let mut copied = Vec::new();
        let mut from = 0;
        for &end in &ends {
            let chunk = &stream[from..end];
            from = end;
            let mut pieces = reader.feed(chunk);
            while let Some(piece) = pieces.next_piece().unwrap() {
                if let Piece::Message(message) = piece {
                    // Not in this recv's bytes: in the reader's copy.
                    let range = chunk.as_ptr_range();
                    copied.push(!range.contains(&message.as_ptr()));
                }
            }
        }
        prop_assert_eq!(copied, cut);
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
