//! Bad input, hostile peers and user mistakes: each ends in a clear message and
//! the right exit status, never a panic, a hang or a lost message.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use serde_pickle::DeOptions;
use socket_lessons::old::framing::{Piece, Reassembler, frame};
use socket_lessons::old::python::repr;
use support::{
    Output, Process, assert_exit, assert_transcript, lesson, python3, run,
    unfold,
};

/// A one-connection server in the test that sends `bytes` and closes; returns
/// its port.
fn serve_bytes(bytes: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let _ = client.write_all(&bytes);
    });
    port.to_string()
}

/// Lesson 5's client against a server that sends `bytes`.
fn lesson_05_client_given(bytes: Vec<u8>) -> Output {
    let port = serve_bytes(bytes);
    run(lesson("lesson_05", &["client", "--port", &port]))
}

fn assert_fails_with(output: &Output, code: i32, message: &str) {
    assert_exit(output, code);
    assert!(
        unfold(&output.stderr).contains(message),
        "expected {message:?} on stderr, got:\n{}",
        output.stderr
    );
    assert!(!unfold(&output.stderr).contains("panicked"), "{}", output.stderr);
}

#[test]
fn a_header_that_is_not_a_length_is_shown() {
    let output = lesson_05_client_given(b"4x        abcd".to_vec());
    assert_fails_with(&output, 1, "the header b'4x        ' is not a length");
    let output = lesson_05_client_given(b"-5        ".to_vec());
    assert_fails_with(&output, 1, "the header b'-5        ' is not a length");
}

#[test]
fn a_length_above_the_maximum_is_refused() {
    let output = lesson_05_client_given(b"99999999  ".to_vec());
    assert_fails_with(
        &output,
        1,
        "a message of 99999999 bytes, more than the 16777216",
    );
}

#[test]
fn a_close_inside_a_header_or_message_says_how_much_came() {
    let output = lesson_05_client_given(b"12  ".to_vec());
    assert_fails_with(&output, 1, "closed after 4 of the 10 bytes of a header");
    let output = lesson_05_client_given(b"12        abc".to_vec());
    assert_fails_with(
        &output,
        1,
        "closed after 3 of the 12 bytes of a message",
    );
    let output = lesson_05_client_given(Vec::new());
    assert_fails_with(
        &output,
        1,
        "the connection closed before the first message",
    );
}

#[test]
fn a_body_that_is_not_a_pickle_is_an_error() {
    let output = lesson_05_client_given(frame(b"\x80\x03garbage").unwrap());
    assert_fails_with(
        &output,
        1,
        "the message is not a pickle this program can read",
    );
}

fn marker(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("socket-lessons-{}-{name}", std::process::id()))
}

/// The classic hostile pickle: "call os.system with this command", in protocol
/// 0.
fn hostile_pickle(command: &str) -> Vec<u8> {
    format!("cos\nsystem\n(V{command}\ntR.").into_bytes()
}

#[test]
fn a_pickle_that_would_run_code_is_refused_and_nothing_runs() {
    let command = |marker: &PathBuf| {
        format!(
            "echo os.system ran this, called by pickle.loads; touch {}",
            marker.display()
        )
    };
    let rust_marker = marker("rust-client");
    let output = lesson_05_client_given(
        frame(&hostile_pickle(&command(&rust_marker))).unwrap(),
    );
    assert_fails_with(&output, 1, "refused to unpickle");
    assert!(!rust_marker.exists(), "the Rust client ran the pickle's command");
    assert_transcript("errors", "hostile-pickle-rust-client", &output.stderr);

    // The same bytes in Python's pickle.loads do run the command: the test
    // above is not vacuous.
    let python_marker = marker("python-loads");
    let Some(mut python) = python3("tests/python/repr_of_pickles.py") else {
        return;
    };
    let hex: String = hostile_pickle(&command(&python_marker))
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let mut child =
        python.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{hex}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(
        python_marker.exists(),
        "Python's pickle.loads should have run the command"
    );
    std::fs::remove_file(python_marker).unwrap();
    assert_transcript(
        "errors",
        "hostile-pickle-python-loads",
        &String::from_utf8_lossy(&output.stdout),
    );
}

