//! Lesson 9, the chat room: the demo, a room of Rust and Python clients on
//! each server, hostile clients, a client that does not read, refusals, and
//! the options. Every line reaches every other client once, in the order its
//! sender sent it, and never comes back to its sender.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use libtest_mimic::Trial;

use crate::support::{
    DEADLINE, Process, assert_demo, assert_exit, assert_sides_transcript,
    assert_transcript, framed, lesson, listen_backlog, python_twin, run, story,
    with_closed,
};

const NAME: &str = "lesson_09";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        help_lists_each_sides_options,
        rust_server_drops_hostile_clients,
        rust_server_drops_a_client_that_does_not_read,
        a_full_room_says_so,
        usage_errors_exit_2,
        a_full_rust_room_says_so_and_closes_well,
        a_half_closing_client_gets_the_rust_rooms_welcome,
        a_name_that_came_while_the_rust_server_was_stopped_counts,
        the_rust_room_takes_a_backlog_for_many,
        a_burst_from_every_member_drops_no_one_from_the_rust_room,
        a_stopped_client_goes_on_waiting,
        a_flood_of_refused_connections_gets_a_bounded_number_of_threads,
    ];
    tests.extend(python_tests![
        python_demo,
        python_usage_errors_exit_2,
        rust_server_with_rust_and_python_clients,
        python_server_with_rust_and_python_clients,
        python_server_drops_hostile_clients,
        python_server_drops_a_client_that_does_not_read,
        a_refused_name_ends_each_client_the_same_way,
        each_client_gives_up_at_its_deadline,
        a_full_python_room_says_so_and_closes_well,
        a_half_closing_client_gets_the_python_rooms_welcome,
        a_name_that_came_while_the_python_server_was_stopped_counts,
        the_python_room_takes_a_backlog_for_many,
        the_python_client_ends_well_when_the_server_closes,
        the_python_client_with_stdin_closed_leaves_at_once,
        the_python_room_with_stdout_closed_exits_1,
        a_name_or_host_is_printed_escaped,
        a_burst_from_every_member_drops_no_one_from_the_python_room,
        a_flood_of_refused_connections_gets_python_a_bounded_number_of_threads,
    ]);
    tests
}

/// The lesson in Rust, or its Python twin.
fn program(python: bool, args: &[&str]) -> Command {
    Room { lesson: NAME, python }.program(args)
}

/// Which room a test of the room's protocol runs against: lesson 9's or
/// lesson 13's (tests/lesson_13.rs runs the same tests), in Rust or Python.
#[derive(Clone, Copy)]
pub(crate) struct Room {
    pub lesson: &'static str,
    pub python: bool,
}

impl Room {
    fn nine(python: bool) -> Room {
        Room { lesson: NAME, python }
    }

    pub fn program(self, args: &[&str]) -> Command {
        match self.python {
            false => lesson(self.lesson, args),
            true => python_twin(self.lesson, args).expect("python3"),
        }
    }

    /// Its server on a port the system picks, and that port.
    pub fn start(self, options: &[&str]) -> (Process, String) {
        let mut args = vec!["server", "--port", "0"];
        args.extend_from_slice(options);
        let mut server = Process::spawn(self.program(&args));
        let port = server.listening_port().to_string();
        (server, port)
    }
}

/// A lesson 9 server of either language, and its port.
fn room(python: bool, options: &[&str]) -> (Process, String) {
    Room::nine(python).start(options)
}

/// A client the test itself plays, speaking the protocol byte by byte.
pub(crate) struct Probe {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl Probe {
    pub fn connect(port: &str) -> Probe {
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Probe { stream, reader }
    }

    /// Connects, sends `name`, and reads the welcome.
    pub fn join(port: &str, name: &str) -> Probe {
        let mut probe = Probe::connect(port);
        probe.say(name);
        let (from, welcome) = probe.hear().expect("a welcome");
        assert_eq!(from, "room");
        assert!(welcome.starts_with(&format!("welcome, {name}")), "{welcome}");
        probe
    }

    pub fn say(&mut self, text: &str) {
        self.stream.write_all(&framed(text.as_bytes())).unwrap();
    }

