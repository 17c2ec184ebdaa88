//! Lesson 15, HTTP/1.1 by hand: the lesson's server answers curl, headless
//! Chromium and Python's http.client; keeps connections alive; answers
//! hostile requests (slowloris, a 1 MB header line, a head that never ends,
//! a body longer than its Content-Length, a pipelined burst, non-ASCII and
//! NUL in the path, `..`) with clear statuses and bounded waits; and the
//! Python twin does the same, byte for byte but for the date.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use libtest_mimic::Trial;

use crate::support::{
    DEADLINE, Output, Process, assert_a_stopped_client_goes_on, assert_exit,
    assert_help_transcripts, assert_names_what_ran_out,
    assert_sides_transcript, assert_transcript, lesson, mask_ports,
    peer_sending, python_found, python_path, python_twin, run, transcript_path,
};

const NAME: &str = "lesson_15";

/// A check run once against the Rust server, once against the Python one.
type Check = fn(bool);

pub fn tests() -> Vec<Trial> {
    let found = Found::here();
    let mut tests = vec![
        found.trial("help", help, &[]),
        found.trial(
            "the_rust_and_python_servers_answer_alike",
            the_rust_and_python_servers_answer_alike,
            &["python3"],
        ),
        found.trial(
            "a_close_with_bytes_unread_resets_after_the_answer",
            a_close_with_bytes_unread_resets_after_the_answer,
            &[],
        ),
        found.trial(
            "exercise_a_request_by_hand",
            exercise_a_request_by_hand,
            &[],
        ),
        found.trial(
            "exercise_post_with_curl",
            exercise_post_with_curl,
            &["curl"],
        ),
        found.trial("chromium_loads_the_page", chromium_rust, &["chromium"]),
        found.trial(
            "python_chromium_loads_the_page",
            chromium_python,
            &["chromium", "python3"],
        ),
    ];
    // What it needs besides the lessons (python3 for the Python server too).
    let both: [(&str, Check, &[&'static str]); 30] = [
        ("demo", demo, &[]),
        ("the_client_keeps_one_connection_for_its_paths", client_paths, &[]),
        ("curl_gets_the_page_and_its_headers", curl_page, &["curl"]),
        ("curl_reuses_the_connection_for_two_urls", curl_keep_alive, &["curl"]),
        ("curl_cut_in_the_middle_of_its_body_gets_408", curl_cut, &["curl"]),
        ("http_client_keeps_one_connection", http_client, &["python3"]),
        ("slowloris_gets_408_at_the_request_time", slowloris, &[]),
        ("a_1_mb_header_line_gets_431", megabyte_header, &[]),
        ("a_head_that_never_ends_gets_431", endless_head, &[]),
        ("a_head_that_stops_gets_408", stopped_head, &[]),
        ("a_body_longer_than_its_length_is_the_next_request", long_body, &[]),
        ("a_pipelined_burst_is_answered_in_order", pipelined, &[]),
        ("non_ascii_nul_and_escapes_in_the_path_get_400", unprintable, &[]),
        ("dot_dot_in_the_path_is_a_404", dot_dot, &[]),
        ("malformed_and_unserved_requests", malformed, &[]),
        ("an_idle_connection_is_closed", idle, &[]),
        ("a_full_server_answers_503", full, &[]),
        ("a_client_that_hangs_up_mid_head_is_said", hang_up, &[]),
        ("clients_of_the_other_language", other_language, &["python3"]),
        ("head_has_the_gets_length_and_no_body", head_request, &[]),
        ("usage_errors_exit_2", usage_errors, &[]),
        ("a_client_that_takes_no_answers_is_dropped", takes_no_answers, &[]),
        ("the_client_names_what_ran_out", names_what_ran_out, &[]),
        ("a_stopped_client_goes_on_waiting", stopped_client, &[]),
        ("the_client_is_safe_from_a_hostile_server", hostile_server, &[]),
        ("a_slow_client_holds_no_one_up", slow_client, &[]),
        ("request_lines_as_rfc_9112_reads_them", rfc_9112, &[]),
        ("a_tls_handshake_gets_400_at_once", tls_handshake, &[]),
        ("bare_lf_line_ends_get_400_at_once", bare_lf, &[]),
        ("expect_100_continue_gets_100_before_its_body", expect, &[]),
    ];
    for (name, check, needs) in both {
        tests.push(found.trial(name, move || check(false), needs));
        let needs = [needs, &["python3"]].concat();
        let name = format!("python_{name}");
        tests.push(found.trial(&name, move || check(true), &needs));
    }
    for (tool, found) in [("curl", found.curl), ("chromium", found.chromium)] {
        if !found {
            eprintln!(
                "note: {tool} not found: lesson 15's tests that need it are \
                 ignored (apt-get install {tool}; under CI they fail)"
            );
        }
    }
    tests
}

/// Which of the programs the tests use besides the lessons run here.
struct Found {
    python: bool,
    curl: bool,
    chromium: bool,
}

impl Found {
    fn here() -> Found {
        let runs = |program: &str| {
            Command::new(program)
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success())
        };
        Found {
            python: python_found(),
            curl: runs("curl"),
            chromium: runs("chromium"),
        }
    }

    /// A test named `lesson_15::name`, ignored where a program it needs is
    /// missing, except under CI (the `CI` variable set), where it runs and
    /// fails.
    fn trial(
        &self,
        name: &str,
        body: impl FnOnce() + Send + 'static,
        needs: &[&str],
    ) -> Trial {
        let missing = needs.iter().any(|&program| match program {
            "python3" => !self.python,
            "curl" => !self.curl,
            _ => !self.chromium,
        });
        let skip = missing && std::env::var_os("CI").is_none();
        Trial::test(format!("lesson_15::{name}"), move || {
            body();
            Ok(())
        })
        .with_ignored_flag(skip)
    }
}

/// The lesson in Rust, or its Python twin.
fn program(python: bool, args: &[&str]) -> Command {
    match python {
        true => python_twin(NAME, args).unwrap(),
        false => lesson(NAME, args),
    }
}

/// A server in Rust or Python on port 0 with `args`, and its port.
fn server_in(python: bool, args: &[&str]) -> (Process, String) {
    let args = [&["server", "--port", "0"], args].concat();
    let mut server = Process::spawn(program(python, &args));
    let port = server.listening_port().to_string();
    (server, port)
}

/// Ports masked, and every HTTP date (`Thu, 03 Dec 2026 12:55:33 GMT`)
/// shown as `DATE`: they change from run to run.
fn masked(text: &str) -> String {
    let text = mask_ports(text);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" GMT") {
        // The 25 characters before ` GMT`: `Thu, 03 Dec 2026 12:55:33`.
        let start = at.checked_sub(25).filter(|&start| {
            rest.is_char_boundary(start) && rest.as_bytes()[start + 3] == b','
        });
        match start {
            Some(start) => out.push_str(&format!("{}DATE", &rest[..start])),
            None => out.push_str(&rest[..at + 4]),
        }
        rest = &rest[at + 4..];
    }
    out.push_str(rest);
    out
}

