//! Lesson 9: a chat room.
//!
//! Every message on the wire, both ways, is lesson 5's framing (a
//! 10-character length header, then the bytes) carrying UTF-8 text. A
//! client's first message is its name; each later one is a line it says.
//! For each line the server sends every other member two messages: the
//! sender's name, then the text. Joins and leaves come the same way, from
//! the name `room`.
//!
//! ```text
//! cargo run --example lesson_09                        # a scripted chat
//! cargo run --example lesson_09 -- server              # terminal 1
//! cargo run --example lesson_09 -- client --name ada   # terminal 2, 3...
//! ```

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Write};
use std::net::Shutdown;
use std::process::{self, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use socket_lessons::cli::seconds;
use socket_lessons::framing::{FramingError, HEADER_LEN, frame};
use socket_lessons::output::address;
use socket_lessons::text::{escape, is_printable};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_09",
    about: "a chat room",
    port: 4109,
    wait: "10",
    show: false,
    server,
    client,
};

/// The name joins and leaves are announced under; no client may take it.
const ROOM: &str = "room";
/// The longest name, in bytes.
const MAX_NAME: usize = 32;
/// The longest message, in bytes: a name or a line.
const MAX_MESSAGE: usize = 4096;
/// How many messages may wait for the room, and how many pairs (a name and
/// a text) for one member beyond what its socket has taken.
const QUEUE: usize = 64;
/// How long a new connection has, in all, to send its name.
const NAME_WAIT: Duration = Duration::from_secs(10);
/// How long the room waits for room in full outboxes.
const PATIENCE: Duration = Duration::from_secs(2);
/// How long a member's socket may take no bytes before it is dropped.
const SEND_WAIT: Duration = Duration::from_secs(10);
/// How many refused connections may be closing well at once, each with a
/// thread for a second at most; more are closed at once.
const MAX_REFUSING: usize = 64;
/// How many connections the system may hold for the room before it accepts
/// them (listen's backlog): with 5, a burst of clients is half refused.
const BACKLOG: i32 = 128;
/// Code points Python's `str.isprintable` lets through that show nothing
/// (fillers, variation selectors, a blank braille cell): `room` and a
/// character of these would pass for the room.
const INVISIBLE: [(char, char); 9] = [
    ('\u{34F}', '\u{34F}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{E0100}', '\u{E01EF}'),
];

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    // At most 5,000, two threads each: past about 16,000 threads, Linux
    // here cannot map a new thread's stacks (vm.max_map_count 65,530, four
    // maps a thread) and Rust's std aborts the whole process (seen).
    /// How many clients the room holds (two threads each)
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=5000))]
    max_clients: u32,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The name the others see
    #[arg(long, default_value = "guest")]
    name: String,
    /// Play three scripted clients, as the demo does
    #[arg(long)]
    script: bool,
    /// How long the client may run in all (without it: until the server
    /// closes)
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    deadline: Option<Duration>,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let domain = Domain::for_address(config.address);
    let listener = Socket::new(domain, Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    listener.bind(&config.address.into())?;
    listener.listen(BACKLOG)?;
    out.listening(&listener)?;
    // Every client's threads send the room events on this channel; the
    // room alone receives them, one at a time, in the order they came. It
    // is bounded: when the room is behind, the readers wait, stop reading,
    // and TCP slows the talkers down.
    let (events, room) = mpsc::sync_channel(QUEUE);
    let max_clients = config.options.max_clients as usize;
    let accept_out = out.clone();
    // Accepting has a thread of its own, which runs until the process ends.
    thread::spawn(move || accept(&listener, max_clients, &events, &accept_out));
    run_room(&room, config.once, out);
    Ok(())
}

