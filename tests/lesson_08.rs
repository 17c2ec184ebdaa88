//! Lesson 8: many clients at once. Lesson 3's server makes a second client
//! wait; lesson 8's serves both, lets no idle client delay the others, and
//! refuses clients beyond its maximum.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::Command;

use support::{
    Output, Process, assert_exit, assert_transcript, lesson, mask_ports,
    python3, run, transcript_path, unfold,
};

const NAME: &str = "lesson_08";

/// The lesson in Rust, or its Python twin (None where python3 is missing).
fn program(python: bool, args: &[&str]) -> Option<Command> {
    if !python {
        return Some(lesson(NAME, args));
    }
    support::python_twin(NAME, args)
}

/// The label that groups a line: its side and, where there is one, the
/// client (`client 2:`) or connection (`connection 2`) it is about. Threads
/// print at once, so only the order within a group is fixed.
fn group(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').take(3).collect();
    match words.as_slice() {
        [side, "client" | "connection", number, ..] => {
            format!("{side} {}", number.trim_end_matches(':'))
        }
        [side, ..] => side.to_string(),
        [] => String::new(),
    }
}

/// The lines of `text`, by [`group`].
fn grouped(text: &str) -> BTreeMap<String, Vec<&str>> {
    let mut groups = BTreeMap::new();
    for line in text.lines() {
        groups.entry(group(line)).or_insert_with(Vec::new).push(line);
    }
    groups
}

/// Asserts that `output` has the transcript's lines, in the transcript's
/// order within each [`group`]; shows a diff where it does not.
fn assert_groups_transcript(name: &str, output: &str) {
    let expected = std::fs::read_to_string(transcript_path(NAME, name))
        .unwrap_or_default();
    let output = mask_ports(output);
    if grouped(&output) != grouped(&expected) {
        assert_transcript(NAME, name, &output);
    }
}

fn server(args: &[&str]) -> (Process, String) {
    let mut server =
        Process::spawn(lesson(NAME, &[&["server"], args].concat()));
    let port = server.listening_port().to_string();
    (server, port)
}

/// The server in Rust or in Python.
fn server_in(python: bool, args: &[&str]) -> Option<(Process, String)> {
    let command = program(python, &[&["server"], args].concat())?;
    let mut server = Process::spawn(command);
    let port = server.listening_port().to_string();
    Some((server, port))
}

/// A connection that reads its greeting and then does nothing: an idle
/// client, held open until the test drops it.
fn idle_client(port: &str) -> (TcpStream, String) {
    let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    let mut greeting = String::new();
    BufReader::new(&stream).read_line(&mut greeting).unwrap();
    (stream, greeting)
}

/// Reads lines until `times` of them contain `text`; returns those.
fn wait_for(process: &mut Process, text: &str, times: usize) -> Vec<String> {
    let mut found = Vec::new();
    while found.len() < times {
        let line = process.next_line();
        if line.contains(text) {
            found.push(line);
        }
    }
    found
}

fn demo(python: bool) {
    let Some(command) = program(python, &["--count", "3"]) else { return };
    let output = run(command);
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_groups_transcript("demo", &output.stdout);
}

#[test]
fn demo_serves_three_clients_at_once() {
    demo(false);
}

#[test]
fn python_demo_serves_three_clients_at_once() {
    demo(true);
}

/// The problem: lesson 3's server holds its first client, and the second
/// waits in the backlog until it gives up.
#[test]
fn lesson_03_makes_the_second_client_wait() {
    let server_args =
        ["server", "--port", "0", "--once", "--hold", "3", "--trace"];
    let mut server = Process::spawn(lesson("lesson_03", &server_args));
    let port = server.listening_port().to_string();
    let first_args = ["client", "--port", &port, "--wait", "10"];
    let mut first = Process::spawn(lesson("lesson_03", &first_args));
    wait_for(&mut first, "recv(7) returned", 1);
    // The server is now holding the first client for 3 s.
    let second_args = ["client", "--port", &port, "--wait", "1", "--trace"];
    let second = run(lesson("lesson_03", &second_args));
    let (first, server) = (first.finish(), server.finish());
    for output in [&first, &second, &server] {
        assert_exit(output, 0);
    }
    assert!(unfold(&second.stdout).contains("waits in its backlog"));
    assert_transcript(NAME, "lesson-03-first-client", &first.stdout);
    assert_transcript(NAME, "lesson-03-second-client", &second.stdout);
    assert_transcript(NAME, "lesson-03-server", &server.stdout);
}

