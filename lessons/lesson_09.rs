//! Lesson 9: a chat room.
//!
//! Every message on the wire is lesson 5's framing (a 10-character length
//! header, then the bytes), carrying UTF-8 text. A client's first message is
//! its name; each later one is a line it says. The server sends every other
//! client two messages for each line: the sender's name, then the text. It
//! announces joins and leaves the same way, under the name `room`.
//!
//! The server is threads and channels: a thread reads each client, one more
//! writes to it from a bounded queue, and the room (the server's main
//! thread) is the only one that knows who is here. A client that does not
//! read fills its queue and is dropped; the room goes on.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, Read, Write};
use std::net::Shutdown;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::Duration;

use socket_lessons::old::cli::{Defaults, LessonOption, Pace, Side, Value};
use socket_lessons::old::framing::{FramingError, Piece, Reassembler, frame};
use socket_lessons::old::python::escape_unprintable;
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig, Wire};
use socket_lessons::old::{output, reuse_address};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_09",
    title: "a chat room",
    defaults: Defaults {
        port: 4109,
        wait: Duration::from_secs(10),
        buffer: None,
    },
    options: &[MAX_CLIENTS, NAME, SCRIPT],
    server,
    client,
};

const MAX_CLIENTS: LessonOption = LessonOption {
    flag: "--max-clients",
    value: Value::Count { max: 1000 },
    placeholder: "N",
    default: "16",
    side: Side::Server,
    help: "how many clients the room holds",
};

const NAME: LessonOption = LessonOption {
    flag: "--name",
    value: Value::Text,
    placeholder: "NAME",
    default: "guest",
    side: Side::Client,
    help: "the name the others see",
};

const SCRIPT: LessonOption = LessonOption {
    flag: "--script",
    value: Value::Switch,
    placeholder: "",
    default: "",
    side: Side::Client,
    help: "three scripted clients talk (as in the demo)",
};

/// The name the server announces joins and leaves under; no client may
/// take it.
const ROOM: &str = "room";
/// The longest name, in bytes.
const MAX_NAME: usize = 32;
/// The longest message, in bytes: a name or a line.
const MAX_MESSAGE: usize = 4096;
/// How many messages may wait for one client's writing thread, and how
/// many events for the room.
const QUEUE: usize = 64;
/// How long the room waits for room in a full queue before it drops the
/// client that does not read. While it waits, the other clients wait too,
/// so this is short.
const PATIENCE: Duration = Duration::from_secs(2);
/// How often the room looks again at a full queue.
const RETRY: Duration = Duration::from_millis(10);
/// How long a new connection has, in all, to send its name.
const NAME_WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: events
/// Framed bytes waiting for the thread that writes to one client.
type Queue = SyncSender<Vec<u8>>;

/// What the threads that read the clients tell the room.
enum Event {
    /// A client sent a good name. `queue` feeds the thread that writes to
    /// it; `socket` lets the room close it.
    Joined { id: u64, name: String, queue: Queue, socket: Socket },
    /// A client said a line.
    Said { id: u64, text: String },
    /// A client hung up, or broke the protocol (`why` says how).
    Left { id: u64, why: Option<String> },
}
// ANCHOR_END: events

// ANCHOR: server
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let listener = config.wire(socket, out);
    reuse_address(&listener)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;
    let max_clients = config.extra.count(MAX_CLIENTS.flag) as usize;

    // Every reading thread holds a sender of this channel; the room alone
    // receives. Events from one client arrive in the order it sent them.
    // It is bounded: when the room is behind, the readers wait, and the
    // fastest talker is slowed down by TCP itself.
    let (events, room) = mpsc::sync_channel(QUEUE);
    let accept_out = out.clone();
    // The accepting thread runs until the process ends: a server without
    // --once never stops, and with --once it ends when the room is empty.
    thread::spawn(move || accept(listener, max_clients, events, accept_out));
    run_room(room, config.once, out);
    Ok(())
}

