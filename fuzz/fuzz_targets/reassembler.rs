//! Lesson 5's reader on arbitrary bytes, cut into arbitrary chunks: whatever a peer sends, the
//! reader, the pickle reader and its `repr` return an answer or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use socket_lessons::framing::{Piece, Reassembler};
use socket_lessons::pickle;

fuzz_target!(|data: &[u8]| {
    // The first byte sets the size of every recv; the rest is the stream.
    let Some((&size, stream)) = data.split_first() else { return };
    let mut reader = Reassembler::with_max_len(1 << 16);
    for chunk in stream.chunks(usize::from(size).max(1)) {
        reader.feed(chunk);
        loop {
            match reader.next_piece() {
                Ok(Some(Piece::Message(message))) => {
                    if let Ok(value) = pickle::loads(message) {
                        let _ = value.repr(10_000);
                    }
                }
                Ok(Some(Piece::Header { .. })) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = reader.finish();
});
