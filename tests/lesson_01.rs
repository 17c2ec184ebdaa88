//! Lesson 1, basic send: the demo, a teacher's two terminals, slow motion,
//! the Python twin in every pairing, and what a user or a peer can get
//! wrong.

use std::fs::File;
use std::process::Stdio;

use libtest_mimic::Trial;

use crate::support::{
    Process, against, assert_demo, assert_exit, assert_transcript, lesson,
    pair, peer_sending, python_twin, run, server_then_client, story,
};

const NAME: &str = "lesson_01";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        help_lists_each_sides_options,
        a_7_byte_buffer_gets_7_bytes,
        in_slow_motion_one_recv_gets_the_first_piece,
        the_server_serves_one_client_after_another,
        trace_names_each_call_that_waits,
        a_refused_connection_says_how_to_start_the_server,
        usage_errors_exit_2_with_a_hint,
        a_peers_control_characters_are_escaped,
        a_closed_stdout_is_exit_1_not_a_panic,
        output_that_cannot_be_written_is_an_error,
        a_port_in_use_is_explained,
        listening_on_every_interface_is_warned_about,
        colour_on_a_terminal_unless_no_color_or_a_dumb_terminal,
        a_send_that_returns_is_not_a_delivery,
    ];
    tests.extend(python_tests![
        python_demo,
        python_server_rust_client,
        rust_server_python_client,
        python_usage_errors_exit_2,
        python_with_a_closed_stdout_exits_1,
        hosts_empty_or_unknown_in_both_languages,
        python_colour_on_a_terminal_unless_no_color,
        sigpipe_kills_a_process_that_has_not_set_it_aside,
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

fn a_7_byte_buffer_gets_7_bytes() {
    let (_, client) = pair(NAME, &[], &["--buffer", "7"]);
    assert_exit(&client, 0);
    assert!(client.stdout.contains("recv(7) returned 7 bytes"));
    assert_transcript(NAME, "client-buffer-7", &client.stdout);
}

fn in_slow_motion_one_recv_gets_the_first_piece() {
    let (server, client) = pair(NAME, &["--chunk", "5", "--pause", "0.2"], &[]);
    assert_exit(&client, 0);
    assert!(client.stdout.contains("recv(1024) returned 5 bytes"));
    assert_transcript(NAME, "slow-motion-client", &client.stdout);
    // The client has closed after one recv; the server outlives it, and
    // says in words why a later send failed.
    assert_exit(&server, 0);
    let error = server.stderr.trim_end();
    assert!(error.starts_with("[server] error: sending to 127.0.0.1:"));
    assert!(
        error.ends_with(": the client closed before all was sent")
            || error.ends_with(
                ": the client reset the connection (RST): it closed with data unread"
            ),
        "{error}"
    );
}

fn the_server_serves_one_client_after_another() {
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = server.listening_port().to_string();
    for _ in 0..2 {
        assert_exit(&run(lesson(NAME, &["client", "--port", &port])), 0);
    }
    let server = server.stop();
    let clients: Vec<&str> = server
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("[server] Connection to "))
        .collect();
    assert_eq!(clients.len(), 2, "{}", server.stdout);
    assert_ne!(clients[0], clients[1], "each client has a port of its own");
    assert_transcript(NAME, "two-clients-server", &server.stdout);
}

fn trace_names_each_call_that_waits() {
    let (server, client) = pair(NAME, &["--trace"], &["--trace", "--hex"]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    for call in ["accept() waits for a client", "send(26 bytes) -> 26 bytes"] {
        assert!(server.stdout.contains(call), "{}", server.stdout);
    }
    assert!(client.stdout.contains("recv(1024) -> 26 bytes"));
    assert_transcript(NAME, "trace-server", &server.stdout);
    assert_transcript(NAME, "trace-hex-client", &client.stdout);
}

fn a_refused_connection_says_how_to_start_the_server() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port()
        .to_string();
    let output = run(lesson(NAME, &["client", "--port", &port]));
    assert_exit(&output, 1);
    assert!(output.stderr.ends_with(
        "(connection refused); start the server first: cargo run \
         --example lesson_01 -- server\n"
    ));
    assert_eq!(output.stderr.lines().count(), 1, "one line: {}", output.stderr);
}

fn usage_errors_exit_2_with_a_hint() {
    let typo = run(lesson(NAME, &["client", "--bufer", "7"]));
    assert_exit(&typo, 2);
    assert!(typo.stderr.contains("a similar argument exists: '--buffer'"));
    for args in [&["client", "--port", "0"][..], &["server", "--port", "x"]] {
        assert_exit(&run(lesson(NAME, args)), 2);
    }
    // A client has no --chunk: only what a side honours is offered.
    assert_exit(&run(lesson(NAME, &["client", "--chunk", "5"])), 2);
}

fn a_peers_control_characters_are_escaped() {
    let (port, _) = peer_sending(b"\x1b[2J\r[server] fake\n".to_vec());
    let output = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&output, 0);
    assert!(output.stdout.contains("[client] \\x1b[2J\\r[server] fake\\n\n"));
    assert!(!output.stdout.contains('\x1b'));
}

