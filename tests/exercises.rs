//! The answers to the exercises at the end of the opening chapters and the
//! pickle chapter, each run for real: the commands the exercises give, with
//! port 0 and no sleeps, and the small programs they show (the parts between
//! `ANCHOR:` and `ANCHOR_END:`, which the chapters include). What a run
//! prints is a transcript under book/src/transcripts/exercises/.

use std::net::TcpListener;
use std::process::Command;

use crate::support::{
    self, Output, Process, assert_exit, assert_sides_transcript,
    assert_transcript, lesson, python3, root, run,
};

const DIR: &str = "exercises";

pub fn tests() -> Vec<libtest_mimic::Trial> {
    let mut tests = tests![
        two_clients_share_the_servers_port_and_have_ports_of_their_own,
        port_0_lets_the_system_pick_a_free_port,
        a_second_server_on_the_same_port_is_refused,
        trace_names_the_calls_that_wait,
        connect_with_no_server_is_refused,
        once_makes_the_server_exit_after_one_client,
        the_demo_takes_a_clients_option,
        cargo_run_example_lists_every_example_in_cargo_toml,
        help_after_the_separator_is_the_lessons,
        a_port_that_is_not_a_number_is_exit_status_2,
    ];
    tests.extend(python_tests![
        against_the_python_server_only_the_message_differs,
        the_opcodes_of_a_tuple,
        what_the_client_refuses_and_what_it_reads,
        a_binary_length_is_what_struct_pack_writes,
    ]);
    tests
}

/// The port in a `127.0.0.1:PORT` that follows `after` in `line`.
fn port_after(line: &str, after: &str) -> String {
    let (_, rest) = line.split_once(after).unwrap_or_else(|| {
        panic!("no {after:?} in {line:?}");
    });
    let rest = rest.strip_prefix("127.0.0.1:").unwrap();
    rest.chars().take_while(char::is_ascii_digit).collect()
}

/// A lesson's server on port 0 (`--once` where `once`) and its port.
fn server(name: &str, once: bool, options: &[&str]) -> (Process, String) {
    let mut args = vec!["server", "--port", "0"];
    if once {
        args.push("--once");
    }
    args.extend_from_slice(options);
    let mut server = Process::spawn(lesson(name, &args));
    let port = server.listening_port().to_string();
    (server, port)
}

fn client(name: &str, port: &str, options: &[&str]) -> Output {
    let mut args = vec!["client", "--port", port];
    args.extend_from_slice(options);
    run(lesson(name, &args))
}

// ---- What a socket is (sockets.md) ----

fn two_clients_share_the_servers_port_and_have_ports_of_their_own() {
    let (server, port) = server("lesson_01", false, &[]);
    let first = client("lesson_01", &port, &[]);
    let second = client("lesson_01", &port, &[]);
    assert_exit(&first, 0);
    assert_exit(&second, 0);
    let server = server.stop();
    let mut client_ports = Vec::new();
    for (label, output) in [("first", &first), ("second", &second)] {
        let connecting = output.stdout.lines().next().unwrap();
        assert_eq!(port_after(connecting, "connecting to "), port);
        let mine = port_after(&output.stdout, "connected from ");
        // The server saw the same port at its end of the connection.
        assert!(
            server.stdout.contains(&format!("Connection to 127.0.0.1:{mine} ")),
            "{}",
            server.stdout
        );
        client_ports.push(mine.clone());
        let shown =
            output.stdout.replace(&format!(":{port}"), ":SERVER").replace(
                &format!(":{mine}"),
                &format!(":{}", label.to_uppercase()),
            );
        assert_transcript(DIR, &format!("two-clients-{label}"), &shown);
    }
    assert_ne!(client_ports[0], client_ports[1]);
    assert_ne!(client_ports[0], port);
}

