//! Lesson 11, own types with serde: the typed round trip, the clear errors
//! for bad answers and bad requests, a server that outlives them, and
//! Python in all four pairings.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::Duration;

use serde_pickle::{DeOptions, HashableValue, SerOptions, Value};
use socket_lessons::old::framing::{Reassembler, frame};
use support::{
    Process, assert_exit, assert_sides_transcript, assert_transcript, lesson,
    python3, run, server_then_client, unfold,
};

const NAME: &str = "lesson_11";

/// The Python twin, with `args`; `None` where python3 is missing (outside
/// CI).
fn twin(args: &[&str]) -> Option<Command> {
    support::python_twin(NAME, args)
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
/// answer it frames back, as a dict.
fn ask(port: u16, bytes: &[u8]) -> BTreeMap<String, Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let mut reassembler = Reassembler::new();
    let mut pieces = reassembler.feed(&answer);
    pieces.next_piece().unwrap();
    let Some(socket_lessons::old::framing::Piece::Message(message)) =
        pieces.next_piece().unwrap()
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

#[test]
fn demo() {
    support::assert_demo(NAME);
}

#[test]
fn typed_round_trip_between_server_and_client() {
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port, "--lesson", "11"]),
    );
    assert_eq!((client.stderr.as_str(), server.stderr.as_str()), ("", ""));
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn help() {
    let output = run(lesson(NAME, &["--help"]));
    assert_exit(&output, 0);
    assert_transcript(NAME, "help", &output.stdout);
}

#[test]
fn an_unknown_lesson_is_refused_by_the_server() {
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = server.listening_port().to_string();
    let client =
        run(lesson(NAME, &["client", "--port", &port, "--lesson", "12"]));
    assert_exit(&client, 1);
    assert_transcript(NAME, "unknown-lesson", &client.stderr);
    let client =
        run(lesson(NAME, &["client", "--port", &port, "--lesson", "1"]));
    assert_exit(&client, 0);
    server.stop();
}

/// Garbage, a huge header, a field of the wrong type, a missing field and
/// an unknown one: each gets an answer whose `error` says what was wrong,
/// and the server serves the next client.
#[test]
fn hostile_requests_get_an_error_and_the_server_keeps_serving() {
    hostile_requests_get_an_error(
        lesson(NAME, &["server", "--port", "0"]),
        "is not a pickle this program can read",
    );
}

#[test]
fn hostile_requests_get_an_error_and_the_python_server_keeps_serving() {
    if let Some(server) = twin(&["server", "--port", "0"]) {
        hostile_requests_get_an_error(
            server,
            "is not a pickle this program can read",
        );
    }
}

/// `garbage`: what the server's answer to a request that is not a pickle
/// says (serde-pickle's words and Python's differ).
fn hostile_requests_get_an_error(server: Command, garbage: &str) {
    let mut server = Process::spawn(server);
    let port = server.listening_port();
    let ten = Value::String("ten".into());
    // 224 bytes that DUP (copy) and TUPLE2 make 2^110 objects of: read
    // without lesson 5's bounds, it exhausts the server's memory.
    let bomb = [&b"N"[..], &b"2\x86".repeat(110), b"."].concat();
    let cases: [(Vec<u8>, &str); 6] = [
        (frame(b"garbage").unwrap(), garbage),
        (frame(&bomb).unwrap(), "refused to unpickle"),
        (b"9999999999".to_vec(), "more than the 256 this reader accepts"),
        (
            frame(&pickle(&dict(&[("lesson", ten)]))).unwrap(),
            "field `lesson`: invalid type: string \"ten\", expected u32",
        ),
        (frame(&pickle(&dict(&[]))).unwrap(), "missing field `lesson`"),
        (
            frame(&pickle(&dict(&[
                ("lesson", Value::I64(1)),
                ("sudo", Value::Bool(true)),
            ])))
            .unwrap(),
            "unknown field `sudo`",
        ),
    ];
    for (request, expected) in &cases {
        let error = error_of(&ask(port, request));
        assert!(error.contains(expected), "{error:?} lacks {expected:?}");
    }
    let client = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&client, 0);
    server.stop();
}