/// Connects to the server on `port`, sends `bytes`, half-closes, and reads
/// until the server closes: what it answered.
fn exchange(port: &str, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(bytes).unwrap();
    read_all(&mut stream)
}

/// Everything until the close (or a reset), as text.
fn read_all(stream: &mut TcpStream) -> String {
    read_to_end(stream).0
}

/// Everything until the close, as text, and the error that ended the
/// reading instead, if one did (a reset).
fn read_to_end(stream: &mut TcpStream) -> (String, Option<ErrorKind>) {
    let mut answer = Vec::new();
    let mut buffer = [0; 65536];
    let error = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break None,
            Ok(received) => answer.extend_from_slice(&buffer[..received]),
            Err(error) => break Some(error.kind()),
        }
    };
    (String::from_utf8_lossy(&answer).into_owned(), error)
}

/// The status codes of the answers in `text`, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

/// A server's lines, once it is stopped.
fn stopped(server: Process) -> Output {
    server.stop()
}

/// Sends `bytes` from another thread, piece by piece (`pieces` yields
/// them), until the server stops taking them, while this thread reads the
/// answer: a client that keeps sending and does read.
fn sending_while_reading(
    port: &str,
    pieces: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> (String, Option<ErrorKind>) {
    let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut writer = stream.try_clone().unwrap();
    let stop = done.clone();
    let sender = thread::spawn(move || {
        for piece in pieces {
            if stop.load(Ordering::SeqCst) || writer.write_all(&piece).is_err()
            {
                break;
            }
        }
    });
    let answer = read_to_end(&mut stream.try_clone().unwrap());
    done.store(true, Ordering::SeqCst);
    let _ = stream.shutdown(Shutdown::Both);
    sender.join().unwrap();
    answer
}

/// What the server's linger prevents: a server that closes with the rest
/// of a 1 MB header unread. The client reads the answer, and then its recv
/// fails with ECONNRESET (Linux keeps what had arrived before the reset).
fn a_close_with_bytes_unread_resets_after_the_answer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut head = [0; 8192];
        client.read_exact(&mut head).unwrap();
        client.write_all(b"HTTP/1.1 431 Too Large\r\n\r\n").unwrap();
        // Dropped: closed, with the rest unread.
    });
    let mut request = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    let (answer, error) =
        sending_while_reading(&port, std::iter::once(request));
    server.join().unwrap();
    assert_eq!(statuses(&answer), [431], "{answer}");
    assert_eq!(error, Some(ErrorKind::ConnectionReset));
}

/// The chapter's exercise 1: a request without `Connection: close`. The
/// page comes at once; the close, from the server, after --idle.
fn exercise_a_request_by_hand() {
    let (server, port) = server_in(false, &["--idle", "0.5"]);
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let (answer, error) = read_to_end(&mut stream);
    assert_eq!((statuses(&answer), error), (vec![200], None));
    let log = stopped(server).stdout;
    assert!(
        log.contains("connection 1: no request in 0.5 s (--idle)"),
        "{log}"
    );
    assert_transcript(NAME, "exercise-by-hand", &masked(&log));
}