fn port_0_lets_the_system_pick_a_free_port() {
    let (server, port) = server("lesson_01", true, &[]);
    let port_number: u16 = port.parse().unwrap();
    assert_ne!(port_number, 0);
    let output = client("lesson_01", &port, &[]);
    assert_exit(&output, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    assert!(server.stdout.starts_with("[server] listening on 127.0.0.1:"));
}

fn a_second_server_on_the_same_port_is_refused() {
    let (first, port) = server("lesson_01", false, &[]);
    let second = run(lesson("lesson_01", &["server", "--port", &port]));
    assert_exit(&second, 1);
    let stderr = &second.stderr;
    assert!(stderr.contains(&format!("port {port} is in use")), "{stderr}");
    assert_transcript(
        DIR,
        "second-server",
        &second.stderr.replace(&port, "PORT"),
    );
    first.stop();
}

// ---- The socket calls (socket-api.md) ----

fn trace_names_the_calls_that_wait() {
    let (server, port) = server("lesson_01", true, &["--trace"]);
    let client = client("lesson_01", &port, &["--trace"]);
    let server = server.finish();
    assert_exit(&client, 0);
    assert_exit(&server, 0);
    let named = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.split_once("trace: "))
            .filter_map(|(_, call)| call.split_once('(').map(|(name, _)| name))
            .map(str::to_string)
            .fold(Vec::new(), |mut names, name| {
                if !names.contains(&name) {
                    names.push(name);
                }
                names
            })
    };
    assert_eq!(named(&server.stdout), ["accept", "send"]);
    assert_eq!(named(&client.stdout), ["connect", "recv"]);
    for call in ["socket(", "bind(", "listen(", "close("] {
        assert!(!server.stdout.contains(call), "{}", server.stdout);
        assert!(!client.stdout.contains(call), "{}", client.stdout);
    }
    assert_transcript(DIR, "trace-server", &server.stdout);
    assert_transcript(DIR, "trace-client", &client.stdout);
}

fn connect_with_no_server_is_refused() {
    // A port that was free a moment ago: nothing listens on it now.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let output = client("lesson_01", &port, &[]);
    assert_exit(&output, 1);
    let stderr = &output.stderr;
    assert!(stderr.contains("(connection refused)"), "{stderr}");
    // The client got no further than connect: it never said it connected.
    assert!(!output.stdout.contains("connected from"), "{}", output.stdout);
    let story = format!("{}{}", output.stdout, output.stderr);
    assert_transcript(DIR, "no-server", &story.replace(&port, "PORT"));
}

// ---- Running the lessons (running.md) ----

fn once_makes_the_server_exit_after_one_client() {
    let help = run(lesson("lesson_01", &["server", "--help"]));
    assert_exit(&help, 0);
    assert!(
        help.stdout.contains("--once             Serve one client, then exit"),
        "{}",
        help.stdout
    );
    let (server, port) = server("lesson_01", true, &[]);
    assert_exit(&client("lesson_01", &port, &[]), 0);
    // finish() waits for the server to end by itself: no Ctrl-C.
    let server = server.finish();
    assert_exit(&server, 0);
    assert_transcript(DIR, "once-server", &server.stdout);
}

fn the_demo_takes_a_clients_option() {
    let output = run(lesson("lesson_01", &["--buffer", "7"]));
    assert_exit(&output, 0);
    assert!(output.stdout.contains("[client] recv(7) returned 7 bytes"));
    assert_sides_transcript(DIR, "demo-buffer-7", &output.stdout);
}

