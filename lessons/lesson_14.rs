//! Lesson 14: lesson 9's chat room, served with tokio: async and await.
//!
//! The protocol is lesson 9's, byte for byte (lesson 5's framing carrying
//! UTF-8 text; a name first; every line passed on as a name and a text;
//! joins and leaves from `room`), so every lesson 9 client joins this room.
//! What changes is the server: one thread, on which a task per client and
//! the room's task take turns, each `await` a point where a task waits for
//! its socket to be ready and lets the others run.
//!
//! ```text
//! cargo run --example lesson_14                        # a scripted chat
//! cargo run --example lesson_14 -- server              # terminal 1
//! cargo run --example lesson_14 -- client --name ada   # terminal 2, 3...
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, Read};
use std::pin::pin;
use std::process::{self, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use clap::Args;
use socket_lessons::cli::seconds;
use socket_lessons::framing::{FramingError, HEADER_LEN, frame};
use socket_lessons::output::address;
use socket_lessons::text::{escape, is_printable};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout, timeout_at};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_14",
    about: "the chat room with tokio",
    port: 4114,
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
/// How many events may wait for the room, and how many pairs (a name and a
/// text) for one member beyond what its socket has taken.
const QUEUE: usize = 64;
/// How long a new connection has, in all, to send its name.
const NAME_WAIT: Duration = Duration::from_secs(10);
/// How long the room waits for room in full outboxes.
const PATIENCE: Duration = Duration::from_secs(2);
/// How long a member's socket may take nothing before it is dropped.
const SEND_WAIT: Duration = Duration::from_secs(10);
/// How long what a closing client still sends is read, so that the close
/// is not a reset.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// listen's backlog, as lesson 9's.
const BACKLOG: i32 = 128;
/// Code points Python's `str.isprintable` lets through that show nothing:
/// `room` and one of these would pass for the room (lesson 9).
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
    /// How many clients the room holds
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
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

/// A runtime of one thread, like lesson 13's loop: the tasks take turns on
/// it, each until its next `await` that must wait.
fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
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
    // No call may wait: one that would (EAGAIN) returns at once, and tokio
    // asks the system (epoll on Linux) to say when the socket is ready.
    listener.set_nonblocking(true)?;
    let max_clients = config.options.max_clients as usize;
    runtime()?.block_on(async {
        let listener = TcpListener::from_std(listener.into())?;
        serve(listener, max_clients, config.once, out).await;
        Ok(())
    })
}

/// Accepts clients while the room is open, then waits a little for their
/// tasks to send their last bytes.
async fn serve(
    listener: TcpListener,
    max_clients: usize,
    once: bool,
    out: &Out,
) {
    // Every client's task sends the room events on this channel. It is
    // bounded: when the room is behind, the tasks wait to hand it more, stop
    // reading, and TCP slows the talkers down.
    let (events, room) = mpsc::channel(QUEUE);
    // Each client's task holds a sender of `alive`: when all are dropped,
    // every task has ended.
    let (alive, mut ended) = mpsc::channel::<()>(1);
    let accepting = accept(&listener, max_clients, &events, alive, out);
    tokio::select! {
        () = run_room(room, once, out) => {}
        () = accepting => {}
    }
    drop(events);
    // The accept loop is dropped: its `alive` with it.
    let _ = timeout(CLOSE_WAIT * 2, ended.recv()).await;
}

/// Accepts clients, and starts a task for each, up to `max_clients`.
async fn accept(
    listener: &TcpListener,
    max_clients: usize,
    events: &mpsc::Sender<Event>,
    alive: mpsc::Sender<()>,
    out: &Out,
) {
    let connected = Arc::new(AtomicUsize::new(0));
    let (mut id, mut failing) = (0, false);
    loop {
        let (client, from) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: said once, and tried again
                // after a pause, not in a busy loop.
                if !failing {
                    let why = words(&error);
                    out.error(format_args!(
                        "accept failed: {why}; trying again"
                    ));
                }
                failing = true;
                sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        (id, failing) = (id + 1, false);
        let from = address(&from.into());
        if connected.load(Ordering::SeqCst) >= max_clients {
            out.say(format_args!(
                "connection {id} from {from}: refused, the room holds \
                 {max_clients} (--max-clients)"
            ));
            let (reader, writer) = client.into_split();
            tokio::spawn(refuse(reader, writer, "the room is full".into()));
            continue;
        }
        connected.fetch_add(1, Ordering::SeqCst);
        out.say(format_args!("connection {id} from {from}"));
        // Small messages, wanted now: no Nagle delay (lesson 9 says why).
        let _ = client.set_nodelay(true);
        // The task's own handles: a sender, an `Out`, the counter.
        let (events, out, counter, alive) = (
            events.clone(),
            out.clone(),
            Arc::clone(&connected),
            alive.clone(),
        );
        // A task, not a thread: a few hundred bytes, and no system call.
        tokio::spawn(async move {
            serve_client(client, id, &events, &out).await;
            counter.fetch_sub(1, Ordering::SeqCst);
            drop(alive);
        });
    }
}

