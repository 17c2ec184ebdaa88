//! Lesson 6, run for real: lesson 5's server in slow motion, and a client
//! that reads the same stream with the tutorial's algorithm and with lesson
//! 5's reader. For each piece size, the transcript says what the tutorial's
//! algorithm gets wrong, and that lesson 5's reader gets all four messages;
//! the Python twin, in every pairing, says the same.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

use libtest_mimic::Trial;

use crate::support::{
    Output, Process, assert_exit, assert_sides_transcript, assert_transcript,
    framed, lesson, python_twin, run, story,
};

const NAME: &str = "lesson_06";
const ALL_FOUR: &str = "lesson 5's all 4";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        help_lists_each_sides_options,
        one_byte_pieces_give_the_tutorial_a_length_from_half_a_header,
        five_byte_pieces_glue_the_next_header_to_the_first_message,
        five_byte_pieces_cut_the_first_header_in_two_the_others_in_three,
        thirteen_byte_pieces_take_one_byte_of_the_next_header,
        sixteen_byte_pieces_let_one_message_through_then_glue,
        with_the_whole_stream_there_at_once_the_tutorial_still_overshoots,
        usage_errors_exit_2,
    ];
    tests.extend(python_tests![
        python_demo,
        even_a_whole_message_ends_the_tutorials_loop_in_an_error,
        python_client_runs_the_tutorials_loop_on_the_rust_server,
        python_and_rust_clients_agree_on_one_byte_pieces,
        rust_client_reads_the_python_server,
        python_usage_errors_exit_2,
    ]);
    tests
}