/// Accepts clients, and starts a reading thread for each, up to
/// `max_clients` at once.
fn accept(
    listener: Wire,
    max_clients: usize,
    events: SyncSender<Event>,
    out: Out,
) {
    let connected = Arc::new(AtomicUsize::new(0));
    for id in 1.. {
        let (mut client, address) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                out.error(format_args!("accept failed: {error}"));
                continue;
            }
        };
        let address = output::address(&address).to_string();
        if connected.load(Ordering::SeqCst) >= max_clients {
            out.say(format_args!(
                "connection {id} from {address}: refused, the room holds \
                 {max_clients} (--max-clients)"
            ));
            let _ = client.write_all(&pair(ROOM, "the room is full"));
            continue;
        }
        connected.fetch_add(1, Ordering::SeqCst);
        out.say(format_args!("connection {id} from {address}"));
        // Each thread gets its own handles: a sender of the room's
        // channel, an `Out`, and the counter.
        let (events, thread_out, counter) =
            (events.clone(), out.clone(), Arc::clone(&connected));
        // The thread takes the socket (`move`): from here it is the
        // client's reader's alone.
        let started = thread::Builder::new().spawn(move || {
            read_client(client, id, &events, &thread_out);
            counter.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(error) = started {
            // No thread (out of memory or threads): the client is closed.
            connected.fetch_sub(1, Ordering::SeqCst);
            out.error(format_args!("connection {id}: no thread: {error}"));
        }
    }
}

/// One client's reading thread: its name first, then its lines, each
/// passed to the room; at the end, `Left`.
fn read_client(
    mut client: Wire,
    id: u64,
    events: &SyncSender<Event>,
    out: &Out,
) {
    let mut messages = Messages::new();
    let name = match join(&mut client, &mut messages) {
        Ok(name) => name,
        Err(error) => {
            out.say(format_args!("connection {id}: not let in: {error}"));
            let refusal = pair(ROOM, &format!("not let in: {error}"));
            let _ = client.write_all(&refusal);
            return;
        }
    };
    let socket = client.try_clone();
    let writer = client.try_clone();
    let (Ok(socket), Ok(writer)) = (socket, writer) else {
        out.error(format_args!("connection {id}: cannot share its socket"));
        return;
    };
    let (queue, to_send) = mpsc::sync_channel(QUEUE);
    let writer = Wire::new(writer, out, Pace::default(), None);
    thread::spawn(move || write_client(writer, to_send));
    if events.send(Event::Joined { id, name, queue, socket }).is_err() {
        return; // The room is closed.
    }
    let why = loop {
        match messages.next(&mut client) {
            Ok(Some(text)) => {
                if events.send(Event::Said { id, text }).is_err() {
                    return;
                }
            }
            Ok(None) => break None,
            Err(error) => break Some(error.to_string()),
        }
    };
    let _ = events.send(Event::Left { id, why });
}

/// Reads the client's name, within [`NAME_WAIT`], and checks it.
fn join(client: &mut Wire, messages: &mut Messages) -> io::Result<String> {
    // In all, not for each recv: a byte every few seconds must not hold a
    // place in the room for hours.
    client.set_deadline(NAME_WAIT);
    let name = messages.next(client)?.ok_or_else(|| {
        io::Error::new(io::ErrorKind::UnexpectedEof, "it sent no name")
    })?;
    client.clear_deadline();
    let bad = |why: &str| Err(io::Error::new(io::ErrorKind::InvalidData, why));
    if name.is_empty() || name.len() > MAX_NAME {
        return bad(&format!("a name has 1 to {MAX_NAME} bytes"));
    }
    // A name is printed as it is (`... joined`): nothing in it may move
    // the cursor, reverse the text or hide, which escaping would show.
    if escape_unprintable(&name) != name || name == ROOM {
        return bad(&format!(
            "'{}' cannot be a name",
            escape_unprintable(&name)
        ));
    }
    Ok(name)
}