/// One client: its name, then its two directions at once.
async fn serve_client(
    client: TcpStream,
    id: u64,
    events: &mpsc::Sender<Event>,
    out: &Out,
) {
    let (mut reader, writer) = client.into_split();
    // In all, not per read: a byte every few seconds must not hold a place
    // for hours. Past the timeout the read is dropped, unfinished.
    let name = match timeout(NAME_WAIT, receive(&mut reader)).await {
        Ok(Ok(Some(name))) => check(name),
        Ok(Ok(None)) => Err("it sent no name".to_string()),
        Ok(Err(error)) => Err(why(&error)),
        Err(_) => {
            Err(format!("it sent no name within {} s", NAME_WAIT.as_secs()))
        }
    };
    let name = match name {
        Ok(name) => name,
        Err(why) => {
            out.say(format_args!("connection {id}: not let in: {why}"));
            return refuse(reader, writer, format!("not let in: {why}")).await;
        }
    };
    let (outbox, to_send) = mpsc::channel(QUEUE);
    let (cut, cut_off) = oneshot::channel();
    let (answer, answered) = oneshot::channel();
    let took = Arc::new(Mutex::new(None));
    let noted = Arc::clone(&took);
    let joined = Event::Joined { id, name, outbox, cut, took, answer };
    if events.send(joined).await.is_err() {
        return; // The room is closed.
    }
    match answered.await {
        Ok(Ok(())) => {
            let outbox = Outbox { to_send, took: noted };
            member(reader, writer, id, outbox, cut_off, events).await
        }
        Ok(Err(why)) => refuse(reader, writer, why).await,
        Err(_) => {} // The room is closed.
    }
}

