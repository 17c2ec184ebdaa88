//! Lesson 10, UDP: run for real, against the transcripts the book shows;
//! with Python both ways; and against a hostile datagram.

mod support;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use support::{
    Process, assert_exit, assert_sides_transcript, assert_transcript, lesson,
    run, server_then_client, unfold,
};

const NAME: &str = "lesson_10";

/// The Python twin, with `args`; `None` where python3 is missing (outside
/// CI).
fn twin(args: &[&str]) -> Option<Command> {
    support::python_twin(NAME, args)
}

#[test]
fn demo() {
    support::assert_demo(NAME);
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
    assert!(
        stdout.contains(
            "received the first bytes of a longer datagram, 1024 bytes"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("received a datagram, 5 bytes"), "{stdout}");
}

#[test]
fn python_demo() {
    let Some(python) = twin(&[]) else { return };
    let output = run(python);
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

#[test]
fn rust_server_python_client() {
    let Some(mut client) = twin(&[]) else { return };
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port]);
            client
        },
    );
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn python_server_rust_client() {
    let Some(server) = twin(&["server", "--port", "0", "--once"]) else {
        return;
    };
    let (server, client) = server_then_client(server, |port| {
        lesson(NAME, &["client", "--port", port])
    });
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn python_server_and_client() {
    let (Some(server), Some(mut client)) =
        (twin(&["server", "--port", "0", "--once"]), twin(&[]))
    else {
        return;
    };
    let (server, client) = server_then_client(server, |port| {
        client.args(["client", "--port", port]);
        client
    });
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn python_trace_is_the_rust_clients() {
    let Some(mut client) = twin(&[]) else { return };
    let (_, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port, "--trace"]);
            client
        },
    );
    assert_transcript(NAME, "client-trace", &client.stdout);
}

/// What the Rust lesson refuses or reports, the Python twin refuses or
/// reports in the same words, with the same exit code.
#[test]
fn python_errors_are_the_rust_ones() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let cases: &[&[&str]] = &[
        &["client", "--buffer", "0"],
        &["client", "--buffer", "65537"],
        &["server", "--buffer", "7"],
        &["client", "--port", &port, "--wait", "0.2"],
        &["client", "--port", &port, "--wait", "0.2", "--deadline", "0.1"],
    ];
    for args in cases {
        let Some(python) = twin(args) else { return };
        let python = run(python);
        let rust = run(lesson(NAME, args));
        assert_eq!(python.status.code(), rust.status.code(), "{args:?}");
        assert!(!python.stderr.contains("Traceback"), "{}", python.stderr);
        let python_command = "python3 lessons/python/lesson_10.py";
        let rust_stderr = rust
            .stderr
            .replace(
                "cargo run --example lesson_10             ",
                &format!("{python_command:<41} "),
            )
            .replace(
                "cargo run --example lesson_10 -- ",
                "python3 lessons/python/lesson_10.py ",
            );
        assert_eq!(python.stderr, rust_stderr, "{args:?}");
        assert_eq!(python.stdout, rust.stdout, "{args:?}");
    }
}

/// The Python server, like the Rust one, cuts an oversized datagram, says
/// so, answers it, and serves the next.
#[test]
fn an_oversized_datagram_does_not_stop_the_python_server() {
    let Some(server) = twin(&["server", "--port", "0"]) else { return };
    let mut server = Process::spawn(server);
    let port = server.listening_port();
    let hostile = UdpSocket::bind("127.0.0.1:0").unwrap();
    hostile.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    hostile.send_to(&[b'x'; 4000], ("127.0.0.1", port)).unwrap();
    hostile.send_to(b"", ("127.0.0.1", port)).unwrap();
    let mut answer = [0; 64];
    for _ in 0..2 {
        let (received, _) = hostile.recv_from(&mut answer).unwrap();
        assert_eq!(&answer[..received], b"Socket Programming in Rust");
    }
    let client = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&client, 0);
    let server = server.stop();
    assert!(
        unfold(&server.stderr).contains("the system discarded the rest"),
        "{}",
        server.stderr
    );
    assert!(!server.stderr.contains("Traceback"), "{}", server.stderr);
    let stdout = unfold(&server.stdout);
    assert!(
        stdout.contains(
            "received the first bytes of a longer datagram, 1024 bytes"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("an empty datagram is still a datagram"));
    assert!(stdout.contains("received a datagram, 5 bytes"), "{stdout}");
}