/// Accepts clients, and starts a thread for each, up to `max_clients`.
fn accept(
    listener: &Socket,
    max_clients: usize,
    events: &SyncSender<Event>,
    out: &Out,
) {
    let connected = Arc::new(AtomicUsize::new(0));
    let refusing = Arc::new(AtomicUsize::new(0));
    for id in 1.. {
        let (client, from) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: pause, not a busy loop.
                out.error(format_args!("accept failed: {error}"));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let from = address(&from);
        if connected.load(Ordering::SeqCst) >= max_clients {
            out.say(format_args!(
                "connection {id} from {from}: refused, the room holds \
                 {max_clients} (--max-clients)"
            ));
            // Told, and closed well, in a thread of its own: the close waits
            // for the client, and accepting must not. A flood of them gets
            // no more than MAX_REFUSING threads; the rest are closed at once.
            if refusing.load(Ordering::SeqCst) >= MAX_REFUSING {
                continue;
            }
            let place = Place::take(&refusing);
            let refusal = move || {
                let _place = place;
                refuse(&client, "the room is full")
            };
            let _ = thread::Builder::new().spawn(refusal);
            continue;
        }
        let place = Place::take(&connected);
        out.say(format_args!("connection {id} from {from}"));
        // A chat's messages are small and wanted now: without this, Nagle's
        // algorithm holds each one back until the last is acknowledged, and
        // a client may delay that ACK by up to 40 ms (lesson 7).
        let _ = client.set_tcp_nodelay(true);
        // The thread's own handles: a sender, an `Out`, its place.
        let (events, thread_out) = (events.clone(), out.clone());
        let started = thread::Builder::new().spawn(move || {
            let _place = place;
            read_client(&client, id, &events, &thread_out);
        });
        if started.is_err() {
            out.error(format_args!("connection {id}: no thread for it"));
        }
    }
}

/// One of a counted number of places (members, or refusals closing),
/// given back when dropped: when its thread ends, or with the thread's
/// closure when no thread could be started for it.
struct Place(Arc<AtomicUsize>);

impl Place {
    fn take(count: &Arc<AtomicUsize>) -> Place {
        count.fetch_add(1, Ordering::SeqCst);
        Place(Arc::clone(count))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One client's reading thread: its name, then its lines, each passed to
/// the room; at the end, `Left`.
fn read_client(
    client: &Socket,
    id: u64,
    events: &SyncSender<Event>,
    out: &Out,
) {
    // In all, not per recv: a byte every few seconds must not hold a place
    // for hours.
    let name = match receive(client, Some(Instant::now() + NAME_WAIT)) {
        Ok(Some(name)) => check(name),
        Ok(None) => Err("it sent no name".to_string()),
        Err(error) if timed_out(&error) => {
            Err(format!("it sent no name within {} s", NAME_WAIT.as_secs()))
        }
        Err(error) => Err(why(&error)),
    };
    let name = match name {
        Ok(name) => name,
        Err(why) => {
            out.say(format_args!("connection {id}: not let in: {why}"));
            return refuse(client, &format!("not let in: {why}"));
        }
    };
    // A member may be silent as long as it likes.
    let _ = client.set_read_timeout(None);
    // The writing thread and the room get handles of their own on the same
    // socket (dup(2)).
    let (Ok(writer), Ok(socket)) = (client.try_clone(), client.try_clone())
    else {
        return out.error(format_args!("connection {id}: no second handle"));
    };
    let (outbox, to_send) = mpsc::sync_channel(QUEUE);
    let (writer_events, took) = (events.clone(), Arc::new(Mutex::new(None)));
    let writer_took = Arc::clone(&took);
    let started = thread::Builder::new().spawn(move || {
        write_client(&writer, id, &to_send, &writer_took, &writer_events);
    });
    if started.is_err() {
        return out.error(format_args!("connection {id}: no thread for it"));
    }
    let joined = Event::Joined { id, name, outbox, socket, took };
    if events.send(joined).is_err() {
        return; // The room is closed.
    }
    let why = loop {
        match receive(client, None) {
            Ok(Some(text)) => {
                if events.send(Event::Said { id, text }).is_err() {
                    return;
                }
            }
            Ok(None) => break None,
            Err(error) => break Some(why(&error)),
        }
    };
    let _ = events.send(Event::Left { id, why });
}

/// A name is printed as it is (`ada joined`): nothing in it may move the
/// cursor, reverse the text or hide.
fn check(name: String) -> Result<String, String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a name has 1 to {MAX_NAME} bytes"));
    }
    // Python's rule, str.isprintable, so that both servers let in the same
    // names; and nothing that shows nothing, around it or in it.
    let shows = |c| is_printable(c) && !invisible(c);
    let trimmed = name.trim_matches(' ');
    if trimmed == ROOM || trimmed != name || !name.chars().all(shows) {
        return Err(format!("'{}' cannot be a name", shown(&name)));
    }
    Ok(name)
}