fn against_the_python_server_only_the_message_differs() {
    let mut python = python3("lessons/python/lesson_01.py").unwrap();
    python.args(["server", "--port", "0", "--once"]);
    let mut python_server = Process::spawn(python);
    let port = python_server.listening_port().to_string();
    let against_python = client("lesson_01", &port, &[]);
    assert_exit(&python_server.finish(), 0);
    let (rust_server, port) = server("lesson_01", true, &[]);
    let against_rust = client("lesson_01", &port, &[]);
    assert_exit(&rust_server.finish(), 0);
    assert_exit(&against_python, 0);
    assert_exit(&against_rust, 0);
    let mask = |output: &Output| support::mask_ports(&output.stdout);
    let (python, rust) = (mask(&against_python), mask(&against_rust));
    // Only the message differs: the Python server sends its own.
    let differ: Vec<(&str, &str)> =
        python.lines().zip(rust.lines()).filter(|(p, r)| p != r).collect();
    assert_eq!(
        differ,
        [
            (
                "[client] recv(1024) returned 28 bytes",
                "[client] recv(1024) returned 26 bytes"
            ),
            (
                "[client] Socket Programming in Python",
                "[client] Socket Programming in Rust"
            ),
        ]
    );
    assert_eq!(python.lines().count(), rust.lines().count());
    assert_transcript(DIR, "client-of-python-server", &python);
}

// ---- From nothing to the first run (getting-started.md) ----

/// The `name = "..."` of every `[[example]]` in the project's Cargo.toml,
/// and in the async lessons' (async/Cargo.toml).
fn examples_in_cargo_toml() -> Vec<String> {
    let read = |path| std::fs::read_to_string(root().join(path)).unwrap();
    let manifest = read("Cargo.toml") + &read("async/Cargo.toml");
    let mut names = Vec::new();
    let mut in_example = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_example = line == "[[example]]";
            continue;
        }
        // No `&& let` chain here: the project builds with Rust 1.85.
        let name = line.strip_prefix("name = ").filter(|_| in_example);
        if let Some(name) = name {
            names.push(name.trim_matches('"').to_string());
        }
    }
    names.sort();
    names
}

/// The names listed under `Available examples:`.
fn listed(text: &str) -> Vec<String> {
    let (_, list) = text.split_once("Available examples:\n").unwrap();
    list.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

fn cargo_run_example_lists_every_example_in_cargo_toml() {
    let expected = examples_in_cargo_toml();
    assert_eq!(expected.len(), 16, "{expected:?}");
    let output = run({
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["run", "--example"]).current_dir(root());
        cargo
    });
    assert!(!output.status.success());
    assert_eq!(listed(&output.stderr), expected);
    assert_transcript("teaching", "cargo-run-example", &output.stderr);
}

fn help_after_the_separator_is_the_lessons() {
    let help = run(lesson("lesson_01", &["--help"]));
    assert_exit(&help, 0);
    assert_eq!(help.stdout.lines().next(), Some("lesson_01: basic send"));
    assert_transcript("lesson_01", "help", &help.stdout);
    // Without `--`, cargo reads --port itself and stops.
    let output = run({
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args(["run", "-q", "--example", "lesson_01", "--port", "5000"])
            .current_dir(root());
        cargo
    });
    assert!(!output.status.success());
    assert!(
        output.stderr.contains("unexpected argument '--port' found"),
        "{}",
        output.stderr
    );
}

// ---- Rust for Python programmers (rust-for-python.md) ----

fn a_port_that_is_not_a_number_is_exit_status_2() {
    let output = run(lesson("lesson_01", &["client", "--port", "http"]));
    assert_exit(&output, 2);
    assert!(output.stdout.is_empty(), "{}", output.stdout);
    // The error, then where to find more.
    let (first, rest) = output.stderr.split_once('\n').unwrap();
    assert!(rest.contains("try '--help'"), "{rest}");
    assert_transcript(DIR, "bad-port", &format!("{first}\n"));
}

// ---- Pickle and untrusted data (pickle.md) ----

fn the_opcodes_of_a_tuple() {
    // ANCHOR: dis-tuple
    // Python's own disassembler, pickletools.dis, on the bytes of
    // pickle.dumps((1, 2), protocol=2).
    let script = "import pickle, pickletools; \
                  pickletools.dis(pickle.dumps((1, 2), protocol=2))";
    // ANCHOR_END: dis-tuple
    let python = crate::support::python_path().unwrap();
    let output = Command::new(python).args(["-c", script]).output();
    let output = output.expect("python3 runs");
    let listing = String::from_utf8(output.stdout).unwrap();
    assert!(listing.contains("TUPLE2"), "{listing}");
    assert_transcript(DIR, "dis-tuple", &listing);
}

