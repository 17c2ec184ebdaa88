//! Peers and surroundings that try to hang, exhaust or fool a lesson: a
//! server that trickles, one that floods, one that sends terminal escapes, a
//! client that never hangs up, a server out of file descriptors, and output
//! that cannot be written. Each ends in a clear message and the right exit
//! status, in bounded time.

mod support;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Output, Process, assert_exit, assert_transcript, example, lesson, run,
    unfold,
};

/// A server in the test that accepts one client and hands its socket to
/// `talk`; returns the port.
fn serve_one(talk: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((client, _)) = listener.accept() {
            talk(client);
        }
    });
    port.to_string()
}

fn assert_no_panic(output: &Output) {
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    assert_ne!(output.status.code(), Some(101), "{}", output.stderr);
}

#[test]
fn a_server_that_trickles_cannot_keep_a_client_past_its_deadline() {
    // A byte every 100 ms: each recv gets something before its own --wait,
    // so only the deadline ends this.
    let port = serve_one(|mut client| {
        for _ in 0..600 {
            if client.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    let output = run(lesson(
        "lesson_04",
        &["client", "--port", &port, "--wait", "5", "--deadline", "1"],
    ));
    assert_exit(&output, 1);
    assert_no_panic(&output);
    let stderr = unfold(&output.stderr);
    assert!(stderr.contains("gave up after 1 s in all"), "{stderr}");
    assert!(stderr.contains("--deadline SECONDS allows longer"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_client_keeps_a_bounded_amount_of_what_a_flood_sends() {
    let port = serve_one(|mut client| {
        let block = vec![b'a'; 64 * 1024];
        // 2 MiB, twice what lesson 4's client keeps, then more for as long
        // as it reads.
        for _ in 0..64 {
            if client.write_all(&block).is_err() {
                return;
            }
        }
    });
    let output = run(lesson("lesson_04", &["client", "--port", &port]));
    assert_exit(&output, 1);
    assert_no_panic(&output);
    assert!(
        unfold(&output.stderr)
            .contains("the server sent more than the 1048576 bytes this"),
        "{}",
        output.stderr
    );
}

#[test]
fn text_from_a_peer_cannot_drive_the_terminal_or_fake_a_line() {
    // Clear the screen, set the window title, then a line that pretends to
    // be the server's.
    const HOSTILE: &[u8] =
        b"\x1b[2J\x1b]0;owned\x07hi\n[server] error: run rm -rf ~ now";
    for name in ["lesson_01", "lesson_02", "lesson_04"] {
        let port = serve_one(|mut client| {
            let _ = client.write_all(HOSTILE);
        });
        let output = run(lesson(name, &["client", "--port", &port]));
        assert_exit(&output, 0);
        assert!(!output.stdout.contains('\x1b'), "{name}: {}", output.stdout);
        assert!(!output.stdout.contains('\x07'), "{name}: {}", output.stdout);
        assert!(
            output.stdout.lines().all(|line| line.starts_with("[client]")),
            "{name}: {}",
            output.stdout
        );
        if name == "lesson_01" {
            assert_transcript("errors", "escaped-peer-text", &output.stdout);
        }
    }
}

#[test]
fn a_client_that_never_hangs_up_holds_lesson_3s_server_for_a_bounded_time() {
    let mut server = Process::spawn(lesson(
        "lesson_03",
        &["server", "--port", "0", "--hold", "1"],
    ));
    let port = server.listening_port();
    // Connects, reads nothing, never closes.
    let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Queued behind it: served once the hold runs out.
    let port = port.to_string();
    let queued = run(lesson("lesson_03", &["client", "--port", &port]));
    drop(idle);
    assert_exit(&queued, 0);
    assert!(
        queued.stdout.contains("recv(7) returned 5 bytes: b' Rust'"),
        "{}",
        queued.stdout
    );
    let server = server.stop();
    assert!(
        unfold(&server.stdout).contains(
            "the client has not hung up after 1 s: closing its connection, \
             to serve the next client"
        ),
        "{}",
        server.stdout
    );
}

#[test]
fn a_client_queued_behind_another_is_told_why_nothing_comes() {
    let mut server = Process::spawn(lesson(
        "lesson_03",
        &["server", "--port", "0", "--hold", "5"],
    ));
    let port = server.listening_port();
    let _first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let port = port.to_string();
    let queued =
        run(lesson("lesson_03", &["client", "--port", &port, "--wait", "0.5"]));
    assert_exit(&queued, 0);
    assert_transcript("lesson_03", "client-queued", &queued.stdout);
    server.stop();
}

#[test]
fn a_failing_accept_is_retried_with_a_pause_not_in_a_busy_loop() {
    // Four file descriptors: stdin, stdout, stderr and the listening socket.
    // Every accept then fails with "too many open files".
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 4 && exec \"$0\" server --port 0")
        .arg(example("lesson_01"));
    let mut server = Process::spawn(command);
    let port = server.listening_port();
    let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // Long enough for a busy loop to print hundreds of thousands of lines.
    thread::sleep(Duration::from_secs(1));
    let server = server.stop();
    let failures = server.stderr.matches("error:").count();
    assert!(
        (1..=4).contains(&failures),
        "{failures} errors in a second:\n{}",
        &server.stderr[..server.stderr.len().min(2000)]
    );
    assert!(server.stderr.contains("Too many open files"), "{}", server.stderr);
}

/// Runs `name` with `args`, its stdout and stderr as given, and no more
/// than the tests' deadline.
fn run_to(
    name: &str,
    args: &[&str],
    stdout: Stdio,
    stderr: Stdio,
) -> std::process::Output {
    let mut child = lesson(name, args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < support::DEADLINE, "{name} hung");
        thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn full() -> Stdio {
    File::options().write(true).open("/dev/full").unwrap().into()
}

#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    // --help to a full disk.
    let help = run_to("lesson_01", &["--help"], full(), Stdio::piped());
    assert_eq!(help.status.code(), Some(1));
    // A usage error whose stderr is a full disk.
    let usage = run_to("lesson_01", &["--bogus"], Stdio::piped(), full());
    assert_eq!(usage.status.code(), Some(2));
    // A client whose story cannot be written does not report success.
    let mut server =
        Process::spawn(lesson("lesson_01", &["server", "--port", "0"]));
    let port = server.listening_port().to_string();
    let client = run_to(
        "lesson_01",
        &["client", "--port", &port],
        full(),
        Stdio::piped(),
    );
    assert_eq!(client.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&client.stderr);
    assert!(stderr.contains("could not be written"), "{stderr}");
    server.stop();
    for output in [help, usage] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    // A pipe whose reader is gone before the lesson starts: every write to
    // it fails, as with `--help | true` when `true` has already exited.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = lesson("lesson_01", &["--help"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
}

#[test]
fn a_client_that_trickles_cannot_hold_lesson_3s_server_past_its_hold() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut server = Process::spawn(lesson(
        "lesson_03",
        &["server", "--port", "0", "--hold", "1"],
    ));
    let port = server.listening_port();
    // A byte every 200 ms for up to 30 s: each recv gets something well
    // within any per-recv timeout, so only a bound on the whole hold ends
    // it.
    let trickling = Arc::new(AtomicBool::new(true));
    let mut trickler = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let still = Arc::clone(&trickling);
    let trickle = thread::spawn(move || {
        for _ in 0..150 {
            // Cut off by the server: it is no longer trickling, but it
            // did not finish either.
            if trickler.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        still.store(false, Ordering::SeqCst);
    });
    let port = port.to_string();
    let queued =
        run(lesson("lesson_03", &["client", "--port", &port, "--wait", "20"]));
    // Served before the trickler had sent all it meant to: its hold was
    // cut.
    assert!(trickling.load(Ordering::SeqCst), "served only after the trickle");
    assert_exit(&queued, 0);
    assert!(
        queued.stdout.contains("recv(7) returned 5 bytes: b' Rust'"),
        "{}",
        queued.stdout
    );
    let server = server.stop();
    assert!(
        unfold(&server.stdout).contains("the client has not hung up after 1 s"),
        "{}",
        server.stdout
    );
    drop(trickle);
}
