//! Lesson 8, many clients at once: lesson 3's server makes a second client
//! wait; lesson 8's serves both, lets no idle client delay the others,
//! refuses clients beyond its maximum, pauses after a failed accept, and
//! its clients say in words what a server that stopped listening did to
//! them; the Python twin in every pairing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;

use crate::support::{
    Output, Process, assert_demo, assert_exit, assert_transcript, lesson,
    listen_backlog, mask_ports, python_twin, run, story, transcript_path,
    with_closed,
};

const NAME: &str = "lesson_08";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        three_clients_at_once,
        help_lists_each_sides_options,
        lesson_03_makes_the_second_client_wait,
        lesson_08_serves_the_second_client_at_once,
        idle_clients_delay_no_one,
        a_full_server_says_so_and_recovers,
        clients_a_stopped_server_never_accepted_are_told_so,
        a_failing_accept_is_retried_after_a_pause_not_in_a_busy_loop,
        usage_errors_exit_2,
        a_thread_that_cannot_start_is_said_in_words,
        the_server_takes_a_backlog_for_many,
        a_stopped_client_goes_on_waiting,
    ];
    tests.extend(python_tests![
        python_demo,
        python_lesson_08_serves_the_second_client_at_once,
        a_full_python_server_says_so_and_recovers,
        rust_clients_and_python_server,
        python_clients_and_rust_server,
        python_clients_a_stopped_server_never_accepted_are_told_so,
        the_python_server_pauses_after_a_failing_accept,
        python_usage_errors_exit_2,
        a_python_thread_that_cannot_start_is_said_in_the_same_words,
        the_python_server_takes_a_backlog_for_many,
        the_python_lesson_with_stdout_closed_exits_1,
    ]);
    tests
}

