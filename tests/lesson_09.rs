//! Lesson 9: the chat room, in every mix of Rust and Python, and against
//! hostile clients. Every line reaches every other client once, in the
//! order its sender sent it, and never comes back to its sender.

mod support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use socket_lessons::old::framing::frame;
use support::{
    Process, assert_exit, assert_sides_transcript, assert_transcript, lesson,
};

const NAME: &str = "lesson_09";

/// The lesson in Rust, or its Python twin (None where python3 is missing).
fn program(python: bool, args: &[&str]) -> Option<Command> {
    if !python {
        return Some(lesson(NAME, args));
    }
    support::python_twin(NAME, args)
}

/// A client the test itself plays, speaking the protocol byte by byte.
struct Probe {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Probe {
    fn connect(port: &str) -> Probe {
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream.set_read_timeout(Some(support::DEADLINE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Probe { stream, reader }
    }

    /// Connects, sends `name`, and reads the welcome.
    fn join(port: &str, name: &str) -> Probe {
        let mut probe = Probe::connect(port);
        probe.say(name);
        let (from, welcome) = probe.hear().expect("a welcome");
        assert_eq!(from, "room");
        assert!(welcome.starts_with(&format!("welcome, {name}")), "{welcome}");
        probe
    }

    fn say(&mut self, text: &str) {
        self.stream.write_all(&frame(text.as_bytes()).unwrap()).unwrap();
    }

    fn message(&mut self) -> Option<String> {
        let mut header = [0; 10];
        if self.reader.read_exact(&mut header).is_err() {
            return None;
        }
        let length: usize =
            std::str::from_utf8(&header).unwrap().trim().parse().unwrap();
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        Some(String::from_utf8(body).unwrap())
    }

    /// The next name and text, or None when the server closes.
    fn hear(&mut self) -> Option<(String, String)> {
        let name = self.message()?;
        Some((name, self.message().expect("a text after a name")))
    }

    fn expect(&mut self, from: &str, text: &str) {
        let heard = self.hear();
        assert_eq!(heard, Some((from.to_string(), text.to_string())));
    }
}

/// Reads a process's lines until one is `line`, after its label.
fn wait_line(process: &mut Process, line: &str) {
    let is_it = |read: String| {
        read.split_once("] ").is_some_and(|(_, rest)| rest == line)
    };
    while !is_it(process.next_line()) {}
}

fn demo(python: bool) {
    let Some(command) = program(python, &[]) else { return };
    let output = support::run(command);
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

#[test]
fn demo_is_a_scripted_conversation() {
    demo(false);
}

#[test]
fn python_demo_is_a_scripted_conversation() {
    demo(true);
}

/// A Rust client and a Python client, on a Rust and on a Python server,
/// with the test's own client listening: each hears the others' lines in
/// order, never its own; each sees who joins and leaves.
fn mixed_room(python_server: bool) {
    let server_args = ["server", "--port", "0"];
    let Some(server) = program(python_server, &server_args) else { return };
    let mut server = Process::spawn(server);
    let port = server.listening_port().to_string();
    let client = |python, name| {
        let args = ["client", "--port", &port, "--name", name];
        program(python, &args).map(Process::spawn_piped)
    };
    let Some((mut rusty, mut rusty_keys)) = client(false, "rusty") else {
        return;
    };
    wait_line(&mut rusty, "room: welcome, rusty; nobody else is here");
    let Some((mut pyth, mut pyth_keys)) = client(true, "pyth") else {
        return;
    };
    wait_line(&mut pyth, "room: welcome, pyth; here: rusty");
    wait_line(&mut rusty, "room: pyth joined");
    let mut probe = Probe::join(&port, "probe");
    wait_line(&mut rusty, "room: probe joined");
    wait_line(&mut pyth, "room: probe joined");

    rusty_keys.write_all(b"one\ntwo \xe2\x9c\x93\n").unwrap();
    wait_line(&mut pyth, "rusty: two \u{2713}");
    probe.expect("rusty", "one");
    probe.expect("rusty", "two \u{2713}");
    pyth_keys.write_all(b"three\x1b[2J\n").unwrap();
    wait_line(&mut rusty, "pyth: three\\x1b[2J");
    probe.expect("pyth", "three\x1b[2J");
    probe.say("four");
    wait_line(&mut rusty, "probe: four");
    wait_line(&mut pyth, "probe: four");

    drop(rusty_keys);
    let rusty = rusty.finish();
    wait_line(&mut pyth, "room: rusty left");
    probe.expect("room", "rusty left");
    drop(pyth_keys);
    let pyth = pyth.finish();
    probe.expect("room", "pyth left");
    drop(probe);
    wait_line(&mut server, "probe left");
    for output in [&rusty, &pyth] {
        assert_exit(output, 0);
    }
    assert_transcript(NAME, "room-rust-client", &rusty.stdout);
    assert_transcript(NAME, "room-python-client", &pyth.stdout);
    assert!(!rusty.stdout.contains("rusty: "), "{}", rusty.stdout);
    assert!(!pyth.stdout.contains("pyth: "), "{}", pyth.stdout);
    let server = server.stop();
    assert_transcript(NAME, "room-server", &server.stdout);
}

#[test]
fn rust_server_with_rust_and_python_clients() {
    mixed_room(false);
}

#[test]
fn python_server_with_rust_and_python_clients() {
    mixed_room(true);
}

/// Clients that break the protocol are dropped and announced, each with
/// the reason; the room goes on.
fn hostile_clients(python_server: bool) {
    let server_args = ["server", "--port", "0"];
    let Some(server) = program(python_server, &server_args) else { return };
    let mut server = Process::spawn(server);
    let port = server.listening_port().to_string();
    let mut watcher = Probe::join(&port, "watcher");
    let attacks: [(&str, &[u8], &str); 4] = [
        (
            "garbage",
            b"garbage!!!",
            "garbage was dropped: the header b'garbage!!!' is not a \
             length: it must be digits, padded with spaces to 10 characters",
        ),
        (
            "huge",
            b"9999999999",
            "huge was dropped: the header announces a message of \
             9999999999 bytes, more than the 4096 this reader accepts",
        ),
        (
            "cut",
            b"10        abc",
            "cut was dropped: the connection closed after 3 of the 10 bytes \
             of a message",
        ),
        (
            "binary",
            b"2         \xff\xfe",
            "binary was dropped: a message that is not UTF-8 text",
        ),
    ];
    for (name, attack, announcement) in attacks {
        let mut hostile = Probe::join(&port, name);
        watcher.expect("room", &format!("{name} joined"));
        hostile.stream.write_all(attack).unwrap();
        hostile.stream.shutdown(std::net::Shutdown::Write).unwrap();
        watcher.expect("room", announcement);
    }
    // A name that is not one: not let in, and never announced.
    let mut nameless = Probe::connect(&port);
    nameless.say("room");
    let refusal = nameless.hear().expect("a refusal");
    assert_eq!(
        refusal,
        ("room".into(), "not let in: 'room' cannot be a name".into())
    );
    // Nor one that would print as something else: a right-to-left
    // override, a line separator.
    let mut disguised = Probe::connect(&port);
    disguised.say("\u{202e}evil\u{2028}x");
    let refusal = disguised.hear().expect("a refusal");
    assert_eq!(refusal.1, r"not let in: '\u202eevil\u2028x' cannot be a name");
    // A name already in the room: told so before the server closes.
    let mut twin = Probe::connect(&port);
    twin.say("watcher");
    let refusal = twin.hear().expect("a refusal, before the close");
    assert_eq!(refusal, ("room".into(), "not let in: watcher is taken".into()));
    let mut friend = Probe::join(&port, "friend");
    watcher.expect("room", "friend joined");
    friend.say("the room goes on");
    watcher.expect("friend", "the room goes on");
    drop(server.stop());
}

#[test]
fn rust_server_drops_hostile_clients() {
    hostile_clients(false);
}

#[test]
fn python_server_drops_hostile_clients() {
    hostile_clients(true);
}

/// A client that never reads is dropped when its queue is full; a client
/// that reads gets every line of a flood, in order.
fn flood(python_server: bool) {
    let server_args = ["server", "--port", "0"];
    let Some(server) = program(python_server, &server_args) else { return };
    let mut server = Process::spawn(server);
    let port = server.listening_port().to_string();
    let mut watcher = Probe::join(&port, "watcher");
    let sleeper = Probe::join(&port, "sleeper");
    watcher.expect("room", "sleeper joined");
    let mut flooder = Probe::join(&port, "flooder");
    watcher.expect("room", "flooder joined");
    let stop = AtomicBool::new(false);
    let padding = "x".repeat(4000);
    // At most this many lines: far more than a sleeper's buffers and
    // queue hold.
    let most = 20_000;
    thread::scope(|scope| {
        scope.spawn(|| {
            for number in 0..most {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                flooder.say(&format!("{number:05} {padding}"));
            }
        });
        let mut next = 0;
        loop {
            let (from, text) = watcher.hear().expect("the watcher is served");
            if from == "room" {
                assert!(text.starts_with("sleeper was dropped"), "{text}");
                stop.store(true, Ordering::SeqCst);
                break;
            }
            assert_eq!(from, "flooder");
            assert_eq!(text, format!("{next:05} {padding}"), "out of order");
            next += 1;
            assert!(next < most, "the sleeper was never dropped");
        }
    });
    drop(sleeper);
    drop(server.stop());
}

#[test]
fn rust_server_drops_a_client_that_does_not_read() {
    flood(false);
}

#[test]
fn python_server_drops_a_client_that_does_not_read() {
    flood(true);
}