fn a_closed_stdout_is_exit_1_not_a_panic() {
    // A pipe whose reader is gone before the lesson starts: every write to
    // it fails, as with `| true` when `true` has already exited.
    for args in [&["--help"][..], &[]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = lesson(NAME, args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}

fn output_that_cannot_be_written_is_an_error() {
    let full =
        || Stdio::from(File::options().write(true).open("/dev/full").unwrap());
    let help = lesson(NAME, &["--help"]).stdout(full()).output().unwrap();
    assert_eq!(help.status.code(), Some(1));
    let usage = lesson(NAME, &["--bogus"]).stderr(full()).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    // A client whose story cannot be written does not report success.
    let mut server = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = server.listening_port().to_string();
    let mut client = lesson(NAME, &["client", "--port", &port]);
    let client = client.stdout(full()).output().unwrap();
    assert_eq!(client.status.code(), Some(1));
    server.stop();
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert!(output.stdout.contains("[client] Socket Programming in Python\n"));
}

fn python_server_rust_client() {
    let (server, client) = against(
        python_twin(NAME, &["server", "--port", "0"]).unwrap(),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_exit(&client, 0);
    assert_transcript(NAME, "client-of-python-server", &client.stdout);
    assert_transcript(NAME, "python-server", &server.stdout);
}

fn rust_server_python_client() {
    let (_, client) =
        against(lesson(NAME, &["server", "--port", "0"]), |port| {
            python_twin(NAME, &["client", "--port", port]).unwrap()
        });
    assert_exit(&client, 0);
    assert_transcript(NAME, "python-client", &client.stdout);
}

fn python_usage_errors_exit_2() {
    for args in [&["client", "--bufer", "7"][..], &["client", "--port", "0"]] {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

fn python_with_a_closed_stdout_exits_1() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = python_twin(NAME, &[])
        .unwrap()
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("Traceback"));
    // Started with no stdout at all (`>&-`): no traceback either.
    let script = crate::support::root().join("lessons/python/lesson_01.py");
    let mut closed = std::process::Command::new("sh");
    closed.args(["-c", "exec python3 -S \"$0\" >&-"]).arg(script);
    let closed = run(closed);
    assert_exit(&closed, 1);
    assert!(!closed.stderr.contains("Traceback"), "{}", closed.stderr);
}

fn a_port_in_use_is_explained() {
    let mut first = Process::spawn(lesson(NAME, &["server", "--port", "0"]));
    let port = first.listening_port().to_string();
    let second = run(lesson(NAME, &["server", "--port", &port]));
    assert_exit(&second, 1);
    let expected = format!(
        "[server] error: port {port} is in use: is another server running? \
         Stop it, or pick another port with --port\n"
    );
    assert_eq!(second.stderr, expected);
    let shown = second.stderr.replace(&port, "PORT");
    assert_transcript("errors", "port-in-use", &shown);
    first.stop();
}

fn listening_on_every_interface_is_warned_about() {
    let args = ["server", "--host", "0.0.0.0", "--port", "0", "--once"];
    let mut server = Process::spawn(lesson(NAME, &args));
    let port = server.listening_port().to_string();
    assert_exit(&run(lesson(NAME, &["client", "--port", &port])), 0);
    let server = server.finish();
    let warning = "warning: 0.0.0.0 is every interface: other machines may";
    assert!(server.stderr.contains(warning), "{}", server.stderr);
    assert_transcript("errors", "all-interfaces", &server.stderr);
}

/// `program` run on a terminal (a pty made by `script`) with `variables`
/// set; what it printed. `script` is part of util-linux.
fn on_a_terminal(program: &str, variables: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", program, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm")
        .envs(variables.iter().copied());
    run(command).stdout
}

fn assert_colour_only_where_wanted(program: &str) {
    let coloured = on_a_terminal(program, &[]);
    assert!(coloured.contains("\x1b["), "{coloured:?}");
    for variables in [[("TERM", "dumb")], [("NO_COLOR", "1")]] {
        let plain = on_a_terminal(program, &variables);
        assert!(plain.contains("[server] listening on"), "{plain:?}");
        assert!(!plain.contains('\x1b'), "{variables:?}: {plain:?}");
    }
}

fn colour_on_a_terminal_unless_no_color_or_a_dumb_terminal() {
    let program = crate::support::example(NAME);
    assert_colour_only_where_wanted(&program.display().to_string());
}

fn python_colour_on_a_terminal_unless_no_color() {
    let script = crate::support::root().join("lessons/python/lesson_01.py");
    assert_colour_only_where_wanted(&format!(
        "python3 -S {}",
        script.display()
    ));
}

fn hosts_empty_or_unknown_in_both_languages() {
    for side in ["server", "client"] {
        let empty = [side, "--host", ""];
        let unknown = [side, "--host", "no-such-host.invalid", "--port", "4"];
        for program in
            [lesson(NAME, &empty), python_twin(NAME, &empty).unwrap()]
        {
            let output = run(program);
            assert_exit(&output, 2);
            assert!(
                output.stderr.contains("a host needs a name or an address")
            );
        }
        for program in
            [lesson(NAME, &unknown), python_twin(NAME, &unknown).unwrap()]
        {
            let output = run(program);
            assert_exit(&output, 1);
            let line = "error: cannot find the host \"no-such-host.invalid\"";
            let python = "error: cannot find the host 'no-such-host.invalid'";
            assert!(
                output.stderr.contains(line) || output.stderr.contains(python),
                "{}",
                output.stderr
            );
            assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
        }
    }
}

// ---- A send is not a delivery (the chapter's "Try it") ----

fn a_send_that_returns_is_not_a_delivery() {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let mut story = String::new();
    // ANCHOR: not-delivered
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut client = TcpStream::connect(address).unwrap();
    let (peer, _) = listener.accept().unwrap();
    drop(peer); // the peer closes: a FIN; its program will read no more
    // send(2): the 5 bytes go into this side's kernel, and the call is done.
    let first = client.write(b"hello");
    story += &format!("the first send after the peer closed: {first:?}\n");
    // The peer's kernel answers them with an RST; a send after that fails.
    let failed = loop {
        match client.write(b"hello") {
            Err(error) => break error,
            Ok(_) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::yield_now()
            }
            Ok(_) => panic!("no RST within 10 s"),
        }
    };
    story += &format!("a later send failed: {:?}\n", failed.kind());
    // ANCHOR_END: not-delivered
    assert_eq!(first.unwrap(), 5);
    assert_eq!(failed.kind(), std::io::ErrorKind::BrokenPipe);
    assert_transcript(NAME, "send-is-not-delivery", &story);
}

/// What a send to a reset connection does to a process that keeps
/// SIGPIPE's default action, as a C program does: it dies of the signal,
/// unless the send says MSG_NOSIGNAL.
fn sigpipe_kills_a_process_that_has_not_set_it_aside() {
    use std::os::unix::process::ExitStatusExt;
    let mut story = String::new();
    for how in ["default", "nosignal"] {
        let mut python =
            crate::support::python3("tests/python/sigpipe.py").unwrap();
        let output = run({
            python.arg(how);
            python
        });
        story += &format!("$ python3 tests/python/sigpipe.py {how}\n");
        story += &output.stdout;
        story += &match output.status.signal() {
            Some(13) => "killed by signal 13, SIGPIPE\n".to_string(),
            _ => format!("exit status {}\n", output.status.code().unwrap()),
        };
    }
    assert!(story.contains("killed by signal 13"), "{story}");
    assert!(story.contains("BrokenPipeError"), "{story}");
    assert_transcript(NAME, "sigpipe", &story);
}