    pub fn message(&mut self) -> Option<String> {
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
    pub fn hear(&mut self) -> Option<(String, String)> {
        let name = self.message()?;
        Some((name, self.message().expect("a text after a name")))
    }

    pub fn expect(&mut self, from: &str, text: &str) {
        let heard = self.hear();
        assert_eq!(heard, Some((from.to_string(), text.to_string())));
    }

    /// Reads to the end of the stream: a close (a FIN), never a reset.
    pub fn expect_close(&mut self) {
        let mut rest = Vec::new();
        let end = self.reader.read_to_end(&mut rest);
        assert!(end.is_ok(), "{end:?} after {rest:?}");
    }
}

/// Reads a process's lines until one is `line`, after its label.
pub(crate) fn wait_line(process: &mut Process, line: &str) {
    let is_it = |read: String| {
        read.split_once("] ").is_some_and(|(_, rest)| rest == line)
    };
    while !is_it(process.next_line()) {}
}

fn demo() {
    assert_demo(NAME);
}

fn python_demo() {
    // The twin's conversation is the same, line for line.
    let output = run(program(true, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &output.stdout);
}

fn help_lists_each_sides_options() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help-server", &["server", "--help"]),
        ("help-client", &["client", "--help"]),
    ] {
        let output = run(lesson(NAME, args));
        assert_exit(&output, 0);
        assert_transcript(NAME, name, &output.stdout);
    }
    let help = run(lesson(NAME, &["--help"])).stdout;
    assert!(help.contains("Usage: cargo run --example lesson_09 -- "));
    // Only what lesson 9 honours.
    let server = run(lesson(NAME, &["server", "--help"])).stdout;
    for gone in ["--chunk", "--pause", "--trace", "--hex"] {
        assert!(!server.contains(gone), "{gone}: {server}");
    }
}

/// (That both languages offer the same options is checked for every lesson
/// in tests/command_lines.rs.)
fn python_usage_errors_exit_2() {
    for args in [&["server", "--chunk", "5"][..], &["client", "--nmae", "x"]] {
        let output = run(program(true, args));
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

/// A Rust client and a Python client of lesson 9, on a Rust or a Python
/// server, with the test's own client listening: each hears the others'
/// lines in order, never its own; each sees who joins and leaves. Every
/// room prints lesson 9's transcripts, line for line.
pub(crate) fn mixed_room(server_room: Room) {
    let (mut server, port) = server_room.start(&[]);
    let client = |python, name| {
        let args = ["client", "--port", &port, "--name", name];
        Process::spawn_piped(program(python, &args))
    };
    let (mut rusty, mut rusty_keys) = client(false, "rusty");
    wait_line(&mut rusty, "room: welcome, rusty; nobody else is here");
    let (mut pyth, mut pyth_keys) = client(true, "pyth");
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
        assert_eq!(output.stderr, "");
    }
    assert_transcript(NAME, "room-rust-client", &rusty.stdout);
    assert_transcript(NAME, "room-python-client", &pyth.stdout);
    assert!(!rusty.stdout.contains("rusty: "), "{}", rusty.stdout);
    assert!(!pyth.stdout.contains("pyth: "), "{}", pyth.stdout);
    let server = server.stop();
    assert_transcript(NAME, "room-server", &server.stdout);
}

fn rust_server_with_rust_and_python_clients() {
    mixed_room(Room::nine(false));
}

fn python_server_with_rust_and_python_clients() {
    mixed_room(Room::nine(true));
}

/// Clients that break the protocol are dropped and announced, each with
/// the reason; names that are not names are refused; the room goes on.
pub(crate) fn hostile_clients(server_room: Room) {
    let (server, port) = server_room.start(&[]);
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
            "binary was dropped: a message not UTF-8",
        ),
    ];
    for (name, attack, announcement) in attacks {
        let mut hostile = Probe::join(&port, name);
        watcher.expect("room", &format!("{name} joined"));
        hostile.stream.write_all(attack).unwrap();
        hostile.stream.shutdown(Shutdown::Write).unwrap();
        watcher.expect("room", announcement);
    }
    let refused = |name: &str| {
        let mut probe = Probe::connect(&port);
        probe.say(name);
        let refusal = probe.hear().expect("a refusal, before the close");
        assert_eq!(refusal.0, "room");
        // Then the end of the stream: a close, not a reset.
        assert_eq!(probe.hear(), None);
        refusal.1
    };
    assert_eq!(refused("room"), "not let in: 'room' cannot be a name");
    // Nor one that would print as something else: a right-to-left
    // override, a line separator, a character no version of Unicode has.
    assert_eq!(
        refused("\u{202e}evil\u{2028}x"),
        r"not let in: '\u202eevil\u2028x' cannot be a name"
    );
    assert!(refused("\u{378}x").ends_with("cannot be a name"));
    // Nor one that shows nothing where the room's name does: a variation
    // selector, fillers, a blank braille cell, spaces around it.
    assert_eq!(
        refused("room\u{fe0f}"),
        r"not let in: 'room\ufe0f' cannot be a name"
    );
    for name in ["\u{3164}", "a\u{34f}", "\u{2800}", "room ", " ada"] {
        assert!(refused(name).ends_with("cannot be a name"), "{name:?}");
    }
    assert_eq!(
        refused("x\u{e0100}"),
        r"not let in: 'x\U000e0100' cannot be a name"
    );
    // Unassigned or format code points that Python refuses: so does Rust.
    for name in ["\u{13430}x", "\u{1BCA0}x", "\u{1D173}x"] {
        assert!(refused(name).ends_with("cannot be a name"), "{name:?}");
    }
    assert_eq!(
        refused(&"x".repeat(33)),
        "not let in: a name has 1 to 32 bytes"
    );
    assert_eq!(refused("watcher"), "not let in: watcher is taken");
    // Never announced; and the room goes on.
    let mut friend = Probe::join(&port, "friend");
    watcher.expect("room", "friend joined");
    friend.say("the room goes on");
    watcher.expect("friend", "the room goes on");
    drop(server.stop());
}

