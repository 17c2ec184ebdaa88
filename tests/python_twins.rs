//! The Python twins in `lessons/python/` behave like the Rust lessons: the
//! same command line and messages, the same exit codes, no traceback for
//! anything a user or a peer can cause, and a lesson-5 client that reads only
//! plain data.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;

use support::{
    Output, assert_exit, assert_transcript, lesson, python3, run,
    server_then_client, transcript_path, unfold,
};

/// The Python twin of `name`, with `args`; `None` where python3 is missing
/// (outside CI).
fn twin(name: &str, args: &[&str]) -> Option<Command> {
    support::python_twin(name, args)
}

/// What the Rust lesson prints, with its command replaced by the Python
/// twin's, keeping the usage's columns.
fn as_python(name: &str, rust: &str) -> String {
    let python = format!("python3 lessons/python/{name}.py");
    rust.replace(
        &format!("cargo run --example {name}             "),
        &format!("{python:<41} "),
    )
    .replace(&format!("cargo run --example {name} -- "), &format!("{python} "))
}

fn assert_no_traceback(output: &Output) {
    assert!(
        !output.stderr.contains("Traceback")
            && !output.stderr.contains("Exception"),
        "a traceback:\n{}",
        output.stderr
    );
}

/// A one-connection server in the test that sends `bytes` and closes.
fn serve_bytes(bytes: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let _ = client.write_all(&bytes);
    });
    port.to_string()
}

/// A message in lesson 5's framing: the length in 10 characters, then it.
fn framed(message: &[u8]) -> Vec<u8> {
    [format!("{:<10}", message.len()).as_bytes(), message].concat()
}

#[test]
fn help_is_the_rust_help_with_the_python_command() {
    for name in support::LESSONS {
        let Some(python) = twin(name, &["--help"]) else { return };
        let output = run(python);
        assert_exit(&output, 0);
        let rust =
            std::fs::read_to_string(transcript_path(name, "help")).unwrap();
        assert_eq!(output.stdout, as_python(name, &rust), "{name}");
    }
}

#[test]
fn usage_errors_are_the_rust_messages_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["server", "--port", "70000"],
        &["server", "--port"],
        &["server", "--chunk", "0"],
        &["server", "--pause", "1"],
        &["client", "--wait", "-1"],
        &["client", "--wait", "1_0"],
        &["client", "--port", "0"],
        &["client", "--once"],
        &["client", "--hex=yes"],
        &["client", "--wait", "1", "--wait", "2"],
        &["--port", "5000"],
        &["--verbose"],
        &["serve"],
        &["--once", "server"],
        &["server", "--hold", "0"],
        &["client", "--hold", "5"],
    ];
    for args in cases {
        let Some(python) = twin("lesson_03", args) else { return };
        let python = run(python);
        let rust = run(lesson("lesson_03", args));
        assert_exit(&rust, 2);
        assert_exit(&python, 2);
        assert_no_traceback(&python);
        assert_eq!(
            python.stderr,
            as_python("lesson_03", &rust.stderr),
            "{args:?}"
        );
        assert_eq!(python.stdout, "", "{args:?}");
    }
}

#[test]
fn an_empty_host_is_refused() {
    for mode in ["server", "client"] {
        let Some(python) = twin("lesson_01", &[mode, "--host", ""]) else {
            return;
        };
        let output = run(python);
        assert_exit(&output, 2);
        assert!(
            output.stderr.starts_with("error: --host needs a host name"),
            "{}",
            output.stderr
        );
    }
}

#[test]
fn an_unknown_host_is_a_message_and_exit_1() {
    for mode in ["server", "client"] {
        let args = [mode, "--host", "no-such-host.invalid", "--port", "4"];
        let Some(python) = twin("lesson_01", &args) else { return };
        let output = run(python);
        assert_exit(&output, 1);
        assert_no_traceback(&output);
        let rust = run(lesson("lesson_01", &args));
        assert_eq!(output.stderr, rust.stderr);
        assert!(
            unfold(&output.stderr)
                .contains("cannot find the host 'no-such-host.invalid'"),
            "{}",
            output.stderr
        );
    }
}

fn marker(name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("socket-lessons-twins-{}-{name}", std::process::id()))
}