fn invisible(c: char) -> bool {
    INVISIBLE.iter().any(|&(first, last)| (first..=last).contains(&c))
}

/// A name as Python's repr shows it, and what shows nothing as a code.
fn shown(name: &str) -> String {
    let code = |c: char| match u32::from(c) {
        small @ ..0x10000 => format!("\\u{small:04x}"),
        big => format!("\\U{big:08x}"),
    };
    let escaped = escape(name);
    let shown = escaped.chars().map(|c| match invisible(c) {
        true => code(c),
        false => c.into(),
    });
    shown.collect()
}

/// Tells a client why it is not let in, and closes well: shutdown(Write)
/// ends the stream after the refusal, and what the client still sends is
/// read, for a second at most, so that the close is not a reset (RST),
/// which could destroy the refusal before the client reads it.
fn refuse(mut client: &Socket, why: &str) {
    let _ = client.write_all(&pair(ROOM, why));
    let _ = client.shutdown(Shutdown::Write);
    let until = Instant::now() + Duration::from_secs(1);
    let mut rest = [0; MAX_MESSAGE];
    while let Ok(left) = time_left(until) {
        let _ = client.set_read_timeout(Some(left));
        if !matches!(client.read(&mut rest), Ok(1..)) {
            return;
        }
    }
}

/// A member's writing thread: sends what the room puts in its outbox, and
/// notes in `took` when its socket last took a message (`None` while none
/// waits). When the room drops the outbox, the last bytes are out:
/// shutdown(Write).
fn write_client(
    mut client: &Socket,
    id: u64,
    to_send: &Receiver<Vec<u8>>,
    took: &Mutex<Option<Instant>>,
    events: &SyncSender<Event>,
) {
    let note =
        |when| *took.lock().unwrap_or_else(PoisonError::into_inner) = when;
    let sent = client.set_write_timeout(Some(SEND_WAIT)).and_then(|()| {
        loop {
            let bytes = match to_send.try_recv() {
                Ok(bytes) => bytes,
                Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) => {
                    note(None); // nothing waits for it: nothing is late
                    let Ok(bytes) = to_send.recv() else { return Ok(()) };
                    note(Some(Instant::now()));
                    bytes
                }
            };
            client.write_all(&bytes)?;
            note(Some(Instant::now()));
        }
    });
    match sent {
        Ok(()) => {
            let _ = client.shutdown(Shutdown::Write);
        }
        Err(error) => {
            let why = match timed_out(&error) {
                true => {
                    format!("it took nothing for {} s", SEND_WAIT.as_secs())
                }
                false => why(&error),
            };
            let _ = events.send(Event::Left { id, why: Some(why) });
        }
    }
}
// ANCHOR_END: server

// ANCHOR: room
/// What the clients' threads tell the room.
enum Event {
    /// A client sent a good name. The room puts what is for it in its
    /// `outbox`; `socket` lets the room cut it off; `took` is when its
    /// socket last took a message.
    Joined {
        id: u64,
        name: String,
        outbox: SyncSender<Vec<u8>>,
        socket: Socket,
        took: Arc<Mutex<Option<Instant>>>,
    },
    /// A member said a line.
    Said { id: u64, text: String },
    /// A member hung up (`why` is `None`), or is to be dropped.
    Left { id: u64, why: Option<String> },
}

/// Someone in the room, as the room knows them.
struct Member {
    name: String,
    outbox: SyncSender<Vec<u8>>,
    socket: Socket,
    took: Arc<Mutex<Option<Instant>>>,
}