fn rust_server_drops_hostile_clients() {
    hostile_clients(Room::nine(false));
}

fn python_server_drops_hostile_clients() {
    hostile_clients(Room::nine(true));
}

/// Eight clients that never read are dropped once their outboxes are
/// full, within seconds of each other: those that stopped reading together
/// cost the room one wait of 2 s, not 2 s each (16 s). A client that reads
/// gets every line of a flood, in order.
pub(crate) fn flood(server_room: Room) {
    const SLEEPERS: usize = 8;
    let (server, port) = server_room.start(&[]);
    let mut watcher = Probe::join(&port, "watcher");
    let sleepers: Vec<Probe> = (1..=SLEEPERS)
        .map(|number| {
            let name = format!("sleeper{number}");
            let sleeper = Probe::join(&port, &name);
            watcher.expect("room", &format!("{name} joined"));
            sleeper
        })
        .collect();
    let mut flooder = Probe::join(&port, "flooder");
    watcher.expect("room", "flooder joined");
    let stop = AtomicBool::new(false);
    let padding = "x".repeat(4000);
    // At most this many lines: far more than a sleeper's buffers and
    // outbox hold.
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
        let (mut next, mut dropped, mut first_drop) = (0, 0, None);
        while dropped < SLEEPERS {
            let (from, text) = watcher.hear().expect("the watcher is served");
            if from == "room" {
                assert!(text.starts_with("sleeper"), "{text}");
                assert!(
                    text.ends_with(
                        " was dropped: it does not read (64 messages, 2 s)"
                    ),
                    "{text}"
                );
                dropped += 1;
                first_drop.get_or_insert_with(std::time::Instant::now);
                continue;
            }
            assert_eq!(from, "flooder");
            assert_eq!(text, format!("{next:05} {padding}"), "out of order");
            next += 1;
            assert!(next < most, "the sleepers were never dropped");
        }
        stop.store(true, Ordering::SeqCst);
        let apart = first_drop.unwrap().elapsed();
        assert!(apart.as_secs() < 7, "the drops took {apart:?}");
    });
    drop(sleepers);
    drop(server.stop());
}

fn rust_server_drops_a_client_that_does_not_read() {
    flood(Room::nine(false));
}

fn python_server_drops_a_client_that_does_not_read() {
    flood(Room::nine(true));
}

/// A client whose name is taken is told so, and ends with that error,
/// exit 1, whatever it had typed already and with its stdin still open,
/// in both languages and on both servers.
fn a_refused_name_ends_each_client_the_same_way() {
    for python_server in [false, true] {
        let (server, port) = room(python_server, &[]);
        let _watcher = Probe::join(&port, "watcher");
        for python in [false, true] {
            let args = ["client", "--port", &port, "--name", "watcher"];
            let (process, mut keys) =
                Process::spawn_piped(program(python, &args));
            // It may have ended already: then the pipe is closed.
            let _ = keys.write_all(b"typed before the answer\n");
            let output = process.finish();
            assert_exit(&output, 1);
            assert!(
                output
                    .stderr
                    .ends_with("error: not let in: watcher is taken\n"),
                "{}",
                story(&output)
            );
            assert_eq!(output.stderr.lines().count(), 1, "{}", story(&output));
            drop(keys);
        }
        drop(server.stop());
    }
}

