//! Lesson 3, a loop of recv(7): every piece arrives, then the client waits
//! for an end that never comes and gives up after --wait; the server holds
//! each connection for a bounded time, whatever its client does; lesson 4's
//! server, which closes, ends the loop; the Python twin in every pairing.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use libtest_mimic::Trial;

use crate::support::{
    DEADLINE, Process, against, assert_demo, assert_exit, assert_transcript,
    lesson, pair, python_twin, run, server_then_client, story,
};

const NAME: &str = "lesson_03";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        help_lists_each_sides_options,
        a_26_byte_buffer_gets_all_in_one_recv_then_still_waits,
        the_client_ends_cleanly_against_lesson_4s_server,
        a_client_queued_behind_another_is_told_why_nothing_comes,
        a_client_that_never_hangs_up_is_held_for_hold_seconds,
        a_client_that_trickles_cannot_hold_the_server_past_its_hold,
        the_server_outlives_clients_that_reset_leave_early_or_send_garbage,
        usage_errors_exit_2,
    ];
    tests.extend(python_tests![
        python_demo,
        python_server_rust_client,
        rust_server_python_client,
        python_server_holds_a_silent_client_for_hold_seconds,
        python_usage_errors_exit_2,
        seconds_are_written_alike_in_both_languages,
    ]);
    tests
}

fn demo() {
    assert_demo(NAME);
}