/// The room: the only thread that knows who is here. With `once`, it closes
/// when the last member leaves.
fn run_room(events: &Receiver<Event>, once: bool, out: &Out) {
    let mut members = BTreeMap::new();
    for event in events {
        match event {
            Event::Joined { id, name, outbox, socket, took } => {
                if members.values().any(|m: &Member| m.name == name) {
                    let why = format!("not let in: {name} is taken");
                    out.say(format_args!("connection {id}: {why}"));
                    // Dropping the outbox ends the writing thread once the
                    // refusal is out.
                    let _ = outbox.try_send(pair(ROOM, &why));
                    continue;
                }
                out.say(format_args!("connection {id}: {name} joined"));
                let _ = outbox.try_send(pair(ROOM, &welcome(&name, &members)));
                let joined = pair(ROOM, &format!("{name} joined"));
                broadcast(&mut members, None, &joined, out);
                members.insert(id, Member { name, outbox, socket, took });
            }
            Event::Said { id, text } => {
                // Dropped already, or never let in: its lines go nowhere.
                let Some(member) = members.get(&id) else { continue };
                out.say(format_args!("{}: {}", member.name, escape(&text)));
                let said = pair(&member.name, &text);
                broadcast(&mut members, Some(id), &said, out);
            }
            Event::Left { id, why } => {
                if let Some(member) = members.remove(&id) {
                    leave(&mut members, member, why, out);
                }
            }
        }
        if once && members.is_empty() {
            return out.say("the room is empty: closing it (--once)");
        }
    }
}

/// What a new member is told: who is here, if the list fits a message.
fn welcome(name: &str, members: &BTreeMap<u64, Member>) -> String {
    let here: Vec<&str> = members.values().map(|m| m.name.as_str()).collect();
    match here.join(", ") {
        _ if here.is_empty() => format!("welcome, {name}; nobody else is here"),
        list if list.len() > MAX_MESSAGE / 2 => {
            format!("welcome, {name}; {} others are here", here.len())
        }
        list => format!("welcome, {name}; here: {list}"),
    }
}

/// Puts `bytes` in the outbox of every member but `sender`. A full outbox
/// gets time to empty, until its socket has taken nothing for PATIENCE:
/// members that stopped reading at the same time cost the room PATIENCE
/// once, not once each. One still full then does not read (its socket's
/// buffers are full too): it is dropped.
fn broadcast(
    members: &mut BTreeMap<u64, Member>,
    sender: Option<u64>,
    bytes: &[u8],
    out: &Out,
) {
    let now = Instant::now();
    let mut full = Vec::new();
    for (&id, member) in members.iter().filter(|(id, _)| Some(**id) != sender) {
        let mut bytes = bytes.to_vec();
        // While the room waits here, the talkers wait too: their readers
        // cannot hand it more events.
        while let Err(TrySendError::Full(back)) = member.outbox.try_send(bytes)
        {
            let took =
                *member.took.lock().unwrap_or_else(PoisonError::into_inner);
            if Instant::now() >= took.unwrap_or(now) + PATIENCE {
                full.push(id);
                break;
            }
            thread::sleep(Duration::from_millis(10));
            bytes = back;
        }
        // Disconnected: its writing thread has ended, and said why.
    }
    for id in full {
        if let Some(member) = members.remove(&id) {
            let waited = PATIENCE.as_secs();
            let why =
                format!("it does not read ({QUEUE} messages, {waited} s)");
            leave(members, member, Some(why), out);
        }
    }
}

/// Announces that `member` left. One that is dropped is cut off: what waits
/// for it is not sent. Otherwise its writing thread sends what waits, then
/// ends when `member` (and its outbox) is dropped here.
fn leave(
    members: &mut BTreeMap<u64, Member>,
    member: Member,
    why: Option<String>,
    out: &Out,
) {
    let left = match why {
        None => format!("{} left", member.name),
        Some(why) => {
            let _ = member.socket.shutdown(Shutdown::Both);
            format!("{} was dropped: {why}", member.name)
        }
    };
    out.say(&left);
    broadcast(members, None, &pair(ROOM, &left), out);
}
// ANCHOR_END: room

// ANCHOR: messages
/// A name and a text as two framed messages, in one buffer.
fn pair(name: &str, text: &str) -> Vec<u8> {
    // Both are at most MAX_MESSAGE bytes: framing cannot fail.
    let framed = |text: &str| frame(text.as_bytes()).unwrap_or_default();
    [framed(name), framed(text)].concat()
}

