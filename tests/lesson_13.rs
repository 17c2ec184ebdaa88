//! Lesson 13, the room on one thread: the demo (a recv with nothing there,
//! a send that takes part), lesson 9's clients and lesson 9's tests of the
//! protocol against both lesson 13 servers, the loop's --trace, and hostile
//! peers: a client that never reads, one that trickles, floods of joins and
//! leaves, hundreds of idle members on one thread, EMFILE.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;
use std::time::Instant;

use libtest_mimic::Trial;

use crate::lesson_09::{
    Probe, Room, burst, flood, full_room_closes_well,
    half_closing_client_gets_the_welcome, hostile_clients, mixed_room,
    name_while_stopped,
};
use crate::support::{
    Process, assert_demo, assert_exit, assert_help_transcripts,
    assert_sides_transcript, assert_transcript, lesson, python_twin, python3,
    run,
};

const NAME: &str = "lesson_13";

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![
        demo,
        help,
        usage_errors_exit_2,
        rust_room_with_lesson_9s_clients,
        rust_room_drops_hostile_clients,
        rust_room_drops_a_client_that_does_not_read,
        rust_room_says_it_is_full_and_closes_well,
        rust_room_welcomes_a_half_closing_client,
        rust_room_serves_a_burst_from_every_member,
        rust_room_counts_a_name_that_came_while_it_was_stopped,
        rust_trace_shows_each_wake_up,
        rust_room_serves_others_while_one_trickles,
        rust_room_takes_floods_of_joins_and_leaves,
        rust_room_announces_no_join_it_could_not_welcome,
        rust_room_serves_a_name_before_a_broken_header,
        clients_refuse_a_welcome_not_utf_8,
        rust_room_holds_hundreds_of_idle_members_on_one_thread,
        rust_room_backs_off_when_out_of_file_descriptors,
        exercise_eight_files_hold_three_members,
    ];
    tests.extend(python_tests![
        python_demo,
        python_usage_errors_exit_2,
        python_room_with_lesson_9s_clients,
        python_room_drops_hostile_clients,
        python_room_drops_a_client_that_does_not_read,
        python_room_says_it_is_full_and_closes_well,
        python_room_welcomes_a_half_closing_client,
        python_room_serves_a_burst_from_every_member,
        python_room_counts_a_name_that_came_while_it_was_stopped,
        python_trace_shows_each_wake_up,
        python_room_serves_others_while_one_trickles,
        python_room_takes_floods_of_joins_and_leaves,
        python_room_announces_no_join_it_could_not_welcome,
        python_room_serves_a_name_before_a_broken_header,
        python_room_holds_hundreds_of_idle_members_on_one_thread,
        python_room_backs_off_when_out_of_file_descriptors,
        a_tutorial_style_client_joins_the_rooms_of_lessons_9_13_and_14,
    ]);
    tests
}

fn rust() -> Room {
    Room { lesson: NAME, python: false }
}

fn python() -> Room {
    Room { lesson: NAME, python: true }
}

/// The demo: the client's recv before its name would block, a send to a
/// peer that does not read takes part and then would block, and the room
/// welcomes it. The byte counts are this machine's (Linux, 4096-byte
/// buffers asked for, which Linux doubles).
fn demo() {
    assert_demo(NAME);
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "python-demo", &output.stdout);
}

fn help() {
    assert_help_transcripts(NAME);
}

fn usage_errors_exit_2() {
    for args in [
        &["server", "--max-clients", "0"][..],
        &["server", "--max-clients", "100001"],
        &["client", "--nmae", "ada"],
    ] {
        assert_exit(&run(lesson(NAME, args)), 2);
    }
}

fn python_usage_errors_exit_2() {
    for args in [
        &["server", "--max-clients", "0"][..],
        &["server", "--max-clients", "100001"],
        &["client", "--nmae", "ada"],
    ] {
        let output = run(python_twin(NAME, args).unwrap());
        assert_exit(&output, 2);
        assert!(!output.stderr.contains("Traceback"), "{}", output.stderr);
    }
}