/// A client's writing thread: sends what the room queues for it, until
/// the room drops the queue or the client stops taking bytes.
fn write_client(mut client: Wire, to_send: Receiver<Vec<u8>>) {
    for bytes in to_send {
        if client.write_all(&bytes).is_err() {
            break;
        }
    }
    // Wakes the reading thread too, if it is still waiting.
    let _ = client.shutdown(Shutdown::Both);
}
// ANCHOR_END: server

// ANCHOR: room
/// Someone in the room, as the room knows them.
struct Member {
    name: String,
    queue: Queue,
    socket: Socket,
}

/// The room: the only thread that knows who is here. It takes events in
/// the order they come and queues each line for everyone but its sender.
/// With `once`, it closes when the last member leaves.
fn run_room(events: Receiver<Event>, once: bool, out: &Out) {
    let mut members: BTreeMap<u64, Member> = BTreeMap::new();
    for event in events {
        match event {
            Event::Joined { id, name, queue, socket } => {
                if members.values().any(|member| member.name == name) {
                    out.say(format_args!("connection {id}: {name} is taken"));
                    let why = format!("not let in: {name} is taken");
                    let _ = queue.try_send(pair(ROOM, &why));
                    // Dropping the queue ends its writing thread once the
                    // refusal is out; that thread then shuts the connection
                    // down. Shutting it down here could cut the refusal.
                    drop((queue, socket));
                    continue;
                }
                let here: Vec<&str> =
                    members.values().map(|m| m.name.as_str()).collect();
                let listed = here.join(", ");
                // The list must fit in a message.
                let welcome = match here.len() {
                    0 => format!("welcome, {name}; nobody else is here"),
                    _ if listed.len() > MAX_MESSAGE / 2 => {
                        format!(
                            "welcome, {name}; {} others are here",
                            here.len()
                        )
                    }
                    _ => format!("welcome, {name}; here: {listed}"),
                };
                out.say(format_args!("connection {id}: {name} joined"));
                let _ = queue.try_send(pair(ROOM, &welcome));
                let joined = format!("{name} joined");
                broadcast(&mut members, None, ROOM, &joined, out);
                members.insert(id, Member { name, queue, socket });
            }
            Event::Said { id, text } => {
                let Some(name) = members.get(&id).map(|m| m.name.clone())
                else {
                    continue; // Dropped already: its last lines go nowhere.
                };
                out.say(format_args!(
                    "{}: {}",
                    escape_unprintable(&name),
                    escape_unprintable(&text)
                ));
                broadcast(&mut members, Some(id), &name, &text, out);
            }
            Event::Left { id, why } => {
                if let Some(member) = members.remove(&id) {
                    let left = match why {
                        None => format!("{} left", member.name),
                        Some(why) => {
                            format!("{} was dropped: {why}", member.name)
                        }
                    };
                    let _ = member.socket.shutdown(Shutdown::Both);
                    out.say(escape_unprintable(&left));
                    broadcast(&mut members, None, ROOM, &left, out);
                }
            }
        }
        if once && members.is_empty() {
            out.say("the room is empty: closing it (--once)");
            return;
        }
    }
}

/// Queues `name` and `text` for every member but `sender`. A member whose
/// queue stays full for [`PATIENCE`] is not reading: it is dropped, and
/// that is announced too.
fn broadcast(
    members: &mut BTreeMap<u64, Member>,
    sender: Option<u64>,
    name: &str,
    text: &str,
    out: &Out,
) {
    let mut announcements = vec![(sender, name.to_string(), text.to_string())];
    while let Some((sender, name, text)) = announcements.pop() {
        let bytes = pair(&name, &text);
        let mut failed = Vec::new();
        for (&id, member) in members.iter() {
            if Some(id) == sender {
                continue;
            }
            if let Err(why) = deliver(&member.queue, bytes.clone()) {
                failed.push((id, why));
            }
        }
        for (id, why) in failed {
            if let Some(member) = members.remove(&id) {
                let _ = member.socket.shutdown(Shutdown::Both);
                let dropped = format!("{} was dropped: {why}", member.name);
                out.say(escape_unprintable(&dropped));
                announcements.push((None, ROOM.to_string(), dropped));
            }
        }
    }
}

