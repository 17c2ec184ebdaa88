//! The Rust lessons and the Python programs in `lessons/python/` talk to each other for real,
//! and agree on every line they print.

mod support;

use support::{
    LESSON_03_SHORT_WAIT, assert_transcript, lesson,
    lesson_03_as_if_default_wait, python3, server_then_client,
};

/// The Rust server with the Python client: both print what the Rust pair prints.
fn rust_server_python_client(name: &str) {
    let Some(mut client) = python3(&format!("lessons/python/{name}.py")) else {
        return;
    };
    let (server, client) = server_then_client(
        lesson(name, &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port]);
            client
        },
    );
    assert_transcript(name, "server", &server.stdout);
    assert_transcript(name, "client", &client.stdout);
}

/// The Python server with the Rust client.
fn python_server_rust_client(name: &str) {
    let Some(mut server) = python3(&format!("lessons/python/{name}.py")) else {
        return;
    };
    server.args(["server", "--port", "0", "--once"]);
    let (server, client) = server_then_client(server, |port| {
        lesson(name, &["client", "--port", port])
    });
    assert_transcript(name, "python-server", &server.stdout);
    assert_transcript(name, "client-of-python-server", &client.stdout);
}

#[test]
fn lesson_01_rust_server_python_client() {
    rust_server_python_client("lesson_01");
}

#[test]
fn lesson_01_python_server_rust_client() {
    python_server_rust_client("lesson_01");
}

#[test]
fn lesson_02_rust_server_python_client() {
    rust_server_python_client("lesson_02");
}

#[test]
fn lesson_02_python_server_rust_client() {
    python_server_rust_client("lesson_02");
}

// Lesson 3's clients here wait 0.5 s, not their default 2 s (see
// tests/lessons.rs).
#[test]
fn lesson_03_rust_server_python_client() {
    let Some(mut client) = python3("lessons/python/lesson_03.py") else {
        return;
    };
    let (server, client) = server_then_client(
        lesson("lesson_03", &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port]);
            client.args(["--wait", LESSON_03_SHORT_WAIT]);
            client
        },
    );
    assert_transcript("lesson_03", "server", &server.stdout);
    let client = lesson_03_as_if_default_wait(&client.stdout);
    assert_transcript("lesson_03", "client", &client);
}

#[test]
fn lesson_03_python_server_rust_client() {
    let Some(mut server) = python3("lessons/python/lesson_03.py") else {
        return;
    };
    server.args(["server", "--port", "0", "--once"]);
    let (server, client) = server_then_client(server, |port| {
        let wait = LESSON_03_SHORT_WAIT;
        lesson("lesson_03", &["client", "--port", port, "--wait", wait])
    });
    assert_transcript("lesson_03", "python-server", &server.stdout);
    let client = lesson_03_as_if_default_wait(&client.stdout);
    assert_transcript("lesson_03", "client-of-python-server", &client);
}

#[test]
fn lesson_04_rust_server_python_client() {
    rust_server_python_client("lesson_04");
}

#[test]
fn lesson_04_python_server_rust_client() {
    python_server_rust_client("lesson_04");
}

#[test]
fn lesson_05_rust_server_python_client() {
    rust_server_python_client("lesson_05");
}

#[test]
fn lesson_05_python_server_rust_client() {
    python_server_rust_client("lesson_05");
}

/// Lesson 5's Rust client unpickles what Python's `pickle.dumps` writes with every protocol,
/// and prints each value exactly as Python's `repr` does.
#[test]
fn the_rust_client_reads_every_pickle_protocol() {
    for protocol in 0..=5 {
        let Some(mut server) = python3("tests/python/pickle_server.py") else {
            return;
        };
        server.arg(protocol.to_string());
        let (server, client) = server_then_client(server, |port| {
            lesson("lesson_05", &["client", "--port", port])
        });
        let printed_values: Vec<&str> = client
            .stdout
            .lines()
            .filter(|line| {
                !line.contains("connecting to") && !line.contains("header b'")
            })
            .filter(|line| !line.contains("closed the connection"))
            .map(|line| line.trim_start_matches("[client] "))
            .collect();
        let python_reprs: Vec<&str> = server
            .stdout
            .lines()
            .skip(1)
            .map(|line| line.trim_start_matches("[server] "))
            .collect();
        assert_eq!(printed_values, python_reprs, "protocol {protocol}");
    }
}
