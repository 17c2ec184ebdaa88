//! Lesson 5: Python objects over a socket, with pickle and a length header.
//!
//! The server pickles Python values (first the tutorial's dict
//! `{1: "Client", 2: "Server"}`, then a list, a tuple and a set) and sends
//! each behind a 10-character header that holds its length. The client reads
//! with a 10-byte buffer, so a header, a message, or the end of one and the
//! start of the next arrive in pieces; it rebuilds each message, unpickles
//! it, and prints it as Python's `print` would.
//!
//! The tutorial's version has three bugs, fixed here: its header line does
//! not parse in the copy we have; its client takes the header from the first
//! `recv` of each message and waits for the exact total, so a `recv` that
//! brings a short header, or bytes of the next message, breaks it (lesson 6
//! shows this); and when the server closes, its `int()` of an empty header
//! raises an error instead of ending cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_pickle::{HashableValue, SerOptions, Value};
use socket_lessons::old::cli::Defaults;
use socket_lessons::old::framing::{self, HEADER_LEN, Piece, Reassembler};
use socket_lessons::old::python::{self, bytes_repr, bytes_repr_lines};
use socket_lessons::old::unpickle::unpickle;
use socket_lessons::old::{
    ClientConfig, Lesson, Out, ServerConfig, output, reuse_address,
};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_05",
    title: "pickled object transfer",
    defaults: Defaults {
        port: 4105,
        wait: Duration::from_secs(10),
        buffer: Some(HEADER_LEN),
    },
    options: &[],
    server,
    client,
};

/// How wide a piece of a pickle's bytes the server prints on one line, so
/// that with its label a line fits 80 columns.
const PICKLE_LINE: usize = 69;

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: messages
/// The Python values the server sends, in order.
fn messages() -> Result<Vec<Value>, serde_pickle::Error> {
    Ok(vec![
        // A typed Rust map, turned into a Python dict by serde.
        serde_pickle::to_value(&BTreeMap::from([
            (1, "Client"),
            (2, "Server"),
        ]))?,
        // The tutorial's pickle example. Its items have different types, so
        // it is built as a Python list directly.
        Value::List(vec![
            Value::I64(1),
            Value::I64(2),
            Value::String("abc".into()),
        ]),
        // A Rust tuple is a Python tuple.
        serde_pickle::to_value(&("Rust", 2024, 3.5, true))?,
        // serde has no notion of a set (a BTreeSet would arrive as a list),
        // so this one is built as a Python set.
        Value::Set(BTreeSet::from([1, 2, 3].map(HashableValue::I64))),
    ])
}
// ANCHOR_END: messages

// ANCHOR: server
pub fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let listener = config.wire(socket, out);
    reuse_address(&listener)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;

    config.serve_clients(out, || {
        let (mut client, address) = listener.accept()?;
        let address = output::address(&address);
        out.say(format_args!("Connection to {address} established"));
        let mut pickles = Vec::new();
        for value in messages().map_err(io::Error::other)? {
            // pickle.dumps(value). serde-pickle writes protocol 3 (\x80\x03),
            // which every Python 3 reads. Python's bytes differ even at
            // protocol 3: it memoizes each object (q\x00, q\x01: a repeated
            // object is stored once) and writes a small integer in one byte
            // (K\x01) where serde-pickle uses four (J\x01\x00\x00\x00). Both
            // decode to the same value; the tests check it with Python's own
            // pickle.loads.
            let pickled = serde_pickle::value_to_vec(&value, SerOptions::new())
                .map_err(io::Error::other)?;
            out.say(format_args!(
                "{} pickles to {} bytes:",
                python::repr(&value),
                pickled.len(),
            ));
            for line in bytes_repr_lines(&pickled, PICKLE_LINE) {
                out.say(format_args!("  {line}"));
            }
            pickles.push(pickled);
        }
        out.say(format_args!(
            "sending {} messages, each behind a {HEADER_LEN}-byte length \
             header, then closing",
            pickles.len()
        ));
        // Each header is the length, left-aligned in 10 characters:
        // f"{len(msg):<10}". All the messages go out in one sendall: the
        // stream has no boundaries anyway, and with --chunk one piece may
        // carry the end of one message and the start of the next.
        let framed: Vec<Vec<u8>> = pickles
            .iter()
            .map(|pickled| framing::frame(pickled))
            .collect::<io::Result<_>>()?;
        client.write_all(&framed.concat())?;
        // close(2): after the last message, the end of the stream tells the
        // client there are no more.
        drop(client);
        Ok(())
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;

    // The stream has no message boundaries: a recv into this buffer (10
    // bytes by default) may return a whole header, part of one, or the end
    // of one message and the start of the next. The reassembler keeps what
    // has come and hands back each header and each message once complete.
    let mut reassembler = Reassembler::new();
    let mut buffer = vec![0; config.buffer];
    loop {
        let received = server.read(&mut buffer)?;
        if received == 0 {
            // The end of the stream between two messages is the normal end;
            // inside one, it is an error.
            let count = reassembler.finish()?;
            out.say(format_args!(
                "recv({}) returned 0 bytes: the server will send no more, \
                 after {count} messages",
                buffer.len()
            ));
            return Ok(());
        }
        let mut pieces = reassembler.feed(&buffer[..received]);
        while let Some(piece) = pieces.next_piece()? {
            match piece {
                Piece::Header { raw, length } => {
                    out.say(format_args!(
                        "header {}: the next message is {length} bytes",
                        bytes_repr(&raw)
                    ));
                }
                Piece::Message(pickled) => {
                    // pickle.loads, but safe: checked within bounds, then
                    // built from plain data only; no code runs.
                    let value = unpickle(pickled)?;
                    out.say(python::repr(&value));
                }
            }
        }
    }
}
// ANCHOR_END: client
