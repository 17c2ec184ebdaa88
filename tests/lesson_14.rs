//! Lesson 14, lesson 9's room with tokio and asyncio: the demo, a room of
//! lesson 9 and lesson 14 clients on each server, hostile clients (bad
//! headers, bad names, trickled bytes, floods of joins and leaves, hundreds
//! of idle connections), a client that does not read, Ctrl-C, and the
//! options.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use socket_lessons::output::plural;

use crate::lesson_09::{Probe, wait_line};
use crate::support::{
    DEADLINE, Output, Process, assert_demo, assert_exit,
    assert_help_transcripts, assert_sides_transcript, assert_transcript,
    framed, lesson, listen_backlog, python_twin, run, story, with_closed,
};

const NAME: &str = "lesson_14";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        help_lists_each_sides_options,
        usage_errors_exit_2,
        rust_server_with_lesson_9_and_14_clients,
        rust_server_drops_hostile_clients,
        a_line_in_two_pieces_arrives_whole_in_the_rust_room,
        rust_server_drops_a_client_that_does_not_read,
        a_trickled_name_holds_no_one_up_in_the_rust_room,
        the_rust_room_holds_hundreds_of_idle_connections,
        the_rust_room_takes_a_flood_of_joins_and_leaves,
        ctrl_c_tells_every_member_of_the_rust_room,
        a_full_rust_room_says_so_and_closes_well,
        the_rust_room_takes_a_backlog_for_many,
        the_rust_room_is_one_thread,
        the_rust_room_out_of_file_descriptors_says_so_once_and_goes_on,
    ];
    tests.extend(python_tests![
        python_demo,
        python_usage_errors_exit_2,
        python_server_with_lesson_9_and_14_clients,
        python_server_drops_hostile_clients,
        a_line_in_two_pieces_arrives_whole_in_the_python_room,
        python_server_drops_a_client_that_does_not_read,
        a_trickled_name_holds_no_one_up_in_the_python_room,
        the_python_room_holds_hundreds_of_idle_connections,
        the_python_room_takes_a_flood_of_joins_and_leaves,
        ctrl_c_tells_every_member_of_the_python_room,
        a_full_python_room_says_so_and_closes_well,
        the_python_room_takes_a_backlog_for_many,
        a_refused_name_ends_each_client_the_same_way,
        each_client_gives_up_at_its_deadline,
        each_client_ends_well_when_the_server_closes,
        each_client_with_stdin_closed_leaves_at_once,
        the_python_room_out_of_file_descriptors_says_so_once_and_goes_on,
    ]);
    tests
}

/// Lesson `name` in Rust, or its Python twin.
fn program_of(name: &str, python: bool, args: &[&str]) -> Command {
    match python {
        false => lesson(name, args),
        true => python_twin(name, args).expect("python3"),
    }
}

fn program(python: bool, args: &[&str]) -> Command {
    program_of(NAME, python, args)
}

/// A server of either language on a port the system picks, and that port.
fn room(python: bool, options: &[&str]) -> (Process, String) {
    let mut args = vec!["server", "--port", "0"];
    args.extend_from_slice(options);
    let mut server = Process::spawn(program(python, &args));
    let port = server.listening_port().to_string();
    (server, port)
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
    assert_help_transcripts(NAME);
}

fn usage_errors_exit_2() {
    for args in [
        &["server", "--chunk", "5"][..],
        &["server", "--max-clients", "0"],
        &["client", "--deadline", "soon"],
        &["client", "--nmae", "ada"],
    ] {
        assert_exit(&run(lesson(NAME, args)), 2);
    }
}

fn python_usage_errors_exit_2() {
    for args in [&["server", "--chunk", "5"][..], &["client", "--nmae", "x"]] {
        let output = run(program(true, args));
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
    }
}