/// --deadline ends a client that waits, in a room where nobody talks.
fn each_client_gives_up_at_its_deadline() {
    let (server, port) = room(false, &[]);
    for python in [false, true] {
        let args = ["client", "--port", &port, "--deadline", "0.5"];
        let (process, keys) = Process::spawn_piped(program(python, &args));
        let output = process.finish();
        drop(keys);
        assert_exit(&output, 1);
        assert!(
            output.stdout.contains("room: welcome, guest"),
            "{}",
            story(&output)
        );
        assert!(
            output
                .stderr
                .ends_with("error: gave up after 0.5 s (--deadline)\n"),
            "{}",
            story(&output)
        );
    }
    drop(server.stop());
    // The same while it connects, to a server whose backlog is full.
    let (_listener, _held, full) = crate::support::full_backlog();
    for python in [false, true] {
        let port = full.to_string();
        let args = ["client", "--port", &port, "--deadline", "0.5"];
        let output = run(program(python, &args));
        assert_exit(&output, 1);
        let said = "error: gave up after 0.5 s (--deadline)\n";
        assert!(output.stderr.ends_with(said), "{}", story(&output));
    }
}

/// With --max-clients 1, a second client is told that the room is full.
fn a_full_room_says_so() {
    let (server, port) = room(false, &["--max-clients", "1"]);
    let _first = Probe::join(&port, "first");
    let args = ["client", "--port", &port, "--name", "second"];
    let (process, keys) = Process::spawn_piped(lesson(NAME, &args));
    let output = process.finish();
    drop(keys);
    assert_exit(&output, 1);
    assert!(
        output.stderr.ends_with("error: the room is full\n"),
        "{}",
        story(&output)
    );
    let server = server.stop();
    assert!(server.stdout.contains("connection 2 from 127.0.0.1:"));
    assert!(
        server.stdout.contains(": refused, the room holds 1 (--max-clients)")
    );
}

fn usage_errors_exit_2() {
    for args in [
        &["server", "--chunk", "5"][..],
        &["server", "--trace"],
        &["server", "--max-clients", "0"],
        &["client", "--deadline", "soon"],
        &["client", "--nmae", "ada"],
    ] {
        let output = run(lesson(NAME, args));
        assert_exit(&output, 2);
    }
    let typo = run(lesson(NAME, &["client", "--nmae", "ada"]));
    assert!(typo.stderr.contains("a similar argument exists: '--name'"));
}

/// A full room tells the client so, then closes well: the client's name,
/// unread, does not turn the close into a reset (RST).
pub(crate) fn full_room_closes_well(server_room: Room) {
    let (server, port) = server_room.start(&["--max-clients", "1"]);
    let _first = Probe::join(&port, "first");
    for _ in 0..5 {
        let mut late = Probe::connect(&port);
        late.say("late");
        late.expect("room", "the room is full");
        late.expect_close();
    }
    drop(server.stop());
}

fn a_full_rust_room_says_so_and_closes_well() {
    full_room_closes_well(Room::nine(false));
}

fn a_full_python_room_says_so_and_closes_well() {
    full_room_closes_well(Room::nine(true));
}

/// A client that sends its name and a line and half-closes at once still
/// gets its welcome, then the end of the stream.
pub(crate) fn half_closing_client_gets_the_welcome(server_room: Room) {
    let (server, port) = server_room.start(&[]);
    for number in 0..10 {
        let mut quick = Probe::connect(&port);
        let name = format!("quick{number}");
        let bytes = [framed(name.as_bytes()), framed(b"hi")].concat();
        quick.stream.write_all(&bytes).unwrap();
        quick.stream.shutdown(Shutdown::Write).unwrap();
        let welcome = quick.hear().expect("a welcome");
        assert!(welcome.1.starts_with(&format!("welcome, {name}")));
        quick.expect_close();
    }
    drop(server.stop());
}

fn a_half_closing_client_gets_the_rust_rooms_welcome() {
    half_closing_client_gets_the_welcome(Room::nine(false));
}

