//! Lesson 2, a tiny buffer: one recv(7) gets 7 bytes, the rest waits
//! unread; a bigger buffer, slow motion and --trace show why; the Python
//! twin in every pairing.

use libtest_mimic::Trial;

use crate::support::{
    against, assert_demo, assert_exit, assert_transcript, lesson, pair,
    peer_sending, python_twin, run, server_then_client, story,
};

const NAME: &str = "lesson_02";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        help_lists_each_sides_options,
        a_1024_byte_buffer_gets_everything_that_had_arrived,
        in_slow_motion_recv_7_gets_the_first_5_bytes,
        trace_names_every_call_that_can_block,
        a_peers_control_characters_are_escaped,
        usage_errors_exit_2,
    ];
    tests.extend(python_tests![
        python_demo,
        python_server_rust_client,
        rust_server_python_client,
        python_trace_and_hex_show_the_7_bytes,
        python_usage_errors_exit_2,
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
    assert!(client.stdout.contains("recv(7) returned 7 bytes: b'Socket '"));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

fn a_1024_byte_buffer_gets_everything_that_had_arrived() {
    let (_, client) = pair(NAME, &[], &["--buffer", "1024"]);
    assert_exit(&client, 0);
    assert!(client.stdout.contains("recv(1024) returned 26 bytes"));
    assert!(client.stdout.contains("the buffer is not full"));
    assert_transcript(NAME, "client-buffer-1024", &client.stdout);
}

fn in_slow_motion_recv_7_gets_the_first_5_bytes() {
    let (server, client) = pair(NAME, &["--chunk", "5"], &[]);
    assert_exit(&client, 0);
    assert!(client.stdout.contains("recv(7) returned 5 bytes: b'Socke'"));
    assert!(client.stdout.contains("the buffer is not full"));
    // The client has closed with a piece unread; the server outlives it.
    assert_exit(&server, 0);
}

fn trace_names_every_call_that_can_block() {
    let (server, client) = pair(NAME, &["--trace"], &["--trace"]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    for call in ["accept() waits for a client", "send(26 bytes) -> 26 bytes"] {
        assert!(server.stdout.contains(call), "{}", server.stdout);
    }
    for call in ["connect() waits for the handshake", "recv(7) -> 7 bytes"] {
        assert!(client.stdout.contains(call), "{}", client.stdout);
    }
    assert_transcript(NAME, "trace-server", &server.stdout);
    assert_transcript(NAME, "trace-client", &client.stdout);
}

fn a_peers_control_characters_are_escaped() {
    // Clear the screen, ring the bell, a new line: 6 bytes, in one recv(7).
    let (port, _) = peer_sending(b"\x1b[2J\x07\n".to_vec());
    let output = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&output, 0);
    assert!(output.stdout.contains("[client] \\x1b[2J\\x07\\n\n"));
    assert!(!output.stdout.contains(['\x1b', '\x07']), "{}", output.stdout);
    assert!(output.stdout.lines().all(|line| line.starts_with("[client]")));
}

fn usage_errors_exit_2() {
    for args in [
        &["client", "--buffer", "0"][..],
        &["client", "--chunk", "5"],
        &["server", "--buffer", "7"],
        &["client", "--deadline", "5"],
    ] {
        let output = run(lesson(NAME, args));
        assert_exit(&output, 2);
        assert!(output.stderr.starts_with("error: "), "{}", output.stderr);
    }
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert!(
        output
            .stdout
            .contains("[client] recv(7) returned 7 bytes: b'Socket '\n")
    );
    assert!(output.stdout.contains("[server] sending 28 bytes\n"));
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
    let (_, client) =
        against(lesson(NAME, &["server", "--port", "0"]), |port| {
            python_twin(NAME, &["client", "--port", port]).unwrap()
        });
    assert_exit(&client, 0);
    assert_transcript(NAME, "python-client", &client.stdout);
}

fn python_trace_and_hex_show_the_7_bytes() {
    let (_, client) =
        against(lesson(NAME, &["server", "--port", "0"]), |port| {
            let args = ["client", "--port", port, "--trace", "--hex"];
            python_twin(NAME, &args).unwrap()
        });
    assert_exit(&client, 0);
    for line in [
        "[client] trace: recv(7) -> 7 bytes",
        "[client] received 7 bytes:",
        "[client] 0000 53 6f 63 6b 65 74 20",
    ] {
        assert!(client.stdout.contains(line), "{}", client.stdout);
    }
}

fn python_usage_errors_exit_2() {
    for args in [
        &["client", "--buffer", "0"][..],
        &["client", "--chunk", "5"],
        &["server", "--buffer", "7"],
    ] {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}
