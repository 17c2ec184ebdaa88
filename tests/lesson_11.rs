//! Lesson 11, own types with serde: the typed round trip, the clear errors
//! for bad answers and bad requests, hostile pickles both ways, a server
//! that outlives them and closes well, and Python in every pairing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use libtest_mimic::Trial;
use serde_pickle::{DeOptions, HashableValue, SerOptions, Value};
use socket_lessons::framing::{Piece, Reassembler};

use crate::support::{
    DEADLINE, Output, Process, assert_exit, assert_names_what_ran_out,
    assert_sides_transcript, assert_transcript, framed, lesson, peer_sending,
    python_pickles, python_twin, run, server_then_client, story,
};

const NAME: &str = "lesson_11";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        help_lists_each_sides_options,
        an_unknown_lesson_is_refused_and_the_server_goes_on,
        hostile_requests_get_an_error_and_the_server_keeps_serving,
        pipelined_requests_still_get_their_answer,
        a_bad_answer_is_a_clear_error_that_names_the_field,
        hostile_answers_are_refused_by_the_rust_client,
        usage_errors_exit_2,
        the_client_names_what_ran_out,
        a_stopped_client_goes_on_waiting,
    ];
    tests.extend(python_tests![
        python_demo,
        rust_server_python_client,
        python_server_rust_client,
        an_unknown_lesson_is_refused_in_every_pairing,
        hostile_requests_get_an_error_and_the_python_server_keeps_serving,
        pipelined_requests_still_get_the_python_servers_answer,
        the_python_server_refuses_globals,
        a_bad_answer_is_a_clear_error_to_the_python_client,
        hostile_answers_are_refused_by_the_python_client,
        a_memo_index_bomb_costs_the_python_client_nothing,
        the_python_client_prints_python_values,
        python_usage_errors_exit_2,
        the_python_client_names_what_ran_out,
        the_python_lesson_with_stdout_closed_exits_1,
        both_clients_refuse_a_deep_answer_in_the_same_words,
    ]);
    tests
}

fn python(args: &[&str]) -> Command {
    python_twin(NAME, args).unwrap()
}

fn dict(pairs: &[(&str, Value)]) -> Value {
    Value::Dict(
        pairs
            .iter()
            .map(|(key, value)| {
                (HashableValue::String(key.to_string()), value.clone())
            })
            .collect(),
    )
}

fn pickle(value: &Value) -> Vec<u8> {
    serde_pickle::value_to_vec(value, SerOptions::new()).unwrap()
}

/// Sends `bytes` to the server at `port` as they are, and returns the
/// first answer it frames back, as a dict; the connection must end in a
/// FIN, not a reset that destroys the answer.
fn ask(port: u16, bytes: &[u8]) -> BTreeMap<String, Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("the answer, then a FIN");
    let mut reassembler = Reassembler::new();
    reassembler.feed(&answer);
    reassembler.next_piece().unwrap();
    let Some(Piece::Message(message)) = reassembler.next_piece().unwrap()
    else {
        panic!("no whole answer in {answer:?}");
    };
    serde_pickle::from_slice(message, DeOptions::new()).unwrap()
}

fn error_of(answer: &BTreeMap<String, Value>) -> String {
    match answer.get("error") {
        Some(Value::String(error)) => error.clone(),
        other => panic!("no error field: {other:?} in {answer:?}"),
    }
}