/// The same two clients with lesson 8's server: the second is served while
/// the first is still connected.
fn serves_the_second_client_at_once(python: bool) {
    let Some((mut server, port)) = server_in(python, &["--port", "0"]) else {
        return;
    };
    let first_args = ["client", "--port", &port, "--stay", "30"];
    let Some(first) = program(python, &first_args) else { return };
    let mut first = Process::spawn(first);
    wait_for(&mut first, "the server says", 1);
    let second_args = ["client", "--port", &port, "--trace"];
    let Some(second) = program(python, &second_args) else { return };
    let second = run(second);
    assert_exit(&second, 0);
    wait_for(&mut server, "connection 2: the client hung up", 1);
    // Only now does the first client leave: it was connected throughout.
    let first = first.stop();
    wait_for(&mut server, "connection 1: the client hung up", 1);
    let server = server.stop();
    assert_transcript(NAME, "second-client", &second.stdout);
    assert_groups_transcript("server", &server.stdout);
    assert!(first.stdout.contains("you are connection 1"));
}

#[test]
fn lesson_08_serves_the_second_client_at_once() {
    serves_the_second_client_at_once(false);
}

#[test]
fn python_lesson_08_serves_the_second_client_at_once() {
    serves_the_second_client_at_once(true);
}

/// Idle clients do not delay the others: every other client is served and
/// gone before the idle ones are released.
#[test]
fn idle_clients_delay_no_one() {
    let (mut server, port) = server(&["--port", "0", "--max-clients", "10"]);
    let idle: Vec<_> = (0..3).map(|_| idle_client(&port)).collect();
    for (number, (_, greeting)) in (1..).zip(&idle) {
        assert!(greeting.starts_with(&format!("you are connection {number},")));
    }
    let args = ["client", "--port", &port, "--count", "5", "--wait", "5"];
    let clients = run(lesson(NAME, &args));
    assert_exit(&clients, 0);
    for number in 4..=8 {
        let line = format!("the server says: you are connection {number},");
        assert!(clients.stdout.contains(&line), "{}", clients.stdout);
    }
    let mut hung_up = wait_for(&mut server, "hung up", 5);
    drop(idle);
    hung_up.extend(wait_for(&mut server, "hung up", 3));
    let numbers: Vec<u32> = hung_up
        .iter()
        .filter_map(|line| {
            line.split(' ').nth(2)?.trim_end_matches(':').parse().ok()
        })
        .collect();
    let (served, idle_ones) = numbers.split_at(5);
    assert!(served.iter().all(|n| (4..=8).contains(n)), "{numbers:?}");
    assert!(idle_ones.iter().all(|n| (1..=3).contains(n)), "{numbers:?}");
}

/// Beyond --max-clients, a client is told and closed; a freed place is
/// given to the next.
fn full_server_says_so_and_recovers(python: bool) {
    let server_args = ["--port", "0", "--max-clients", "2"];
    let Some((mut server, port)) = server_in(python, &server_args) else {
        return;
    };
    let idle: Vec<_> = (0..2).map(|_| idle_client(&port)).collect();
    let Some(client) = program(python, &["client", "--port", &port]) else {
        return;
    };
    let refused = run(client);
    assert_exit(&refused, 0);
    assert_transcript(NAME, "full-client", &refused.stdout);
    drop(idle);
    wait_for(&mut server, "hung up", 2);
    let Some(client) = program(python, &["client", "--port", &port]) else {
        return;
    };
    let served = run(client);
    assert!(served.stdout.contains("you are connection 4,"));
    wait_for(&mut server, "connection 4: the client hung up", 1);
    let server = server.stop();
    assert_groups_transcript("full-server", &server.stdout);
}

#[test]
fn a_full_server_says_so_and_recovers() {
    full_server_says_so_and_recovers(false);
}

#[test]
fn a_full_python_server_says_so_and_recovers() {
    full_server_says_so_and_recovers(true);
}

fn served_three(output: &Output) {
    assert_exit(output, 0);
    for number in 1..=3 {
        let line = format!(
            "client {number}: the server says: you are connection {number},"
        );
        assert!(output.stdout.contains(&line), "{}", output.stdout);
    }
}

#[test]
fn rust_clients_and_python_server() {
    let Some(mut python) = python3("lessons/python/lesson_08.py") else {
        return;
    };
    python.args(["server", "--port", "0"]);
    let mut server = Process::spawn(python);
    let port = server.listening_port().to_string();
    let args = ["client", "--port", &port, "--count", "3"];
    served_three(&run(lesson(NAME, &args)));
    wait_for(&mut server, "the client hung up", 3);
}

#[test]
fn python_clients_and_rust_server() {
    let Some(mut python) = python3("lessons/python/lesson_08.py") else {
        return;
    };
    let (server, port) = server(&["--port", "0"]);
    python.args(["client", "--port", &port, "--count", "3"]);
    served_three(&run(python));
    drop(server);
}
