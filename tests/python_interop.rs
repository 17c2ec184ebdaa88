//! The Rust lessons and the Python programs in `lessons/python/` talk to each
//! other for real, and agree on every line they print.

mod support;

use support::{
    assert_transcript, client_options, lesson, python3, server_then_client,
    unfold,
};

/// The Rust server with the Python client: both print what the Rust pair
/// prints.
fn rust_server_python_client(name: &str) {
    let Some(mut client) = python3(&format!("lessons/python/{name}.py")) else {
        return;
    };
    let (server, client) = server_then_client(
        lesson(name, &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port]);
            client.args(client_options(name));
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
        let mut client = lesson(name, &["client", "--port", port]);
        client.args(client_options(name));
        client
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

#[test]
fn lesson_03_rust_server_python_client() {
    rust_server_python_client("lesson_03");
}

#[test]
fn lesson_03_python_server_rust_client() {
    python_server_rust_client("lesson_03");
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

/// Lesson 5's Rust client unpickles what Python's `pickle.dumps` writes with
/// every protocol, and prints each value exactly as Python's `repr` does.
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
        let (client, server) = (unfold(&client.stdout), unfold(&server.stdout));
        let printed_values: Vec<&str> = client
            .lines()
            .map(|line| line.trim_start_matches("[client] "))
            // The lines about the connection and the framing; the rest are
            // the values.
            .filter(|line| {
                !["connecting to", "connected from", "header b'", "recv("]
                    .iter()
                    .any(|story| line.starts_with(story))
            })
            .collect();
        let python_reprs: Vec<&str> = server
            .lines()
            .skip(1)
            .map(|line| line.trim_start_matches("[server] "))
            .collect();
        assert_eq!(printed_values, python_reprs, "protocol {protocol}");
    }
}