// ---- Lesson 9's tests of the room, against lesson 13's servers ----

fn rust_room_with_lesson_9s_clients() {
    mixed_room(rust());
}

fn python_room_with_lesson_9s_clients() {
    mixed_room(python());
}

fn rust_room_drops_hostile_clients() {
    hostile_clients(rust());
}

fn python_room_drops_hostile_clients() {
    hostile_clients(python());
}

fn rust_room_drops_a_client_that_does_not_read() {
    flood(rust());
}

fn python_room_drops_a_client_that_does_not_read() {
    flood(python());
}

fn rust_room_says_it_is_full_and_closes_well() {
    full_room_closes_well(rust());
}

fn python_room_says_it_is_full_and_closes_well() {
    full_room_closes_well(python());
}

fn rust_room_welcomes_a_half_closing_client() {
    half_closing_client_gets_the_welcome(rust());
}

fn python_room_welcomes_a_half_closing_client() {
    half_closing_client_gets_the_welcome(python());
}

fn rust_room_serves_a_burst_from_every_member() {
    burst(rust());
}

fn python_room_serves_a_burst_from_every_member() {
    burst(python());
}

fn rust_room_counts_a_name_that_came_while_it_was_stopped() {
    name_while_stopped(rust());
}

fn python_room_counts_a_name_that_came_while_it_was_stopped() {
    name_while_stopped(python());
}

// ---- The loop, seen and pushed ----

/// Reads the server's lines until one contains `text`.
fn wait_for(server: &mut Process, text: &str) {
    while !server.next_line().contains(text) {}
}

/// Two members, one line, one leave; each step waits for the server to
/// have finished the last (`all_read`, where its trace says so), so that
/// each wake-up finds one thing ready.
fn traced_room(room: Room, all_read: Option<&str>) -> String {
    let wait_read = |server: &mut Process, number: usize| {
        if let Some(all_read) = all_read {
            wait_for(server, &format!("connection {number} -> {all_read}"));
        }
    };
    let (mut server, port) = room.start(&["--trace"]);
    let mut ada = Probe::connect(&port);
    wait_for(&mut server, "connection 1 from");
    ada.say("ada");
    assert!(ada.hear().unwrap().1.starts_with("welcome, ada"));
    wait_read(&mut server, 1);
    let mut bob = Probe::connect(&port);
    wait_for(&mut server, "connection 2 from");
    bob.say("bob");
    assert!(bob.hear().unwrap().1.starts_with("welcome, bob"));
    ada.expect("room", "bob joined");
    wait_read(&mut server, 2);
    ada.say("hello, bob");
    bob.expect("ada", "hello, bob");
    wait_read(&mut server, 1);
    bob.stream.shutdown(Shutdown::Write).unwrap();
    bob.expect_close();
    ada.expect("room", "bob left");
    wait_for(&mut server, "close() connection 2");
    server.stop().stdout
}

/// The Rust loop reads until recv would block (readiness is edge-
/// triggered): each wake-up's reads end with that line.
fn rust_trace_shows_each_wake_up() {
    let trace = traced_room(rust(), Some("would block: all read"));
    assert_transcript(NAME, "trace-server", &trace);
}

/// Python's selectors is level-triggered: one recv per wake-up, and the
/// next select says if more is there; no step needs to wait for the last.
fn python_trace_shows_each_wake_up() {
    let trace = traced_room(python(), None);
    assert!(trace.contains("trace: wake-up 1: the listener readable\n"));
    assert!(trace.contains("trace: send(57 bytes) to connection 1 -> 57"));
    assert!(trace.contains("trace: recv(4096) on connection 2 -> 0 bytes"));
    assert!(trace.contains("trace: close() connection 2\n"), "{trace}");
}