fn server_and_client() {
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert!(client.stdout.contains("is still waiting after 2 s"));
    assert!(server.stdout.contains("the client hung up"));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

fn a_26_byte_buffer_gets_all_in_one_recv_then_still_waits() {
    let (server, client) = pair(NAME, &[], &["--buffer", "26"]);
    assert_exit(&client, 0);
    assert_exit(&server, 0);
    assert!(client.stdout.contains("recv(26) returned 26 bytes"));
    assert!(client.stdout.contains("recv(26) is still waiting after 2 s"));
    assert_transcript(NAME, "client-buffer-26", &client.stdout);
}

fn the_client_ends_cleanly_against_lesson_4s_server() {
    let (_, client) = against(
        lesson("lesson_04", &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_exit(&client, 0);
    assert!(client.stdout.ends_with("returned 0 bytes: the server closed\n"));
    assert_transcript(NAME, "client-of-lesson-04-server", &client.stdout);
}

/// A lesson 3 server with `--hold SECONDS`, and its port.
fn holding_server(hold: &str) -> (Process, u16) {
    let mut server = Process::spawn(lesson(
        NAME,
        &["server", "--port", "0", "--hold", hold],
    ));
    let port = server.listening_port();
    (server, port)
}

/// Connects to `port` and reads the server's message, `expected`, however
/// long the server holds another client first (within the tests' deadline).
fn assert_served(port: u16, expected: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut message = vec![0; expected.len()];
    stream.read_exact(&mut message).unwrap();
    assert_eq!(message, expected);
}

fn a_client_queued_behind_another_is_told_why_nothing_comes() {
    let (server, port) = holding_server("30");
    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Once the first has its message, the server is holding it.
    first.read_exact(&mut [0; 26]).unwrap();
    let port = port.to_string();
    let args = ["client", "--port", &port, "--wait", "0.5"];
    let queued = run(lesson(NAME, &args));
    assert_exit(&queued, 0);
    assert!(queued.stdout.contains("nothing arrived in 0.5 s"));
    assert_transcript(NAME, "client-queued", &queued.stdout);
    server.stop();
}

fn a_client_that_never_hangs_up_is_held_for_hold_seconds() {
    let (server, port) = holding_server("1");
    // Connects, reads nothing, never closes.
    let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Queued behind it: served once the hold has run out.
    assert_served(port, b"Socket Programming in Rust");
    let server = server.stop();
    assert!(
        server.stdout.contains(
            "the client is still there after 1 s (--hold): closing\n"
        ),
        "{}",
        server.stdout
    );
}

fn a_client_that_trickles_cannot_hold_the_server_past_its_hold() {
    let (server, port) = holding_server("1");
    // A byte every 200 ms for up to 30 s: each recv gets something at
    // once, so only a bound on the whole hold ends it.
    let trickling = Arc::new(AtomicBool::new(true));
    let mut trickler = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let still = Arc::clone(&trickling);
    thread::spawn(move || {
        for _ in 0..150 {
            // Cut off by the server: no longer trickling, nor finished.
            if trickler.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        still.store(false, Ordering::SeqCst);
    });
    assert_served(port, b"Socket Programming in Rust");
    assert!(trickling.load(Ordering::SeqCst), "served only after the trickle");
    let server = server.stop();
    assert!(server.stdout.contains("still there after 1 s (--hold)"));
}

fn the_server_outlives_clients_that_reset_leave_early_or_send_garbage() {
    let (server, port) = holding_server("30");
    // Resets: SO_LINGER with a zero timeout makes close send RST, not FIN.
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
    // Served after all three.
    assert_served(port, b"Socket Programming in Rust");
    let server = server.stop();
    let connections = server.stdout.matches("Connection to").count();
    assert_eq!(connections, 4, "{}", story(&server));
    // The first error is the resetting client's: it was served first.
    let first = server.stderr.lines().next().unwrap_or_default();
    assert!(first.contains("reset the connection"), "{}", server.stderr);
    assert_transcript("errors", "client-reset", &format!("{first}\n"));
}

fn usage_errors_exit_2() {
    for args in [
        &["server", "--port", "70000"][..],
        &["server", "--port", "abc"],
        &["server", "--hold", "0"],
        &["client", "--hold", "5"],
        &["client", "--wait", "-1"],
        &["--bogus"],
    ] {
        let output = run(lesson(NAME, args));
        assert_exit(&output, 2);
        assert!(output.stderr.starts_with("error: "), "{}", output.stderr);
        assert_eq!(output.stdout, "", "{args:?}");
    }
    let output = run(lesson(NAME, &["server", "--port", "70000"]));
    assert_transcript("errors", "bad-port", &output.stderr);
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    for line in [
        "[client] recv(7) returned 7 bytes: b' Python'\n",
        "[client] recv(7) is still waiting after 2 s: nothing says the \
         message is over\n",
        "[server] the client hung up, so this side closes too\n",
    ] {
        assert!(output.stdout.contains(line), "{}", output.stdout);
    }
}

fn python_server_rust_client() {
    let (server, client) = server_then_client(
        python_twin(NAME, &["server", "--port", "0", "--once"]).unwrap(),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_transcript(NAME, "client-of-python-server", &client.stdout);
    assert_transcript(NAME, "python-server", &server.stdout);
}

fn rust_server_python_client() {
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| python_twin(NAME, &["client", "--port", port]).unwrap(),
    );
    assert!(server.stdout.contains("the client hung up"));
    assert_transcript(NAME, "python-client", &client.stdout);
}

fn python_server_holds_a_silent_client_for_hold_seconds() {
    let args = ["server", "--port", "0", "--hold", "1"];
    let mut server = Process::spawn(python_twin(NAME, &args).unwrap());
    let port = server.listening_port();
    let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_served(port, b"Socket Programming in Python");
    let server = server.stop();
    assert!(server.stdout.contains("still there after 1 s (--hold)"));
    assert!(!server.stderr.contains("Traceback"), "{}", server.stderr);
}

fn python_usage_errors_exit_2() {
    for args in [
        &["server", "--port", "70000"][..],
        &["server", "--hold", "0"],
        &["client", "--hold", "5"],
        &["client", "--wait", "-1"],
        &["--bogus"],
    ] {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

/// Seconds are digits and at most one point, in both languages: an
/// exponent, and a digit that is not ASCII ('٣' is 3 to Python's float),
/// are refused with the form that is taken.
fn seconds_are_written_alike_in_both_languages() {
    for wait in ["1e-9", "\u{663}", "1.5.0", ""] {
        let args = ["client", "--wait", wait];
        let outputs =
            [run(lesson(NAME, &args)), run(python_twin(NAME, &args).unwrap())];
        for output in outputs {
            assert_exit(&output, 2);
            assert!(
                output.stderr.contains(
                    "expected seconds from 0 to 3600, written like 2 or 0.5"
                ),
                "{wait:?}: {}",
                output.stderr
            );
        }
    }
}