/// The chapter's exercise 2: a POST gets a 405, and the connection is
/// kept: curl closes it.
fn exercise_post_with_curl() {
    let (server, port) = server_in(false, &["--once"]);
    let url = format!("http://127.0.0.1:{port}/");
    let output = curl(&["-i", "-X", "POST", "--data", "hello", &url]);
    assert_exit(&output, 0);
    assert!(output.stdout.contains("Allow: GET, HEAD\n"));
    assert!(!output.stdout.contains("Connection: close"));
    let server = server.finish();
    let closed = "connection 1: the client closed the connection";
    assert!(server.stdout.contains(closed), "{}", server.stdout);
    assert_transcript(NAME, "exercise-post", &masked(&output.stdout));
}

fn help() {
    assert_help_transcripts(NAME);
}

fn demo(python: bool) {
    let output = run(program(python, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &masked(&output.stdout));
}

fn client_paths(python: bool) {
    let (server, port) = server_in(python, &["--once"]);
    let paths = ["--path", "/nothing", "--path", "/../etc/passwd"];
    let args = [&["client", "--port", &port][..], &paths].concat();
    let client = run(program(python, &args));
    assert_exit(&client, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    let log = &server.stdout;
    for request in ["request 1: GET /nothing ", "request 2: GET /../etc/"] {
        assert!(log.contains(request), "{log}");
    }
    assert!(!log.contains("connection 2"), "{log}");
    assert!(!client.stdout.contains("root:"), "{}", client.stdout);
    if !python {
        assert_transcript(NAME, "two-paths-server", &masked(log));
        assert_transcript(NAME, "two-paths-client", &masked(&client.stdout));
    }
}

fn curl(args: &[&str]) -> Output {
    let mut curl = Command::new("curl");
    curl.args(["--silent", "--show-error", "--max-time", "30"]).args(args);
    run(curl)
}

fn curl_page(python: bool) {
    let (server, port) = server_in(python, &["--once"]);
    let url = format!("http://127.0.0.1:{port}/");
    let output = curl(&["--include", &url]);
    assert_exit(&output, 0);
    // Process reads stdout line by line: each CR LF is a newline there.
    let (head, body) = output.stdout.split_once("\n\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{head}");
    assert!(head.contains("Content-Type: text/html; charset=utf-8\n"));
    let length = format!("Content-Length: {}", body.len());
    assert!(head.lines().any(|line| line == length), "{head}");
    assert!(body.contains("<li>Lesson 15: your browser talks"), "{body}");
    assert!(body.contains("Connection 1, request 1, served at"), "{body}");
    assert_exit(&server.finish(), 0);
}

fn curl_keep_alive(python: bool) {
    let (server, port) = server_in(python, &["--once", "--trace", "--hex"]);
    let url = format!("http://127.0.0.1:{port}/");
    let output = curl(&["--verbose", "-o", "/dev/null", &url, &url]);
    assert_exit(&output, 0);
    let reused = "Re-using existing connection";
    assert!(output.stderr.contains(reused), "{}", output.stderr);
    let server = server.finish();
    assert_exit(&server, 0);
    let log = &server.stdout;
    assert!(log.contains("connection 1, request 2: GET / HTTP/1.1 -> 200"));
    assert!(!log.contains("connection 2"), "{log}");
    if !python {
        let request = request_lines(log, "connection 1, request 1");
        assert_request_transcript("curl-request", &request);
        assert_hex_transcript("curl-hex", log, &port);
    }
}

fn curl_cut(python: bool) {
    let (server, port) = server_in(python, &["--once", "--request-time", "1"]);
    let url = format!("http://127.0.0.1:{port}/");
    // curl sends the 5 bytes of its body and waits: 95 never come.
    let args = ["--include", "-H", "Content-Length: 100", "--data", "hello"];
    let output = curl(&[&args[..], &[&url]].concat());
    assert_exit(&output, 0);
    assert!(
        output.stdout.starts_with("HTTP/1.1 408 Request Timeout\n"),
        "{}",
        output.stdout
    );
    let server = server.finish();
    let said = "request 1: the body stopped at 5 of 100 bytes -> 408";
    assert!(server.stdout.contains(said), "{}", server.stdout);
}

/// Python's own HTTP client, on one connection: a GET, a 404, a HEAD.
const HTTP_CLIENT: &str = r#"
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
for method, path in [("GET", "/"), ("GET", "/nothing"), ("HEAD", "/")]:
    conn.request(method, path)
    answer = conn.getresponse()
    body = answer.read()
    print(method, path, answer.status, answer.reason,
          answer.getheader("Content-Length"), len(body), id(conn.sock))
conn.close()
"#;

fn http_client(python: bool) {
    let interpreter = python_path().expect("python3 runs here");
    let (server, port) = server_in(python, &[]);
    let mut command = Command::new(interpreter);
    command.args(["-c", HTTP_CLIENT, &port]);
    let output = run(command);
    assert_exit(&output, 0);
    let lines: Vec<Vec<&str>> =
        output.stdout.lines().map(|line| line.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3, "{}", output.stdout);
    assert_eq!(lines[0][2..4], ["200", "OK"]);
    assert_eq!(lines[0][4], lines[0][5]); // Content-Length, what was read
    assert_eq!(lines[1][2..5], ["404", "Not", "Found"]);
    // HEAD: the GET's length, and no body.
    assert_eq!(lines[2][2], "200");
    assert_eq!(lines[2][5], "0");
    assert_eq!(lines[2][4], lines[0][4]);
    // One socket for all three: the same id().
    assert_eq!(lines[0].last(), lines[2].last());
    // The server says what it answered after the answer is sent: wait for
    // its line, do not race it.
    let mut server = server;
    let said = "connection 1, request 3: HEAD / HTTP/1.1 -> 200";
    while !server.next_line().contains(said) {}
    let log = stopped(server).stdout;
    assert!(!log.contains("connection 2"), "{log}");
}

fn slowloris(python: bool) {
    let (server, port) = server_in(python, &["--request-time", "1"]);
    // A byte at a time, each after the last was taken: never the blank
    // line.
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    let slow = head.into_iter().chain(std::iter::repeat(b'a')).map(|byte| {
        thread::sleep(std::time::Duration::from_millis(20));
        vec![byte]
    });
    let (answer, error) = sending_while_reading(&port, slow);
    let log = stopped(server).stdout;
    assert_eq!(statuses(&answer), [408], "{answer}{error:?}\n{log}");
    let said = "no whole head in 1 s (--request-time) -> 408 Request Timeout";
    assert!(log.contains(said), "{log}");
}

fn megabyte_header(python: bool) {
    let (server, port) = server_in(python, &[]);
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    let once = std::iter::once(request);
    let (answer, error) = sending_while_reading(&port, once);
    assert_eq!(statuses(&answer), [431], "{answer}");
    // The server read the rest before it closed: no reset.
    assert_eq!(error, None);
    assert!(answer.contains("Connection: close\r\n"), "{answer}");
    let log = stopped(server).stdout;
    let said = "request 1: a head longer than 8192 bytes -> 431";
    assert!(log.contains(said), "{log}");
}

fn endless_head(python: bool) {
    let (server, port) = server_in(python, &[]);
    let start = std::iter::once(b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec());
    let lines = (0..).map(|n: u64| format!("X-{n}: y\r\n").into_bytes());
    let (answer, _) = sending_while_reading(&port, start.chain(lines));
    assert_eq!(statuses(&answer), [431], "{answer}");
    let log = stopped(server).stdout;
    assert!(log.contains("a head longer than 8192 bytes -> 431"), "{log}");
}

fn stopped_head(python: bool) {
    let (server, port) = server_in(python, &["--request-time", "0.5"]);
    let answer = exchange(&port, b"GET / HTTP/1.1\r\nHost: x\r\n");
    assert_eq!(statuses(&answer), [408], "{answer}");
    let log = stopped(server).stdout;
    assert!(log.contains("no whole head in 0.5 s (--request-time)"), "{log}");
}

fn long_body(python: bool) {
    let (server, port) = server_in(python, &[]);
    // Content-Length says 5: `hello`. What follows is read as a request.
    let request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n\
                    helloEXTRA BYTES\r\n\r\n";
    let answer = exchange(&port, request);
    assert_eq!(statuses(&answer), [405, 400], "{answer}");
    assert!(answer.contains("Allow: GET, HEAD\r\n"), "{answer}");
    let log = stopped(server).stdout;
    let said = "request 2: b'EXTRA BYTES' is not METHOD PATH VERSION -> 400";
    assert!(log.contains(said), "{log}");
    if !python {
        assert_transcript(NAME, "long-body-server", &masked(&log));
    }
}

fn pipelined(python: bool) {
    let (server, port) = server_in(python, &[]);
    let mut burst = Vec::new();
    for number in 1..=100 {
        let close = if number == 100 { "Connection: close\r\n" } else { "" };
        let request = format!("GET / HTTP/1.1\r\nHost: x\r\n{close}\r\n");
        burst.extend_from_slice(request.as_bytes());
    }
    let answer = exchange(&port, &burst);
    assert_eq!(statuses(&answer), [200; 100]);
    let served: Vec<usize> = (1..=100)
        .map(|n| answer.find(&format!("request {n}, served")).unwrap())
        .collect();
    assert!(served.is_sorted(), "answered out of order");
    let log = stopped(server).stdout;
    assert!(log.contains("connection 1, request 100: GET / HTTP/1.1 -> 200"));
}

fn unprintable(python: bool) {
    let (server, port) = server_in(python, &[]);
    for path in [&b"/caf\xc3\xa9"[..], b"/a\0b", b"/\x1b[2J"] {
        let request = [b"GET ", path, b" HTTP/1.1\r\nHost: x\r\n\r\n"].concat();
        let answer = exchange(&port, &request);
        assert_eq!(statuses(&answer), [400], "{answer}");
    }
    let log = stopped(server).stdout;
    assert!(!log.contains('\x1b') && !log.contains('\0'), "{log:?}");
    for said in [
        r"the path b'/caf\xc3\xa9' is not printable ASCII -> 400",
        r"a byte b'\x00' in the line b'GET /a\x00b HTTP/1.1' -> 400",
        r"the path b'/\x1b[2J' is not printable ASCII -> 400",
    ] {
        assert!(log.contains(said), "{log}");
    }
    if !python {
        assert_transcript(NAME, "unprintable-server", &masked(&log));
    }
}

fn dot_dot(python: bool) {
    let (server, port) = server_in(python, &[]);
    let request = b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\
                    Connection: close\r\n\r\n";
    let answer = exchange(&port, request);
    assert_eq!(statuses(&answer), [404], "{answer}");
    assert!(answer.contains("This server serves no files"), "{answer}");
    assert!(!answer.contains("root:"), "{answer}");
    stopped(server);
}

fn malformed(python: bool) {
    let (server, port) = server_in(python, &[]);
    let cases: [(&[u8], u16); 8] = [
        (b"HELLO\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
        (b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            501,
        ),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
        (b"GET / HTTP/1.0\r\n\r\n", 200),
    ];
    for (request, status) in cases {
        let answer = exchange(&port, request);
        assert_eq!(statuses(&answer), [status], "{answer}");
        assert!(answer.contains("Connection: close\r\n"), "{answer}");
    }
    let log = stopped(server).stdout;
    if !python {
        assert_transcript(NAME, "malformed-server", &masked(&log));
    }
}

/// Requests that RFC 9112 and 9110 say how to answer, each on its own
/// connection: the status, and what the server's log says of it.
fn rfc_9112(python: bool) {
    let (server, port) = server_in(python, &[]);
    let huge = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        "9".repeat(5000)
    );
    let cases: [(&[u8], u16, &str); 8] = [
        // More digits than Python's int() takes (4300): too large all the
        // same, and said as sent.
        (
            huge.as_bytes(),
            413,
            "a Content-Length of b'9999999999999999999999999999999999999999\
             '..., over 65536 bytes -> 413",
        ),
        // The absolute form, which a server MUST accept (RFC 9112, 3.2.2).
        (
            b"GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            200,
            "GET http://x/ HTTP/1.1 -> 200 OK",
        ),
        // The asterisk form, for OPTIONS only (3.2.4): a method not served.
        (
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            405,
            "OPTIONS * HTTP/1.1 -> 405",
        ),
        (
            b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            400,
            "the target b'*' is not /PATH, nor http://HOST/PATH -> 400",
        ),
        // HTTP/2's preface: a version this server does not speak, 505.
        (
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            505,
            "the version b'HTTP/2.0' is not HTTP/1.x -> 505",
        ),
        // A higher minor version is read as 1.1 (RFC 9110, 2.5).
        (
            b"GET / HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n",
            200,
            "GET / HTTP/1.2 -> 200 OK",
        ),
        // An empty line before a request line is ignored (RFC 9112, 2.2).
        (
            b"\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            200,
            "request 1: GET / HTTP/1.1 -> 200 OK",
        ),
        // Only spaces and tabs are whitespace around a value (5.5 of
        // RFC 9110): this Connection is not `close`, so the server waits
        // for the next request, which asks to close.
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: \x0cclose\r\n\r\n\
              GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            200,
            "request 2: GET / HTTP/1.1 -> 200 OK",
        ),
    ];
    let mut answers = Vec::new();
    for (request, status, _) in &cases {
        let answer = exchange(&port, request);
        assert!(statuses(&answer).starts_with(&[*status]), "{answer}");
        answers.push(answer);
    }
    let log = stopped(server).stdout;
    for (_, _, said) in &cases {
        assert!(log.contains(said), "{said:?} not in:\n{log}");
    }
    // Said as it is, and not as `B'HELLO'`.
    let bad = exchange_with(python, b"HELLO\r\n\r\n");
    assert!(bad.contains("b&#39;HELLO&#39; is not METHOD PATH"), "{bad}");
}

/// The start of a TLS handshake, what `curl https://...` sends first, on
/// the plain port: a 400 at once, not a 408 when --request-time (here an
/// hour) has passed.
fn tls_handshake(python: bool) {
    let (server, port) = server_in(python, &["--request-time", "3600"]);
    // A TLS record: 0x16 (a handshake), version 3.1, 5 bytes of it.
    let answer = exchange(&port, b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03");
    assert_eq!(statuses(&answer), [400], "{answer}");
    let log = stopped(server).stdout;
    let said = "request 1: a TLS handshake (https://), but this server \
                speaks plain HTTP -> 400 Bad Request: closing";
    assert!(log.contains(said), "{log}");
}

/// Lines that end in LF alone, as `nc` sends what is typed (without -C):
/// a 400 at once, not a 408 when --request-time (an hour) has passed.
fn bare_lf(python: bool) {
    let (server, port) = server_in(python, &["--request-time", "3600"]);
    let answer = exchange(&port, b"GET / HTTP/1.1\nHost: x\n\n");
    assert_eq!(statuses(&answer), [400], "{answer}");
    let log = stopped(server).stdout;
    let said = "request 1: lines that end in LF alone, not CR LF -> 400";
    assert!(log.contains(said), "{log}");
}

/// A client that sends `Expect: 100-continue` waits for a 100 (Continue)
/// before it sends its body, and RFC 9110 (10.1.1) says the server MUST
/// send it, or its final answer, at once: not wait for the body.
fn expect(python: bool) {
    let (server, port) = server_in(python, &["--request-time", "3600"]);
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
              Expect: 100-continue\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let continues = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut first = vec![0; continues.len()];
    let read = stream.read_exact(&mut first);
    assert!(read.is_ok(), "{read:?}: {}", String::from_utf8_lossy(&first));
    assert_eq!(first, continues);
    stream.write_all(b"hello").unwrap();
    assert_eq!(statuses(&read_all(&mut stream)), [405]);
    stopped(server);
}

/// The answer of a server of its own to `bytes`.
fn exchange_with(python: bool, bytes: &[u8]) -> String {
    let (server, port) = server_in(python, &[]);
    let answer = exchange(&port, bytes);
    stopped(server);
    answer
}

fn idle(python: bool) {
    let (server, port) = server_in(python, &["--idle", "0.5"]);
    // Nothing sent: the server closes after --idle.
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_all(&mut stream), "");
    let log = stopped(server).stdout;
    assert!(
        log.contains("connection 1: no request in 0.5 s (--idle)"),
        "{log}"
    );
}

fn full(python: bool) {
    let (server, port) = server_in(python, &["--max-clients", "1"]);
    let mut held = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    // A request answered: the first connection surely has its thread.
    held.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buffer = [0; 16];
    held.read_exact(&mut buffer).unwrap();
    let answer = exchange(&port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(statuses(&answer), [503], "{answer}");
    // One full stop, not two.
    assert!(answer.contains("server is full (1 connection).</p>"), "{answer}");
    let log = stopped(server).stdout;
    let said = "connection 2 from 127.0.0.1:";
    assert!(log.contains(said), "{log}");
    assert!(log.contains("503 Service Unavailable, 1 connection already"));
}

fn hang_up(python: bool) {
    let (server, port) = server_in(python, &["--once"]);
    let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    stream.write_all(b"GET / HT").unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    assert_eq!(read_all(&mut stream), "");
    let server = server.finish();
    assert_exit(&server, 0);
    let said = "connection 1: the client closed in the middle of a head, \
                after 8 bytes";
    assert!(server.stdout.contains(said), "{}", server.stdout);
}

fn other_language(python: bool) {
    let (server, port) = server_in(python, &["--once"]);
    let args = ["client", "--port", &port, "--path", "/", "--path", "/x"];
    let client = run(program(!python, &args));
    assert_exit(&client, 0);
    assert!(client.stdout.contains("HTTP/1.1 404 Not Found"));
    assert_exit(&server.finish(), 0);
}

fn head_request(python: bool) {
    let (server, port) = server_in(python, &[]);
    let get = exchange(
        &port,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = exchange(
        &port,
        b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (get_head, _) = get.split_once("\r\n\r\n").unwrap();
    let (head_head, body) = head.split_once("\r\n\r\n").unwrap();
    assert_eq!(masked(get_head), masked(head_head));
    assert_eq!(body, "");
    // A query after `?` is not part of the path.
    let query = b"GET /?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(statuses(&exchange(&port, query)), [200]);
    stopped(server);
}

/// A client that pipelines requests and never reads the answers: once the
/// buffers are full, the server's send waits --request-time, and it drops
/// the client.
fn takes_no_answers(python: bool) {
    use socket2::{Domain, Socket, Type};
    let args = ["--once", "--request-time", "1"];
    let (server, port) = server_in(python, &args);
    let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    // A small receive buffer: the answers fill it, and the server's send
    // buffer (at most 4 MiB here, tcp_wmem), soon.
    client.set_recv_buffer_size(4096).unwrap();
    let address: std::net::SocketAddr =
        format!("127.0.0.1:{port}").parse().unwrap();
    client.connect(&address.into()).unwrap();
    let mut writer = TcpStream::from(client);
    let sender = thread::spawn(move || {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
        // 16,000 requests ask for some 18 MB of answers. The writes fail
        // once the server has closed.
        for _ in 0..16 {
            if writer.write_all(&request).is_err() {
                break;
            }
        }
        // Open until the test ends: a close now would be a reset.
        writer
    });
    // --once: the server ends when its one connection's thread does.
    let output = server.finish();
    drop(sender.join().unwrap());
    assert_exit(&output, 0);
    let said = "the client took no answer in 1 s (--request-time): closing";
    assert!(output.stderr.contains(said), "{}", output.stderr);
    assert!(!output.stdout.contains("request 16000:"), "all answered");
}

fn names_what_ran_out(python: bool) {
    assert_names_what_ran_out(&|port, options| {
        let args = [&["client", "--port", port][..], options].concat();
        program(python, &args)
    });
}

fn stopped_client(python: bool) {
    assert_a_stopped_client_goes_on(&|port| {
        program(python, &["client", "--port", port, "--wait", "1"])
    });
}

/// Servers no one should trust: escape codes in a header and the body are
/// printed escaped; a head that never ends, and an answer without a
/// Content-Length, are refused in words; nothing is unbounded.
fn hostile_server(python: bool) {
    let client = |bytes: &[u8]| {
        let (port, peer) = peer_sending(bytes.to_vec());
        let port = port.to_string();
        let output = run(program(python, &["client", "--port", &port]));
        peer.join().unwrap();
        output
    };
    let escapes = client(
        b"HTTP/1.1 200 OK\r\nX-Evil: \x1b[2J\r\nContent-Length: 6\r\n\r\n\
          \x1b[2Jhi",
    );
    assert_exit(&escapes, 0);
    assert!(!escapes.stdout.contains('\x1b'), "{:?}", escapes.stdout);
    assert!(escapes.stdout.contains("[client] X-Evil: \\x1b[2J\n"));
    assert!(escapes.stdout.contains("[client]   \\x1b[2Jhi\n"));
    let endless =
        client(&[b"HTTP/1.1 200 OK\r\n", &[b'a'; 20_000][..]].concat());
    assert_exit(&endless, 1);
    let said = "error: an answer head longer than 8192 bytes\n";
    assert!(endless.stderr.ends_with(said), "{}", endless.stderr);
    let unframed = client(b"HTTP/1.1 200 OK\r\n\r\nhello");
    assert_exit(&unframed, 1);
    let said = "error: an answer without a Content-Length of at most 65536: \
                this client reads no other framing\n";
    assert!(unframed.stderr.ends_with(said), "{}", unframed.stderr);
    // A Content-Length that is not ASCII digits, or too long for int():
    // no framing either, and no traceback.
    let huge = "9".repeat(5000);
    for length in ["+3", "\u{b2}", "\u{663}", &huge] {
        let answer =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\nabc");
        let output = client(answer.as_bytes());
        assert_exit(&output, 1);
        assert!(output.stderr.ends_with(said), "{length}: {}", output.stderr);
    }
}

/// Lesson 8's threads: while seven connections sit on half a head each,
/// a client is served at once, long before their --request-time.
fn slow_client(python: bool) {
    let (server, port) = server_in(python, &["--request-time", "60"]);
    let slow: Vec<TcpStream> = (0..7)
        .map(|_| {
            let address = format!("127.0.0.1:{port}");
            let mut stream = TcpStream::connect(address).unwrap();
            stream.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
            stream
        })
        .collect();
    let client = run(program(python, &["client", "--port", &port]));
    assert_exit(&client, 0);
    assert!(client.stdout.contains("[client] HTTP/1.1 200 OK\n"));
    assert!(client.stdout.contains("Connection 8, request 1, served"));
    drop(slow);
    stopped(server);
}

fn usage_errors(python: bool) {
    for args in [
        &["server", "--request-time", "0"][..],
        &["server", "--idle", "-1"],
        &["client", "--path", "a b"],
        &["client", "--path", "/a b"],
        &["client", "--path", "/caf\u{e9}"],
    ] {
        let output = run(program(python, args));
        assert_exit(&output, 2);
        assert_eq!(output.stdout, "", "{args:?}");
    }
}

/// The same requests, sent to each server: the same bytes back, but for
/// the dates.
fn the_rust_and_python_servers_answer_alike() {
    let requests: [&[u8]; 9] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /<b> HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n\
          PUT / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /a\0 HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\x05",
        b"GET / HTTP/1.1\nHost: x\n\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: \x0cclose\r\n\r\n\
          GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\n\
          Content-Length: 99999999999999999999\r\n\r\n",
    ];
    let answers = |python| {
        let (server, port) = server_in(python, &[]);
        let answers: Vec<String> =
            requests.iter().map(|r| masked(&exchange(&port, r))).collect();
        (answers, stopped(server).stdout)
    };
    let (rust, rust_log) = answers(false);
    let (python, python_log) = answers(true);
    assert_eq!(rust, python);
    assert_eq!(masked(&rust_log), masked(&python_log));
}

// ---- The bytes real clients send ----

/// The head lines the server printed with --trace for request `label`
/// (`connection 1, request 1`), as the client sent them.
fn request_lines(log: &str, label: &str) -> String {
    let prefix = format!("[server] trace: {label}: > ");
    let lines: Vec<&str> =
        log.lines().filter_map(|line| line.strip_prefix(&prefix)).collect();
    assert!(!lines.is_empty(), "no head lines for {label} in {log}");
    mask_ports(&(lines.join("\n") + "\n"))
}

/// The request line and the header names, in order: what stays the same
/// from one version of a client to the next (its values do not).
fn shape(request: &str) -> Vec<String> {
    let mut lines = request.lines();
    let first = lines.next().unwrap_or_default().to_string();
    let names = lines.map(|line| line.split(':').next().unwrap().to_string());
    std::iter::once(first).chain(names).collect()
}

/// A client's request, as the transcript `name`: it matches if it has the
/// transcript's shape (other versions of curl and Chromium send other
/// values); else the diff is shown, or with SNAPSHOTS=overwrite, written.
fn assert_request_transcript(name: &str, request: &str) {
    let path = transcript_path(NAME, name);
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if shape(&expected) != shape(request) {
        assert_transcript(NAME, name, request);
    }
}

/// The bytes of the first `received N bytes:` dump in `log`, read back
/// from its hex.
fn undump(log: &str) -> Vec<u8> {
    let mut lines = log.lines().skip_while(|line| !line.contains("received"));
    lines.next();
    let mut bytes = Vec::new();
    for line in lines {
        let row = line.strip_prefix("[server] ").unwrap_or_default();
        let hex = row.get(5..).and_then(|rest| rest.split_once(" |"));
        let offset = row.get(..4).filter(|offset| {
            offset.bytes().all(|byte| byte.is_ascii_hexdigit())
        });
        let (Some(_), Some((hex, _))) = (offset, hex) else { break };
        let row = hex.split_whitespace();
        bytes.extend(row.map(|byte| u8::from_str_radix(byte, 16).unwrap()));
    }
    bytes
}

/// The --hex dump of the first bytes the server received, with the test's
/// port made the lesson's own, 4115, and dumped again: the bytes curl
/// sends to `cargo run --example lesson_15 -- server`. It matches the
/// transcript if it has its shape, as [`assert_request_transcript`].
fn assert_hex_transcript(name: &str, log: &str, port: &str) {
    let text = String::from_utf8(undump(log)).unwrap();
    let text = text.replace(&format!(":{port}"), ":4115");
    let mut dump = vec![format!("[server] received {} bytes:", text.len())];
    let hex = socket_lessons::output::hex_dump(text.as_bytes());
    dump.extend(hex.iter().map(|line| format!("[server] {line}")));
    let dump = dump.join("\n") + "\n";
    let path = transcript_path(NAME, name);
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    let shape_of = |dump: &str| {
        shape(&String::from_utf8_lossy(&undump(dump)).replace("\r\n", "\n"))
    };
    if shape_of(&expected) != shape_of(&dump) {
        assert_transcript(NAME, name, &dump);
    }
}

fn chromium(python: bool) {
    let (server, port) = server_in(python, &["--trace"]);
    let url = format!("http://127.0.0.1:{port}/");
    let directory = std::env::temp_dir()
        .join(format!("lesson_15-chromium-{}-{python}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let profile = format!("--user-data-dir={}", directory.display());
    let browser = |args: &[&str]| {
        let mut command = Command::new("chromium");
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", &profile])
            .args(["--no-first-run", "--disable-extensions"])
            .args(args);
        run(command)
    };
    let dom = browser(&["--dump-dom", &url]);
    assert_exit(&dom, 0);
    assert!(
        dom.stdout.contains("<h1>Served by your own socket server</h1>"),
        "{}",
        dom.stdout
    );
    assert!(dom.stdout.contains("<li>Lesson 8: many clients at once</li>"));
    let png = directory.join("page.png");
    let screenshot = format!("--screenshot={}", png.display());
    let shot = browser(&[&screenshot, "--window-size=800,600", &url]);
    assert_exit(&shot, 0);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    // The IHDR chunk: width and height, big-endian.
    let size =
        |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (800, 600));
    // A path with an é: the browser percent-encodes it.
    let cafe = browser(&["--dump-dom", &format!("{url}café")]);
    assert_exit(&cafe, 0);
    let _ = std::fs::remove_dir_all(&directory);
    // The server says what it answered after sending it: wait for the
    // last page's line, do not race it.
    let mut server = server;
    let cafe = ": GET /caf%C3%A9 HTTP/1.1 -> 404 Not Found";
    while !server.next_line().contains(cafe) {}
    let log = stopped(server).stdout;
    assert!(log.contains(": GET / HTTP/1.1 -> 200 OK"), "{log}");
    let favicon = ": GET /favicon.ico HTTP/1.1 -> 404 Not Found";
    assert!(log.contains(favicon), "{log}");
    if !python {
        // The first request for `/`: its head lines.
        let label = log
            .lines()
            .find(|line| line.ends_with(": > GET / HTTP/1.1"))
            .and_then(|line| line.strip_prefix("[server] trace: "))
            .and_then(|line| line.strip_suffix(": > GET / HTTP/1.1"))
            .unwrap()
            .to_string();
        let request = request_lines(&log, &label);
        assert!(request.contains("User-Agent: "), "{request}");
        assert_request_transcript("chromium-request", &request);
    }
}

fn chromium_rust() {
    chromium(false);
}

fn chromium_python() {
    chromium(true);
}