/// A client that sends its name a byte at a time: between its bytes the
/// room goes on serving the others, a line each time.
fn trickler(room: Room) {
    let (server, port) = room.start(&[]);
    let mut watcher = Probe::join(&port, "watcher");
    let mut talker = Probe::join(&port, "talker");
    watcher.expect("room", "talker joined");
    let mut slow = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    slow.set_nodelay(true).unwrap();
    let name = crate::support::framed(b"slowpoke");
    let (last, first) = name.split_last().unwrap();
    for (at, byte) in first.iter().enumerate() {
        slow.write_all(&[*byte]).unwrap();
        let line = format!("line {at}");
        talker.say(&line);
        watcher.expect("talker", &line);
    }
    slow.write_all(&[*last]).unwrap();
    watcher.expect("room", "slowpoke joined");
    drop(slow);
    drop(server.stop());
}

fn rust_room_serves_others_while_one_trickles() {
    trickler(rust());
}

fn python_room_serves_others_while_one_trickles() {
    trickler(python());
}

/// 4 threads of 50 clients each join and leave as fast as they can: the
/// watcher hears each one join, then leave, 400 announcements, and the
/// room still works.
fn joins_and_leaves(room: Room) {
    const THREADS: usize = 4;
    const EACH: usize = 50;
    let (server, port) = room.start(&["--max-clients", "100"]);
    let mut watcher = Probe::join(&port, "watcher");
    thread::scope(|scope| {
        for group in 0..THREADS {
            let port = &port;
            scope.spawn(move || {
                for number in 0..EACH {
                    let mut member =
                        Probe::join(port, &format!("m{group}_{number}"));
                    member.stream.shutdown(Shutdown::Write).unwrap();
                    member.expect_close();
                }
            });
        }
        let mut joined = std::collections::HashSet::new();
        for _ in 0..2 * THREADS * EACH {
            let (from, text) = watcher.hear().expect("the watcher is served");
            assert_eq!(from, "room", "{text}");
            if let Some(name) = text.strip_suffix(" joined") {
                assert!(joined.insert(name.to_string()), "{text}");
            } else {
                let name = text.strip_suffix(" left").expect(&text);
                assert!(joined.remove(name), "left before it joined: {text}");
            }
        }
        assert!(joined.is_empty(), "{joined:?}");
    });
    let mut last = Probe::join(&port, "last");
    watcher.expect("room", "last joined");
    last.say("still here");
    watcher.expect("last", "still here");
    drop(server.stop());
}

fn rust_room_takes_floods_of_joins_and_leaves() {
    joins_and_leaves(rust());
}

fn python_room_takes_floods_of_joins_and_leaves() {
    joins_and_leaves(python());
}

/// Clients that send their name and reset at once (SO_LINGER 0): the
/// welcome may fail to go out. Whoever the room announces as joined, it
/// announces as gone too; a client it could not welcome, it never announces.
fn joins_then_resets(room: Room) {
    const CLIENTS: usize = 40;
    let (server, port) = room.start(&["--max-clients", "100"]);
    let mut watcher = Probe::join(&port, "watcher");
    for number in 0..CLIENTS {
        let reset = Probe::connect(&port);
        let socket = socket2::SockRef::from(&reset.stream);
        socket.set_linger(Some(std::time::Duration::ZERO)).unwrap();
        let mut reset = reset;
        reset.say(&format!("r{number}"));
    }
    let _last = Probe::join(&port, "last");
    let mut here = std::collections::HashSet::new();
    let mut last_joined = false;
    while !last_joined || !here.is_empty() {
        let (from, text) = watcher.hear().expect("the watcher is served");
        assert_eq!(from, "room", "{text}");
        if text == "last joined" {
            last_joined = true;
        } else if let Some(name) = text.strip_suffix(" joined") {
            assert!(here.insert(name.to_string()), "{text}");
        } else {
            let (name, _) = text
                .split_once(" was dropped: ")
                .or_else(|| text.split_once(" left"))
                .expect(&text);
            assert!(here.remove(name), "gone before it joined: {text}");
        }
    }
    drop(server.stop());
}

fn rust_room_announces_no_join_it_could_not_welcome() {
    joins_then_resets(rust());
}

