//! Every lesson, run for real: the demo, and a server and a client in separate
//! processes. What each prints must be the transcript the book shows, ports
//! aside.

mod support;

use support::{
    LESSONS, assert_demo, assert_exit, assert_transcript, client_options,
    lesson, run, server_then_client,
};

/// A teacher's two terminals: `-- server` in one, `-- client` in the other.
fn server_and_client(name: &str) {
    let (server, client) = server_then_client(
        lesson(name, &["server", "--port", "0", "--once"]),
        |port| {
            let mut client = lesson(name, &["client", "--port", port]);
            client.args(client_options(name));
            client
        },
    );
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert_transcript(name, "server", &server.stdout);
    assert_transcript(name, "client", &client.stdout);
}

#[test]
fn lesson_01_demo() {
    assert_demo("lesson_01");
}

#[test]
fn lesson_01_server_and_client() {
    server_and_client("lesson_01");
}

#[test]
fn lesson_02_demo() {
    assert_demo("lesson_02");
}

#[test]
fn lesson_02_server_and_client() {
    server_and_client("lesson_02");
}

#[test]
fn lesson_03_demo() {
    assert_demo("lesson_03");
}

#[test]
fn lesson_03_server_and_client() {
    server_and_client("lesson_03");
}

#[test]
fn lesson_04_demo() {
    assert_demo("lesson_04");
}

#[test]
fn lesson_04_server_and_client() {
    server_and_client("lesson_04");
}

#[test]
fn lesson_05_demo() {
    assert_demo("lesson_05");
}

#[test]
fn lesson_05_server_and_client() {
    server_and_client("lesson_05");
}

#[test]
fn every_lesson_explains_its_command_line() {
    for name in LESSONS {
        let output = run(lesson(name, &["--help"]));
        assert_exit(&output, 0);
        assert!(
            output
                .stdout
                .contains(&format!("cargo run --example {name} -- server")),
            "{}",
            output.stdout
        );
        assert_transcript(name, "help", &output.stdout);
    }
}