/// A server answering `pickled`, framed, to one client, in a thread of this
/// test.
fn fake_server(pickled: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0; 256];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(&frame(&pickled).unwrap());
    });
    port
}

#[test]
fn a_bad_answer_is_a_clear_error_that_names_the_field() {
    a_bad_answer_is_a_clear_error(|port| {
        lesson(NAME, &["client", "--port", port])
    });
}

#[test]
fn a_bad_answer_is_a_clear_error_to_the_python_client() {
    if twin(&[]).is_some() {
        a_bad_answer_is_a_clear_error(|port| {
            twin(&["client", "--port", port]).unwrap()
        });
    }
}

fn a_bad_answer_is_a_clear_error(client: impl Fn(&str) -> Command) {
    let good = |number: Value| {
        dict(&[
            ("number", number),
            ("title", Value::String("t".into())),
            ("transport", Value::String("Tcp".into())),
            ("calls", Value::List(vec![])),
            ("next", Value::None),
        ])
    };
    let mut missing = good(Value::I64(1));
    if let Value::Dict(map) = &mut missing {
        map.remove(&HashableValue::String("title".into()));
    }
    let mut bad_variant = good(Value::I64(1));
    if let Value::Dict(map) = &mut bad_variant {
        map.insert(
            HashableValue::String("transport".into()),
            Value::String("Carrier pigeon".into()),
        );
    }
    for (answer, expected) in [
        (
            good(Value::String("ten".into())),
            "the answer is not a LessonInfo: decoding error: field `number`: \
             invalid type: string \"ten\", expected u32",
        ),
        (missing, "missing field `title`"),
        (bad_variant, "field `transport`: unknown variant `Carrier pigeon`"),
        (Value::List(vec![]), "the answer is not a LessonInfo"),
    ] {
        let port = fake_server(pickle(&answer)).to_string();
        let client = run(client(&port));
        assert_exit(&client, 1);
        let stderr = unfold(&client.stderr);
        assert!(stderr.contains(expected), "{stderr:?} lacks {expected:?}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("Traceback"), "{stderr}");
    }
}

/// Odd answers get the same lines from both clients, and the same status:
/// a bytearray where a string is due (read as the bytes it holds, as the
/// Rust client gives serde-pickle a bytearray), bytes that are not UTF-8,
/// characters Python's repr escapes or not depending on its version, and
/// bytes that are no pickle.
#[test]
fn odd_answers_read_alike_in_both_clients() {
    let answers = [
        "{'number': 5, 'title': bytearray(b'Pickles'), 'transport': 'Tcp', \
         'calls': ['send', bytearray(b'recv')], 'next': 6}",
        "{'error': bytearray(b'no')}",
        "{'number': 5, 'title': b'\\xff', 'transport': 'Tcp', \
         'calls': [], 'next': None}",
        "{'number': 5, 'title': '\\u0378\\U0001faff', 'transport': 'Udp', \
         'calls': ['\\u1000'], 'next': None}",
    ];
    let Some(mut pickles) = support::python_pickles(&answers, 3) else {
        return;
    };
    pickles.push(b"garbage".to_vec());
    let outcome = |client: Command| {
        let client = run(client);
        let show = |text: &str| support::mask_ports(&unfold(text));
        (show(&client.stdout), show(&client.stderr), client.status.code())
    };
    for pickled in pickles {
        let port = fake_server(pickled.clone()).to_string();
        let rust = outcome(lesson(NAME, &["client", "--port", &port]));
        let port = fake_server(pickled).to_string();
        let python = outcome(twin(&["client", "--port", &port]).unwrap());
        assert_eq!(rust, python);
    }
}

#[test]
fn rust_server_python_client() {
    let Some(mut client) = python3("lessons/python/lesson_11.py") else {
        return;
    };
    let (server, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| {
            client.args(["client", "--port", port, "--lesson", "11"]);
            client
        },
    );
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn python_server_rust_client() {
    let Some(mut server) = python3("lessons/python/lesson_11.py") else {
        return;
    };
    server.args(["server", "--port", "0", "--once"]);
    let (server, client) = server_then_client(server, |port| {
        lesson(NAME, &["client", "--port", port, "--lesson", "11"])
    });
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

#[test]
fn python_server_and_client() {
    let (Some(mut server), Some(mut client)) = (
        python3("lessons/python/lesson_11.py"),
        python3("lessons/python/lesson_11.py"),
    ) else {
        return;
    };
    server.args(["server", "--port", "0", "--once"]);
    let (server, client) = server_then_client(server, |port| {
        client.args(["client", "--port", port, "--lesson", "11"]);
        client
    });
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

/// The Python server's restricted Unpickler refuses a pickle that names a
/// global (here `os.system`), answers why, and keeps serving.
#[test]
fn the_python_server_refuses_globals() {
    let Some(mut server) = python3("lessons/python/lesson_11.py") else {
        return;
    };
    server.args(["server", "--port", "0"]);
    let mut server = Process::spawn(server);
    let port = server.listening_port();
    let evil = b"\x80\x03cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.";
    let error = error_of(&ask(port, &frame(evil).unwrap()));
    assert!(error.contains("names the global os.system"), "{error}");
    let client = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&client, 0);
    server.stop();
}

#[test]
fn python_demo() {
    let Some(python) = twin(&[]) else { return };
    let output = run(python);
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

/// An unknown lesson, asked by either client of either server: the same
/// error, in the same words, exit 1.
#[test]
fn an_unknown_lesson_is_refused_in_every_pairing() {
    let (Some(python_server), Some(_)) =
        (twin(&["server", "--port", "0"]), twin(&[]))
    else {
        return;
    };
    for server in [lesson(NAME, &["server", "--port", "0"]), python_server] {
        let mut server = Process::spawn(server);
        let port = server.listening_port().to_string();
        let args = ["client", "--port", &port, "--lesson", "12"];
        for client in [lesson(NAME, &args), twin(&args).unwrap()] {
            let client = run(client);
            assert_exit(&client, 1);
            assert_transcript(NAME, "unknown-lesson", &client.stderr);
            assert_eq!(client.stdout.lines().count(), 3, "{}", client.stdout);
        }
        server.stop();
    }
}

/// What the Rust lesson refuses on its command line, the Python twin
/// refuses in the same words, exit 2.
#[test]
fn python_usage_errors_are_the_rust_ones() {
    let cases: &[&[&str]] = &[
        &["client", "--lesson", "0"],
        &["client", "--lesson", "1000"],
        &["client", "--lesson"],
        &["server", "--lesson", "3"],
        &["client", "--buffer", "7"],
    ];
    let python_command = "python3 lessons/python/lesson_11.py";
    for args in cases {
        let Some(python) = twin(args) else { return };
        let python = run(python);
        let rust = run(lesson(NAME, args));
        assert_exit(&rust, 2);
        assert_exit(&python, 2);
        let rust_stderr = rust
            .stderr
            .replace(
                "cargo run --example lesson_11             ",
                &format!("{python_command:<41} "),
            )
            .replace(
                "cargo run --example lesson_11 -- ",
                &format!("{python_command} "),
            );
        assert_eq!(python.stderr, rust_stderr, "{args:?}");
    }
}

/// With --trace and --hex, the Python client prints what the Rust client
/// prints, byte for byte: serde-pickle's pickles, the same calls.
#[test]
fn python_trace_and_hex_are_the_rust_clients() {
    let Some(mut python) = twin(&[]) else { return };
    let args = ["--lesson", "11", "--trace", "--hex"];
    let (_, rust) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| {
            let mut command = lesson(NAME, &["client", "--port", port]);
            command.args(args);
            command
        },
    );
    let (_, python) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| {
            python.args(["client", "--port", port]).args(args);
            python
        },
    );
    assert_exit(&python, 0);
    assert_eq!(
        support::mask_ports(&python.stdout),
        support::mask_ports(&rust.stdout)
    );
}
