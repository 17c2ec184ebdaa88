//! Lesson 10, UDP: run for real, against the transcripts the book shows;
//! with Python both ways; and against a hostile datagram.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use support::{
    Process, assert_exit, assert_sides_transcript, assert_transcript, lesson,
    mask_ports, python3, run, server_then_client, transcript_path, unfold,
};

const NAME: &str = "lesson_10";

/// `output` says what the transcript `name` says, wherever either folds its
/// lines (the Python twin does not fold yet).
fn assert_same_lines(name: &str, output: &str) {
    let expected = std::fs::read_to_string(transcript_path(NAME, name))
        .expect("the transcript exists");
    assert_eq!(unfold(&mask_ports(output)), unfold(&expected));
}

#[test]
fn demo() {
    let output = run(lesson(NAME, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

#[test]
fn server_and_client_show_truncation_and_whole_datagrams() {
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn trace_shows_the_flag_the_system_returned() {
    let (_, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port, "--trace"]),
    );
    assert_transcript(NAME, "client-trace", &client.stdout);
    assert!(unfold(&client.stdout).contains("-> 7 bytes from"));
    assert!(client.stdout.contains(", flags MSG_TRUNC"));
}

#[test]
fn help() {
    let output = run(lesson(NAME, &["--help"]));
    assert_exit(&output, 0);
    assert_transcript(NAME, "help", &output.stdout);
}

#[test]
fn chunk_is_said_to_change_nothing() {
    let (server, _) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once", "--chunk", "3"]),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert!(unfold(&server.stderr).contains("here they change nothing"));
}

#[test]
fn no_server_is_a_clear_error_within_the_wait() {
    // A port nothing listens on: bound here, and never read.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let output = run(lesson(NAME, &["client", "--port", &port]));
    assert_exit(&output, 1);
    assert!(
        unfold(&output.stderr).contains("no answer from 127.0.0.1:"),
        "{}",
        output.stderr
    );
}

/// A datagram longer than the server's buffer is cut, said so, and
/// answered; the server goes on to serve the next one.
#[test]
fn an_oversized_datagram_does_not_stop_the_server() {
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = server.listening_port();
    let hostile = UdpSocket::bind("127.0.0.1:0").unwrap();
    hostile.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    hostile.send_to(&[b'x'; 4000], ("127.0.0.1", port)).unwrap();
    let mut answer = [0; 64];
    let (received, _) = hostile.recv_from(&mut answer).unwrap();
    assert_eq!(&answer[..received], b"Socket Programming in Rust");
    let client = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&client, 0);
    let server = server.stop();
    assert!(
        unfold(&server.stderr).contains("the system discarded the rest"),
        "{}",
        server.stderr
    );
    let stdout = unfold(&server.stdout);
    assert!(stdout.contains("received a datagram of 1024 bytes"), "{stdout}");
    assert!(stdout.contains("received a datagram of 5 bytes"), "{stdout}");
}

#[test]
fn rust_server_python_client() {
    let Some(mut client) = python3("lessons/python/lesson_10.py") else {
        return;
    };
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port]);
            client
        },
    );
    assert_transcript(NAME, "server", &server.stdout);
    assert_same_lines("client", &client.stdout);
}

#[test]
fn python_server_rust_client() {
    let Some(mut server) = python3("lessons/python/lesson_10.py") else {
        return;
    };
    server.args(["server", "--port", "0", "--once"]);
    let (server, client) = server_then_client(server, |port| {
        lesson(NAME, &["client", "--port", port])
    });
    assert_same_lines("server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}