fn python_room_announces_no_join_it_could_not_welcome() {
    joins_then_resets(python());
}

/// A name and a header of 9999999999 in one send: the name is served first
/// (a join), then the header breaks the protocol (a drop), as in lesson 9.
fn name_then_broken_header(room: Room) {
    let (server, port) = room.start(&[]);
    let mut watcher = Probe::join(&port, "watcher");
    let mut breaker = Probe::connect(&port);
    let bytes = [crate::support::framed(b"breaker"), b"9999999999".into()];
    breaker.stream.write_all(&bytes.concat()).unwrap();
    watcher.expect("room", "breaker joined");
    let why = "the header announces a message of 9999999999 bytes, more \
               than the 4096 this reader accepts";
    watcher.expect("room", &format!("breaker was dropped: {why}"));
    drop(server.stop());
}

fn rust_room_serves_a_name_before_a_broken_header() {
    name_then_broken_header(rust());
}

fn python_room_serves_a_name_before_a_broken_header() {
    name_then_broken_header(python());
}

/// A server whose answer is not UTF-8: both clients say so, the same way.
fn clients_refuse_a_welcome_not_utf_8() {
    use crate::support::framed;
    use std::io::Read;
    for python in [false, true] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let peer = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut name = [0; 15]; // the header, and "guest"
            stream.read_exact(&mut name).unwrap();
            let answer = [framed(b"room"), framed(b"welcome\xff")];
            stream.write_all(&answer.concat()).unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let _ = stream.read_to_end(&mut Vec::new());
        });
        let args = ["client", "--port", &port];
        let output = match python {
            false => run(lesson(NAME, &args)),
            true => run(python_twin(NAME, &args).unwrap()),
        };
        peer.join().unwrap();
        assert_exit(&output, 1);
        let said = "[client] error: a message not UTF-8\n";
        assert!(output.stderr.ends_with(said), "{}", output.stderr);
    }
}

/// The line of /proc/PID/status that starts with `key`, as a number.
fn status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|line| line.starts_with(key)).unwrap();
    let number = line.split_whitespace().nth(1).unwrap();
    number.parse().unwrap()
}

/// 300 members who say nothing, all on the server's one thread; one line
/// reaches every one of them.
fn idle_members(room: Room) {
    const IDLE: usize = 300;
    let (server, port) = room.start(&["--max-clients", "400"]);
    let mut idle: Vec<Probe> = (0..IDLE)
        .map(|number| Probe::join(&port, &format!("idle{number}")))
        .collect();
    let mut talker = Probe::join(&port, "talker");
    assert_eq!(status(server.id(), "Threads:"), 1);
    talker.say("is anyone there?");
    for member in &mut idle {
        while member.hear()
            != Some(("talker".into(), "is anyone there?".into()))
        {}
    }
    drop(server.stop());
}

fn rust_room_holds_hundreds_of_idle_members_on_one_thread() {
    idle_members(rust());
}

fn python_room_holds_hundreds_of_idle_members_on_one_thread() {
    idle_members(python());
}

/// The lowest file descriptor process `pid` does not use: the next one a
/// socket of its would get.
fn lowest_free_descriptor(pid: u32) -> u32 {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    let used: Vec<u32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|fd| !used.contains(fd)).unwrap()
}

