//! Lesson 5: Python objects over a socket, with pickle and a length header.
//!
//! The server pickles Python values (first the tutorial's dict
//! `{1: "Client", 2: "Server"}`, then a list, a tuple and a set) and sends
//! each behind a 10-character header that holds its length. The client reads
//! with a 10-byte buffer, so a header, a message, or the end of one and the
//! start of the next arrive in pieces; it rebuilds each message, unpickles
//! it, and prints it as Python's `repr` does.
//!
//! The tutorial's version has three bugs, fixed here: its header line does
//! not parse in the copy we have; its client takes the header from the first
//! `recv` of each message and waits for the exact total, so a `recv` that
//! brings a short header, or bytes of the next message, breaks it (lesson 6
//! shows this); and when the server closes, its `int()` of an empty header
//! raises an error instead of ending cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::process::ExitCode;

use clap::Args;
use serde_pickle::{HashableValue, SerOptions, Value};
use socket_lessons::cli::{Patience, SlowMotion};
use socket_lessons::errors::Deadline;
use socket_lessons::framing::{self, HEADER_LEN, Piece, Reassembler};
use socket_lessons::output::{address, plural};
use socket_lessons::pickle;
use socket_lessons::text::bytes_repr;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_05",
    about: "pickled object transfer",
    port: 4105,
    wait: "10",
    show: true,
    server,
    client,
};

/// The most of a value's `repr` the client prints; then `...`.
const MAX_REPR: usize = 1000;

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    #[command(flatten)]
    slow: SlowMotion,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The most one recv may return
    #[arg(long, value_name = "BYTES", default_value_t = HEADER_LEN as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    buffer: u16,
    #[command(flatten)]
    patience: Patience,
}

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
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.address);
    let listener = Socket::new(domain, Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;
    loop {
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        out.say(format_args!("Connection to {} established", address(&from)));
        let mut stream = Vec::new();
        let values = messages().map_err(io::Error::other)?;
        for value in &values {
            // pickle.dumps(value). serde-pickle writes protocol 3 (\x80\x03),
            // which every Python 3 reads. Python's bytes differ even at
            // protocol 3: it memoizes each object (q\x00, q\x01: a repeated
            // object is stored once) and writes a small integer in one byte
            // (K\x01) where serde-pickle uses four (J\x01\x00\x00\x00). Both
            // decode to the same value.
            let pickled = serde_pickle::value_to_vec(value, SerOptions::new())
                .map_err(io::Error::other)?;
            let (repr, size) = (unpickled(&pickled)?, pickled.len());
            out.say(format_args!("{repr} pickles to {size} bytes:"));
            for row in pickled.chunks(16) {
                out.say(format_args!("  {}", bytes_repr(row)));
            }
            // The length, left-aligned in 10 characters, then the pickle:
            // Python's bytes(f"{len(mymsg):<10}", "utf-8") + mymsg.
            stream.extend(framing::frame(&pickled)?);
        }
        out.say(format_args!(
            "sending {} messages, each behind a {HEADER_LEN}-byte header, \
             then closing",
            values.len()
        ));
        // All in one send: the stream has no boundaries anyway, and with
        // --chunk a piece may end one message and start the next.
        if let Err(error) = config.options.slow.send_all(&client, &stream, out)
        {
            out.error(format_args!("sending to {}: {error}", address(&from)));
        }
        // close(2): the end of the stream tells the client there are no
        // more messages.
        drop(client);
        if config.once {
            return Ok(());
        }
    }
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.server);
    let server = Socket::new(domain, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    out.traced("connect()", "the handshake", || {
        server.connect_timeout(&config.server.into(), config.wait)
    })?;
    out.say(format_args!("connected from {}", address(&server.local_addr()?)));
    // --deadline bounds the whole run, --wait each recv.
    let deadline = Deadline::after(config.options.patience.deadline);

    // The stream has no message boundaries: a recv into this buffer (10
    // bytes by default) may return a whole header, part of one, or the end
    // of one message and the start of the next. The reassembler keeps what
    // has come and hands back each header and each message once complete.
    let mut reassembler = Reassembler::new();
    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    loop {
        server.set_read_timeout(Some(deadline.wait_at_most(config.wait)?))?;
        let received = out.traced(format!("recv({size})"), "bytes", || {
            (&server).read(&mut buffer)
        })?;
        out.hex("received", &buffer[..received]);
        if received == 0 {
            // The end of the stream between two messages is the normal end;
            // inside one, it is an error.
            let count = reassembler.finish()?;
            let count = plural(count, "message");
            out.say(format_args!(
                "recv({size}) returned 0 bytes: the server closed, after \
                 {count}"
            ));
            return Ok(());
        }
        reassembler.feed(&buffer[..received]);
        while let Some(piece) = reassembler.next_piece()? {
            match piece {
                Piece::Header { raw, length } => {
                    out.say(format_args!(
                        "header {}: the next message is {length} bytes",
                        bytes_repr(&raw)
                    ));
                }
                // pickle.loads, but safe: plain data only, within bounds;
                // no code runs.
                Piece::Message(pickled) => out.say(unpickled(pickled)?),
            }
        }
    }
}
// ANCHOR_END: client

/// `repr(pickle.loads(pickled))`: the pickle read as plain data only (a
/// peer's pickle could otherwise run code), its repr cut after `MAX_REPR`
/// characters.
fn unpickled(pickled: &[u8]) -> io::Result<String> {
    let value = pickle::loads(pickled).map_err(|why| {
        io::Error::other(format!("refused to unpickle the message: {why}"))
    })?;
    Ok(value.repr(MAX_REPR))
}