/// A member: what it says goes to the room, what the room puts in its
/// outbox goes to its socket, both at once. Ends when the room lets it go
/// (what waits is sent, then the end of the stream) or cuts it off.
async fn member(
    reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    id: u64,
    mut outbox: Outbox,
    mut cut_off: oneshot::Receiver<()>,
    events: &mpsc::Sender<Event>,
) {
    // Reading is one future that lives across the loop's turns: select!
    // drops the branches that did not finish, and a read dropped halfway
    // through a message would lose the bytes it had read.
    let mut incoming = pin!(pass_on(reader, id, events));
    let mut reading = true;
    loop {
        tokio::select! {
            // Sent: cut off, what waits is not sent. Dropped: let go.
            cut = &mut cut_off => match cut {
                Ok(()) => return,
                Err(_) => break,
            },
            (reader, more) = &mut incoming, if reading => match more {
                Ok(true) => incoming.set(pass_on(reader, id, events)),
                Ok(false) => {
                    reading = false;
                    let _ = events.send(Event::Left { id, why: None }).await;
                }
                Err(error) => {
                    let why = Some(why(&error));
                    let _ = events.send(Event::Left { id, why }).await;
                    return;
                }
            },
            Some(bytes) = outbox.to_send.recv() => {
                if let Err(why) = send_within(&mut writer, &bytes).await {
                    let why = Some(why);
                    let _ = events.send(Event::Left { id, why }).await;
                    return;
                }
                outbox.took_one();
            }
        }
    }
    // Let go: what waits is sent, then shutdown(Write), the end of the
    // stream; then what the client still sends is read, for a second.
    while let Ok(bytes) = outbox.to_send.try_recv() {
        if send_within(&mut writer, &bytes).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
    if !reading {
        return;
    }
    let until = Instant::now() + CLOSE_WAIT;
    while let Ok((reader, Ok(true))) = timeout_at(until, &mut incoming).await {
        incoming.set(pass_on(reader, id, events));
    }
}

/// A member's outbox, as its task sees it: what to send, and when its
/// socket last took a message (`None` while none waits), which the room
/// reads when the outbox is full.
struct Outbox {
    to_send: mpsc::Receiver<Arc<[u8]>>,
    took: Arc<Mutex<Option<Instant>>>,
}

impl Outbox {
    /// Notes that the socket took a message: now, if more wait.
    fn took_one(&self) {
        let when = (!self.to_send.is_empty()).then(Instant::now);
        *self.took.lock().unwrap_or_else(PoisonError::into_inner) = when;
    }
}

/// Reads the member's next line and hands it to the room; gives the reader
/// back, and whether more may come.
async fn pass_on(
    mut reader: OwnedReadHalf,
    id: u64,
    events: &mpsc::Sender<Event>,
) -> (OwnedReadHalf, io::Result<bool>) {
    let more = match receive(&mut reader).await {
        Ok(Some(text)) => {
            Ok(events.send(Event::Said { id, text }).await.is_ok())
        }
        Ok(None) => Ok(false),
        Err(error) => Err(error),
    };
    (reader, more)
}

/// Writes `bytes`, or says why not: a socket that takes nothing for
/// SEND_WAIT belongs to a member that does not read. Each `write` that
/// takes some bytes starts the wait again, as lesson 9's write timeout.
async fn send_within(
    writer: &mut OwnedWriteHalf,
    bytes: &[u8],
) -> Result<(), String> {
    let mut sent = 0;
    while sent < bytes.len() {
        match timeout(SEND_WAIT, writer.write(&bytes[sent..])).await {
            Ok(Ok(0)) => return Err("it closed its connection".into()),
            Ok(Ok(taken)) => sent += taken,
            Ok(Err(error)) => return Err(why(&error)),
            Err(_) => {
                let waited = SEND_WAIT.as_secs();
                return Err(format!("it took nothing for {waited} s"));
            }
        }
    }
    Ok(())
}

/// Tells a client why it is not let in, and closes well: shutdown(Write)
/// ends the stream after the refusal, and what the client still sends is
/// read, for a second at most, so that the close is not a reset (RST),
/// which could destroy the refusal before the client reads it.
async fn refuse(
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    why: String,
) {
    let told = async {
        writer.write_all(&pair(ROOM, &why)).await?;
        writer.shutdown().await?;
        let mut rest = [0; MAX_MESSAGE];
        while reader.read(&mut rest).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = timeout(CLOSE_WAIT, told).await;
}

/// A name is printed as it is (`ada joined`): nothing in it may move the
/// cursor, reverse the text or hide. Lesson 9's rule.
fn check(name: String) -> Result<String, String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a name has 1 to {MAX_NAME} bytes"));
    }
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
// ANCHOR_END: server

// ANCHOR: room
/// What the clients' tasks tell the room.
enum Event {
    /// A client sent a good name. The room answers whether it is in, and
    /// puts what is for it in its `outbox`; `cut` cuts it off.
    Joined {
        id: u64,
        name: String,
        outbox: mpsc::Sender<Arc<[u8]>>,
        cut: oneshot::Sender<()>,
        took: Arc<Mutex<Option<Instant>>>,
        answer: oneshot::Sender<Result<(), String>>,
    },
    /// A member said a line.
    Said { id: u64, text: String },
    /// A member hung up (`why` is `None`), or is to be dropped.
    Left { id: u64, why: Option<String> },
}

/// Someone in the room, as the room knows them. Dropping it lets its task
/// go: the outbox ends, and so does the wait on `cut`.
struct Member {
    name: String,
    outbox: mpsc::Sender<Arc<[u8]>>,
    cut: oneshot::Sender<()>,
    took: Arc<Mutex<Option<Instant>>>,
}

/// The room: the only task that knows who is here. It returns with `once`
/// when the last member leaves, or on Ctrl-C, once it has told everyone.
async fn run_room(mut events: mpsc::Receiver<Event>, once: bool, out: &Out) {
    let mut members = BTreeMap::new();
    // One future for the whole run: a signal that came between two turns
    // of the loop is not missed.
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = &mut ctrl_c => None,
        };
        let Some(event) = event else {
            out.say("Ctrl-C: closing the room");
            let closing = pair(ROOM, "the room is closing");
            broadcast(&mut members, None, closing, out).await;
            return; // `members` is dropped: every task is let go.
        };
        match event {
            Event::Joined { id, name, outbox, cut, took, answer } => {
                if members.values().any(|m: &Member| m.name == name) {
                    let why = format!("not let in: {name} is taken");
                    out.say(format_args!("connection {id}: {why}"));
                    let _ = answer.send(Err(why));
                    continue;
                }
                out.say(format_args!("connection {id}: {name} joined"));
                // Its outbox is empty: this cannot fail.
                let _ = outbox.try_send(pair(ROOM, &welcome(&name, &members)));
                let joined = pair(ROOM, &format!("{name} joined"));
                broadcast(&mut members, None, joined, out).await;
                members.insert(id, Member { name, outbox, cut, took });
                let _ = answer.send(Ok(()));
            }
            Event::Said { id, text } => {
                // Dropped already: its lines go nowhere.
                let Some(member) = members.get(&id) else { continue };
                out.say(format_args!("{}: {}", member.name, escape(&text)));
                let said = pair(&member.name, &text);
                broadcast(&mut members, Some(id), said, out).await;
            }
            Event::Left { id, why } => {
                if let Some(member) = members.remove(&id) {
                    let left = leave(member, why, out);
                    broadcast(&mut members, None, left, out).await;
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

/// Puts `bytes` in the outbox of every member but `sender`, and announces
/// those it drops. A full outbox is waited for, until its socket has taken
/// nothing for PATIENCE: a member that reads slowly keeps taking, and gets
/// time to catch up; members that stopped reading at the same time cost
/// the room PATIENCE once, not once each. One still full then does not
/// read (its socket's buffers are full too): it is dropped, and that is
/// announced in turn.
async fn broadcast(
    members: &mut BTreeMap<u64, Member>,
    sender: Option<u64>,
    bytes: Arc<[u8]>,
    out: &Out,
) {
    let mut announcements = VecDeque::from([(sender, bytes)]);
    while let Some((sender, bytes)) = announcements.pop_front() {
        let now = Instant::now();
        let mut full = Vec::new();
        for (&id, member) in
            members.iter().filter(|(id, _)| Some(**id) != sender)
        {
            // While the room waits here, the talkers wait too: their tasks
            // cannot hand it more events. The other members' tasks go on
            // sending what their outboxes hold.
            let still_full = match member.outbox.try_send(Arc::clone(&bytes)) {
                Err(TrySendError::Full(bytes)) => {
                    !room_in(member, bytes, now).await
                }
                // Closed: its task has ended, and said why.
                _ => false,
            };
            if still_full {
                full.push(id);
            }
        }
        for id in full {
            if let Some(member) = members.remove(&id) {
                let waited = PATIENCE.as_secs();
                let why =
                    format!("it does not read ({QUEUE} messages, {waited} s)");
                announcements.push_back((None, leave(member, Some(why), out)));
            }
        }
    }
}

/// Waits for room in `member`'s full outbox for `bytes`, until its socket
/// has taken nothing for PATIENCE (counted from `since` if it has taken
/// nothing since the outbox was last empty); whether it got room.
async fn room_in(member: &Member, bytes: Arc<[u8]>, since: Instant) -> bool {
    loop {
        let took = *member.took.lock().unwrap_or_else(PoisonError::into_inner);
        let until = took.unwrap_or(since) + PATIENCE;
        if Instant::now() >= until {
            return false;
        }
        let sent = member.outbox.send(Arc::clone(&bytes));
        // Its socket may have taken more meanwhile: then it waits again.
        if timeout_at(until, sent).await.is_ok() {
            return true;
        }
    }
}

/// Says that `member` left, and returns the announcement. One that is
/// dropped is cut off: what waits for it is not sent. Otherwise its task
/// sends what waits, then ends, once `member` is dropped here.
fn leave(member: Member, why: Option<String>, out: &Out) -> Arc<[u8]> {
    let left = match why {
        None => format!("{} left", member.name),
        Some(why) => {
            let _ = member.cut.send(());
            format!("{} was dropped: {why}", member.name)
        }
    };
    out.say(&left);
    pair(ROOM, &left)
}
// ANCHOR_END: room

// ANCHOR: messages
/// A name and a text as two framed messages, in one buffer.
fn pair(name: &str, text: &str) -> Arc<[u8]> {
    // Both are at most MAX_MESSAGE bytes: framing cannot fail.
    let framed = |text: &str| frame(text.as_bytes()).unwrap_or_default();
    [framed(name), framed(text)].concat().into()
}

/// Reads one framed message; `None` if the peer closed between messages.
async fn receive(
    reader: &mut (impl AsyncRead + Unpin),
) -> io::Result<Option<String>> {
    let mut header = [0; HEADER_LEN];
    match read_fully(reader, &mut header).await? {
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
    let got = read_fully(reader, &mut message).await?;
    if got < length {
        return Err(cut("message", got, length));
    }
    let text = String::from_utf8(message).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidData, "a message not UTF-8")
    })?;
    Ok(Some(text))
}

/// `read` until `buffer` is full or the peer closes; how many bytes came.
/// tokio's `read_exact` is this loop, but says only that the stream ended,
/// not after how many bytes.
async fn read_fully(
    reader: &mut (impl AsyncRead + Unpin),
    buffer: &mut [u8],
) -> io::Result<usize> {
    let mut got = 0;
    while got < buffer.len() {
        // Each `await` here: recv(2) on a non-blocking socket; if it would
        // block, the task sleeps until epoll says the socket is readable.
        match reader.read(&mut buffer[got..]).await? {
            0 => break,
            received => got += received,
        }
    }
    Ok(got)
}

fn cut(what: &'static str, got: usize, expected: usize) -> io::Error {
    FramingError::Truncated { what, got, expected }.into()
}

/// Why a connection ended, in the room's words.
fn why(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionReset => "its connection was reset".into(),
        io::ErrorKind::BrokenPipe => "it closed its connection".into(),
        _ => words(error),
    }
}

/// An error in words, without the system's number: `Too many open files`,
/// not `Too many open files (os error 24)`.
fn words(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
// ANCHOR_END: messages

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    runtime()?.block_on(async {
        let Some(limit) = config.options.deadline else {
            return talk(config, out).await;
        };
        // --deadline: whatever the client is waiting for then, the whole
        // future is dropped, and the client ends.
        match timeout(limit, talk(config, out)).await {
            Ok(result) => result,
            Err(_) => {
                let limit = limit.as_secs_f64();
                out.error(format_args!("gave up after {limit} s (--deadline)"));
                // The keyboard's thread may be waiting for a line: exit.
                process::exit(1);
            }
        }
    })
}

async fn talk(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    // The demo is the scripted conversation: one command shows a room.
    if config.demo || config.options.script {
        return conversation(config, out).await;
    }
    let name = &config.options.name;
    out.say(format_args!(
        "connecting to {} as {}",
        config.server,
        escape(name)
    ));
    let (mut reader, mut writer) = connect(config).await?.into_split();
    send(&mut writer, name).await?;
    // The room answers a name at once: a welcome, or why not.
    match within(config.wait, receive_pair(&mut reader)).await?? {
        Some((from, text)) if from == ROOM && text.starts_with("welcome, ") => {
            out.say(format_args!("{ROOM}: {}", escape(&text)));
        }
        Some((_, text)) => return Err(io::Error::other(escape(&text))),
        None => return Err(io::Error::other("the server closed at once")),
    }
    // The keyboard has a thread of its own: reading stdin blocks, and no
    // system tells reliably when a terminal is ready (tokio's own stdin is
    // a thread too). It hands each line to a task, which sends it.
    let (lines, mut typed) = mpsc::channel(1);
    thread::spawn(move || read_keyboard(&lines));
    let keyboard_out = out.clone();
    tokio::spawn(async move {
        while let Some(line) = typed.recv().await {
            let sent = match line {
                Ok(line) => send(&mut writer, &line).await.map_err(|e| why(&e)),
                Err(why) => Err(why),
            };
            if let Err(why) = sent {
                keyboard_out.error(format_args!("cannot send: {why}"));
                break;
            }
        }
        // No more lines: shutdown(2) for writing. The server sees the end
        // of the stream, says we left, and closes.
        let _ = writer.shutdown().await;
    });
    // From now on a chat waits as long as people talk.
    while let Some((name, text)) = receive_pair(&mut reader).await? {
        out.say(format_args!("{}: {}", escape(&name), escape(&text)));
    }
    out.say("the server closed the connection");
    Ok(())
}

/// A connection to the server, within --wait.
async fn connect(config: &Client<ClientOptions>) -> io::Result<TcpStream> {
    within(config.wait, TcpStream::connect(config.server)).await?
}

/// `future`'s result, or a timeout error after `wait` (which the library
/// words as `nothing from ... within N s (--wait)`).
async fn within<T>(
    wait: Duration,
    future: impl Future<Output = T>,
) -> io::Result<T> {
    timeout(wait, future).await.map_err(|_| io::ErrorKind::TimedOut.into())
}

async fn send(writer: &mut OwnedWriteHalf, text: &str) -> io::Result<()> {
    writer.write_all(&frame(text.as_bytes())?).await
}

/// The next name and text the server sends; `None` when it closes.
async fn receive_pair(
    reader: &mut OwnedReadHalf,
) -> io::Result<Option<(String, String)>> {
    let Some(name) = receive(reader).await? else { return Ok(None) };
    match receive(reader).await? {
        Some(text) => Ok(Some((name, text))),
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed between a name and its text",
        )),
    }
}