/// With its open-files limit lowered (prlimit) to what it has open, every
/// accept fails with EMFILE: the room says so and pauses accepting, the
/// members go on talking meanwhile (a line between each failed accept),
/// and once a member leaves the waiting client is let in. Over the whole
/// run, at most one failure per pause, where a busy loop makes thousands.
fn out_of_descriptors(room: Room) {
    let started = Instant::now();
    let (mut server, port) = room.start(&["--trace"]);
    let mut talker = Probe::join(&port, "talker");
    let mut watcher = Probe::join(&port, "watcher");
    talker.expect("room", "watcher joined");
    // The accepts so far are behind us: each wake-up of the listener
    // from here on is a failed accept.
    wait_for(&mut server, "connection 2: watcher joined");
    let pid = server.id();
    let limit = lowest_free_descriptor(pid).to_string();
    let limited = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}:")])
        .status();
    assert!(limited.expect("prlimit (util-linux) runs").success());
    let mut late = Probe::connect(&port);
    for line in 0..3 {
        wait_for(&mut server, "the listener readable");
        let said = format!("line {line}");
        talker.say(&said);
        watcher.expect("talker", &said);
    }
    talker.stream.shutdown(Shutdown::Write).unwrap();
    talker.expect_close();
    watcher.expect("room", "talker left");
    late.say("late");
    assert!(late.hear().unwrap().1.starts_with("welcome, late"));
    let server = server.stop();
    let failures = server.stderr.matches("error: accept: ").count();
    let most = (started.elapsed().as_secs_f64() / 0.5) as usize + 1;
    assert!((3..=most).contains(&failures), "{failures}: {}", server.stderr);
    let said = "error: accept: out of file descriptors (EMFILE); trying again \
                in 0.5 s\n";
    assert!(server.stderr.contains(said), "{}", server.stderr);
}

fn rust_room_backs_off_when_out_of_file_descriptors() {
    out_of_descriptors(rust());
}

fn python_room_backs_off_when_out_of_file_descriptors() {
    out_of_descriptors(python());
}

/// The chapter's exercise: with 8 files at most (`prlimit --nofile=8`),
/// the Rust room holds 3 members: stdin, stdout, stderr, the listening
/// socket and the epoll instance take the other 5. The fourth client
/// waits in the backlog while each accept fails.
fn exercise_eight_files_hold_three_members() {
    let server = lesson(NAME, &["server", "--port", "0", "--trace"]);
    let mut command = Command::new("prlimit");
    command.arg("--nofile=8:8").arg("--").arg(server.get_program());
    command.args(server.get_args()).env_remove("CLICOLOR_FORCE");
    let mut server = Process::spawn(command);
    let port = server.listening_port().to_string();
    let members: Vec<Probe> = ["ada", "bob", "cy"]
        .iter()
        .map(|name| Probe::join(&port, name))
        .collect();
    wait_for(&mut server, "connection 3: cy joined");
    let _fourth = Probe::connect(&port);
    wait_for(&mut server, "the listener readable");
    wait_for(&mut server, "nothing: a deadline");
    let output = server.stop();
    drop(members);
    let story: Vec<&str> = output
        .stdout
        .lines()
        .filter(|line| !line.contains("trace: "))
        .chain(output.stderr.lines().take(1))
        .collect();
    assert_transcript(NAME, "exercise-eight-files", &(story.join("\n") + "\n"));
}

/// A client in the style of the Python tutorials' chat rooms
/// (tests/python/tutorial_chat_client.py: one non-blocking socket, recv
/// until BlockingIOError) joins the rooms of lessons 9 (threads), 13 (the
/// event loop) and 14 (async), each in both languages: it is heard, and it
/// hears the room's welcome and a member's line.
fn a_tutorial_style_client_joins_the_rooms_of_lessons_9_13_and_14() {
    for lesson in ["lesson_09", "lesson_13", "lesson_14"] {
        for python in [false, true] {
            let (server, port) = Room { lesson, python }.start(&[]);
            let mut ada = Probe::join(&port, "ada");
            let mut client = python3("tests/python/tutorial_chat_client.py")
                .expect("python3");
            client.args([port.as_str(), "tut", "hello from a tutorial", "2"]);
            let client = Process::spawn(client);
            ada.expect("room", "tut joined");
            ada.expect("tut", "hello from a tutorial");
            ada.say("hi, tut");
            let output = client.finish();
            let room = format!("{lesson}, python: {python}");
            assert_exit(&output, 0);
            assert!(
                output.stdout.starts_with("room > welcome, tut; here: ada\n")
                    && output.stdout.ends_with("ada > hi, tut\n"),
                "{room}: {}",
                output.stdout
            );
            server.stop();
        }
    }
}