fn demo() {
    let output = run(lesson(NAME, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

fn server_and_client() {
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port, "--lesson", "11"]),
    );
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

fn an_unknown_lesson_is_refused_and_the_server_goes_on() {
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = server.listening_port().to_string();
    let client =
        run(lesson(NAME, &["client", "--port", &port, "--lesson", "12"]));
    assert_exit(&client, 1);
    assert_transcript(NAME, "unknown-lesson", &story(&client));
    let client =
        run(lesson(NAME, &["client", "--port", &port, "--lesson", "1"]));
    assert_exit(&client, 0);
    server.stop();
}

/// Garbage, a memo bomb, a huge header, a field of the wrong type, a
/// missing field and an unknown one: each gets an answer whose `error`
/// says what was wrong, and the server serves the next client.
fn hostile_requests_get_an_error(server: Command) {
    let mut server = Process::spawn(server);
    let port = server.listening_port();
    let ten = Value::String("ten".into());
    // 224 bytes that DUP (copy) and TUPLE2 make 2^110 objects of: copied
    // out in full, they exhaust the server's memory.
    let bomb = [&b"N"[..], &b"2\x86".repeat(110), b"."].concat();
    let unknown =
        dict(&[("lesson", Value::I64(1)), ("sudo", Value::Bool(true))]);
    let cases: [(Vec<u8>, &str); 6] = [
        (framed(b"garbage"), ""),
        (framed(&bomb), ""),
        (b"9999999999".to_vec(), "more than the 256 this reader accepts"),
        (framed(&pickle(&dict(&[("lesson", ten)]))), "lesson"),
        (framed(&pickle(&dict(&[]))), "missing field"),
        (framed(&pickle(&unknown)), "sudo"),
    ];
    for (request, expected) in &cases {
        let error = error_of(&ask(port, request));
        assert!(!error.is_empty());
        assert!(error.contains(expected), "{error:?} lacks {expected:?}");
    }
    let client = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&client, 0);
    let server = server.stop();
    assert_eq!(server.stdout.matches("refusing: ").count(), cases.len());
}

fn hostile_requests_get_an_error_and_the_server_keeps_serving() {
    hostile_requests_get_an_error(lesson(NAME, &["server", "--port", "0"]));
}

fn hostile_requests_get_an_error_and_the_python_server_keeps_serving() {
    hostile_requests_get_an_error(python(&["server", "--port", "0"]));
}

/// 40 requests in one send, and a header over the limit followed by its
/// body: the server answers the first, or refuses, and closes well, so
/// that the answer is not destroyed by a reset (issue 23).
fn pipelined_requests(server: Command) {
    let mut server = Process::spawn(server);
    let port = server.listening_port();
    let request = framed(&pickle(&dict(&[("lesson", Value::I64(3))])));
    let answer = ask(port, &request.repeat(40));
    assert_eq!(answer.get("number"), Some(&Value::I64(3)), "{answer:?}");
    let long = [&b"300       "[..], &[b'x'; 300]].concat();
    let error = error_of(&ask(port, &long));
    assert!(error.contains("more than the 256"), "{error}");
    server.stop();
}

fn pipelined_requests_still_get_their_answer() {
    pipelined_requests(lesson(NAME, &["server", "--port", "0"]));
}

fn pipelined_requests_still_get_the_python_servers_answer() {
    pipelined_requests(python(&["server", "--port", "0"]));
}

/// A client of a server that answers `answer`, framed.
fn client_of(answer: &[u8], client: &dyn Fn(&str) -> Command) -> Output {
    let (port, _) = peer_sending(framed(answer));
    run(client(&port.to_string()))
}