/// Queues `bytes` for one member, waiting up to [`PATIENCE`] while its
/// queue is full: a client that reads slowly gets time to catch up.
fn deliver(queue: &Queue, mut bytes: Vec<u8>) -> Result<(), String> {
    let mut waited = Duration::ZERO;
    loop {
        match queue.try_send(bytes) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(back)) if waited < PATIENCE => {
                thread::sleep(RETRY);
                waited += RETRY;
                bytes = back;
            }
            Err(TrySendError::Full(_)) => {
                return Err(format!(
                    "it does not read ({QUEUE} messages waited {} s)",
                    PATIENCE.as_secs()
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err("its connection failed".to_string());
            }
        }
    }
}
// ANCHOR_END: room

/// A name and a text as two framed messages, in one buffer.
fn pair(name: &str, text: &str) -> Vec<u8> {
    // Both are at most MAX_MESSAGE bytes: framing cannot fail.
    let framed = |text: &str| frame(text.as_bytes()).unwrap_or_default();
    [framed(name), framed(text)].concat()
}

// ANCHOR: messages
/// Reads framed UTF-8 messages from a socket, one at a time.
struct Messages {
    reassembler: Reassembler,
    buffer: [u8; MAX_MESSAGE],
    /// What a recv brought after the message asked for: the next messages,
    /// then the error that stopped the reader, if one did.
    waiting: VecDeque<io::Result<String>>,
}

impl Messages {
    fn new() -> Self {
        let reassembler = Reassembler::with_max_len(MAX_MESSAGE);
        let waiting = VecDeque::new();
        Messages { reassembler, buffer: [0; MAX_MESSAGE], waiting }
    }

    /// The next message, or `None` when the peer closes between messages.
    fn next(&mut self, socket: &mut Wire) -> io::Result<Option<String>> {
        loop {
            if let Some(message) = self.waiting.pop_front() {
                return message.map(Some);
            }
            let received = socket.read(&mut self.buffer)?;
            if received == 0 {
                return match self.reassembler.finish() {
                    Ok(_) | Err(FramingError::Empty) => Ok(None),
                    Err(cut) => Err(cut.into()),
                };
            }
            // One recv may complete several messages, or none. Each waits
            // its turn as text, a copy: the next recv overwrites the buffer.
            let mut pieces = self.reassembler.feed(&self.buffer[..received]);
            loop {
                match pieces.next_piece() {
                    Ok(Some(Piece::Header { .. })) => {}
                    Ok(Some(Piece::Message(bytes))) => {
                        let text = String::from_utf8(bytes.to_vec());
                        self.waiting.push_back(text.map_err(|_| {
                            let why = "a message that is not UTF-8 text";
                            io::Error::new(io::ErrorKind::InvalidData, why)
                        }));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        self.waiting.push_back(Err(error.into()));
                        break;
                    }
                }
            }
        }
    }