fn demo() {
    let output = run(lesson(NAME, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

const WHOLE: [&str; 6] =
    ["server", "--port", "0", "--once", "--chunk", "65535"];

/// The bytes lesson 6's server sends, read whole from a real run.
fn whole_stream() -> Vec<u8> {
    stream_of(lesson(NAME, &WHOLE))
}

/// The bytes `server` (given `WHOLE`) sends its client.
fn stream_of(server: Command) -> Vec<u8> {
    let mut server = Process::spawn(server);
    let port = server.listening_port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    assert_exit(&server.finish(), 0);
    bytes
}

/// `client` (given a port) fed `stream` in pieces of `chunk` bytes, the
/// next piece sent only once the client has said, in its `recv(10)
/// returned` lines, that its recvs took the last one: what the server's
/// `--chunk` shows when the client keeps up, on a busy machine too, where
/// a pause between sends is no promise that each piece is read alone.
fn fed_in_pieces(
    stream: &[u8],
    chunk: usize,
    client: impl FnOnce(&str) -> Command,
) -> Output {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = Process::spawn(client(&port));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_nodelay(true).unwrap();
    for piece in stream.chunks(chunk) {
        peer.write_all(piece).unwrap();
        // Nothing else is on its way: the recvs take at most 10 bytes each.
        for _ in 0..piece.len().div_ceil(10) {
            while !client.next_line().starts_with("[client] recv(10) returned")
            {
            }
        }
    }
    drop(peer);
    client.finish()
}

/// The Rust client of lesson 6's stream in pieces of `chunk` bytes.
fn client_of_chunked_server(chunk: &str, client: &[&str]) -> Output {
    let chunk: usize = chunk.parse().unwrap();
    let output = fed_in_pieces(&whole_stream(), chunk, |port| {
        let mut command = lesson(NAME, &["client", "--port", port]);
        command.args(client);
        command
    });
    assert_eq!(output.stderr, "");
    output
}

fn chunk_transcript(chunk: &str) -> String {
    let client = client_of_chunked_server(chunk, &[]);
    assert_transcript(NAME, &format!("chunk-{chunk}"), &client.stdout);
    client.stdout
}

fn one_byte_pieces_give_the_tutorial_a_length_from_half_a_header() {
    let client = chunk_transcript("1");
    assert!(client.contains(
        "tutorial: x = int(b'3') = 3, from 1 of the 10 bytes of the header"
    ));
    assert!(client.contains("tutorial: pickle.loads(b'\\x80\\x03}') fails"));
    assert!(client.contains("got 0 of 4 messages"));
    assert!(client.contains(ALL_FOUR));
    // It believes the message complete after 12 more bytes: the rest of
    // the header, and 3 past it.
    let lines: Vec<&str> = client.lines().collect();
    let x = lines.iter().position(|line| line.contains("x = int(")).unwrap();
    let loads = lines.iter().position(|line| line.contains("fails")).unwrap();
    let recvs = lines[x..loads]
        .iter()
        .filter(|line| line.starts_with("[client] recv(10) returned"))
        .count();
    assert_eq!(recvs, 12, "{client}");
}

fn five_byte_pieces_glue_the_next_header_to_the_first_message() {
    let client = chunk_transcript("5");
    assert!(client.contains("from 5 of the 10 bytes of the header"));
    assert!(client.contains(
        "len(complete_info)-a = 40 > x = 38: it took b'24' of the next message"
    ));
    assert!(client.contains("stays 158, never x = 38"));
    assert!(client.contains("got 0 of 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

/// The sizes of the recvs, as `--trace` reports them.
fn recv_sizes(client: &str) -> Vec<usize> {
    client
        .lines()
        .filter_map(|line| {
            line.split_once("trace: recv(10) -> ")?.1.split_once(' ')
        })
        .map(|(bytes, _)| bytes.parse().unwrap())
        .collect()
}

fn five_byte_pieces_cut_the_first_header_in_two_the_others_in_three() {
    let client = client_of_chunked_server("5", &["--trace"]).stdout;
    let mut ends = vec![0];
    for size in recv_sizes(&client) {
        ends.push(ends.last().unwrap() + size);
    }
    // Where each header starts: after the headers and messages before it.
    let lengths: Vec<usize> = client
        .lines()
        .filter_map(|line| {
            line.split_once("the message is ")?.1.split_once(' ')
        })
        .map(|(length, _)| length.parse().unwrap())
        .collect();
    let mut start = 0;
    let mut pieces = Vec::new();
    for length in lengths {
        let header = start..start + 10;
        // The recvs that brought a byte of it.
        let brought = ends
            .windows(2)
            .filter(|recv| recv[0] < header.end && header.start < recv[1])
            .count();
        pieces.push(brought);
        start = header.end + length;
    }
    assert_eq!(pieces, [2, 3, 3, 3], "{client}");
}

fn thirteen_byte_pieces_take_one_byte_of_the_next_header() {
    let client = chunk_transcript("13");
    assert!(client.contains("tutorial: x = int(b'38        ') = 38\n"));
    assert!(client.contains("it took b'2' of the next message"));
    assert!(client.contains("got 0 of 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

fn sixteen_byte_pieces_let_one_message_through_then_glue() {
    let client = chunk_transcript("16");
    assert!(client.contains(
        "tutorial: 38 bytes after the header, as x says: {1: 'Client', 2: \
         'Server'}"
    ));
    assert!(client.contains("it took b'29      ' of the next message"));
    assert!(client.contains("got 1 of 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

/// With no slow motion, the whole stream is there at once: each recv(10)
/// takes 10 bytes, and a 38-byte message's last recv runs 2 bytes into the
/// next header. The tutorial's reader works only while a connection
/// carries one message.
fn with_the_whole_stream_there_at_once_the_tutorial_still_overshoots() {
    let client = client_of_chunked_server("65535", &[]).stdout;
    assert_transcript(NAME, "whole-stream", &client);
    assert!(client.contains("tutorial: x = int(b'38        ') = 38\n"));
    assert!(client.contains("recv(10) returned b'Serveru.24'"));
    assert!(client.contains("it took b'24' of the next message"));
    assert!(client.contains("got 0 of 4 messages"), "{client}");
}

fn usage_errors_exit_2() {
    for args in [
        &["client", "--chunk", "5"][..],
        &["server", "--chunk", "0"],
        &["server", "--chunk", "65536"],
        &["server", "--pause", "x"],
        &["server", "--buffer", "5"],
    ] {
        assert_exit(&run(lesson(NAME, args)), 2);
    }
}

/// The Rust client's output, and the Python client's, for `bytes` fed in
/// pieces of `piece` bytes.
fn rust_and_python_clients(bytes: &[u8], piece: usize) -> (Output, Output) {
    let python = fed_in_pieces(bytes, piece, |port| {
        python_twin(NAME, &["client", "--port", port]).unwrap()
    });
    let rust = fed_in_pieces(bytes, piece, |port| {
        lesson(NAME, &["client", "--port", port])
    });
    (rust, python)
}

/// What a client's readers did: its lines after the first two (connecting,
/// connected from), which name each recv's bytes and what each reader made
/// of them.
fn readers(output: &Output) -> Vec<&str> {
    output.stdout.lines().skip(2).collect()
}

/// Both clients end with `code`, and say the same of every recv.
fn assert_twins_agree(rust: &Output, python: &Output, code: i32) {
    assert_exit(rust, code);
    assert_exit(python, code);
    assert_eq!(readers(python), readers(rust), "{}", story(python));
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert!(output.stdout.contains("lesson 5: ('Python', 3, 3.5, True)\n"));
    assert!(output.stdout.contains("got 0 of 4 messages, lesson 5's all"));
}

fn even_a_whole_message_ends_the_tutorials_loop_in_an_error() {
    // One framed message in one send, then a close: the tutorial's reader
    // gets it, then takes int(b'').
    let pickled = serde_pickle::to_vec(&7, Default::default()).unwrap();
    let (rust, python) = rust_and_python_clients(&framed(&pickled), 64);
    assert_twins_agree(&rust, &python, 0);
    let client = &rust.stdout;
    assert!(
        client.contains("tutorial: 8 bytes after the header, as x says: 7")
    );
    assert!(client.contains(
        "tutorial: int(b'') raises ValueError: its client stops here"
    ));
    assert!(client.contains("got 1 of 1 message"), "{client}");
}

fn python_client_runs_the_tutorials_loop_on_the_rust_server() {
    let python = fed_in_pieces(&whole_stream(), 5, |port| {
        python_twin(NAME, &["client", "--port", port]).unwrap()
    });
    assert_eq!(python.stderr, "");
    assert_transcript(NAME, "python-client", &python.stdout);
    // The same recvs, and the same of each, as the Rust client says.
    let rust = client_of_chunked_server("5", &[]);
    assert_eq!(readers(&python), readers(&rust));
}

fn python_and_rust_clients_agree_on_one_byte_pieces() {
    // One message, 34 bytes, in 1-byte pieces, its header starting with a
    // space: the tutorial's int() of the first piece fails at once; lesson
    // 5's reader, in Rust and in Python, puts the message together again.
    let pickled =
        serde_pickle::to_vec(&(1, 2, "abc"), Default::default()).unwrap();
    let message = framed(&pickled);
    let message = [&b" "[..], &message[..9], &message[10..]].concat();
    let (rust, python) = rust_and_python_clients(&message, 1);
    assert_twins_agree(&rust, &python, 0);
    let client = &rust.stdout;
    assert!(client.contains(
        "tutorial: int(b' ') raises ValueError: its client stops here"
    ));
    assert!(client.contains("lesson 5: (1, 2, 'abc')"), "{client}");
    assert!(client.contains("got 0 of 1 message"), "{client}");
}

fn rust_client_reads_the_python_server() {
    // The Python server's pickles (protocol 4), in 5-byte pieces.
    let stream = stream_of(python_twin(NAME, &WHOLE).unwrap());
    let client = fed_in_pieces(&stream, 5, |port| {
        lesson(NAME, &["client", "--port", port])
    });
    assert_eq!(client.stderr, "");
    assert_transcript(NAME, "client-of-python-server", &client.stdout);
    let client = client.stdout;
    assert!(client.contains("tutorial: x = int(b'38   ') = 38, from 5 of"));
    assert!(client.contains("lesson 5: ('Python', 3, 3.5, True)"));
    assert!(client.contains("got 0 of 4 messages"), "{client}");
    assert!(client.contains(ALL_FOUR), "{client}");
}

fn python_usage_errors_exit_2() {
    for args in [
        &["client", "--chunk", "5"][..],
        &["server", "--chunk", "0"],
        &["server", "--pause", "x"],
    ] {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}