/// Lesson 14's Rust and Python clients, lesson 9's Rust and Python clients
/// and the test's own client, in one room of either server: each hears the
/// others' lines in order, never its own; each sees who joins and leaves.
fn mixed_room(python_server: bool) {
    let (mut server, port) = room(python_server, &[]);
    let client = |lesson_name, python, name| {
        let args = ["client", "--port", &port, "--name", name];
        Process::spawn_piped(program_of(lesson_name, python, &args))
    };
    let (mut rusty, mut rusty_keys) = client(NAME, false, "rusty");
    wait_line(&mut rusty, "room: welcome, rusty; nobody else is here");
    let (mut pyth, mut pyth_keys) = client(NAME, true, "pyth");
    wait_line(&mut pyth, "room: welcome, pyth; here: rusty");
    let (mut nine, nine_keys) = client("lesson_09", false, "nine");
    wait_line(&mut nine, "room: welcome, nine; here: rusty, pyth");
    let (mut nine_py, nine_py_keys) = client("lesson_09", true, "ninepy");
    wait_line(&mut nine_py, "room: welcome, ninepy; here: rusty, pyth, nine");
    let mut probe = Probe::join(&port, "probe");
    for process in [&mut rusty, &mut pyth, &mut nine, &mut nine_py] {
        wait_line(process, "room: probe joined");
    }

    rusty_keys.write_all(b"one\ntwo \xe2\x9c\x93\n").unwrap();
    probe.expect("rusty", "one");
    probe.expect("rusty", "two \u{2713}");
    pyth_keys.write_all(b"three\x1b[2J\n").unwrap();
    probe.expect("pyth", "three\x1b[2J");
    probe.say("four");
    for process in [&mut rusty, &mut pyth] {
        wait_line(process, "probe: four");
    }
    for process in [&mut nine, &mut nine_py] {
        wait_line(process, "rusty: two \u{2713}");
        wait_line(process, "pyth: three\\x1b[2J");
        wait_line(process, "probe: four");
    }
    // Lesson 9's clients leave first.
    for (process, keys, name) in
        [(nine, nine_keys, "nine"), (nine_py, nine_py_keys, "ninepy")]
    {
        drop(keys);
        assert_exit(&process.finish(), 0);
        probe.expect("room", &format!("{name} left"));
    }
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
    let server = server.stop();
    assert_transcript(NAME, "room-server", &server.stdout);
}

fn rust_server_with_lesson_9_and_14_clients() {
    mixed_room(false);
}

fn python_server_with_lesson_9_and_14_clients() {
    mixed_room(true);
}

/// Clients that break the protocol are dropped and announced, each with
/// the reason; names that are not names are refused; the room goes on.
fn hostile_clients(python_server: bool) {
    let (server, port) = room(python_server, &[]);
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
    assert_eq!(
        refused("\u{202e}evil\u{2028}x"),
        r"not let in: '\u202eevil\u2028x' cannot be a name"
    );
    assert_eq!(
        refused("room\u{fe0f}"),
        r"not let in: 'room\ufe0f' cannot be a name"
    );
    assert_eq!(
        refused(&"x".repeat(33)),
        "not let in: a name has 1 to 32 bytes"
    );
    assert_eq!(refused("watcher"), "not let in: watcher is taken");
    // A name with a header that is not a length, or not UTF-8.
    let mut probe = Probe::connect(&port);
    probe.stream.write_all(b"99999999999999").unwrap();
    let refusal = probe.hear().expect("a refusal");
    assert!(refusal.1.starts_with("not let in: the header announces"));
    let mut probe = Probe::connect(&port);
    probe.stream.write_all(b"1         \xff").unwrap();
    assert_eq!(
        probe.hear().expect("a refusal").1,
        "not let in: a message not UTF-8"
    );
    // Never announced; and the room goes on.
    let mut friend = Probe::join(&port, "friend");
    watcher.expect("room", "friend joined");
    friend.say("the room goes on");
    watcher.expect("friend", "the room goes on");
    drop(server.stop());
}

fn rust_server_drops_hostile_clients() {
    hostile_clients(false);
}

fn python_server_drops_hostile_clients() {
    hostile_clients(true);
}

/// A member sends a line's header; before the rest, the room sends it a
/// line from another member; then the rest comes. The line arrives whole:
/// the read that had the header is not dropped when the member's task
/// turns to its outbox (the chapter's exercise 3).
fn two_pieces(python_server: bool) {
    let (server, port) = room(python_server, &[]);
    let mut ada = Probe::join(&port, "ada");
    let mut bob = Probe::join(&port, "bob");
    ada.expect("room", "bob joined");
    for number in 0..20 {
        let line = framed(format!("line {number:02}").as_bytes());
        let (header, rest) = line.split_at(10);
        bob.stream.write_all(header).unwrap();
        ada.say("meanwhile");
        bob.expect("ada", "meanwhile");
        bob.stream.write_all(rest).unwrap();
        ada.expect("bob", &format!("line {number:02}"));
    }
    drop(server.stop());
}

fn a_line_in_two_pieces_arrives_whole_in_the_rust_room() {
    two_pieces(false);
}