#[test]
fn a_port_in_use_is_explained() {
    let mut first =
        Process::spawn(lesson("lesson_01", &["server", "--port", "0"]));
    let port = first.listening_port().to_string();
    let second = run(lesson("lesson_01", &["server", "--port", &port]));
    assert_fails_with(
        &second,
        1,
        &format!("port {port} is already in use on 127.0.0.1"),
    );
    assert!(
        unfold(&second.stderr).contains("pick another port with --port"),
        "{}",
        second.stderr
    );
    assert_transcript(
        "errors",
        "port-in-use",
        &second.stderr.replace(&port, "PORT"),
    );
    first.stop();
}

#[test]
fn a_refused_connection_says_how_to_start_the_server() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let output = run(lesson("lesson_01", &["client", "--port", &port]));
    assert_fails_with(
        &output,
        1,
        &format!("nothing is listening on 127.0.0.1:{port}"),
    );
    assert!(unfold(&output.stderr).contains(&format!(
        "cargo run --example lesson_01 -- server --port {port}"
    )));
    assert_transcript(
        "errors",
        "connection-refused",
        &output.stderr.replace(&port, "PORT"),
    );
}

#[test]
fn a_client_gives_up_on_a_server_that_never_answers() {
    // The system completes the connection into the backlog, but nobody accepts
    // or sends.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output =
        run(lesson("lesson_04", &["client", "--port", &port, "--wait", "0.3"]));
    assert_fails_with(
        &output,
        1,
        &format!(
            "connected to 127.0.0.1:{port}, but nothing arrived within 0.3 s"
        ),
    );
    assert_transcript("errors", "no-answer", &output.stderr);
}

#[test]
fn a_server_restarts_at_once_on_the_port_it_just_used() {
    let mut server = Process::spawn(lesson(
        "lesson_04",
        &["server", "--port", "0", "--once"],
    ));
    let port = server.listening_port().to_string();
    assert_exit(&run(lesson("lesson_04", &["client", "--port", &port])), 0);
    // The server closed first, so its side of that connection is now in
    // TIME_WAIT.
    assert_exit(&server.finish(), 0);
    let mut again = Process::spawn(lesson(
        "lesson_04",
        &["server", "--port", &port, "--once"],
    ));
    assert_eq!(again.listening_port().to_string(), port);
    assert_exit(&run(lesson("lesson_04", &["client", "--port", &port])), 0);
    assert_exit(&again.finish(), 0);
}

#[test]
fn a_server_outlives_clients_that_reset_leave_early_or_send_garbage() {
    let mut server =
        Process::spawn(lesson("lesson_03", &["server", "--port", "0"]));
    let port = server.listening_port();
    // Resets: SO_LINGER with a zero timeout makes close send RST instead of
    // FIN.
    let reset =
        socket2::Socket::from(TcpStream::connect(("127.0.0.1", port)).unwrap());
    reset.set_linger(Some(Duration::ZERO)).unwrap();
    drop(reset);
    // Leaves before reading anything.
    TcpStream::connect(("127.0.0.1", port))
        .unwrap()
        .shutdown(Shutdown::Both)
        .unwrap();
    // Sends garbage, then hangs up.
    let mut garbage = TcpStream::connect(("127.0.0.1", port)).unwrap();
    garbage.write_all(b"\x00\xffGET / HTTP/1.1\r\n\r\n").unwrap();
    drop(garbage);

    let port = port.to_string();
    let client =
        run(lesson("lesson_03", &["client", "--port", &port, "--wait", "0.3"]));
    assert_exit(&client, 0);
    assert!(
        unfold(&client.stdout).contains("recv(7) returned 5 bytes: b' Rust'"),
        "{}",
        client.stdout
    );
    let server = server.stop();
    assert_eq!(
        server.stdout.matches("Connection to").count(),
        4,
        "{}",
        server.stdout
    );
    assert!(
        unfold(&server.stderr)
            .contains("the client's system reset the connection"),
        "{}",
        server.stderr
    );
    assert!(
        unfold(&server.stdout).contains("waiting for the next client"),
        "{}",
        server.stdout
    );
    // The first message is the resetting client's (what the others cause
    // depends on timing), with the lines it is folded on: they start with
    // the label and three spaces.
    let mut lines = server.stderr.lines();
    let mut first = format!("{}\n", lines.next().unwrap_or_default());
    for line in lines.take_while(|line| line.starts_with("[server]   ")) {
        first.push_str(line);
        first.push('\n');
    }
    assert_transcript("errors", "client-reset", &first);
}

