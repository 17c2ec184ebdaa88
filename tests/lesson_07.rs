//! Lesson 7, a request, its answer and the half-close: the demo and two
//! terminals; the deadlock without the half-close, bounded by the server's
//! timeout; any bytes echoed exactly; a request over 1 MiB refused and a
//! long one shown short; the Python twin in every pairing.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use libtest_mimic::Trial;

use crate::support::{
    Output, Process, against, assert_demo, assert_exit,
    assert_names_what_ran_out, assert_transcript, lesson, pair, python_twin,
    run, server_then_client, story,
};

const NAME: &str = "lesson_07";

const MAX_LEN: usize = 1024 * 1024;

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        without_the_half_close_the_server_times_out,
        help_lists_each_sides_options,
        trace_shows_each_recv_until_the_fin,
        any_bytes_come_back_exactly_and_over_one_mib_is_refused,
        a_long_request_is_shown_by_its_size_and_a_preview,
        usage_errors_exit_2,
        the_client_names_what_ran_out,
    ];
    tests.extend(python_tests![
        python_demo,
        python_without_the_half_close_the_server_times_out,
        python_server_rust_client,
        rust_server_python_client,
        the_python_server_echoes_any_bytes_and_refuses_over_one_mib,
        python_and_rust_trace_the_same_facts,
        python_usage_errors_exit_2,
        two_small_sends_wait_for_an_ack_unless_nodelay_or_one_send,
        the_python_client_names_what_ran_out,
        a_stopped_client_goes_on_waiting,
        the_python_lesson_with_stdout_closed_exits_1,
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
    assert_echoed(&client);
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

fn assert_echoed(client: &Output) {
    assert_exit(client, 0);
    assert!(
        client.stdout.contains("the answer is over, 14 bytes\n")
            && client
                .stdout
                .contains("the same bytes as sent: Hello, server!\n"),
        "{}",
        client.stdout
    );
}

/// Each waits for the other; the server's 3 s read timeout ends it.
fn assert_timed_out(server: &Output, client: &Output) {
    assert_exit(server, 0);
    assert_exit(client, 0);
    assert!(
        server.stdout.contains(
            "14 bytes came, then nothing for 3 s: closing, no answer\n"
        )
    );
    assert!(client.stdout.contains("0 bytes\n"));
    assert!(client.stdout.contains("the server closed without answering\n"));
}

fn without_the_half_close_the_server_times_out() {
    let (server, client) = pair(NAME, &[], &["--no-shutdown"]);
    assert_timed_out(&server, &client);
    assert_transcript(NAME, "no-shutdown-server", &server.stdout);
    assert_transcript(NAME, "no-shutdown-client", &client.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

fn trace_shows_each_recv_until_the_fin() {
    let (server, client) = pair(NAME, &["--trace"], &["--trace", "--hex"]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    for call in [
        "recv(65536) -> 14 bytes",
        "recv(65536) -> 0 bytes",
        "send(14 bytes) -> 14 bytes",
    ] {
        assert!(server.stdout.contains(call), "{call}: {}", server.stdout);
        assert!(client.stdout.contains(call), "{call}: {}", client.stdout);
    }
    assert!(client.stdout.contains("shutdown(Write) -> done"));
    assert_transcript(NAME, "trace-server", &server.stdout);
    assert_transcript(NAME, "trace-hex-client", &client.stdout);
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

/// A lesson 7 server, in Rust or Python, for one client with `args`.
fn started(python: bool, args: &[&str]) -> (Process, u16) {
    let args = [&["server", "--port", "0", "--once"], args].concat();
    let command = match python {
        true => python_twin(NAME, &args).unwrap(),
        false => lesson(NAME, &args),
    };
    let mut server = Process::spawn(command);
    let port = server.listening_port();
    (server, port)
}

fn echoes_any_bytes_and_refuses_over_one_mib(python: bool) {
    let request: Vec<u8> = (0..=255).cycle().take(5000).collect();
    for chunk in ["1000", "7"] {
        let (server, port) =
            started(python, &["--chunk", chunk, "--pause", "0"]);
        assert_eq!(exchange(port, &request), request, "--chunk {chunk}");
        assert_exit(&server.finish(), 0);
    }
    let (server, port) = started(python, &[]);
    let largest = vec![b'x'; MAX_LEN];
    assert_eq!(exchange(port, &largest), largest);
    assert_exit(&server.finish(), 0);
    let (server, port) = started(python, &[]);
    assert!(exchange(port, &vec![b'x'; MAX_LEN + 1]).is_empty());
    let output = server.finish();
    assert_exit(&output, 0);
    assert!(output.stdout.contains(
        "the request is longer than 1048576 bytes: closing, no answer\n"
    ));
}

fn any_bytes_come_back_exactly_and_over_one_mib_is_refused() {
    echoes_any_bytes_and_refuses_over_one_mib(false);
}

/// Issue 22, item 28: 1 MiB printed whole would flood the terminal.
fn a_long_request_is_shown_by_its_size_and_a_preview() {
    let (server, port) = started(false, &[]);
    let request = [b"\x1b[2J".repeat(10), vec![b'x'; MAX_LEN - 40]].concat();
    assert_eq!(exchange(port, &request).len(), MAX_LEN);
    let output = server.finish();
    assert_exit(&output, 0);
    assert!(output.stdout.len() < 1000, "{}", output.stdout);
    assert!(output.stdout.contains("the request is over, 1048576 bytes\n"));
    let preview = format!("{}... (1048544 more)\n", "\\x1b[2J".repeat(8));
    assert!(output.stdout.contains(&preview), "{}", output.stdout);
    assert!(!output.stdout.contains('\x1b'));
}

fn usage_errors_exit_2() {
    for args in [
        &["server", "--message", "x"][..],
        &["client", "--chunk", "5"],
        &["server", "--no-shutdown"],
        &["client", "--deadline", "-1"],
    ] {
        let output = run(lesson(NAME, args));
        assert_exit(&output, 2);
    }
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert!(output.stdout.contains("[server] the request: Hello, server!\n"));
    assert!(output.stdout.contains("[client] the same bytes as sent: Hello"));
}

fn python_without_the_half_close_the_server_times_out() {
    // Python on both sides, then each against the Rust one.
    for (python_server, python_client) in
        [(true, true), (true, false), (false, true)]
    {
        let (server, port) = started(python_server, &[]);
        let port = port.to_string();
        let args = ["client", "--port", &port, "--no-shutdown"];
        let client = match python_client {
            true => run(python_twin(NAME, &args).unwrap()),
            false => run(lesson(NAME, &args)),
        };
        assert_timed_out(&server.finish(), &client);
    }
}

fn python_server_rust_client() {
    let (server, client) = against(
        python_twin(NAME, &["server", "--port", "0"]).unwrap(),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_echoed(&client);
    assert_transcript(NAME, "python-server", &server.stdout);
}

fn rust_server_python_client() {
    let (_, client) =
        against(lesson(NAME, &["server", "--port", "0"]), |port| {
            python_twin(NAME, &["client", "--port", port]).unwrap()
        });
    assert_echoed(&client);
    assert_transcript(NAME, "python-client", &client.stdout);
}

fn the_python_server_echoes_any_bytes_and_refuses_over_one_mib() {
    echoes_any_bytes_and_refuses_over_one_mib(true);
}

/// Both tell the same story of a 5000-byte request with --trace: the same
/// sizes, the recvs adding up to it, each side's FIN seen as a recv of 0.
fn python_and_rust_trace_the_same_facts() {
    let message = "x".repeat(5000);
    let client_args = ["--trace", "--message", &message];
    for python in [false, true] {
        let (server, port) = started(python, &["--trace"]);
        let port = port.to_string();
        let args = [&["client", "--port", &port][..], &client_args].concat();
        let client = match python {
            true => run(python_twin(NAME, &args).unwrap()),
            false => run(lesson(NAME, &args)),
        };
        let output = Output {
            stdout: server.finish().stdout + &client.stdout,
            ..client
        };
        assert_exit(&output, 0);
        for side in ["[server]", "[client]"] {
            let lines: Vec<&str> =
                output.stdout.lines().filter(|l| l.starts_with(side)).collect();
            let received: usize = lines
                .iter()
                .filter_map(|line| {
                    let (_, returned) = line.split_once("recv(65536) -> ")?;
                    returned.split(' ').next()?.parse::<usize>().ok()
                })
                .sum();
            assert_eq!(received, 5000, "{side}: {}", output.stdout);
            assert!(
                lines.iter().any(|l| l.ends_with("recv(65536) -> 0 bytes"))
            );
        }
        assert!(output.stdout.contains("the request is over, 5000 bytes\n"));
        assert!(output.stdout.contains("the answer is over, 5000 bytes\n"));
        assert!(output.stdout.contains("xxxx... (4968 more)\n"));
    }
}

/// The byte-for-byte comparison of the two helps went with issue 19; the
/// same options are still offered on each side.
fn python_usage_errors_exit_2() {
    for args in [&["server", "--message", "x"][..], &["client", "--chunk", "5"]]
    {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

/// Nagle's algorithm and the delayed ACK (the chapter's "Two small sends"):
/// tests/python/nagle.py asks 10 questions on one connection in three ways,
/// and says whether the body of a question ever waited in the send queue
/// for an ACK. It does with two sends, never with TCP_NODELAY or one send.
/// What is checked is what waited, not how long it took.
fn two_small_sends_wait_for_an_ack_unless_nodelay_or_one_send() {
    let output = run(crate::support::python3("tests/python/nagle.py").unwrap());
    assert_exit(&output, 0);
    assert!(output.stdout.contains("two sends: the body waited"));
    assert!(output.stdout.contains("TCP_NODELAY: the body went out at once"));
    assert!(output.stdout.contains("one send: the body went out at once"));
    assert_transcript(NAME, "nagle", &output.stdout);
}

fn the_client_names_what_ran_out() {
    assert_names_what_ran_out(&|port, options| {
        lesson(NAME, &[&["client", "--port", port], options].concat())
    });
}

fn the_python_client_names_what_ran_out() {
    assert_names_what_ran_out(&|port, options| {
        let args = [&["client", "--port", port], options].concat();
        python_twin(NAME, &args).unwrap()
    });
}

/// Started with stdout closed (`>&-`): exit 1, nothing of Python's insides.
fn the_python_lesson_with_stdout_closed_exits_1() {
    let demo = python_twin(NAME, &[]).unwrap();
    let output = run(crate::support::with_closed(">&-", &demo));
    assert_exit(&output, 1);
    assert_eq!(output.stderr, "", "{}", story(&output));
}

fn a_stopped_client_goes_on_waiting() {
    crate::support::assert_a_stopped_client_goes_on(&|port| {
        lesson(NAME, &["client", "--port", port, "--wait", "1"])
    });
}