/// The Python lesson-5 client against a server that sends `bytes`.
fn python_lesson_05_given(bytes: Vec<u8>) -> Option<Output> {
    let port = serve_bytes(bytes);
    Some(run(twin("lesson_05", &["client", "--port", &port])?))
}

#[test]
fn the_python_client_refuses_a_pickle_that_names_os_system() {
    let marker = marker("os-system");
    let pickle = format!("cos\nsystem\n(Vtouch {}\ntR.", marker.display());
    let Some(output) = python_lesson_05_given(framed(pickle.as_bytes())) else {
        return;
    };
    assert_exit(&output, 1);
    assert_no_traceback(&output);
    assert!(
        unfold(&output.stderr).contains(
            "refused to unpickle: the message names the global os.system; \
             this program reads only plain data"
        ),
        "{}",
        output.stderr
    );
    assert!(!marker.exists(), "the Python client ran the pickle's command");
}

#[test]
fn the_python_client_refuses_a_pickle_nested_too_deep() {
    // 1 in 100,000 tuples, each holding the last: pickle.loads builds it
    // without recursion, but repr would recurse 100,000 deep.
    let pickle =
        [&b"\x80\x02K\x01"[..], &b"\x85".repeat(100_000), b"."].concat();
    let Some(output) = python_lesson_05_given(framed(&pickle)) else {
        return;
    };
    assert_exit(&output, 1);
    assert_no_traceback(&output);
    assert!(
        unfold(&output.stderr).contains(
            "refused to unpickle: the message holds a value that nests deeper \
             than 100 levels"
        ),
        "{}",
        output.stderr
    );
}

#[test]
fn the_python_client_reports_a_body_that_is_not_a_pickle() {
    let Some(output) = python_lesson_05_given(framed(b"\x80\x03garbage"))
    else {
        return;
    };
    assert_exit(&output, 1);
    assert_no_traceback(&output);
    assert!(
        unfold(&output.stderr)
            .contains("the message is not a pickle this program can read"),
        "{}",
        output.stderr
    );
}

#[test]
fn the_python_lesson_4_client_keeps_at_most_1_mib() {
    let port = serve_bytes(vec![b'x'; 1024 * 1024 + 7]);
    let Some(python) = twin("lesson_04", &["client", "--port", &port]) else {
        return;
    };
    let output = run(python);
    assert_exit(&output, 1);
    assert_no_traceback(&output);
    assert!(
        unfold(&output.stderr).contains(
            "the server sent more than the 1048576 bytes this client keeps; \
             stopping"
        ),
        "{}",
        output.stderr
    );
}

/// The Rust server, and a client given `--trace --hex`: the Rust client's
/// lines are the transcript `client-trace`, and the Python client's must be
/// the same.
fn trace_and_hex_match(name: &str) {
    let client_args = ["--trace", "--hex"];
    let rust_client = |port: &str| {
        let mut command = lesson(name, &["client", "--port", port]);
        command.args(client_args);
        command
    };
    let (_, rust) = server_then_client(
        lesson(name, &["server", "--port", "0", "--once"]),
        rust_client,
    );
    assert_transcript(name, "client-trace", &rust.stdout);
    if twin(name, &[]).is_none() {
        return;
    }
    let (_, python) = server_then_client(
        lesson(name, &["server", "--port", "0", "--once"]),
        |port| {
            let mut command = twin(name, &["client", "--port", port]).unwrap();
            command.args(client_args);
            command
        },
    );
    let expected =
        std::fs::read_to_string(transcript_path(name, "client-trace")).unwrap();
    assert_eq!(support::mask_ports(&python.stdout), expected, "{name}");
}

#[test]
fn lesson_02_trace_and_hex_are_the_rust_clients() {
    trace_and_hex_match("lesson_02");
}

#[test]
fn lesson_04_trace_and_hex_are_the_rust_clients() {
    // Not lesson 5: there, where one message's bytes end and the next's
    // begin in a recv depends on timing.
    trace_and_hex_match("lesson_04");
}