#[test]
fn bad_command_lines_print_usage_and_exit_2() {
    for args in [
        &["server", "--port", "70000"][..],
        &["server", "--port", "abc"],
        &["client", "--wait", "-1"],
        &["--bogus"],
    ] {
        let output = run(lesson("lesson_03", args));
        assert_fails_with(&output, 2, "Usage:");
        assert_eq!(output.stdout, "", "{args:?}");
    }
    let output = run(lesson("lesson_03", &["server", "--port", "70000"]));
    assert_transcript("errors", "bad-port", &output.stderr);
}

#[test]
fn listening_on_every_interface_is_warned_about() {
    let mut server = Process::spawn(lesson(
        "lesson_01",
        &["server", "--host", "0.0.0.0", "--port", "0", "--once"],
    ));
    let port = server.listening_port().to_string();
    assert_exit(&run(lesson("lesson_01", &["client", "--port", &port])), 0);
    let server = server.finish();
    assert!(
        server
            .stderr
            .contains("warning: 0.0.0.0 means every network interface"),
        "{}",
        server.stderr
    );
    assert_transcript("errors", "all-interfaces", &server.stderr);
}

/// What lesson 5's server sends, as Python would print it.
const LESSON_05_VALUES: [&str; 4] = [
    "{1: 'Client', 2: 'Server'}",
    "[1, 2, 'abc']",
    "('Rust', 2024, 3.5, True)",
    "{1, 2, 3}",
];

/// One client of lesson 5's server, in the test: connects, reads to the end,
/// unpickles. Returns `None` when nothing came within `patience`.
fn receive_lesson_05_values(
    port: u16,
    patience: Duration,
) -> Option<Vec<String>> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), patience)
            .ok()?;
    stream.set_read_timeout(Some(patience)).unwrap();
    // It will send nothing, and says so: a FIN is a segment TCP resends until
    // the server takes it.
    stream.shutdown(Shutdown::Write).unwrap();
    let mut received = Vec::new();
    if let Err(error) = stream.read_to_end(&mut received) {
        assert!(received.is_empty(), "the connection failed part-way: {error}");
        return None;
    }
    let mut reader = Reassembler::new();
    let mut pieces = reader.feed(&received);
    let mut values = Vec::new();
    while let Some(piece) = pieces.next_piece().unwrap() {
        if let Piece::Message(pickle) = piece {
            values.push(repr(
                &serde_pickle::value_from_slice(pickle, DeOptions::new())
                    .unwrap(),
            ));
        }
    }
    assert_eq!(reader.finish(), Ok(4), "a message was cut short");
    Some(values)
}

fn assert_all_four(values: Option<Vec<String>>) {
    assert!(
        values.as_ref().is_some_and(|values| *values == LESSON_05_VALUES),
        "received {values:?}"
    );
}

/// Clients of lesson 5's server connected at once, at most: its `listen(5)`
/// backlog.
const BACKLOG: usize = 5;

#[test]
fn one_server_serves_500_clients_in_turn_and_100_five_at_a_time() {
    let mut server =
        Process::spawn(lesson("lesson_05", &["server", "--port", "0"]));
    let port = server.listening_port();
    let patience = Duration::from_secs(10);
    for _ in 0..500 {
        assert_all_four(receive_lesson_05_values(port, patience));
    }
    // Then 100 more from 5 threads at once, each client's handshake racing
    // the others' and the server's accepts. At most 5 are ever connecting or
    // connected, so the backlog always has room for every one the server has
    // not yet accepted: Linux drops no handshake (as it may once the queue is
    // full), and no client has to wait a second to try again. Every client
    // must get all four messages, whole.
    let clients: Vec<_> = (0..BACKLOG)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..100 / BACKLOG {
                    assert_all_four(receive_lesson_05_values(port, patience));
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    // Still serving.
    assert_all_four(receive_lesson_05_values(port, patience));
    let server = server.stop();
    assert_eq!(
        server.stdout.matches("Connection to").count(),
        601,
        "{}",
        server.stdout
    );
    assert_eq!(server.stderr, "", "no client should have failed");
}