fn a_line_in_two_pieces_arrives_whole_in_the_python_room() {
    two_pieces(true);
}

/// One slow client holds back no one for long: eight clients that never
/// read are dropped once their outboxes stay full, within seconds of each
/// other (one wait of 2 s, not 2 s each), while a client that reads gets
/// every line of a flood, in order, before and after.
fn flood(python_server: bool) {
    const SLEEPERS: usize = 8;
    let (server, port) = room(python_server, &[]);
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
                first_drop.get_or_insert_with(Instant::now);
                continue;
            }
            assert_eq!(from, "flooder");
            assert_eq!(text, format!("{next:05} {padding}"), "out of order");
            next += 1;
            assert!(next < most, "the sleepers were never dropped");
        }
        // After the drops, the flood goes on to the one that reads.
        for _ in 0..100 {
            let (from, text) = watcher.hear().expect("the watcher is served");
            assert_eq!(from, "flooder");
            assert_eq!(text, format!("{next:05} {padding}"), "out of order");
            next += 1;
        }
        stop.store(true, Ordering::SeqCst);
        let apart = first_drop.unwrap().elapsed();
        assert!(apart.as_secs() < 7, "the drops took {apart:?}");
    });
    drop(sleepers);
    drop(server.stop());
}

fn rust_server_drops_a_client_that_does_not_read() {
    flood(false);
}

fn python_server_drops_a_client_that_does_not_read() {
    flood(true);
}

/// A client that sends its name a byte at a time, never finishing, is
/// refused after 10 s in all; meanwhile the room serves the others.
fn trickle(python_server: bool) {
    let (server, port) = room(python_server, &[]);
    // Before the connect: the room's 10 s start at its accept.
    let started = Instant::now();
    let mut trickler = Probe::connect(&port);
    let mut ada = Probe::join(&port, "ada");
    let mut bob = Probe::join(&port, "bob");
    ada.expect("room", "bob joined");
    // A header for 32 bytes, then at most 31 of them, one each half
    // second: the name never ends, and the bytes would last 20 s.
    let name = framed(&[b'x'; 32]);
    let mut refusal = None;
    trickler.stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    for &byte in &name[..name.len() - 1] {
        if trickler.stream.write_all(&[byte]).is_err() {
            break;
        }
        // Between two bytes, the others talk.
        ada.say("still here");
        bob.expect("ada", "still here");
        if let Some(heard) = trickler.hear_if_any() {
            refusal = Some(heard);
            break;
        }
    }
    assert_eq!(
        refusal.map(|(_, text)| text).as_deref(),
        Some("not let in: it sent no name within 10 s")
    );
    assert!(started.elapsed() >= Duration::from_secs(10));
    drop(server.stop());
}

impl Probe {
    /// The next pair if one comes within the read timeout; None if none
    /// has begun to come.
    fn hear_if_any(&mut self) -> Option<(String, String)> {
        let mut first = [0; 1];
        match self.reader.read(&mut first) {
            Ok(1) => {}
            _ => return None,
        }
        self.stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut rest = [0; 9];
        self.reader.read_exact(&mut rest).unwrap();
        let header = [&first[..], &rest].concat();
        let length: usize =
            std::str::from_utf8(&header).unwrap().trim().parse().unwrap();
        let mut name = vec![0; length];
        self.reader.read_exact(&mut name).unwrap();
        let text = self.message().expect("a text after a name");
        Some((String::from_utf8(name).unwrap(), text))
    }
}

fn a_trickled_name_holds_no_one_up_in_the_rust_room() {
    trickle(false);
}

fn a_trickled_name_holds_no_one_up_in_the_python_room() {
    trickle(true);
}

/// 300 connections that send nothing cost the room a task each, not a
/// thread: a member who joins after them is served at once.
fn idle_connections(python_server: bool) {
    const IDLE: usize = 300;
    let (mut server, port) = room(python_server, &["--max-clients", "1000"]);
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(format!("127.0.0.1:{port}")).unwrap())
        .collect();
    // Accepted, all of them, before the member comes.
    for number in 1..=IDLE {
        let line = server.next_line();
        assert!(line.contains(&format!("connection {number} from")), "{line}");
    }
    let mut ada = Probe::join(&port, "ada");
    let mut bob = Probe::join(&port, "bob");
    ada.expect("room", "bob joined");
    bob.say("hello over the idle ones");
    ada.expect("bob", "hello over the idle ones");
    drop(idle);
    drop(server.stop());
}