/// Exit 1, one line on stderr with `expected` in it, no panic and no
/// traceback.
fn assert_refused(output: &Output, expected: &str) {
    assert_exit(output, 1);
    let stderr = &output.stderr;
    assert_eq!(stderr.lines().count(), 1, "{}", story(output));
    assert!(stderr.contains(expected), "{stderr:?} lacks {expected:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("Traceback"));
}

fn a_bad_answer_is_a_clear_error(client: &dyn Fn(&str) -> Command) {
    let good = |number: Value, title: Option<&str>, transport: &str| {
        let mut fields = vec![("number", number)];
        if let Some(title) = title {
            fields.push(("title", Value::String(title.into())));
        }
        fields.push(("transport", Value::String(transport.into())));
        fields.push(("calls", Value::List(vec![])));
        fields.push(("next", Value::None));
        dict(&fields)
    };
    let one = || Value::I64(1);
    for (answer, expected) in [
        (good(Value::String("ten".into()), Some("t"), "Tcp"), "number"),
        (good(one(), None, "Tcp"), "title"),
        (good(one(), Some("t"), "Carrier pigeon"), "transport"),
        (Value::List(vec![]), "not a LessonInfo"),
    ] {
        let output = client_of(&pickle(&answer), client);
        assert_refused(&output, expected);
    }
    let output = client_of(b"garbage", client);
    assert_refused(&output, "not a pickle of plain data");
}

fn a_bad_answer_is_a_clear_error_that_names_the_field() {
    a_bad_answer_is_a_clear_error(&|port| {
        lesson(NAME, &["client", "--port", port])
    });
}

fn a_bad_answer_is_a_clear_error_to_the_python_client() {
    a_bad_answer_is_a_clear_error(&|port| python(&["client", "--port", port]));
}

/// Pickles no server should send: each is refused in one line, and
/// nothing runs (the global would create `marker`).
fn hostile_answers(client: &dyn Fn(&str) -> Command) {
    let marker = std::env::temp_dir()
        .join(format!("lesson_11_ran_{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let command = format!("touch {}", marker.display());
    let evil = [
        &b"\x80\x03cos\nsystem\nX"[..],
        &(command.len() as u32).to_le_bytes(),
        command.as_bytes(),
        b"\x85R.",
    ]
    .concat();
    let answers: [Vec<u8>; 6] = [
        evil,
        // DUP and TUPLE2: 2^110 objects, if copied out.
        [&b"N"[..], &b"2\x86".repeat(110), b"."].concat(),
        // 100,000 MARKs, and a list 10,000 deep.
        [&b"(".repeat(100_000)[..], b"N."].concat(),
        [&b"]".repeat(10_000)[..], &b"a".repeat(9_999), b"."].concat(),
        // An int of 8 million bits, and bytearray(10**12).
        [&b"\x8b\x00\x00\x10\x00"[..], &[0x11; 0x10_0000], b"."].concat(),
        b"\x80\x03cbuiltins\nbytearray\n\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85R."
            .to_vec(),
    ];
    for answer in answers {
        let output = client_of(&answer, client);
        assert_exit(&output, 1);
        assert_eq!(output.stderr.lines().count(), 1, "{}", story(&output));
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
        assert!(!output.stderr.contains("panicked"), "{}", story(&output));
        assert!(output.stderr.len() < 1000, "{}", output.stderr);
    }
    assert!(!marker.exists(), "the pickle ran a command");
}

fn hostile_answers_are_refused_by_the_rust_client() {
    hostile_answers(&|port| lesson(NAME, &["client", "--port", port]));
}

fn hostile_answers_are_refused_by_the_python_client() {
    hostile_answers(&|port| python(&["client", "--port", port]));
}

/// A PUT to memo index 2**27: Python's C unpickler sizes its memo by the
/// index (a gigabyte for these 7 bytes); the twin's bounded one keeps one
/// entry. Under a 400 MB limit the value still reads, as None.
fn a_memo_index_bomb_costs_the_python_client_nothing() {
    let script = crate::support::root().join("lessons/python/lesson_11.py");
    let client = |port: &str| {
        let mut limited = Command::new("sh");
        limited
            .args(["-c", "ulimit -v 400000 && exec python3 -S \"$0\" \"$@\""])
            .arg(&script)
            .args(["client", "--port", port]);
        limited
    };
    let output = client_of(b"Nr\x00\x00\x00\x08.", &client);
    assert_refused(&output, "got None");
}

fn usage_errors_exit_2() {
    for args in [
        &["client", "--lesson", "0"][..],
        &["client", "--lesson", "1000"],
        &["client", "--lesson"],
        &["server", "--lesson", "3"],
        &["client", "--buffer", "7"],
        &["client", "--chunk", "7"],
    ] {
        assert_exit(&run(lesson(NAME, args)), 2);
    }
}

fn python_demo() {
    let output = run(python(&[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "python-demo", &output.stdout);
}

fn rust_server_python_client() {
    let (_, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| python(&["client", "--port", port, "--lesson", "11"]),
    );
    assert_transcript(NAME, "python-client", &client.stdout);
}

fn python_server_rust_client() {
    let (server, client) = server_then_client(
        python(&["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port, "--lesson", "11"]),
    );
    assert_transcript(NAME, "python-server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

/// An unknown lesson, asked by either client of either server: the same
/// reason, exit 1.
fn an_unknown_lesson_is_refused_in_every_pairing() {
    let servers = [
        lesson(NAME, &["server", "--port", "0"]),
        python(&["server", "--port", "0"]),
    ];
    for server in servers {
        let mut server = Process::spawn(server);
        let port = server.listening_port().to_string();
        let args = ["client", "--port", &port, "--lesson", "12"];
        for client in [lesson(NAME, &args), python(&args)] {
            let client = run(client);
            assert_refused(
                &client,
                "the server refused: there is no lesson 12 here: this \
                 server knows lessons 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11",
            );
        }
        server.stop();
    }
}

/// The Python server's restricted Unpickler refuses a pickle that names a
/// global (here `os.system`), answers why, and keeps serving.
fn the_python_server_refuses_globals() {
    let mut server = Process::spawn(python(&["server", "--port", "0"]));
    let port = server.listening_port();
    let evil = b"\x80\x03cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.";
    let error = error_of(&ask(port, &framed(evil)));
    assert!(error.contains("names the global os.system"), "{error}");
    let client = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&client, 0);
    server.stop();
}

/// The Python client speaks Python: its request as a dict, a title and
/// the calls as repr prints them, whatever Python's pickle wrote.
fn the_python_client_prints_python_values() {
    let answers = [
        "{'number': 5, 'title': 'it\\'s \"quoted\"\\n', 'transport': 'Tcp', \
         'calls': ['a', 'b'], 'next': 6}",
        "{'next': None, 'calls': [], 'transport': 'Udp', 'number': 7, \
         'title': 'x' * 1000}",
    ];
    let pickles = python_pickles(&answers, 4).unwrap();
    let output = client_of(&pickles[0], &|port| {
        python(&["client", "--port", port, "--lesson", "5"])
    });
    assert_exit(&output, 0);
    assert!(output.stdout.contains("asking for lesson 5: {'lesson': 5}\n"));
    assert!(!output.stdout.contains("Request {"), "{}", output.stdout);
    assert!(output.stdout.contains(
        "lesson 5: 'it\\'s \"quoted\"\\n', over Tcp\n[client] its calls: \
         ['a', 'b']\n[client] the next lesson: 6\n"
    ));
    let output =
        client_of(&pickles[1], &|port| python(&["client", "--port", port]));
    assert_exit(&output, 0);
    // reprlib cuts a long title short: 'xx...xx'.
    assert!(output.stdout.contains("x...x"), "{}", output.stdout);
    assert!(output.stdout.lines().all(|line| line.len() < 300));
}

fn python_usage_errors_exit_2() {
    for args in [
        &["client", "--lesson", "0"][..],
        &["client", "--lesson", "1000"],
        &["client", "--lesson"],
        &["server", "--lesson", "3"],
        &["client", "--buffer", "7"],
    ] {
        let output = run(python(args));
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
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

/// Stopped (Ctrl-Z) and continued while it waits: no EINTR error.
fn a_stopped_client_goes_on_waiting() {
    crate::support::assert_a_stopped_client_goes_on(&|port| {
        lesson(NAME, &["client", "--port", port, "--wait", "1"])
    });
}

/// A list 10,000 deep, in a dict where the number is due: both clients
/// apply the same bound on depth, in the same words.
fn both_clients_refuse_a_deep_answer_in_the_same_words() {
    let deep = [
        &b"\x80\x04}X\x06\x00\x00\x00number"[..],
        &b"]".repeat(10_000),
        &b"a".repeat(9_999),
        b"s.",
    ]
    .concat();
    let rust = |port: &str| lesson(NAME, &["client", "--port", port]);
    let python = |port: &str| python(&["client", "--port", port]);
    for client in [&rust as &dyn Fn(&str) -> Command, &python] {
        let output = client_of(&deep, client);
        assert_exit(&output, 1);
        let said = "error: the answer is not a pickle of plain data: it \
                    nests deeper than 100\n";
        assert!(output.stderr.ends_with(said), "{}", story(&output));
    }
}