fn what_the_client_refuses_and_what_it_reads() {
    // ANCHOR: refuse
    use socket_lessons::pickle::loads;
    // Protocol 0, by hand: look up os.system, call it with ('echo hi',).
    let hostile: &[u8] = b"cos\nsystem\n(S'echo hi'\ntR.";
    // Python: pickle.dumps({1, 2, 3}, protocol=3), a call of builtins.set.
    let set: &[u8] =
        b"\x80\x03cbuiltins\nset\nq\x00]q\x01(K\x01K\x02K\x03e\x85q\x02Rq\x03.";
    for pickled in [hostile, set] {
        match loads(pickled) {
            Ok(value) => println!("read {}", value.repr(1000)),
            Err(error) => println!("refused: {error}"),
        }
    }
    // ANCHOR_END: refuse
    let refused = loads(hostile).err().unwrap().to_string();
    assert!(refused.contains("names the global os.system"), "{refused}");
    assert_eq!(loads(set).unwrap().repr(1000), "{1, 2, 3}");
    let printed = format!("refused: {refused}\nread {{1, 2, 3}}\n");
    assert_transcript(DIR, "refuse", &printed);
    let python = support::python_pickles(&["{1, 2, 3}"], 3).unwrap();
    assert_eq!(python, [set]);
}

// ---- A binary length (lesson-05.md) ----

// ANCHOR: binary-length
/// A message behind a 4-byte big-endian length: Python's
/// struct.pack('!I', len(message)) + message. None for a message of 4 GiB
/// or more, which 4 bytes cannot count.
fn frame(message: &[u8]) -> Option<Vec<u8>> {
    let length = u32::try_from(message.len()).ok()?;
    Some([&length.to_be_bytes()[..], message].concat())
}

/// The length a 4-byte header announces: struct.unpack('!I', header)[0].
/// A reader checks it against the most it will keep before trusting it.
fn announced(header: [u8; 4]) -> u32 {
    u32::from_be_bytes(header)
}
// ANCHOR_END: binary-length

fn a_binary_length_is_what_struct_pack_writes() {
    let lengths = [0_u32, 38, 255, 256, 65_536, u32::MAX];
    // Python's struct, for each length: its 4 bytes, and the length it
    // reads back from the 4 bytes this side wrote.
    let script = "import struct, sys\n\
                  for n in map(int, sys.argv[1:]):\n    \
                  mine = n.to_bytes(4, 'big')\n    \
                  packed = struct.pack('!I', n)\n    \
                  print(packed.hex(), struct.unpack('!I', mine)[0], \
                  repr(packed))";
    let python = crate::support::python_path().unwrap();
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(lengths.map(|n| n.to_string()))
        .output()
        .unwrap();
    let listing = String::from_utf8(output.stdout).unwrap();
    let mut printed = String::new();
    for (line, n) in listing.lines().zip(lengths) {
        let mut fields = line.splitn(3, ' ');
        let mut field = || fields.next().unwrap();
        let (packed, unpacked, repr) = (field(), field(), field());
        let header: [u8; 4] = n.to_be_bytes();
        let hex: String = header.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(packed, hex, "struct.pack('!I', {n})");
        assert_eq!(unpacked, n.to_string());
        assert_eq!(announced(header), n);
        printed += &format!(
            "struct.pack('!I', {n}) = {repr}; {n}_u32.to_be_bytes() = \
             {header:?}\n"
        );
    }
    assert_eq!(printed.lines().count(), lengths.len(), "{listing}");
    let framed = frame(&[b'x'; 38]).unwrap();
    assert_eq!((framed.len(), &framed[..4]), (42, &[0, 0, 0, 38][..]));
    printed += &format!("frame(38 bytes): {:?} + 38 bytes\n", &framed[..4]);
    assert_transcript(DIR, "binary-length", &printed);
}
