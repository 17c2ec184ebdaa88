//! Lesson 7, run for real: a request, the half-close, and the echo; the
//! deadlock without the half-close, bounded by the server's read timeout;
//! any bytes echoed exactly; a request over 1 MiB refused; Rust and Python
//! in every pairing.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use support::{
    Process, assert_exit, assert_sides_transcript, lesson, mask_ports, python3,
    run, server_then_client, unfold,
};

const MAX_LEN: usize = 1024 * 1024;

fn demo(name: &str, args: &[&str]) -> String {
    let output = run(lesson("lesson_07", args));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript("lesson_07", name, &output.stdout);
    unfold(&output.stdout)
}

#[test]
fn the_half_close_ends_the_request_and_the_answer_is_the_echo() {
    let output = demo("demo", &[]);
    assert!(output.contains("recv returned 0: the request is over, 14 bytes"));
    assert!(
        output.contains("14 bytes, the same bytes as sent: Hello, server!")
    );
}

#[test]
fn without_the_half_close_the_server_waits_until_its_read_timeout() {
    let output = demo("no-shutdown", &["--no-shutdown"]);
    assert!(
        output.contains("14 bytes came, then no end of the request within 3 s")
    );
    assert!(output.contains("0 bytes, the server closed without answering"));
}

/// The Python demo prints what the Rust demo's transcript `name` shows.
fn python_demo(name: &str, args: &[&str]) {
    let Some(mut python) = python3("lessons/python/lesson_07.py") else {
        return;
    };
    let output = run({
        python.args(args).env_remove("CLICOLOR_FORCE");
        python
    });
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript("lesson_07", name, &output.stdout);
}

#[test]
fn the_python_demo_prints_the_rust_demos_lines() {
    python_demo("demo", &[]);
}

#[test]
fn the_python_demo_without_the_half_close_prints_the_rust_demos_lines() {
    python_demo("no-shutdown", &["--no-shutdown"]);
}

#[test]
fn python_and_rust_trace_the_same_calls() {
    // A request of 5000 bytes: the recv sizes of Rust's read_to_end, a
    // probe of 32 bytes then a buffer that doubles, in both.
    let Some(mut python) = python3("lessons/python/lesson_07.py") else {
        return;
    };
    let message = "x".repeat(5000);
    let args = ["--trace", "--message", &message];
    let rust = run(lesson("lesson_07", &args));
    let python = run({
        python.args(args).env_remove("CLICOLOR_FORCE");
        python
    });
    assert_exit(&rust, 0);
    assert_exit(&python, 0);
    let side = |text: &str, label: &str| -> Vec<String> {
        mask_ports(text)
            .lines()
            .filter(|line| line.starts_with(label))
            .map(str::to_string)
            .collect()
    };
    for label in ["[server]", "[client]"] {
        assert_eq!(side(&python.stdout, label), side(&rust.stdout, label));
    }
}

/// Sends `request` to a lesson 7 server on `port`, half-closes, and returns
/// the answer.
fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

fn server(args: &[&str]) -> (Process, u16) {
    let mut server = Process::spawn(lesson(
        "lesson_07",
        &[&["server", "--port", "0", "--once"], args].concat(),
    ));
    let port = server.listening_port();
    (server, port)
}

#[test]
fn any_bytes_come_back_exactly_in_any_chunking() {
    let request: Vec<u8> = (0..=255).cycle().take(5000).collect();
    for chunk in ["1000", "7"] {
        let (server, port) = server(&["--chunk", chunk, "--pause", "0"]);
        assert_eq!(exchange(port, &request), request, "--chunk {chunk}");
        assert_exit(&server.finish(), 0);
    }
    let (server, port) = server(&[]);
    let largest = vec![b'x'; MAX_LEN];
    assert_eq!(exchange(port, &largest), largest);
    assert_exit(&server.finish(), 0);
}

/// A Python lesson 7 server with `args`, on a port the system picks.
fn python_server(args: &[&str]) -> Option<(Process, u16)> {
    let mut python = python3("lessons/python/lesson_07.py")?;
    python.args(["server", "--port", "0", "--once"]).args(args);
    let mut server = Process::spawn(python);
    let port = server.listening_port();
    Some((server, port))
}

#[test]
fn the_python_server_echoes_any_bytes_and_refuses_over_one_mib() {
    let request: Vec<u8> = (0..=255).cycle().take(5000).collect();
    let Some((server, port)) =
        python_server(&["--chunk", "1000", "--pause", "0"])
    else {
        return;
    };
    assert_eq!(exchange(port, &request), request);
    assert_exit(&server.finish(), 0);
    let Some((server, port)) = python_server(&[]) else { return };
    let largest = vec![b'x'; MAX_LEN];
    assert_eq!(exchange(port, &largest), largest);
    assert_exit(&server.finish(), 0);
    let Some((server, port)) = python_server(&[]) else { return };
    assert!(exchange(port, &vec![b'x'; MAX_LEN + 1]).is_empty());
    let output = server.finish();
    assert_exit(&output, 0);
    assert!(unfold(&output.stdout).contains(
        "the request is longer than 1048576 bytes: refused, closing without \
         an answer"
    ));
}

#[test]
fn a_request_over_one_mib_is_refused() {
    let (server, port) = server(&[]);
    let answer = exchange(port, &vec![b'x'; MAX_LEN + 1]);
    assert!(answer.is_empty());
    let output = server.finish();
    assert_exit(&output, 0);
    assert!(unfold(&output.stdout).contains(
        "the request is longer than 1048576 bytes: refused, closing without \
         an answer"
    ));
}

fn assert_echoed(client: &str) {
    assert!(
        unfold(client)
            .contains("14 bytes, the same bytes as sent: Hello, server!"),
        "{client}"
    );
}

#[test]
fn python_client_of_the_rust_server() {
    let Some(mut python) = python3("lessons/python/lesson_07.py") else {
        return;
    };
    let (_, client) = server_then_client(
        lesson("lesson_07", &["server", "--port", "0", "--once"]),
        |port| {
            python.args(["client", "--port", port]);
            python
        },
    );
    assert_echoed(&client.stdout);
}

#[test]
fn rust_client_of_the_python_server() {
    let Some(mut python) = python3("lessons/python/lesson_07.py") else {
        return;
    };
    python.args(["server", "--port", "0", "--once"]);
    let (_, client) = server_then_client(python, |port| {
        lesson("lesson_07", &["client", "--port", port])
    });
    assert_echoed(&client.stdout);
}