/// The lesson in Rust, or its Python twin.
fn program(python: bool, args: &[&str]) -> Command {
    match python {
        true => python_twin(NAME, args).unwrap(),
        false => lesson(NAME, args),
    }
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

/// A server in Rust or in Python, with `args`, and its port.
fn server_in(python: bool, args: &[&str]) -> (Process, String) {
    let mut server =
        Process::spawn(program(python, &[&["server"], args].concat()));
    let port = server.listening_port().to_string();
    (server, port)
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

fn demo() {
    assert_demo(NAME);
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

/// `client --count 3`: three clients in one process, served side by side.
fn three_clients_at_once() {
    let (mut server, port) = server_in(false, &["--port", "0"]);
    let clients =
        run(lesson(NAME, &["client", "--port", &port, "--count", "3"]));
    served_three(&clients);
    wait_for(&mut server, "the client hung up", 3);
    let server = server.stop();
    assert_groups_transcript("three-clients", &clients.stdout);
    assert_groups_transcript("three-clients-server", &server.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

/// The problem: lesson 3's server holds its first client, and the second
/// waits in the backlog until it gives up.
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
    let busy = "is the server busy with another client?";
    assert!(second.stdout.contains(busy), "{}", second.stdout);
    assert_transcript(NAME, "lesson-03-first-client", &first.stdout);
    assert_transcript(NAME, "lesson-03-second-client", &second.stdout);
    assert_transcript(NAME, "lesson-03-server", &server.stdout);
}

/// The same two clients with lesson 8's server: the second is served while
/// the first is still connected.
fn serves_the_second_client_at_once(python: bool) {
    let (mut server, port) = server_in(python, &["--port", "0"]);
    let first_args = ["client", "--port", &port, "--stay", "30"];
    let mut first = Process::spawn(program(python, &first_args));
    wait_for(&mut first, "the server says", 1);
    let second_args = ["client", "--port", &port, "--trace"];
    let second = run(program(python, &second_args));
    assert_exit(&second, 0);
    wait_for(&mut server, "connection 2: the client hung up", 1);
    // Only now does the first client leave: it was connected throughout.
    let first = first.stop();
    wait_for(&mut server, "connection 1: the client hung up", 1);
    let server = server.stop();
    assert!(first.stdout.contains("you are connection 1"));
    if !python {
        assert_transcript(NAME, "second-client", &second.stdout);
        assert_groups_transcript("server", &server.stdout);
    }
}

fn lesson_08_serves_the_second_client_at_once() {
    serves_the_second_client_at_once(false);
}

fn python_lesson_08_serves_the_second_client_at_once() {
    serves_the_second_client_at_once(true);
}

/// Idle clients do not delay the others: every other client is served and
/// gone before the idle ones are released.
fn idle_clients_delay_no_one() {
    let (mut server, port) =
        server_in(false, &["--port", "0", "--max-clients", "10"]);
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
    let (mut server, port) = server_in(python, &server_args);
    let idle: Vec<_> = (0..2).map(|_| idle_client(&port)).collect();
    let refused = run(program(python, &["client", "--port", &port]));
    assert_exit(&refused, 0);
    assert!(refused.stdout.contains(
        "the server says: the server is full (2 clients); try again later\n"
    ));
    drop(idle);
    wait_for(&mut server, "hung up", 2);
    let served = run(program(python, &["client", "--port", &port]));
    assert!(served.stdout.contains("you are connection 4,"));
    wait_for(&mut server, "connection 4: the client hung up", 1);
    let server = server.stop();
    assert!(server.stdout.contains("connection 3 from 127.0.0.1:"));
    assert!(
        server
            .stdout
            .contains(": refused, 2 clients already (--max-clients)\n")
    );
    if !python {
        assert_transcript(NAME, "full-client", &refused.stdout);
        assert_groups_transcript("full-server", &server.stdout);
    }
}

fn a_full_server_says_so_and_recovers() {
    full_server_says_so_and_recovers(false);
}

fn a_full_python_server_says_so_and_recovers() {
    full_server_says_so_and_recovers(true);
}

fn rust_clients_and_python_server() {
    let (mut server, port) = server_in(true, &["--port", "0"]);
    let args = ["client", "--port", &port, "--count", "3"];
    served_three(&run(lesson(NAME, &args)));
    wait_for(&mut server, "the client hung up", 3);
}

fn python_clients_and_rust_server() {
    let (mut server, port) = server_in(false, &["--port", "0"]);
    let args = ["client", "--port", &port, "--count", "3"];
    served_three(&run(python_twin(NAME, &args).unwrap()));
    wait_for(&mut server, "the client hung up", 3);
}

/// Issue 22, item 27: `server --once` accepts one client; the other two
/// wait in its backlog, and are reset when it stops listening. They say
/// so in words, not `Connection reset by peer (os error 104)`.
fn stopped_server_resets_the_clients_it_never_accepted(python: bool) {
    let (server, port) = server_in(false, &["--port", "0", "--once"]);
    let args = ["client", "--port", &port, "--count", "3"];
    let clients = run(program(python, &args));
    assert_exit(&server.finish(), 0);
    assert_exit(&clients, 1);
    assert!(clients.stdout.contains("client 1: the server says: you are"));
    for number in [2, 3] {
        let line = format!(
            "error: client {number}: never accepted: reset when the server \
             stopped listening\n"
        );
        assert!(clients.stderr.contains(&line), "{}", story(&clients));
    }
    assert!(clients.stderr.ends_with("error: 2 of the 3 clients failed\n"));
    assert!(!clients.stderr.contains("os error"), "{}", clients.stderr);
    if !python {
        assert_groups_transcript("once-three-clients", &story(&clients));
    }
}

fn clients_a_stopped_server_never_accepted_are_told_so() {
    stopped_server_resets_the_clients_it_never_accepted(false);
}

fn python_clients_a_stopped_server_never_accepted_are_told_so() {
    stopped_server_resets_the_clients_it_never_accepted(true);
}

/// A server run with at most `files` file descriptors (`ulimit -n`), held
/// connections making every accept fail with EMFILE: each failure is
/// followed by a pause before the next accept (the --trace lines show the
/// order, whatever the machine's load), and over the whole run the errors
/// are at most one per pause, where a busy loop prints thousands a second.
/// Its stderr goes to its stdout (`2>&1`), so the lines come in the order
/// printed; the Rust run's first failure is the chapter's transcript.
fn pauses_after_a_failing_accept(python: bool, files: u32) {
    let program = program(python, &["server", "--port", "0", "--trace"]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("exec 2>&1 && ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(program.get_program())
        .args(program.get_args());
    let started = Instant::now();
    let mut server = Process::spawn(command);
    let port = server.listening_port();
    // More than the descriptors left; those not accepted wait in the
    // backlog, and the accept for each fails.
    let _held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let mut lines = Vec::new();
    // Until the third pause has begun: its error line is written by then.
    let pauses = |lines: &[String]| {
        let begun =
            |line: &&String| line.contains("sleep(") && line.contains("waits");
        lines.iter().filter(begun).count()
    };
    while pauses(&lines) < 3 {
        lines.push(server.next_line());
    }
    let output = server.stop();
    let elapsed = started.elapsed();
    // After the first failure: its error, the pause, then the next accept
    // (Python's threads may print about connections accepted in between).
    let about_accept = |line: &&String| {
        ["accept()", "sleep(", "error: accept:"]
            .iter()
            .any(|text| line.contains(text))
    };
    let calls: Vec<&String> = lines.iter().filter(about_accept).collect();
    let at = |from: usize, text: &str| {
        calls[from..].iter().position(|line| line.contains(text))
    };
    let first = at(0, "accept() -> error").expect("a failing accept");
    let end = first + at(first, "accept() waits").expect("accept again");
    let cycle: Vec<&str> =
        calls[first - 1..=end].iter().map(|line| line.as_str()).collect();
    let expected = ["accept() waits", "accept() -> error", "error: accept:"];
    let expected = expected.iter().chain(&["sleep(", "-> done"]);
    for (line, text) in cycle.iter().zip(expected) {
        assert!(line.contains(text), "{text:?} expected: {cycle:#?}");
    }
    assert_eq!(cycle.len(), 6, "{cycle:#?}");
    if !python {
        // Nothing else was printed in between: these are the real lines.
        let start = lines.iter().position(|line| line == cycle[0]).unwrap();
        assert_eq!(lines[start..start + cycle.len()], cycle[..]);
        assert_transcript(NAME, "emfile", &(cycle.join("\n") + "\n"));
    }
    let failures = output.stdout.matches("error: accept: ").count();
    let pause = Duration::from_millis(500);
    let most = (elapsed.as_secs_f64() / pause.as_secs_f64()) as usize + 1;
    assert!(
        (3..=most).contains(&failures),
        "{failures} failed accepts in {elapsed:?}:\n{}",
        &output.stdout[..output.stdout.len().min(2000)]
    );
    let said = "error: accept: out of file descriptors (EMFILE); trying \
                again in 0.5 s\n";
    assert!(output.stdout.contains(said), "{}", output.stdout);
}

fn a_failing_accept_is_retried_after_a_pause_not_in_a_busy_loop() {
    // stdin, stdout, stderr and the listening socket: no room for another.
    pauses_after_a_failing_accept(false, 4);
}

fn the_python_server_pauses_after_a_failing_accept() {
    // Python needs a few more to start; then only one or two connections
    // are accepted.
    pauses_after_a_failing_accept(true, 7);
}

fn usage_errors_exit_2() {
    for args in [
        &["server", "--max-clients", "0"][..],
        &["server", "--count", "2"],
        &["client", "--count", "101"],
        &["client", "--hold", "5"],
        &["client", "--stay", "-1"],
    ] {
        assert_exit(&run(lesson(NAME, args)), 2);
    }
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert!(output.stdout.contains("[client] the server says: you are"));
    assert!(
        output.stdout.contains("[server] connection 1: the client hung up")
    );
}

/// The byte-for-byte comparison of the two helps went with issue 19; the
/// same options are still offered on each side.
fn python_usage_errors_exit_2() {
    for args in
        [&["server", "--max-clients", "0"][..], &["client", "--count", "101"]]
    {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

/// A server whose address space is limited (`prlimit --as`) to what it
/// uses when it listens, plus a MiB: a thread's stack (2 MiB in Rust, 8 in
/// Python) finds no room, the system refuses the thread (EAGAIN), and each
/// language says so in the same words; the server goes on.
fn thread_cannot_start(python: bool) {
    let (mut server, port) = server_in(python, &["--port", "0"]);
    let pid = server.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
    let status = status.unwrap();
    let size = status.lines().find_map(|line| line.strip_prefix("VmSize:"));
    let kib: u64 =
        size.unwrap().trim().trim_end_matches(" kB").parse().unwrap();
    let limit = (kib + 1024) * 1024;
    let limited = Command::new("prlimit")
        .args([format!("--pid={pid}"), format!("--as={limit}")])
        .status();
    assert!(limited.expect("prlimit (util-linux) runs").success());
    for _ in 0..2 {
        run(lesson(NAME, &["client", "--port", &port, "--stay", "0"]));
    }
    // Printed after the first client's error line.
    wait_for(&mut server, "connection 2 from", 1);
    let server = server.stop();
    let said = "error: connection 1: no thread could be started for it (out \
                of memory or of threads): closed\n";
    assert!(server.stderr.contains(said), "{}", story(&server));
}

fn a_thread_that_cannot_start_is_said_in_words() {
    thread_cannot_start(false);
}

fn a_python_thread_that_cannot_start_is_said_in_the_same_words() {
    thread_cannot_start(true);
}

/// listen(128), not listen(5).
fn backlog(python: bool) {
    let (server, port) = server_in(python, &["--port", "0"]);
    assert_eq!(listen_backlog(&port), 128);
    drop(server.stop());
}

fn the_server_takes_a_backlog_for_many() {
    backlog(false);
}

fn the_python_server_takes_a_backlog_for_many() {
    backlog(true);
}

/// Started with stdout closed (`>&-`): exit 1, nothing of Python's insides.
fn the_python_lesson_with_stdout_closed_exits_1() {
    let output = run(with_closed(">&-", &program(true, &[])));
    assert_exit(&output, 1);
    assert_eq!(output.stderr, "", "{}", story(&output));
}

/// Stopped (Ctrl-Z) and continued while it waits: no EINTR error.
fn a_stopped_client_goes_on_waiting() {
    crate::support::assert_a_stopped_client_goes_on(&|port| {
        lesson(NAME, &["client", "--port", port, "--wait", "1", "--count", "1"])
    });
}
