//! Lesson 6, run for real: lesson 5's server in slow motion, and a client
//! that reads the same stream with the tutorial's algorithm and with lesson
//! 5's reader. For each piece size, the transcript says exactly what the
//! tutorial's algorithm gets wrong, and that lesson 5's reader gets all four
//! messages.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket_lessons::old::framing::frame;

use support::{
    Output, assert_exit, assert_sides_transcript, assert_transcript, lesson,
    mask_ports, python3, run, server_then_client, unfold,
};

const ALL_FOUR: &str = "lesson 5's reader got all 4";

/// The server sends in pieces of `chunk` bytes, 50 ms apart: long enough
/// for the client to take each piece before the next arrives, so that the
/// recvs, and the transcript, are the same on every run.
fn client_of_chunked_server(chunk: &str) -> String {
    let mut server = lesson("lesson_06", &["server", "--port", "0", "--once"]);
    server.args(["--chunk", chunk, "--pause", "0.05"]);
    let (_, client) = server_then_client(server, |port| {
        lesson("lesson_06", &["client", "--port", port])
    });
    assert_eq!(client.stderr, "");
    assert_transcript("lesson_06", &format!("chunk-{chunk}"), &client.stdout);
    unfold(&client.stdout)
}

#[test]
fn demo_shows_the_tutorial_overshooting_and_lesson_5_getting_all() {
    let output = run(lesson("lesson_06", &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript("lesson_06", "demo", &output.stdout);
}

#[test]
fn one_byte_pieces_give_the_tutorial_a_length_from_half_a_header() {
    let client = client_of_chunked_server("1");
    assert!(client.contains(
        "tutorial: x = int(b'3') = 3, from 1 of the 10 bytes of the header"
    ));
    assert!(client.contains("pickle.loads(b'\\x80\\x03}') raises an error"));
    assert!(client.contains("got 0 of the 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

#[test]
fn five_byte_pieces_glue_the_next_header_to_the_first_message() {
    let client = client_of_chunked_server("5");
    assert!(client.contains("from 5 of the 10 bytes of the header"));
    assert!(client.contains(
        "it took b'24', the first 2 of what follows, as part of this message"
    ));
    assert!(client.contains("stays 158, never x = 38"));
    assert!(client.contains("got 0 of the 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

#[test]
fn thirteen_byte_pieces_take_one_byte_of_the_next_header() {
    let client = client_of_chunked_server("13");
    assert!(client.contains("tutorial: x = int(b'38        ') = 38"));
    assert!(client.contains("it took b'2', the first 1 of what follows"));
    assert!(client.contains("got 0 of the 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

#[test]
fn sixteen_byte_pieces_let_one_message_through_then_glue() {
    let client = client_of_chunked_server("16");
    assert!(client.contains(
        "tutorial: 38 bytes after the header, as x says: {1: 'Client', 2: \
         'Server'}"
    ));
    assert!(client.contains("it took b'29      ', the first 8 of what"));
    assert!(client.contains("got 1 of the 4 messages"));
    assert!(client.contains(ALL_FOUR));
}

/// A server of the test's own, on a port the system picks: to one client,
/// it sends `bytes` in pieces of `piece` bytes, 50 ms apart (each its own
/// segment), then closes.
fn serve_in_pieces(bytes: Vec<u8>, piece: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        client.set_nodelay(true).unwrap();
        for (index, piece) in bytes.chunks(piece).enumerate() {
            if index > 0 {
                thread::sleep(Duration::from_millis(50));
            }
            client.write_all(piece).unwrap();
        }
    });
    (port, server)
}

/// The Rust client's output for `bytes` sent in pieces of `piece` bytes,
/// and the Python client's for the same bytes in the same pieces (`None`
/// where python3 is missing). Both run at once, each with a server of its
/// own.
fn rust_and_python_clients(
    bytes: &[u8],
    piece: usize,
) -> (Output, Option<Output>) {
    let python = python3("lessons/python/lesson_06.py").map(|mut python| {
        let (port, server) = serve_in_pieces(bytes.to_vec(), piece);
        python.args(["client", "--port", &port]);
        thread::spawn(move || {
            let output = run(python);
            server.join().unwrap();
            output
        })
    });
    let (port, server) = serve_in_pieces(bytes.to_vec(), piece);
    let rust = run(lesson("lesson_06", &["client", "--port", &port]));
    server.join().unwrap();
    (rust, python.map(|python| python.join().unwrap()))
}

/// Both clients end with `code` and print the same lines, byte for byte.
fn assert_twins_agree(rust: &Output, python: Option<&Output>, code: i32) {
    assert_exit(rust, code);
    if let Some(python) = python {
        assert_exit(python, code);
        assert_eq!(
            mask_ports(&python.stdout),
            mask_ports(&rust.stdout),
            "{}",
            python.stderr
        );
        assert_eq!(python.stderr, rust.stderr);
    }
}

#[test]
fn even_a_whole_message_ends_the_tutorials_loop_in_an_error() {
    // A server of the test's own sends one framed message in one send and
    // closes: the tutorial's reader gets it, then takes int(b'').
    let pickled = serde_pickle::to_vec(&7, Default::default()).unwrap();
    let (rust, python) = rust_and_python_clients(&frame(&pickled).unwrap(), 64);
    assert_twins_agree(&rust, python.as_ref(), 0);
    let client = unfold(&rust.stdout);
    assert!(
        client.contains("tutorial: 8 bytes after the header, as x says: 7")
    );
    assert!(client.contains(
        "recv returned b'', and int(b'') raises ValueError: the tutorial's \
         client stops here"
    ));
    assert!(client.contains("got 1 of the 1 messages"), "{client}");
}

#[test]
fn python_client_runs_the_tutorials_loop_on_the_rust_server() {
    let Some(mut python) = python3("lessons/python/lesson_06.py") else {
        return;
    };
    let mut server = lesson("lesson_06", &["server", "--port", "0", "--once"]);
    server.args(["--chunk", "5", "--pause", "0.05"]);
    let (_, client) = server_then_client(server, |port| {
        python.args(["client", "--port", port]);
        python
    });
    assert_eq!(client.stderr, "");
    // What the Rust client prints for the same pieces; and the copy the
    // book shows as the Python client's.
    assert_transcript("lesson_06", "chunk-5", &client.stdout);
    assert_transcript("lesson_06", "python-client", &client.stdout);
}

#[test]
fn python_and_rust_clients_agree_on_one_byte_pieces() {
    // One message, 34 bytes, in 1-byte pieces: the tutorial's int() of the
    // first piece, a space, fails at once; lesson 5's reader, in Rust and
    // in Python, puts the message together again from 34 recvs.
    let pickled =
        serde_pickle::to_vec(&(1, 2, "abc"), Default::default()).unwrap();
    let framed = frame(&pickled).unwrap();
    let framed = [&b" "[..], &framed[..9], &framed[10..]].concat();
    let (rust, python) = rust_and_python_clients(&framed, 1);
    assert_twins_agree(&rust, python.as_ref(), 0);
    let client = unfold(&rust.stdout);
    assert!(client.contains(
        "tutorial: int(b' ') raises ValueError: the tutorial's client stops"
    ));
    assert!(client.contains("lesson 5: (1, 2, 'abc')"), "{client}");
    assert!(client.contains("got 0 of the 1 messages"), "{client}");
}

#[test]
fn rust_client_reads_the_python_server() {
    let Some(mut python) = python3("lessons/python/lesson_06.py") else {
        return;
    };
    // The Python server's pickles (protocol 4), in its default 5-byte
    // pieces, 50 ms apart.
    python.args(["server", "--port", "0", "--once", "--chunk", "5"]);
    python.args(["--pause", "0.05"]);
    let (server, client) = server_then_client(python, |port| {
        lesson("lesson_06", &["client", "--port", port])
    });
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    let client = unfold(&client.stdout);
    assert!(client.contains("tutorial: x = int(b'38   ') = 38, from 5 of"));
    assert!(client.contains("lesson 5: ('Python', 3, 3.5, True)"));
    assert!(client.contains("got 0 of the 4 messages"), "{client}");
    assert!(client.contains(ALL_FOUR), "{client}");
}