/// Reads one framed message, waiting until `until` at most (`None`: for
/// ever); `None` if the peer closed between messages.
fn receive(
    socket: &Socket,
    until: Option<Instant>,
) -> io::Result<Option<String>> {
    let mut header = [0; HEADER_LEN];
    match recv_exactly(socket, &mut header, until)? {
        0 => return Ok(None),
        HEADER_LEN => {}
        got => return Err(cut("header", got, HEADER_LEN)),
    }
    // ASCII digits with spaces around them. A header is a promise from the
    // peer, not a fact: it is checked before any memory is reserved.
    let digits = std::str::from_utf8(&header).unwrap_or("").trim_matches(' ');
    let length = match digits.bytes().all(|b| b.is_ascii_digit()) {
        true => digits.parse::<u64>().ok(),
        false => None,
    };
    let length = match length {
        None => Err(FramingError::NotALength { raw: header })?,
        Some(length) if length > MAX_MESSAGE as u64 => {
            let (length, max) = (length as usize, MAX_MESSAGE);
            Err(FramingError::TooLong { length, max })?
        }
        Some(length) => length as usize,
    };
    let mut message = vec![0; length];
    let got = recv_exactly(socket, &mut message, until)?;
    if got < length {
        return Err(cut("message", got, length));
    }
    let text = String::from_utf8(message).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidData, "a message not UTF-8")
    })?;
    Ok(Some(text))
}

/// recv(2) until `buffer` is full or the peer closes; how many bytes came.
fn recv_exactly(
    mut socket: &Socket,
    buffer: &mut [u8],
    until: Option<Instant>,
) -> io::Result<usize> {
    let mut got = 0;
    while got < buffer.len() {
        if let Some(until) = until {
            // Past `until`, what has come is still read (this process may
            // have been stopped while it came): a microsecond's wait, the
            // least the system takes, gets it, or a timeout.
            let left = until.saturating_duration_since(Instant::now());
            socket
                .set_read_timeout(Some(left.max(Duration::from_micros(1))))?;
        }
        match socket.read(&mut buffer[got..]) {
            Ok(0) => break,
            Ok(received) => got += received,
            // A wait with a timeout, stopped (Ctrl-Z, kill -STOP) and
            // continued, ends in EINTR: it is asked again.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(got)
}

fn cut(what: &'static str, got: usize, expected: usize) -> io::Error {
    FramingError::Truncated { what, got, expected }.into()
}

/// How long until `until`; a timeout error once it has passed (a timeout
/// under a microsecond reaches the system as 0, which means none at all).
fn time_left(until: Instant) -> io::Result<Duration> {
    let left = until.saturating_duration_since(Instant::now());
    match left < Duration::from_micros(1) {
        true => Err(io::ErrorKind::TimedOut.into()),
        false => Ok(left),
    }
}

/// Whether a wait ran out: a recv's timeout is EAGAIN (`WouldBlock`).
fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Why a connection ended, in the room's words.
fn why(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "its connection was reset".into(),
        io::ErrorKind::BrokenPipe => "it closed its connection".into(),
        _ => error.to_string(),
    }
}
// ANCHOR_END: messages

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    if let Some(limit) = config.options.deadline {
        // --deadline: whatever the client is waiting for then, it ends.
        let out = out.clone();
        thread::spawn(move || {
            thread::sleep(limit);
            let limit = limit.as_secs_f64();
            out.error(format_args!("gave up after {limit} s (--deadline)"));
            process::exit(1);
        });
    }
    // The demo is the scripted conversation: one command shows a room.
    if config.demo || config.options.script {
        return conversation(config, out);
    }
    let name = &config.options.name;
    out.say(format_args!(
        "connecting to {} as {}",
        config.server,
        escape(name)
    ));
    let server = connect(config)?;
    send(&server, name)?;
    // The room answers a name at once: a welcome, or why not.
    match receive_pair(&server)? {
        Some((from, text)) if from == ROOM && text.starts_with("welcome, ") => {
            out.say(format_args!("{ROOM}: {}", escape(&text)));
        }
        Some((_, text)) => return Err(io::Error::other(escape(&text))),
        None => return Err(io::Error::other("the server closed at once")),
    }
    // From now on a chat waits as long as people talk.
    server.set_read_timeout(None)?;
    // The keyboard has a thread of its own, so that reading it and reading
    // the socket happen at once.
    let keyboard = server.try_clone()?;
    let keyboard_out = out.clone();
    thread::spawn(move || {
        if let Err(error) = send_lines(&keyboard) {
            keyboard_out.error(format_args!("cannot send: {}", why(&error)));
        }
        // No more lines: shutdown(2) for writing. The server sees the end
        // of the stream, says we left, and closes.
        let _ = keyboard.shutdown(Shutdown::Write);
    });
    while let Some((name, text)) = receive_pair(&server)? {
        out.say(format_args!("{}: {}", escape(&name), escape(&text)));
    }
    out.say("the server closed the connection");
    Ok(())
}