    /// The next name and text the server sends.
    fn next_pair(
        &mut self,
        socket: &mut Wire,
    ) -> io::Result<Option<(String, String)>> {
        let Some(name) = self.next(socket)? else { return Ok(None) };
        match self.next(socket)? {
            Some(text) => Ok(Some((name, text))),
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed between a name and its text",
            )),
        }
    }
}
// ANCHOR_END: messages

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    // The demo is the scripted conversation: one command shows a room.
    if config.demo || config.extra.switch(SCRIPT.flag) {
        return conversation(config, out);
    }
    let name = config.extra.text(NAME.flag);
    // A chat waits as long as people talk: no deadline on this socket.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = Wire::new(socket, out, Pace::default(), None);
    out.say(format_args!("connecting to {} as {name}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    server.write_all(&frame(name.as_bytes())?)?;

    // The keyboard has a thread of its own, so that reading it and
    // reading the socket happen at once.
    let mut keyboard =
        Wire::new(server.try_clone()?, out, Pace::default(), None);
    let keyboard_out = out.clone();
    thread::spawn(move || {
        if let Err(error) = send_lines(&mut keyboard) {
            keyboard_out.error(format_args!("cannot send: {error}"));
        }
        // End of input: no more lines from this side. The server sees the
        // end of the stream, and says we left.
        let _ = keyboard.shutdown(Shutdown::Write);
    });

    let mut messages = Messages::new();
    while let Some((name, text)) = messages.next_pair(&mut server)? {
        out.say(format_args!(
            "{}: {}",
            escape_unprintable(&name),
            escape_unprintable(&text)
        ));
    }
    out.say("the server closed the connection");
    Ok(())
}

/// Sends each line of stdin as a framed message, until stdin ends.
fn send_lines(server: &mut Wire) -> io::Result<()> {
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
            return Err(io::Error::other(format!(
                "a line is longer than {MAX_MESSAGE} bytes"
            )));
        }
        std::str::from_utf8(text).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "a line is not UTF-8")
        })?;
        server.write_all(&frame(text)?)?;
    }
}
// ANCHOR_END: client

// ANCHOR: script
/// The demo's conversation: who says what, in order.
const SCRIPT_LINES: [(usize, &str); 4] = [
    (0, "hello, everyone"),
    (1, "hi ada! the room works"),
    (2, "hello from cy"),
    (0, "bye for now"),
];
const SCRIPT_NAMES: [&str; 3] = ["ada", "bob", "cy"];

/// A scripted client.
struct Bot {
    name: &'static str,
    server: Wire,
    messages: Messages,
}

impl Bot {
    /// Reads and shows what the server sends, until a message from `from`
    /// that contains `text`.
    fn hear(&mut self, out: &Out, from: &str, text: &str) -> io::Result<()> {
        loop {
            let Some((name, said)) =
                self.messages.next_pair(&mut self.server)?
            else {
                return Err(io::Error::other(format!(
                    "{}: the server closed the connection",
                    self.name
                )));
            };
            out.say(format_args!(
                "{} hears {}: {}",
                self.name,
                escape_unprintable(&name),
                escape_unprintable(&said)
            ));
            if name == from && said.contains(text) {
                return Ok(());
            }
        }
    }
}

/// Three clients in one process, each waiting to hear the line before its
/// own, so that the conversation goes the same way every time.
fn conversation(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let mut bots: Vec<Bot> = Vec::new();
    for name in SCRIPT_NAMES {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        let mut server = config.wire(socket, out);
        out.say(format_args!("{name} connects to {}", config.server));
        server.connect_timeout(&config.server.into(), config.wait)?;
        server.set_read_timeout(Some(config.wait))?;
        server.write_all(&frame(name.as_bytes())?)?;
        let mut bot = Bot { name, server, messages: Messages::new() };
        bot.hear(out, ROOM, "welcome")?;
        for earlier in &mut bots {
            earlier.hear(out, ROOM, &format!("{name} joined"))?;
        }
        bots.push(bot);
    }
    for (speaker, text) in SCRIPT_LINES {
        let name = bots[speaker].name;
        out.say(format_args!("{name} says: {text}"));
        bots[speaker].server.write_all(&frame(text.as_bytes())?)?;
        for (index, bot) in bots.iter_mut().enumerate() {
            if index != speaker {
                bot.hear(out, name, text)?;
            }
        }
    }
    while !bots.is_empty() {
        let mut leaving = bots.remove(0);
        out.say(format_args!("{} leaves", leaving.name));
        leaving.server.shutdown(Shutdown::Write)?;
        if let Some((name, text)) =
            leaving.messages.next_pair(&mut leaving.server)?
        {
            return Err(io::Error::other(format!(
                "{} heard {name}: {text} after leaving",
                leaving.name
            )));
        }
        for bot in &mut bots {
            bot.hear(out, ROOM, &format!("{} left", leaving.name))?;
        }
    }
    out.say("everyone has left");
    Ok(())
}
// ANCHOR_END: script