fn the_rust_room_holds_hundreds_of_idle_connections() {
    idle_connections(false);
}

fn the_python_room_holds_hundreds_of_idle_connections() {
    idle_connections(true);
}

/// 200 clients join and leave as fast as they can, 20 at a time: a
/// watcher hears each join and each leave once, and the room goes on.
fn joins_and_leaves(python_server: bool) {
    const CLIENTS: usize = 200;
    let (server, port) = room(python_server, &["--max-clients", "100"]);
    let mut watcher = Probe::join(&port, "watcher");
    thread::scope(|scope| {
        for batch in 0..20 {
            let port = &port;
            scope.spawn(move || {
                for number in 0..CLIENTS / 20 {
                    let name = format!("c{batch}-{number}");
                    let mut client = Probe::join(port, &name);
                    client.stream.shutdown(Shutdown::Write).unwrap();
                    client.expect_close();
                }
            });
        }
        let (mut joined, mut left) = (0, 0);
        while joined + left < 2 * CLIENTS {
            let (from, text) = watcher.hear().expect("the watcher is served");
            assert_eq!(from, "room");
            match text.strip_suffix(" joined") {
                Some(_) => joined += 1,
                None => {
                    assert!(text.ends_with(" left"), "{text}");
                    left += 1;
                }
            }
        }
        assert_eq!((joined, left), (CLIENTS, CLIENTS));
    });
    let mut friend = Probe::join(&port, "friend");
    watcher.expect("room", "friend joined");
    friend.say("still open");
    watcher.expect("friend", "still open");
    drop(server.stop());
}

fn the_rust_room_takes_a_flood_of_joins_and_leaves() {
    joins_and_leaves(false);
}

fn the_python_room_takes_a_flood_of_joins_and_leaves() {
    joins_and_leaves(true);
}

/// Ctrl-C (SIGINT): every member hears that the room is closing, then the
/// end of the stream; the server exits 0. Lesson 9's Rust client says so.
fn ctrl_c(python_server: bool) {
    let (mut server, port) = room(python_server, &[]);
    let mut probe = Probe::join(&port, "probe");
    let args = ["client", "--port", &port, "--name", "nine"];
    let (mut nine, keys) = Process::spawn_piped(lesson("lesson_09", &args));
    wait_line(&mut nine, "room: welcome, nine; here: probe");
    probe.expect("room", "nine joined");
    wait_line(&mut server, "connection 2: nine joined");
    let sent =
        Command::new("kill").args(["-INT", &server.id().to_string()]).status();
    assert!(sent.unwrap().success());
    probe.expect("room", "the room is closing");
    probe.expect_close();
    let nine = nine.finish();
    drop(keys);
    assert_exit(&nine, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    assert_transcript(NAME, "ctrl-c-server", &server.stdout);
    assert_transcript(NAME, "ctrl-c-client", &nine.stdout);
}

fn ctrl_c_tells_every_member_of_the_rust_room() {
    ctrl_c(false);
}

fn ctrl_c_tells_every_member_of_the_python_room() {
    ctrl_c(true);
}

/// A full room tells the client so, then closes well: the client's name,
/// unread, does not turn the close into a reset (RST).
fn full_room_closes_well(python_server: bool) {
    let (server, port) = room(python_server, &["--max-clients", "1"]);
    let _first = Probe::join(&port, "first");
    for _ in 0..5 {
        let mut late = Probe::connect(&port);
        late.say("late");
        late.expect("room", "the room is full");
        late.expect_close();
    }
    let args = ["client", "--port", &port, "--name", "second"];
    let (process, keys) = Process::spawn_piped(program(python_server, &args));
    let output = process.finish();
    drop(keys);
    assert_exit(&output, 1);
    assert!(output.stderr.ends_with("error: the room is full\n"));
    let server = server.stop();
    assert!(
        server.stdout.contains(": refused, the room holds 1 (--max-clients)")
    );
}

fn a_full_rust_room_says_so_and_closes_well() {
    full_room_closes_well(false);
}

fn a_full_python_room_says_so_and_closes_well() {
    full_room_closes_well(true);
}

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

/// The threads of process `pid`, from /proc.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().count()
}