/// Hands each line of stdin to `lines`, until stdin ends or a line is not
/// one the room takes.
fn read_keyboard(lines: &mpsc::Sender<Result<String, String>>) {
    let mut line = Vec::new();
    let mut stdin = io::stdin().lock();
    loop {
        line.clear();
        // At most one byte more than a message may hold: enough to know
        // the line is too long, without reading all of it.
        let limit = (MAX_MESSAGE + 1) as u64;
        let text = match (&mut stdin).take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => match line.strip_suffix(b"\n") {
                Some(text) => text.strip_suffix(b"\r").unwrap_or(text),
                None => &line,
            },
            Err(error) => return drop(lines.blocking_send(Err(why(&error)))),
        };
        let text = match std::str::from_utf8(text) {
            _ if text.len() > MAX_MESSAGE => {
                Err(format!("a line is longer than {MAX_MESSAGE} bytes"))
            }
            Ok(text) => Ok(text.to_string()),
            Err(_) => Err("a line is not UTF-8".to_string()),
        };
        let last = text.is_err();
        if lines.blocking_send(text).is_err() || last {
            return;
        }
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
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    wait: Duration,
    out: &'a Out,
}

impl Bot<'_> {
    /// Shows what the server sends, until `from` says something with `text`.
    async fn hear(&mut self, from: &str, text: &str) -> io::Result<()> {
        loop {
            let heard = within(self.wait, receive_pair(&mut self.reader));
            let Some((name, said)) = heard.await?? else {
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

/// Three clients in one task, each waiting to hear the line before its
/// own, so that the conversation goes the same way every time.
async fn conversation(
    config: &Client<ClientOptions>,
    out: &Out,
) -> io::Result<()> {
    let mut bots: Vec<Bot> = Vec::new();
    for name in ["ada", "bob", "cy"] {
        out.say(format_args!("{name} connects to {}", config.server));
        let (reader, mut writer) = connect(config).await?.into_split();
        send(&mut writer, name).await?;
        let wait = config.wait;
        let mut bot = Bot { name, reader, writer, wait, out };
        bot.hear(ROOM, "welcome").await?;
        for earlier in &mut bots {
            earlier.hear(ROOM, &format!("{name} joined")).await?;
        }
        bots.push(bot);
    }
    for (speaker, text) in SCRIPT {
        let name = bots[speaker].name;
        out.say(format_args!("{name} says: {text}"));
        send(&mut bots[speaker].writer, text).await?;
        for (index, bot) in bots.iter_mut().enumerate() {
            if index != speaker {
                bot.hear(name, text).await?;
            }
        }
    }
    while !bots.is_empty() {
        let mut leaving = bots.remove(0);
        out.say(format_args!("{} leaves", leaving.name));
        leaving.writer.shutdown().await?;
        // The server closes in turn, after what it had queued.
        let reader = &mut leaving.reader;
        while within(config.wait, receive_pair(reader)).await??.is_some() {}
        for bot in &mut bots {
            bot.hear(ROOM, &format!("{} left", leaving.name)).await?;
        }
    }
    out.say("everyone has left");
    Ok(())
}
// ANCHOR_END: script