#[test]
fn a_closed_stdout_is_exit_1_without_a_traceback() {
    let Some(mut python) = twin("lesson_01", &["--help"]) else { return };
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = python.stdout(writer).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_server_whose_stdout_is_closed_serves_and_exits_1() {
    let Some(mut server) =
        twin("lesson_04", &["server", "--port", "0", "--once"])
    else {
        return;
    };
    let mut server =
        server.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Read the `listening on` line, then close the reading end: every line
    // the server prints from now on fails.
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    drop(stdout);
    let port = line.trim_end().rsplit_once(':').unwrap().1.to_string();
    let client = run(lesson("lesson_04", &["client", "--port", &port]));
    assert_exit(&client, 0);
    assert!(
        client
            .stdout
            .contains("complete message: Socket Programming in Python"),
        "{}",
        client.stdout
    );
    let output = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "[server] error: some of this lesson's output could not be written\n"
    );
}

/// A lesson's Python demo runs its server and its client to the end.
fn the_python_demo_runs_both_sides(name: &str) {
    let Some(python) = twin(name, &[]) else { return };
    let output = run(python);
    assert_exit(&output, 0);
    let server =
        output.stdout.lines().filter(|line| line.starts_with("[server]"));
    let client =
        output.stdout.lines().filter(|line| line.starts_with("[client]"));
    assert!(server.count() >= 3 && client.count() >= 3, "{}", output.stdout);
    assert!(output.stdout.starts_with("[server] listening on 127.0.0.1:"));
}

/// One test per lesson, so that the demos run at once, not one by one.
macro_rules! python_demos {
    ($($test:ident: $lesson:literal,)*) => {$(
        #[test]
        fn $test() {
            the_python_demo_runs_both_sides($lesson);
        }
    )*};
}

python_demos! {
    python_demo_01: "lesson_01",
    python_demo_02: "lesson_02",
    python_demo_03: "lesson_03",
    python_demo_04: "lesson_04",
    python_demo_05: "lesson_05",
    python_demo_06: "lesson_06",
    python_demo_07: "lesson_07",
    python_demo_08: "lesson_08",
    python_demo_09: "lesson_09",
    python_demo_10: "lesson_10",
    python_demo_11: "lesson_11",
}

#[test]
fn every_lesson_has_a_python_demo_test() {
    // The list above must not miss a lesson added later.
    let source = include_str!("python_twins.rs");
    for name in support::LESSONS {
        assert!(source.contains(&format!(": \"{name}\",")), "{name}");
    }
}

/// Python's `common.fold` folds every line as Rust's `output::fold` does:
/// both sides' lines must be the same, so the two must agree everywhere,
/// checked here on lines with odd spacing, long words and kinds.
#[test]
fn python_folds_lines_exactly_as_rust_does() {
    // Only to learn that python3 is there (or to fail under CI if not).
    if python3("lessons/python/common.py").is_none() {
        return;
    }
    // A small seeded generator (xorshift): the same lines on every run.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut lines = Vec::new();
    for _ in 0..2000 {
        let kind = ["", "error: ", "trace: "][next(3) as usize];
        let mut words: Vec<String> = (0..1 + next(25))
            .map(|_| {
                let letters = ['a', 'b', ':', ' ', 'é'];
                (0..next(40)).map(|_| letters[next(5) as usize]).collect()
            })
            .collect();
        // Now and then a first word too long to share a line with the
        // label: neither side may leave the label alone on a line.
        if next(4) == 0 {
            words[0] = "x".repeat(60 + next(40) as usize);
        }
        lines.push(format!("[client] {kind}{}", words.join(" ")));
    }
    let folded = |line: &String| {
        socket_lessons::old::output::fold(line, "[client]").join("\u{1}")
    };
    let expected: Vec<String> = lines.iter().map(folded).collect();
    let program = "import sys, common\n\
        for line in sys.stdin.read().split('\\n'):\n    \
        print('\\x01'.join(common.fold(line, '[client]')))\n";
    let output = Command::new("python3")
        .env("PYTHONPATH", support::root().join("lessons/python"))
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(lines.join("\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let printed = String::from_utf8(output.stdout).unwrap();
    let python_folds: Vec<&str> = printed.lines().collect();
    for (line, (rust, python)) in
        lines.iter().zip(expected.iter().zip(&python_folds))
    {
        assert_eq!(rust, python, "{line:?}");
    }
    assert_eq!(python_folds.len(), lines.len());
}