// ANCHOR: threads
/// The exercise's answer: with 50 members, lesson 9's Rust server runs
/// 102 threads (the room, accept, two per member); lesson 14's runs one.
fn the_rust_room_is_one_thread() {
    let mut counted = Vec::new();
    for name in ["lesson_09", NAME] {
        let args = ["server", "--port", "0", "--max-clients", "50"];
        let mut server = Process::spawn(lesson(name, &args));
        let port = server.listening_port().to_string();
        let members: Vec<Probe> = (0..50)
            .map(|number| Probe::join(&port, &format!("m{number}")))
            .collect();
        let threads = plural(threads(server.id()), "thread");
        counted.push(format!("{name}: {threads}"));
        drop(members);
        drop(server.stop());
    }
    let counted = counted.join("\n") + "\n";
    assert_transcript(NAME, "exercise-threads", &counted);
}
// ANCHOR_END: threads

/// A client whose name is taken is told so, and ends with that error,
/// exit 1, with its stdin still open, in both languages and on both
/// servers.
fn a_refused_name_ends_each_client_the_same_way() {
    for python_server in [false, true] {
        let (server, port) = room(python_server, &[]);
        let _watcher = Probe::join(&port, "watcher");
        for python in [false, true] {
            let args = ["client", "--port", &port, "--name", "watcher"];
            let (process, mut keys) =
                Process::spawn_piped(program(python, &args));
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
        let output: Output = process.finish();
        drop(keys);
        assert_exit(&output, 1);
        assert!(output.stdout.contains("room: welcome, guest"));
        assert!(
            output
                .stderr
                .ends_with("error: gave up after 0.5 s (--deadline)\n"),
            "{}",
            story(&output)
        );
    }
    drop(server.stop());
}

/// The server ends the session while the client's keyboard thread waits
/// on stdin, still open: the client says so and exits 0 (no abort from
/// Python, whose thread is inside a read).
fn each_client_ends_well_when_the_server_closes() {
    for python in [false, true, true] {
        let (server, port) = room(false, &[]);
        let args = ["client", "--port", &port, "--name", "ada"];
        let (mut client, keys) = Process::spawn_piped(program(python, &args));
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
fn each_client_with_stdin_closed_leaves_at_once() {
    for python in [false, true] {
        let (mut server, port) = room(python, &[]);
        let args = ["client", "--port", &port, "--name", "ada"];
        let output = run(with_closed("<&-", &program(python, &args)));
        wait_line(&mut server, "ada left");
        assert_exit(&output, 0);
        assert_eq!(output.stderr, "", "{}", story(&output));
        assert!(output.stdout.ends_with("the server closed the connection\n"));
        drop(server.stop());
    }
}

/// A server allowed 5 file descriptors more than it has (`prlimit
/// --nofile`), once a first member is in, and 20 connections that would
/// take them: the sixth accept fails. The server says so on one line (no
/// traceback), once until an accept works again (asyncio alone, which
/// tries 128 accepts each second, would say it 128 times a second), and
/// serves members again once the connections have gone.
fn out_of_file_descriptors(python_server: bool) {
    let (mut server, port) = room(python_server, &["--max-clients", "100"]);
    // In: the runtime and its own descriptors are there too.
    let _first = Probe::join(&port, "first");
    wait_line(&mut server, "connection 1: first joined");
    let pid = server.id();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count();
    let limit = format!("--nofile={}", open + 5);
    let limited =
        Command::new("prlimit").args([format!("--pid={pid}"), limit]).status();
    assert!(limited.expect("prlimit (util-linux) runs").success());
    let held: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(format!("127.0.0.1:{port}")).unwrap())
        .collect();
    // The fifth is printed after the failed accept that follows it (in
    // Python), or just before it, with no await between (in Rust).
    for number in 2..=6 {
        let line = server.next_line();
        let accepted = format!("connection {number} from 127.0.0.1:");
        assert!(line.contains(&accepted), "{line}");
    }
    drop(held);
    let mut ada = Probe::join(&port, "ada");
    let mut bob = Probe::join(&port, "bob");
    ada.expect("room", "bob joined");
    bob.say("served again");
    ada.expect("bob", "served again");
    let server = server.stop();
    let said = "[server] error: accept failed: Too many open files; trying \
                again";
    let lines: Vec<&str> = server.stderr.lines().collect();
    assert!(lines.iter().all(|line| *line == said), "{}", story(&server));
    // At most once for each connection accepted after a failure.
    assert!((1..=20).contains(&lines.len()), "{}", story(&server));
}

fn the_rust_room_out_of_file_descriptors_says_so_once_and_goes_on() {
    out_of_file_descriptors(false);
}

fn the_python_room_out_of_file_descriptors_says_so_once_and_goes_on() {
    out_of_file_descriptors(true);
}
