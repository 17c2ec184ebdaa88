//! Lesson 4, close detection: the client reads until recv returns 0 and
//! prints the whole message; against lesson 3's server the 0 never comes,
//! against lesson 5's the close ends four messages at once; a server that
//! floods or trickles cannot keep the client; the Python twin in every
//! pairing.

use std::io::Write;
use std::net::TcpListener;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use libtest_mimic::Trial;

use crate::support::{
    Output, Process, against, assert_demo, assert_exit, assert_transcript,
    lesson, pair, peer_sending, python_twin, run, server_then_client, story,
};

const NAME: &str = "lesson_04";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        server_and_client,
        help_lists_each_sides_options,
        a_10_byte_buffer_takes_four_recvs_the_last_returning_0,
        in_slow_motion_each_recv_gets_one_piece,
        the_client_cannot_tell_the_end_from_lesson_3s_server,
        the_client_takes_lesson_5s_four_messages_for_one,
        a_client_gives_up_on_a_server_that_never_answers,
        a_server_that_trickles_cannot_keep_the_client_past_its_deadline,
        the_client_keeps_a_bounded_amount_of_what_a_flood_sends,
        a_peers_control_characters_are_escaped,
        a_server_restarts_at_once_on_the_port_it_just_used,
        closing_with_unread_data_destroys_what_was_still_to_send,
    ];
    tests.extend(python_tests![
        python_demo,
        python_server_rust_client,
        rust_server_python_client,
        python_client_keeps_at_most_1_mib,
        python_client_gives_up_at_its_deadline,
        python_server_with_a_closed_stdout_serves_and_exits_1,
    ]);
    let netns = network_namespaces();
    tests.extend(
        python_tests![a_vanished_peer_is_found_only_by_a_timeout_or_keepalive]
            .into_iter()
            .map(|test| {
                let ignored = test.has_ignored_flag() || !netns;
                test.with_ignored_flag(ignored)
            }),
    );
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
    assert!(
        client
            .stdout
            .ends_with("complete message: Socket Programming in Rust\n")
    );
    assert_transcript(NAME, "server", &server.stdout);
    assert_transcript(NAME, "client", &client.stdout);
}

fn help_lists_each_sides_options() {
    crate::support::assert_help_transcripts(NAME);
}

fn a_10_byte_buffer_takes_four_recvs_the_last_returning_0() {
    let (server, client) = pair(NAME, &[], &["--buffer", "10", "--trace"]);
    assert_exit(&client, 0);
    assert_exit(&server, 0);
    let returned: Vec<&str> = client
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("[client] trace: recv(10) -> "))
        .collect();
    assert_eq!(returned, ["10 bytes", "10 bytes", "6 bytes", "0 bytes"]);
    assert_transcript("exercises", "buffer-10-trace", &client.stdout);
}

fn in_slow_motion_each_recv_gets_one_piece() {
    let (server, client) = pair(NAME, &["--chunk", "5"], &["--trace", "--hex"]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    let returned: Vec<&str> = client
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("[client] trace: recv(7) -> "))
        .collect();
    // 26 bytes in pieces of 5: each piece is its own recv's.
    let pieces = ["5 bytes", "5 bytes", "5 bytes", "5 bytes", "5 bytes"];
    assert_eq!(returned, [&pieces[..], &["1 byte", "0 bytes"]].concat());
    assert!(client.stdout.ends_with("message: Socket Programming in Rust\n"));
    assert_transcript(NAME, "slow-motion-trace-hex-client", &client.stdout);
}

fn the_client_cannot_tell_the_end_from_lesson_3s_server() {
    // Lesson 3's server sends the same 26 bytes but holds the connection
    // open: the 0 never comes.
    let (_, client) = against(
        lesson("lesson_03", &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port, "--wait", "2"]),
    );
    assert_exit(&client, 1);
    assert!(client.stderr.ends_with(
        "26 bytes came, then nothing for 2 s (--wait), and no close\n"
    ));
    assert_transcript(NAME, "client-of-lesson-03-server", &story(&client));
}

fn the_client_takes_lesson_5s_four_messages_for_one() {
    let (_, client) = against(
        lesson("lesson_05", &["server", "--port", "0", "--once"]),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_exit(&client, 0);
    let complete: Vec<&str> = client
        .stdout
        .lines()
        .filter(|line| line.contains("complete message: "))
        .collect();
    assert_eq!(complete.len(), 1, "{}", client.stdout);
    // Four headers in one message: nothing told the client where each
    // message ended.
    assert_eq!(length_headers(complete[0]), 4, "{}", complete[0]);
}

/// How many of lesson 5's headers `text` holds: a length in digits,
/// padded with spaces to 10 characters.
fn length_headers(text: &str) -> usize {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(9))
        .filter(|&at| at == 0 || !bytes[at - 1].is_ascii_digit())
        .filter(|&at| {
            let header = &bytes[at..at + 10];
            let digits = header.iter().take_while(|b| b.is_ascii_digit());
            let digits = digits.count();
            digits > 0 && header[digits..].iter().all(|&b| b == b' ')
        })
        .count()
}