fn a_half_closing_client_gets_the_python_rooms_welcome() {
    half_closing_client_gets_the_welcome(Room::nine(true));
}

/// A name that came while the server was stopped (`kill -STOP`) for longer
/// than the 10 s a name may take is in its buffer: it counts.
pub(crate) fn name_while_stopped(server_room: Room) {
    let (mut server, port) = server_room.start(&[]);
    let mut probe = Probe::connect(&port);
    wait_line(&mut server, &format!("connection 1 from {}", address(&probe)));
    // Stopped while it waits for the name: lesson 9's three threads (the
    // room, accept, this client's reader) or lesson 13's one, asleep.
    let pid = server.id().to_string();
    let threads = if server_room.lesson == NAME { 3 } else { 1 };
    crate::support::wait_asleep(server.id(), Some(threads));
    let signal = |name: &str| {
        let sent = Command::new("kill").args([name, &pid]).status();
        assert!(sent.unwrap().success());
    };
    signal("-STOP");
    probe.say("sleepy");
    thread::sleep(std::time::Duration::from_secs(11));
    signal("-CONT");
    let welcome = probe.hear().expect("a welcome");
    assert_eq!(welcome.1, "welcome, sleepy; nobody else is here");
    drop(server.stop());
}

fn address(probe: &Probe) -> String {
    probe.stream.local_addr().unwrap().to_string()
}

fn a_name_that_came_while_the_rust_server_was_stopped_counts() {
    name_while_stopped(Room::nine(false));
}

fn a_name_that_came_while_the_python_server_was_stopped_counts() {
    name_while_stopped(Room::nine(true));
}

/// listen(128), not listen(5): a burst of clients waits to be accepted
/// instead of being dropped.
fn the_rust_room_takes_a_backlog_for_many() {
    let (server, port) = room(false, &[]);
    assert_eq!(listen_backlog(&port), 128);
    drop(server.stop());
}

fn the_python_room_takes_a_backlog_for_many() {
    let (server, port) = room(true, &[]);
    assert_eq!(listen_backlog(&port), 128);
    drop(server.stop());
}

/// The server ends the session while the Python client's keyboard thread
/// waits on stdin, still open: the client says so and exits 0, no abort
/// ("Fatal Python error: _enter_buffered_busy").
fn the_python_client_ends_well_when_the_server_closes() {
    for _ in 0..3 {
        let (server, port) = room(false, &[]);
        let args = ["client", "--port", &port, "--name", "ada"];
        let (mut client, keys) = Process::spawn_piped(program(true, &args));
        wait_line(&mut client, "room: welcome, ada; nobody else is here");
        drop(server.stop());
        let output = client.finish();
        drop(keys);
        assert_exit(&output, 0);
        assert_eq!(output.stderr, "", "{}", story(&output));
        assert!(output.stdout.ends_with("the server closed the connection\n"));
    }
}

/// Started with stdin closed (`<&-`): no line to send, so the client
/// half-closes at once; the room says it left, and it exits 0.
fn the_python_client_with_stdin_closed_leaves_at_once() {
    let (mut server, port) = room(false, &[]);
    let args = ["client", "--port", &port, "--name", "ada"];
    let output = run(with_closed("<&-", &program(true, &args)));
    wait_line(&mut server, "ada left");
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "", "{}", story(&output));
    assert!(output.stdout.ends_with("the server closed the connection\n"));
    drop(server.stop());
}

/// Started with stdout closed (`>&-`): the demo cannot tell its story,
/// exits 1, and says nothing of Python's insides.
fn the_python_room_with_stdout_closed_exits_1() {
    let output = run(with_closed(">&-", &program(true, &[])));
    assert_exit(&output, 1);
    assert_eq!(output.stderr, "", "{}", story(&output));
}

/// What --name and --host hold is printed escaped, as a peer's text is;
/// and the Python client's --name is not taken for the lesson's name.
fn a_name_or_host_is_printed_escaped() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = silent.local_addr().unwrap().port().to_string();
    drop(silent);
    for python in [false, true] {
        let name = ["client", "--port", &closed, "--name", "\x1b[2Jx"];
        let output = run(program(python, &name));
        assert_exit(&output, 1);
        assert!(!story(&output).contains('\x1b'), "{}", story(&output));
        assert!(output.stdout.contains(" as \\x1b[2Jx\n"), "{}", output.stdout);
        assert!(output.stderr.contains("start the server first"));
        assert!(output.stderr.contains("lesson_09"), "{}", output.stderr);
        let host = ["client", "--host", "\x1b[31mred"];
        let output = run(program(python, &host));
        assert_exit(&output, 1);
        assert!(!story(&output).contains('\x1b'), "{}", story(&output));
        assert!(output.stderr.contains("cannot find the host"));
    }
}

