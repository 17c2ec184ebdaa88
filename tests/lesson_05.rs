//! Lesson 5, pickled objects behind a length header: the demo and a
//! teacher's two terminals, every pairing with the Python twin, values
//! Python writes at every protocol printed as Python's repr prints them,
//! broken streams and hostile pickles refused in one line, and a server
//! that serves hundreds of clients; and what the pickle chapter shows
//! (book/src/transcripts/pickle/).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use libtest_mimic::Trial;
use socket_lessons::framing::{Piece, Reassembler};

use crate::support::{
    Output, Process, assert_demo, assert_exit, assert_transcript, framed,
    lesson, pair, peer_sending, python_twin, python3, run, server_then_client,
    story,
};

const NAME: &str = "lesson_05";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        help_lists_each_sides_options,
        hex_shows_the_headers_and_pickles_as_sent,
        the_values_do_not_depend_on_the_clients_buffer,
        a_header_that_is_not_a_length_is_shown,
        a_length_above_the_maximum_is_refused,
        a_close_inside_a_header_or_message_says_how_much_came,
        a_body_that_is_not_a_pickle_is_refused,
        hostile_pickles_end_in_one_line_never_a_panic,
        one_server_serves_500_clients_in_turn_and_100_five_at_a_time,
        usage_errors_exit_2,
    ];
    tests.extend(python_tests![
        python_demo,
        python_server_rust_client,
        rust_server_python_client,
        the_python_client_prints_pythons_repr_at_every_protocol,
        the_rust_client_reads_every_pickle_protocol,
        a_pickle_that_would_run_code_is_refused_and_nothing_runs,
        the_python_reader_refuses_hostile_pickles_without_a_traceback,
        the_python_client_refuses_in_one_line,
        python_usage_errors_exit_2,
        classes_are_refused_by_the_name_of_their_global_in_each_form,
        what_each_client_says_of_pickles_past_a_bound,
        a_memo_bomb_is_read_shared_and_printed_cut,
        a_value_inside_itself_prints_as_python_prints_it,
        where_the_clients_print_the_same_pickle_differently,
        pickletools_lists_the_rust_servers_set,
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
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

fn hex_shows_the_headers_and_pickles_as_sent() {
    let (server, client) = pair(NAME, &["--hex"], &[]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    assert!(
        server.stdout.contains("0000 33 38 20 20 20 20 20 20 20 20 80 03"),
        "{}",
        server.stdout
    );
    assert_transcript(NAME, "hex-server", &server.stdout);
}

fn the_values_do_not_depend_on_the_clients_buffer() {
    // The lines but the last, which names the buffer's size.
    let values = |buffer: &str| {
        let (_, client) = pair(NAME, &[], &["--buffer", buffer]);
        assert_exit(&client, 0);
        let lines: Vec<&str> = client.stdout.lines().skip(2).collect();
        assert!(lines.last().unwrap().starts_with("[client] recv("));
        lines[..lines.len() - 1].join("\n")
    };
    let tiny = values("1");
    assert!(tiny.contains("[client] {1: 'Client', 2: 'Server'}"), "{tiny}");
    assert_eq!(tiny, values("4096"));
    assert_eq!(tiny, values("10"));
}

/// Lesson 5's client (Rust, or Python where `python` is true) against a
/// peer that sends `bytes`; `None` where python3 is missing.
fn client_given(bytes: &[u8], python: bool) -> Option<Output> {
    let (port, _) = peer_sending(bytes.to_vec());
    let args = ["client", "--port", &port.to_string()];
    let command =
        if python { python_twin(NAME, &args)? } else { lesson(NAME, &args) };
    Some(run(command))
}

/// Both clients, given `bytes`, end with exit 1 and one line on stderr
/// that says `message`, and no panic or traceback.
fn assert_both_refuse(bytes: &[u8], message: &str) {
    for python in [false, true] {
        let Some(output) = client_given(bytes, python) else { continue };
        assert_refused(&output, message);
    }
}

fn assert_refused(output: &Output, message: &str) {
    assert_exit(output, 1);
    assert!(output.stderr.contains(message), "{}", story(output));
    assert_eq!(output.stderr.lines().count(), 1, "{}", story(output));
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert!(!output.stderr.contains("Traceback"), "{}", output.stderr);
}

fn a_header_that_is_not_a_length_is_shown() {
    assert_both_refuse(b"4x        abcd", "the header b'4x        ' is not");
    assert_both_refuse(b"-5        ", "the header b'-5        ' is not");
}

fn a_length_above_the_maximum_is_refused() {
    let refusal = "announces a message of 99999999 bytes, more than the \
                   16777216";
    let output = client_given(b"99999999  ", false).unwrap();
    assert_refused(&output, refusal);
    if let Some(output) = client_given(b"99999999  ", true) {
        assert_refused(&output, "99999999 bytes, more than the 16777216");
    }
}

fn a_close_inside_a_header_or_message_says_how_much_came() {
    assert_both_refuse(b"12  ", "closed after 4 of the 10 bytes of a header");
    assert_both_refuse(
        b"12        abc",
        "closed after 3 of the 12 bytes of a message",
    );
    assert_both_refuse(b"", "the connection closed before the first message");
}

fn a_body_that_is_not_a_pickle_is_refused() {
    assert_both_refuse(
        &framed(b"\x80\x03garbage"),
        "refused to unpickle the message: ",
    );
}

const DEEP: usize = 50_000;

/// Hostile pickles of every kind the old readers refused: deep nesting,
/// memo, DUP and MARK bombs, huge ints, objects of classes, globals,
/// self-references, malformed and truncated pickles, and floods.
fn hostile() -> Vec<Vec<u8>> {
    let memo_copies = |levels: usize| {
        let level = [&b"("[..], &b"h\x00".repeat(10), b"lq\x00"].concat();
        [&b"K\x01q\x00"[..], &level.repeat(levels), b"."].concat()
    };
    let int_bytes = |length: usize| {
        let count = (length as u32).to_le_bytes();
        [&b"\x8b"[..], &count, &vec![0x7f; length], b"."].concat()
    };
    let string = [&b"X\x00\x00\x30\x00"[..], &[b'a'; 3 << 20], b"q\x00"];
    let digits = "9".repeat(4301);
    vec![
        [&b"]".repeat(DEEP), &b"a".repeat(DEEP - 1), &b"."[..]].concat(),
        [&b"N"[..], &b"\x85".repeat(DEEP), b"."].concat(),
        [&b"\x80\x02K\x01"[..], &b"\x85".repeat(100_000), b"."].concat(),
        [&b"}K\x01".repeat(DEEP), &b"N"[..], &b"s".repeat(DEEP), b"."].concat(),
        [&b"(".repeat(200), &b"\x91".repeat(200), &b"."[..]].concat(),
        [&b"(".repeat(DEEP), &b"l".repeat(DEEP), &b"."[..]].concat(),
        [&b"]".repeat(101), &b"a".repeat(100), &b"."[..]].concat(),
        memo_copies(6),
        memo_copies(30),
        [&b"N"[..], &b"22\x87".repeat(40), b"."].concat(),
        [&string.concat(), &b"h\x00\x86."[..]].concat(),
        [&b"N"[..], &b"2".repeat(300_000), b"."].concat(),
        [&b"Nq\x00"[..], &b"h\x00".repeat(300_000), b"."].concat(),
        [&b"(".repeat(1_000_000), &b"N."[..]].concat(),
        int_bytes(1786),
        int_bytes(1_000_000),
        format!("I{digits}\n.").into_bytes(),
        format!("L{digits}L\n.").into_bytes(),
        b"I\x1b[31mRED\n.".to_vec(),
        [&b"F"[..], &[b'x'; 1_000_000], b"\n."].concat(),
        b"cbuiltins\nset\n)\x81.".to_vec(),
        b"cbuiltins\nset\n)}\x92.".to_vec(),
        b"(i__main__\nPoint\n.".to_vec(),
        b"cos\nsystem\n(Vtouch /nonexistent/pwned\ntR.".to_vec(),
        b"\x80\x04\x8c\x02os\x8c\x06system\x93.".to_vec(),
        b"cbuiltins\nset\nNR.".to_vec(),
        b"cbuiltins\nbytearray\nK\x01\x85R.".to_vec(),
        b"c_codecs\nencode\nV\xe9\nVutf8\n\x86R.".to_vec(),
        b"\x80\x05\x8f(\x96\x01\x00\x00\x00\x00\x00\x00\x00a\x90.".to_vec(),
        b"\x96\xff\xff\xff\xff\x01\x00\x00\x00ab.".to_vec(),
        b"Nr\x00\x00\x00\x08.".to_vec(),
        b"Np2000000000\n.".to_vec(),
        b"]q\x00h\x00a.".to_vec(),
        b"P1\n.".to_vec(),
        b"\x82\x01.".to_vec(),
        b"\x97.".to_vec(),
        b"\x80\x04\xff.".to_vec(),
        b"\x80\x04NNNN\x95\x00\x00\x00\xff.".to_vec(),
        b"".to_vec(),
        b"\x80".to_vec(),
        b"X\xff\x00\x00\x00ab".to_vec(),
        b"h\x05.".to_vec(),
        b"\x80\x03garbage".to_vec(),
    ]
}

/// What Rust's lesson 5 client does with each hostile pickle: either it
/// prints a bounded value and exits 0, or it refuses in one line and
/// exits 1; never a panic. Those that name a global, build an object or
/// nest too deep are always refused.
fn hostile_pickles_end_in_one_line_never_a_panic() {
    for pickle in hostile() {
        let output = client_given(&framed(&pickle), false).unwrap();
        let shown = String::from_utf8_lossy(&pickle[..pickle.len().min(40)])
            .into_owned();
        let code = output.status.code();
        assert!(matches!(code, Some(0 | 1)), "{shown:?}: {}", story(&output));
        assert!(!output.stderr.contains("panicked"), "{shown:?}");
        assert!(output.stderr.lines().count() <= 1, "{}", story(&output));
        assert!(output.stdout.len() < 2000, "{shown:?}: {}", output.stdout);
        let always = [&b"cos"[..], b"(i__main__", b"\x80\x04\x8c\x02os"];
        if always.iter().any(|start| pickle.starts_with(start))
            || pickle.starts_with(&b"]".repeat(101))
        {
            assert_refused(&output, "refused to unpickle the message: ");
        }
    }
}

fn one_server_serves_500_clients_in_turn_and_100_five_at_a_time() {
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = server.listening_port();
    let first = receive_all(port).expect("the first client is served");
    let mut reader = Reassembler::new();
    reader.feed(&first);
    let mut messages = 0;
    while let Some(piece) = reader.next_piece().unwrap() {
        messages += usize::from(matches!(piece, Piece::Message(_)));
    }
    assert_eq!((messages, reader.finish()), (4, Ok(4)));
    // Every client gets the same bytes, whole.
    for _ in 0..499 {
        assert_eq!(receive_all(port).as_ref(), Some(&first));
    }
    // Then 100 more from 5 threads at once: at most 5 connecting or
    // connected, the server's listen(5) backlog, so no handshake is
    // dropped and no client has to wait to try again.
    let clients: Vec<_> = (0..5)
        .map(|_| {
            let first = first.clone();
            thread::spawn(move || {
                for _ in 0..20 {
                    assert_eq!(receive_all(port).as_ref(), Some(&first));
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let server = server.stop();
    assert_eq!(server.stdout.matches("Connection to").count(), 600);
    assert_eq!(server.stderr, "", "no client should have failed");
}

/// One client of lesson 5's server, in the test: all it sends.
fn receive_all(port: u16) -> Option<Vec<u8>> {
    let patience = Duration::from_secs(10);
    let address = ([127, 0, 0, 1], port).into();
    let mut stream = TcpStream::connect_timeout(&address, patience).ok()?;
    stream.set_read_timeout(Some(patience)).unwrap();
    // It sends nothing, and says so: the server may close at once.
    stream.shutdown(Shutdown::Write).unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).ok()?;
    Some(received)
}

fn usage_errors_exit_2() {
    for args in [
        &["client", "--buffer", "0"][..],
        &["client", "--chunk", "5"],
        &["server", "--buffer", "5"],
        &["server", "--pause", "1"],
    ] {
        let output = run(lesson(NAME, args));
        assert_exit(&output, 2);
    }
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert!(output.stdout.contains("[client] ('Python', 3, 3.5, True)\n"));
    assert!(output.stdout.contains("after 4 messages\n"), "{}", output.stdout);
}

fn python_server_rust_client() {
    let (server, client) = server_then_client(
        python_twin(NAME, &["server", "--port", "0", "--once"]).unwrap(),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_transcript(NAME, "python-server", &server.stdout);
    assert_transcript(NAME, "client-of-python-server", &client.stdout);
}

fn rust_server_python_client() {
    let (_, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| python_twin(NAME, &["client", "--port", port]).unwrap(),
    );
    assert_transcript(NAME, "python-client", &client.stdout);
    // The same values as the Rust client prints.
    let rust = std::fs::read_to_string(crate::support::transcript_path(
        NAME, "client",
    ))
    .unwrap();
    let values = |text: &str| -> Vec<String> {
        text.lines().skip(2).map(String::from).collect()
    };
    assert_eq!(values(&client.stdout), values(&rust));
}

/// The values a client of tests/python/pickle_server.py printed, and the
/// reprs the server printed for them.
fn printed_and_sent(
    client: impl FnOnce(&str) -> std::process::Command,
    protocol: u8,
    in_order: bool,
) -> (Vec<String>, Vec<String>) {
    let mut server = python3("tests/python/pickle_server.py").unwrap();
    server.arg(protocol.to_string());
    if in_order {
        server.arg("in-order");
    }
    let (server, client) = server_then_client(server, client);
    let story = ["connecting to", "connected from", "header b'", "recv("];
    let printed = client
        .stdout
        .lines()
        .map(|line| line.trim_start_matches("[client] "))
        .filter(|line| !story.iter().any(|words| line.starts_with(words)))
        .map(String::from)
        .collect();
    let sent = server
        .stdout
        .lines()
        .skip(1)
        .map(|line| line.trim_start_matches("[server] ").to_string())
        .collect();
    (printed, sent)
}

/// The tutorial's values and plain values built in Python (dicts in
/// insertion order, nested containers, bytes, bytearray, big ints, 1e300,
/// -0.0, nan), at every protocol: the Python client prints `repr(value)`.
fn the_python_client_prints_pythons_repr_at_every_protocol() {
    for protocol in 0..=5 {
        let (printed, sent) = printed_and_sent(
            |port| python_twin(NAME, &["client", "--port", port]).unwrap(),
            protocol,
            true,
        );
        assert!(sent.contains(&"{'b': 1, 'a': 2}".to_string()));
        assert_eq!(printed, sent, "protocol {protocol}");
    }
}

/// The Rust client reads what Python writes at every protocol, and prints
/// each value as Python's repr does. (Dicts in insertion order wait for
/// `socket_lessons::pickle`.)
fn the_rust_client_reads_every_pickle_protocol() {
    // Dicts in the order they were sent, as Python prints them.
    for protocol in 0..=5 {
        let (printed, sent) = printed_and_sent(
            |port| lesson(NAME, &["client", "--port", port]),
            protocol,
            true,
        );
        assert_eq!(printed, sent, "protocol {protocol}");
    }
}

fn marker(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("socket-lessons-05-{}-{name}", std::process::id()))
}

/// The classic hostile pickle: "call os.system with this command", in
/// protocol 0.
fn calls_os_system(marker: &std::path::Path) -> Vec<u8> {
    let command = format!(
        "echo os.system ran this, called by pickle.loads; touch {}",
        marker.display()
    );
    format!("cos\nsystem\n(V{command}\ntR.").into_bytes()
}

fn a_pickle_that_would_run_code_is_refused_and_nothing_runs() {
    for (python, name) in [(false, "rust-client"), (true, "python-client")] {
        let marker = marker(name);
        let output = client_given(&framed(&calls_os_system(&marker)), python);
        let output = output.unwrap();
        assert_refused(&output, "names the global os.system");
        assert!(!marker.exists(), "the {name} ran the pickle's command");
        if !python {
            let stderr = output.stderr.replace(&*marker.to_string_lossy(), "…");
            assert_transcript("errors", "hostile-pickle-rust-client", &stderr);
        }
    }
    // The same bytes in Python's own pickle.loads do run the command: the
    // checks above are not vacuous.
    let marker = marker("python-loads");
    let mut python = python3("tests/python/repr_of_pickles.py").unwrap();
    let mut child =
        python.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let hex: String = calls_os_system(&marker)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    child.stdin.take().unwrap().write_all(hex.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(marker.exists(), "Python's pickle.loads should run the command");
    std::fs::remove_file(&marker).unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_transcript("errors", "hostile-pickle-python-loads", &printed);
}

/// Every hostile pickle, read as the Python client reads a message, in one
/// Python process: each is printed within bounds or refused, never a
/// traceback; those that name a global, build an object, nest too deep,
/// hold an int too long to print or open too many MARKs are refused.
fn the_python_reader_refuses_hostile_pickles_without_a_traceback() {
    let pickles = hostile();
    let mut python = python3("tests/python/read_pickles.py").unwrap();
    let mut child =
        python.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let hex: Vec<String> = pickles
        .iter()
        .map(|pickle| pickle.iter().map(|byte| format!("{byte:02x}")).collect())
        .collect();
    // From a thread: the pipe would fill while Python's output is unread.
    let writer = thread::spawn(move || {
        for line in hex {
            writeln!(stdin, "{line}").unwrap();
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "a traceback: {output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), pickles.len());
    let mut refused = 0;
    for (pickle, line) in pickles.iter().zip(&lines) {
        assert!(line.len() < 1100, "{line:.200}");
        assert!(line.starts_with("ok ") || line.starts_with("refused "));
        refused += usize::from(line.starts_with("refused "));
        let names_a_global = pickle.starts_with(b"cos")
            || pickle.starts_with(b"(i__main__")
            || pickle.starts_with(b"\x80\x04\x8c\x02os");
        if names_a_global {
            assert!(line.contains("names the global"), "{line}");
        }
    }
    for (at, refusal) in [
        (0, "refused it nests deeper than 100"),
        (1, "refused it nests deeper than 100"),
        (6, "refused it nests deeper than 100"),
        (13, "refused more than 256 MARKs open"),
        (14, "refused an int of more than 4300 digits"),
        (20, "refused TypeError"),
        (26, "refused it calls bytearray with what plain data never gives"),
        (27, "refused it calls encode with what plain data never gives"),
        (29, "refused the pickle ends inside a bytearray"),
    ] {
        assert!(lines[at].starts_with(refusal), "{at}: {}", lines[at]);
    }
    // A memo bomb prints within bounds; the 7-byte pickle that asks the C
    // unpickler for gigabytes of memo is just None here.
    assert!(lines[8].starts_with("ok [[[[[[[[[[") && lines[8].ends_with("..."));
    assert_eq!(lines[30], "ok None");
    assert_eq!(lines[32], "ok [[...]]");
    assert!(refused > 25, "{printed}");
}

/// The Python client, end to end: a refusal is one line and exit 1.
fn the_python_client_refuses_in_one_line() {
    let deep = [&b"\x80\x02K\x01"[..], &b"\x85".repeat(100_000), b"."].concat();
    let output = client_given(&framed(&deep), true).unwrap();
    assert_refused(
        &output,
        "refused to unpickle the message: it nests deeper than 100",
    );
    let output = client_given(&framed(b"I\x1b[31mRED\n."), true).unwrap();
    assert_refused(&output, "\\x1b[31mRED");
    assert!(!output.stderr.contains('\x1b'));
}

fn python_usage_errors_exit_2() {
    for args in [
        &["client", "--buffer", "0"][..],
        &["client", "--chunk", "5"],
        &["server", "--pause", "x"],
    ] {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

// ---- Pickle and untrusted data (pickle.md): transcripts/pickle/ ----

const PICKLE: &str = "pickle";

/// The Rust client's stderr, then the Python client's, given `pickled`
/// behind a header; each must be one refusal that says `rust` / `python`.
fn both_refusals(pickled: &[u8], rust: &str, python: &str) -> String {
    let mut lines = String::new();
    for (is_python, says) in [(false, rust), (true, python)] {
        let output = client_given(&framed(pickled), is_python).unwrap();
        assert_refused(&output, "refused to unpickle the message: ");
        assert_refused(&output, says);
        lines.push_str(&output.stderr);
    }
    lines
}

/// The value line each client prints for `pickled` (exit 0): Rust's, then
/// Python's.
fn both_values(pickled: &[u8]) -> [String; 2] {
    [false, true].map(|python| {
        let output = client_given(&framed(pickled), python).unwrap();
        assert_exit(&output, 0);
        let line = output.stdout.lines().nth(3).unwrap_or_default();
        line.strip_prefix("[client] ").unwrap_or(line).to_string()
    })
}

fn classes_are_refused_by_the_name_of_their_global_in_each_form() {
    let values = [
        ("datetime.datetime(2024, 1, 2, 3, 4, 5)", "datetime.datetime"),
        ("decimal.Decimal('1.5')", "decimal.Decimal"),
        ("1+2j", "builtins.complex"),
        ("collections.OrderedDict(a=1)", "collections.OrderedDict"),
    ];
    let expressions = values.map(|(expression, _)| expression);
    // A global as text (protocol 0), as GLOBAL (2), as STACK_GLOBAL (4).
    for protocol in [0, 2, 4] {
        let pickles = crate::support::python_pickles(&expressions, protocol);
        for (pickled, (_, global)) in pickles.unwrap().iter().zip(values) {
            let rust = format!("the pickle names the global {global}, ");
            let python = format!("it names the global {global}\n");
            let lines = both_refusals(pickled, &rust, &python);
            if protocol == 4 && global == "datetime.datetime" {
                assert_transcript(PICKLE, "datetime", &lines);
            }
        }
    }
}

/// Deep nesting, a flood of MARKs, an int too long to print: the two
/// clients' refusals, each one line.
fn what_each_client_says_of_pickles_past_a_bound() {
    let deep = [&b"]".repeat(101), &b"a".repeat(100), &b"."[..]].concat();
    let lines =
        both_refusals(&deep, "nests deeper than 100", "deeper than 100");
    assert_transcript(PICKLE, "deep-nesting", &lines);
    let marks = [&b"(".repeat(257), &b"N."[..]].concat();
    let lines =
        both_refusals(&marks, "b'(' at offset 256", "more than 256 MARKs");
    assert_transcript(PICKLE, "mark-flood", &lines);
    let long = [&b"\x8b"[..], &1786u32.to_le_bytes(), &[0x7f; 1786], b"."];
    let lines = both_refusals(&long.concat(), "\\x8b", "more than 4300 digits");
    assert_transcript(PICKLE, "long-integer", &lines);
    // 1785 bytes always fit in 4300 digits: read, and printed cut.
    let fits = [&b"\x8b"[..], &1785u32.to_le_bytes(), &[0x7f; 1785], b"."];
    for value in both_values(&fits.concat()) {
        assert_eq!(value.len(), 1003, "{value}");
    }
}

/// `[[1]*10]*10`, ten levels deep, written with the memo: 10**30 ones
/// written out, but each list is made once and shared, in Rust as in
/// CPython, and printing stops after 1,000 characters. Python's own repr
/// of six levels is 3,222,220 characters.
fn a_memo_bomb_is_read_shared_and_printed_cut() {
    let memo_copies = |levels: usize| {
        let level = [&b"("[..], &b"h\x00".repeat(10), b"lq\x00"].concat();
        [&b"K\x01q\x00"[..], &level.repeat(levels), b"."].concat()
    };
    let bomb = memo_copies(30);
    assert!(bomb.len() < 800, "{}", bomb.len());
    let start = format!("{}1, 1, 1", "[".repeat(30));
    for value in both_values(&bomb) {
        assert!(value.starts_with(&start), "{value:.80}");
        assert_eq!((value.len(), &value[1000..]), (1003, "..."));
    }
    let hex: String =
        memo_copies(6).iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        "import pickle; print(len(repr(pickle.loads(bytes.fromhex('{hex}')))))"
    );
    let output =
        std::process::Command::new(crate::support::python_path().unwrap())
            .args(["-S", "-c", &script])
            .output()
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "3222220\n");
}

/// `l = []; l.append(l)`, as Python pickles it: both clients print what
/// Python prints, `[[...]]`.
fn a_value_inside_itself_prints_as_python_prints_it() {
    let pickles = crate::support::python_pickles(&["recursive"], 4).unwrap();
    let output = client_given(&framed(&pickles[0]), false).unwrap();
    assert_exit(&output, 0);
    assert_transcript(PICKLE, "recursive", &output.stdout);
    assert_eq!(both_values(&pickles[0]), ["[[...]]", "[[...]]"]);
}

/// What src/pickle.rs's doc says of sets, keys and Python 2's strs: the
/// Rust reader keeps a set's items in the order sent, where Python's set
/// has its own order; it compares keys within their type, where Python's
/// 1 == 1.0; and it refuses STRING, which Python 3 reads.
fn where_the_clients_print_the_same_pickle_differently() {
    let set = b"\x80\x03cbuiltins\nset\n](K\x64K\x01e\x85R.";
    assert_eq!(both_values(set), ["{100, 1}", "{1, 100}"]);
    let one = 1f64.to_be_bytes();
    let dict =
        [&b"}(K\x01X\x01\x00\x00\x00aG"[..], &one, b"X\x01\x00\x00\x00bu."];
    assert_eq!(both_values(&dict.concat()), ["{1: 'a', 1.0: 'b'}", "{1: 'b'}"]);
    // Python 2's str: Python 3 reads it; the Rust reader refuses it.
    let python2 = b"S'hi'\n.";
    let rust = client_given(&framed(python2), false).unwrap();
    assert_refused(&rust, "opcode b'S' at offset 0: a Python 2 str");
    let python = client_given(&framed(python2), true).unwrap();
    assert_exit(&python, 0);
    assert!(python.stdout.contains("[client] 'hi'\n"), "{}", python.stdout);
}

/// pickletools.dis(pickled), Python's own listing of a pickle's opcodes.
fn python_dis(pickled: &[u8]) -> String {
    let script = "import pickletools, sys; \
                  pickletools.dis(sys.stdin.buffer.read())";
    let mut child =
        std::process::Command::new(crate::support::python_path().unwrap())
            .args(["-S", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
    child.stdin.take().unwrap().write_all(pickled).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The set a real Rust server sends, the last of its four messages, as
/// pickletools lists it: a call of builtins.set.
fn pickletools_lists_the_rust_servers_set() {
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let received = receive_all(server.listening_port()).unwrap();
    server.stop();
    let mut reader = Reassembler::new();
    reader.feed(&received);
    let mut messages = Vec::new();
    while let Some(piece) = reader.next_piece().unwrap() {
        if let Piece::Message(message) = piece {
            messages.push(message.to_vec());
        }
    }
    assert_eq!(messages.len(), 4);
    let set = python_dis(&messages[3]);
    for opcode in ["GLOBAL     'builtins set'", "REDUCE", "EMPTY_LIST"] {
        assert!(set.contains(opcode), "{set}");
    }
    assert_transcript(PICKLE, "dis-rust-server-set", &set);
}