/// A socket connected to the server, each recv waiting --wait at most.
fn connect(config: &Client<ClientOptions>) -> io::Result<Socket> {
    let domain = Domain::for_address(config.server);
    let server = Socket::new(domain, Type::STREAM, None)?;
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.set_read_timeout(Some(config.wait))?;
    Ok(server)
}

fn send(mut server: &Socket, text: &str) -> io::Result<()> {
    server.write_all(&frame(text.as_bytes())?)
}

/// The next name and text the server sends; `None` when it closes.
fn receive_pair(server: &Socket) -> io::Result<Option<(String, String)>> {
    let Some(name) = receive(server, None)? else { return Ok(None) };
    match receive(server, None)? {
        Some(text) => Ok(Some((name, text))),
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed between a name and its text",
        )),
    }
}

/// Sends each line of stdin as a framed message, until stdin ends.
fn send_lines(server: &Socket) -> io::Result<()> {
    let mut line = Vec::new();
    let mut stdin = io::stdin().lock();
    loop {
        line.clear();
        // At most one byte more than a message may hold: enough to know
        // the line is too long, without reading all of it.
        let limit = (MAX_MESSAGE + 1) as u64;
        if (&mut stdin).take(limit).read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = match line.strip_suffix(b"\n") {
            Some(text) => text.strip_suffix(b"\r").unwrap_or(text),
            None => &line,
        };
        if text.len() > MAX_MESSAGE {
            let why = format!("a line is longer than {MAX_MESSAGE} bytes");
            return Err(io::Error::other(why));
        }
        let text = std::str::from_utf8(text)
            .map_err(|_| io::Error::other("a line is not UTF-8"))?;
        send(server, text)?;
    }
}
// ANCHOR_END: client

// ANCHOR: script
/// The demo's conversation: who says what, in order.
const SCRIPT: [(usize, &str); 4] = [
    (0, "hello, everyone"),
    (1, "hi ada! the room works"),
    (2, "hello from cy"),
    (0, "bye for now"),
];

/// A scripted client.
struct Bot<'a> {
    name: &'static str,
    server: Socket,
    out: &'a Out,
}

impl Bot<'_> {
    /// Shows what the server sends, until `from` says something with `text`.
    fn hear(&self, from: &str, text: &str) -> io::Result<()> {
        loop {
            let Some((name, said)) = receive_pair(&self.server)? else {
                let why = format!("{}: the server closed", self.name);
                return Err(io::Error::other(why));
            };
            let (name, said) = (escape(&name), escape(&said));
            self.out.say(format_args!("{} hears {name}: {said}", self.name));
            if name == from && said.contains(text) {
                return Ok(());
            }
        }
    }
}

/// Three clients in one process, each waiting to hear the line before its
/// own, so that the conversation goes the same way every time.
fn conversation(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let mut bots: Vec<Bot> = Vec::new();
    for name in ["ada", "bob", "cy"] {
        out.say(format_args!("{name} connects to {}", config.server));
        let server = connect(config)?;
        send(&server, name)?;
        let bot = Bot { name, server, out };
        bot.hear(ROOM, "welcome")?;
        for earlier in &bots {
            earlier.hear(ROOM, &format!("{name} joined"))?;
        }
        bots.push(bot);
    }
    for (speaker, text) in SCRIPT {
        let name = bots[speaker].name;
        out.say(format_args!("{name} says: {text}"));
        send(&bots[speaker].server, text)?;
        for (index, bot) in bots.iter().enumerate() {
            if index != speaker {
                bot.hear(name, text)?;
            }
        }
    }
    while !bots.is_empty() {
        let leaving = bots.remove(0);
        out.say(format_args!("{} leaves", leaving.name));
        leaving.server.shutdown(Shutdown::Write)?;
        // The server closes in turn, after what it had queued.
        while receive_pair(&leaving.server)?.is_some() {}
        for bot in &bots {
            bot.hear(ROOM, &format!("{} left", leaving.name))?;
        }
    }
    out.say("everyone has left");
    Ok(())
}
// ANCHOR_END: script