/// 60 members, each reading flat out, each send 50 lines at once: every
/// member hears every other member's 50 lines, and no one is dropped (the
/// room sends each member all that its socket takes, not a message a turn).
pub(crate) fn burst(server_room: Room) {
    const MEMBERS: usize = 60;
    const LINES: usize = 50;
    let max = MEMBERS.to_string();
    let (server, port) = server_room.start(&["--max-clients", &max]);
    let mut members: Vec<Probe> = (0..MEMBERS)
        .map(|number| Probe::join(&port, &format!("m{number}")))
        .collect();
    for (number, member) in members.iter_mut().enumerate() {
        for later in number + 1..MEMBERS {
            member.expect("room", &format!("m{later} joined"));
        }
    }
    let start = std::sync::Barrier::new(MEMBERS);
    thread::scope(|scope| {
        for member in &mut members {
            let start = &start;
            scope.spawn(move || {
                let lines: Vec<u8> = (0..LINES)
                    .flat_map(|line| framed(format!("line {line}").as_bytes()))
                    .collect();
                start.wait();
                member.stream.write_all(&lines).unwrap();
                for _ in 0..(MEMBERS - 1) * LINES {
                    let (from, text) = member.hear().expect("served");
                    assert_ne!(from, "room", "{text}");
                }
            });
        }
    });
    let server = server.stop();
    assert!(!server.stdout.contains("dropped"), "{}", server.stdout);
}

fn a_burst_from_every_member_drops_no_one_from_the_rust_room() {
    burst(Room::nine(false));
}

fn a_burst_from_every_member_drops_no_one_from_the_python_room() {
    burst(Room::nine(true));
}

/// Stopped (Ctrl-Z) and continued while it waits: no EINTR error.
fn a_stopped_client_goes_on_waiting() {
    crate::support::assert_a_stopped_client_goes_on(&|port| {
        lesson(NAME, &["client", "--port", port, "--wait", "1", "--name", "x"])
    });
}

/// 300 connections at once to a room that holds one, none of them reading
/// or closing: each refusal closes well in a thread that lives up to a
/// second, but no more than 64 of them at once (MAX_REFUSING), so a flood
/// cannot pile up threads until the system can start no more (past about
/// 16,000 here, Rust's std aborts the process). The room still serves.
fn refused_flood(python: bool) {
    let (server, port) = room(python, &["--max-clients", "1"]);
    let _member = Probe::join(&port, "ada");
    let threads = || {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", server.id()))
                .unwrap();
        let line = status.lines().find(|l| l.starts_with("Threads:"));
        line.unwrap()[8..].trim().parse::<usize>().unwrap()
    };
    let mut most = 0;
    let flood: Vec<TcpStream> = (0..300)
        .map(|_| {
            let stream = TcpStream::connect(format!("127.0.0.1:{port}"));
            most = most.max(threads());
            stream.unwrap()
        })
        .collect();
    // The room itself, the accepting thread, ada's two, 64 refusing, and
    // a few more: a refusal gives its place back as its work ends, and its
    // thread is still in /proc for a moment while it exits (71 seen once
    // on a loaded machine). Without the bound, 300 came.
    assert!(most <= 4 + 64 + 32, "{most} threads");
    assert!(most > 4, "no refusal had a thread: {most}");
    // Once the flood has gone and its refusals with it, one more is told.
    drop(flood);
    let until = Instant::now() + DEADLINE;
    while threads() > 4 && Instant::now() < until {
        thread::yield_now();
    }
    let mut refused = Probe::connect(&port);
    let told = Some(("room".to_string(), "the room is full".to_string()));
    assert_eq!(refused.hear(), told);
    let output = server.stop();
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
}

fn a_flood_of_refused_connections_gets_a_bounded_number_of_threads() {
    refused_flood(false);
}

fn a_flood_of_refused_connections_gets_python_a_bounded_number_of_threads() {
    refused_flood(true);
}