fn a_client_gives_up_on_a_server_that_never_answers() {
    // The system completes the connection into the backlog, but nobody
    // accepts or sends.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output =
        run(lesson(NAME, &["client", "--port", &port, "--wait", "0.3"]));
    assert_exit(&output, 1);
    assert!(output.stderr.ends_with("within 0.3 s (--wait)\n"));
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert_transcript("errors", "no-answer", &output.stderr);
}

/// A server in the test that sends `byte` every 100 ms, for a minute or
/// until the client leaves; its port.
fn trickling_server(byte: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((mut client, _)) = listener.accept() {
            for _ in 0..600 {
                if client.write_all(byte).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    });
    port.to_string()
}

fn a_server_that_trickles_cannot_keep_the_client_past_its_deadline() {
    // Each recv gets a byte well within its --wait: only --deadline ends it.
    let port = trickling_server(b"x");
    let args = ["client", "--port", &port, "--wait", "5", "--deadline", "1"];
    let output = run(lesson(NAME, &args));
    assert_exit(&output, 1);
    assert!(
        output.stderr.ends_with("gave up after 1 s in all (--deadline)\n"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("panicked"));
}

fn the_client_keeps_a_bounded_amount_of_what_a_flood_sends() {
    // 2 MiB, twice what the client keeps.
    let (port, _) = peer_sending(vec![b'a'; 2 * 1024 * 1024]);
    let port = port.to_string();
    let output =
        run(lesson(NAME, &["client", "--port", &port, "--buffer", "65535"]));
    assert_exit(&output, 1);
    assert!(output.stderr.ends_with(
        "the server sent more than the 1048576 bytes this client keeps; \
         stopping\n"
    ));
}

fn a_peers_control_characters_are_escaped() {
    let hostile = b"\x1b[2J\x1b]0;owned\x07hi\n[server] error: rm -rf ~";
    let (port, _) = peer_sending(hostile.to_vec());
    let output = run(lesson(NAME, &["client", "--port", &port.to_string()]));
    assert_exit(&output, 0);
    assert!(!output.stdout.contains(['\x1b', '\x07']), "{}", output.stdout);
    assert!(output.stdout.lines().all(|line| line.starts_with("[client]")));
    assert!(output.stdout.contains(
        "complete message: \\x1b[2J\\x1b]0;owned\\x07hi\\n[server] error"
    ));
}

fn a_server_restarts_at_once_on_the_port_it_just_used() {
    let serve_once = |port: &str| {
        let mut server =
            Process::spawn(lesson(NAME, &["server", "--port", port, "--once"]));
        let port = server.listening_port().to_string();
        assert_exit(&run(lesson(NAME, &["client", "--port", &port])), 0);
        assert_exit(&server.finish(), 0);
        port
    };
    let port = serve_once("0");
    // The server closed first, so its side of that connection is now in
    // TIME_WAIT: SO_REUSEADDR lets it bind again all the same.
    assert_eq!(serve_once(&port), port);
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert!(
        output.stdout.ends_with(
            "[client] complete message: Socket Programming in Python\n"
        ),
        "{}",
        output.stdout
    );
}

fn python_server_rust_client() {
    let (server, client) = server_then_client(
        python_twin(NAME, &["server", "--port", "0", "--once"]).unwrap(),
        |port| lesson(NAME, &["client", "--port", port]),
    );
    assert_transcript(NAME, "client-of-python-server", &client.stdout);
    assert_transcript(NAME, "python-server", &server.stdout);
}

fn rust_server_python_client() {
    let (_, client) = server_then_client(
        lesson(NAME, &["server", "--port", "0", "--once"]),
        |port| python_twin(NAME, &["client", "--port", port]).unwrap(),
    );
    assert_transcript(NAME, "python-client", &client.stdout);
}

fn assert_no_traceback(output: &Output) {
    assert!(!output.stderr.contains("Traceback"), "{}", story(output));
}

fn python_client_keeps_at_most_1_mib() {
    let (port, _) = peer_sending(vec![b'x'; 1024 * 1024 + 7]);
    let port = port.to_string();
    let args = ["client", "--port", &port, "--buffer", "65535"];
    let output = run(python_twin(NAME, &args).unwrap());
    assert_exit(&output, 1);
    assert_no_traceback(&output);
    assert!(output.stderr.ends_with(
        "the server sent more than the 1048576 bytes this client keeps; \
         stopping\n"
    ));
}

fn python_client_gives_up_at_its_deadline() {
    let port = trickling_server(b"x");
    let args = ["client", "--port", &port, "--wait", "5", "--deadline", "1"];
    let output = run(python_twin(NAME, &args).unwrap());
    assert_exit(&output, 1);
    assert_no_traceback(&output);
    assert!(output.stderr.ends_with("gave up after 1 s in all (--deadline)\n"));
}

fn python_server_with_a_closed_stdout_serves_and_exits_1() {
    // A stdout every write to which fails (a full disk): deterministic,
    // where a closed pipe's read end may live on for a moment in a process
    // another test is starting. The port, which the server cannot print,
    // is read from `ss`.
    let full = std::fs::File::options().write(true).open("/dev/full");
    let args = ["server", "--port", "0", "--once"];
    let server = python_twin(NAME, &args)
        .unwrap()
        .stdout(Stdio::from(full.unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = listening_port_of(server.id());
    let client = run(lesson(NAME, &["client", "--port", &port]));
    assert_exit(&client, 0);
    assert!(client.stdout.contains("message: Socket Programming in Python"));
    let output = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

/// The port process `pid` listens on, as `ss` lists it, once it does.
fn listening_port_of(pid: u32) -> String {
    let started = std::time::Instant::now();
    let owner = format!("pid={pid},");
    loop {
        let ss = std::process::Command::new("ss").args(["-Hltnp"]).output();
        let listed = String::from_utf8(ss.unwrap().stdout).unwrap();
        let line = listed.lines().find(|line| line.contains(&owner));
        if let Some(line) = line {
            let local = line.split_whitespace().nth(3).unwrap();
            return local.rsplit_once(':').unwrap().1.to_string();
        }
        assert!(started.elapsed() < crate::support::DEADLINE, "{listed}");
        std::thread::yield_now();
    }
}

// ---- Closing well, and a peer that vanishes (the chapter's last part) ----

/// How a server ends after answering: a plain close, or closing well.
#[derive(Clone, Copy)]
enum End {
    Close,
    ShutdownDrainClose,
}

/// A server answers 512 KiB to a client whose 5-byte request it never
/// reads, and ends as `end` says; the client reads only once the server has
/// ended its sending. Returns how many bytes the client got, and how its
/// reading ended.
fn answer_as_read(end: End) -> (usize, usize, String) {
    use socket2::{Domain, Socket, Type};
    use std::io::Read;
    use std::net::{Shutdown, TcpStream};
    use std::sync::mpsc;
    const ANSWER: usize = 512 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (ended, has_ended) = mpsc::channel();
    let server = thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        client.set_read_timeout(Some(crate::support::DEADLINE)).unwrap();
        client.set_write_timeout(Some(crate::support::DEADLINE)).unwrap();
        // Room for the whole answer, so that write_all returns while most
        // of it still waits in this side's send buffer.
        socket2::SockRef::from(&client).set_send_buffer_size(1 << 20).unwrap();
        client.peek(&mut [0]).unwrap(); // the request is here, unread
        // ANCHOR: close-well
        client.write_all(&vec![b'x'; ANSWER]).unwrap();
        match end {
            // close(2) with the request unread: an RST, at once.
            End::Close => drop(client),
            End::ShutdownDrainClose => {
                // A FIN after the last byte; the reading half stays open.
                client.shutdown(Shutdown::Write).unwrap();
                ended.send(()).unwrap();
                // Drain: read (and drop) until the client's FIN, then close.
                let mut sink = [0; 1024];
                while client.read(&mut sink).unwrap() > 0 {}
                drop(client);
            }
        }
        // ANCHOR_END: close-well
        let _ = ended.send(());
    });
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&address.into()).unwrap();
    let mut client = TcpStream::from(socket);
    client.set_read_timeout(Some(crate::support::DEADLINE)).unwrap();
    client.write_all(b"hello").unwrap();
    has_ended.recv().unwrap();
    let mut got = 0;
    let mut buffer = vec![0; 64 * 1024];
    let how = loop {
        match client.read(&mut buffer) {
            Ok(0) => break "then 0: the end".to_string(),
            Ok(size) => got += size,
            Err(error) => {
                // Reported once; then recv returns 0, as after a FIN.
                let next = client.read(&mut buffer).unwrap();
                break format!(
                    "then recv failed: {:?}, and the next returned {next}",
                    error.kind()
                );
            }
        }
    };
    drop(client);
    server.join().unwrap();
    (got, ANSWER, how)
}

fn closing_with_unread_data_destroys_what_was_still_to_send() {
    let (got, sent, how) = answer_as_read(End::Close);
    assert!(got < sent, "{got} of {sent}");
    let (got_all, _, clean) = answer_as_read(End::ShutdownDrainClose);
    assert_eq!(got_all, sent);
    let story = format!(
        "the server sent {sent} bytes and closed, the 5-byte request \
         unread:\n  the client got part of them, {how}\n\
         the server sent {sent} bytes, shut down its writing half, drained, \
         closed:\n  the client got all {got_all}, {clean}\n"
    );
    assert_transcript(NAME, "close-with-unread-data", &story);
}

/// `unshare -rn` works here: a network namespace of one's own, which the
/// vanished-peer test needs (root, or unprivileged user namespaces).
fn network_namespaces() -> bool {
    let status = std::process::Command::new("unshare")
        .args(["-rn", "true"])
        .stderr(Stdio::null())
        .status();
    status.is_ok_and(|status| status.success())
}

fn a_vanished_peer_is_found_only_by_a_timeout_or_keepalive() {
    let python = crate::support::python3("tests/python/vanished_peer.py");
    let python = python.unwrap();
    let mut command = std::process::Command::new("unshare");
    command.arg("-rn").arg(python.get_program()).args(python.get_args());
    let output = run(command);
    assert_exit(&output, 0);
    assert_transcript(NAME, "vanished-peer", &output.stdout);
}
