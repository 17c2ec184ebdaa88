//! Lesson 13: one thread, many sockets.
//!
//! Lesson 9's chat room again, byte for byte the same protocol, served by
//! one thread: every socket is non-blocking, and an event loop (mio, over
//! epoll on Linux) asks the system which of them are ready, then serves
//! those. No call waits, except the loop's one `poll`.
//!
//! The client shows what non-blocking means: a `recv` with nothing there,
//! a `send` to a peer that does not read. Every lesson 9 client joins the
//! room too.
//!
//! ```text
//! cargo run --example lesson_13                        # the demo
//! cargo run --example lesson_13 -- server --trace      # terminal 1
//! cargo run --example lesson_09 -- client --name ada   # terminal 2, 3...
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use clap::Args;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket_lessons::framing::{FramingError, Piece, Reassembler, frame};
use socket_lessons::output::plural;
use socket_lessons::text::{escape, is_printable};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_13",
    about: "one thread, many sockets: an event loop",
    port: 4113,
    wait: "10",
    show: true,
    server,
    client,
};

/// The name joins and leaves are announced under; no client may take it.
const ROOM: &str = "room";
/// The longest name, in bytes.
const MAX_NAME: usize = 32;
/// The longest message, in bytes: a name or a line.
const MAX_MESSAGE: usize = 4096;
/// How many pairs (a name and a text) may wait for one member beyond what
/// its socket has taken.
const QUEUE: usize = 64;
/// How long a new connection has, in all, to send its name.
const NAME_WAIT: Duration = Duration::from_secs(10);
/// How long an outbox may stay full before its member is dropped.
const PATIENCE: Duration = Duration::from_secs(2);
/// How long a member's socket may take no bytes before it is dropped.
const SEND_WAIT: Duration = Duration::from_secs(10);
/// How long what a refused client still sends is read before the close.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// The pause before the next accept after one failed (out of file
/// descriptors, say): the loop serves the others meanwhile.
const ACCEPT_PAUSE: Duration = Duration::from_millis(500);
/// How many recv calls one connection gets per wake-up: a client that
/// sends flat out must not keep the loop from the others.
const READS_PER_TURN: usize = 16;
/// How many connections the system may hold for the room before it accepts
/// them (listen's backlog).
const BACKLOG: i32 = 128;
/// The listening socket's token; a connection's is its number.
const LISTENER: Token = Token(0);
/// Code points Python's `str.isprintable` lets through that show nothing:
/// `room` and a character of these would pass for the room.
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
}

fn main() -> std::process::ExitCode {
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
    // From here on no call may wait: accept, recv and send return at once,
    // with WouldBlock when there is nothing to do.
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener.into());
    Room::new(listener, config, out)?.run()
}
// ANCHOR_END: server

// ANCHOR: state
/// One accepted connection, and all the loop knows of it.
struct Connection {
    number: usize,
    socket: TcpStream,
    /// Until it has joined: `None`.
    name: Option<String>,
    /// What came, not yet a whole message (one message at most).
    inbox: Reassembler,
    /// What its socket has not taken yet, the first pair perhaps in part:
    /// at QUEUE pairs no one is read (one wake-up's reads may add more).
    outbox: VecDeque<Vec<u8>>,
    /// By when it must have sent its name, its socket taken bytes, or a
    /// refused client closed.
    deadline: Option<Instant>,
    /// Out of the room: what waits is sent, then the close.
    closing: bool,
    /// Whether it has closed its side (recv returned 0).
    ended: bool,
    /// When its socket last took bytes, or something came to wait for it;
    /// `None` while nothing waits.
    took: Option<Instant>,
    /// What the loop watches it for: `None` when nothing.
    interest: Option<Interest>,
}

/// The room: every connection, and the one `poll` that watches them.
struct Room<'a> {
    poll: Poll,
    listener: TcpListener,
    connections: BTreeMap<usize, Connection>,
    /// Connections read READS_PER_TURN times and not yet empty: edge-
    /// triggered readiness says nothing more until they are.
    unread: BTreeSet<usize>,
    /// While an outbox is full, no one is read: the talkers wait.
    paused: bool,
    /// After a failed accept, when to try again.
    accept_again: Option<Instant>,
    count: usize,
    joined: bool,
    max_clients: usize,
    once: bool,
    out: &'a Out,
}
// ANCHOR_END: state

// ANCHOR: loop
impl<'a> Room<'a> {
    fn new(
        mut listener: TcpListener,
        config: &Server<ServerOptions>,
        out: &'a Out,
    ) -> io::Result<Self> {
        let poll = Poll::new()?; // epoll_create1(2)
        poll.registry().register(
            &mut listener,
            LISTENER,
            Interest::READABLE,
        )?;
        Ok(Room {
            poll,
            listener,
            connections: BTreeMap::new(),
            unread: BTreeSet::new(),
            paused: false,
            accept_again: None,
            count: 0,
            joined: false,
            max_clients: config.options.max_clients as usize,
            once: config.once,
            out,
        })
    }

    fn members(&self) -> impl Iterator<Item = &Connection> {
        self.connections.values().filter(|c| c.name.is_some() && !c.closing)
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut wake = 0;
        while !(self.once && self.joined && self.members().next().is_none()) {
            let timeout = self.timeout();
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                // Stopped (Ctrl-Z) and continued: asked again.
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            wake += 1;
            self.trace_wake(wake, &events);
            let mut ready: Vec<(Token, bool, bool)> = events
                .iter()
                .map(|e| (e.token(), e.is_readable(), e.is_writable()))
                .collect();
            // What was left unread last time is read again.
            for number in std::mem::take(&mut self.unread) {
                if !ready.iter().any(|&(token, ..)| token == Token(number)) {
                    ready.push((Token(number), true, false));
                }
            }
            for (token, readable, writable) in ready {
                if token == LISTENER {
                    self.accept();
                    continue;
                }
                if readable {
                    self.read(token.0);
                }
                if writable && self.connections.contains_key(&token.0) {
                    self.flush(token.0);
                }
            }
            self.expire();
            self.check_outboxes();
        }
        self.out.say("the room is empty: closing it (--once)");
        Ok(())
    }

    /// How long `poll` may wait: until the nearest deadline, not at all
    /// while something is left unread, or for ever.
    fn timeout(&self) -> Option<Duration> {
        if !self.unread.is_empty() {
            return Some(Duration::ZERO);
        }
        let mut deadlines: Vec<Instant> =
            self.connections.values().filter_map(|c| c.deadline).collect();
        deadlines.extend(
            self.members()
                .filter(|m| m.outbox.len() >= QUEUE)
                .filter_map(|m| m.took.map(|took| took + PATIENCE)),
        );
        deadlines.extend(self.accept_again);
        let nearest = deadlines.into_iter().min()?;
        Some(nearest.saturating_duration_since(Instant::now()))
    }

    /// With --trace: what this wake-up found ready.
    fn trace_wake(&self, wake: usize, events: &Events) {
        let mut ready: Vec<String> = events
            .iter()
            .map(|event| {
                let what = match (event.is_readable(), event.is_writable()) {
                    (true, true) => "readable and writable",
                    (true, false) => "readable",
                    (false, true) => "writable",
                    (false, false) => "an error",
                };
                format!("{} {what}", self.who(event.token()))
            })
            .collect();
        let unread = self.unread.iter();
        ready.extend(unread.map(|n| format!("connection {n} left unread")));
        if ready.is_empty() {
            ready.push("nothing: a deadline".into());
        }
        self.out.trace(format_args!("wake-up {wake}: {}", ready.join(", ")));
    }

    fn who(&self, token: Token) -> String {
        match token {
            LISTENER => "the listener".into(),
            Token(number) => format!("connection {number}"),
        }
    }
    // ANCHOR_END: loop

    // ANCHOR: accept
    fn accept(&mut self) {
        loop {
            // mio's accept is accept4(2) with SOCK_NONBLOCK: the new socket
            // is non-blocking from its first moment.
            let (socket, from) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    self.out.trace("accept() -> would block: no one waits");
                    return;
                }
                Err(error) => return self.pause_accepting(&error),
            };
            self.count += 1;
            let number = self.count;
            self.out.trace(format_args!(
                "accept() -> connection {number}, from {from}"
            ));
            self.admit(number, socket, from);
        }
    }

    /// An accept that fails for want of file descriptors (EMFILE) fails
    /// again at once until one is freed, and the listener stays ready:
    /// the loop stops watching it for a while, and serves the others.
    fn pause_accepting(&mut self, error: &io::Error) {
        let why = match error.raw_os_error() {
            Some(24) if cfg!(unix) => "out of file descriptors (EMFILE)".into(),
            _ => error.to_string(),
        };
        let pause = ACCEPT_PAUSE.as_secs_f64();
        self.out
            .error(format_args!("accept: {why}; trying again in {pause} s"));
        let _ = self.poll.registry().deregister(&mut self.listener);
        self.accept_again = Some(Instant::now() + ACCEPT_PAUSE);
    }

    fn admit(&mut self, number: usize, socket: TcpStream, from: SocketAddr) {
        // Small messages, wanted now: no Nagle delay (lesson 9 says why).
        let _ = socket.set_nodelay(true);
        let held = self.connections.values().filter(|c| !c.closing).count();
        let full = held >= self.max_clients;
        let at = format!("connection {number} from {from}");
        match full {
            true => self.out.say(format_args!(
                "{at}: refused, the room holds {} (--max-clients)",
                self.max_clients
            )),
            false => self.out.say(&at),
        }
        let connection = Connection {
            number,
            socket,
            name: None,
            inbox: Reassembler::with_max_len(MAX_MESSAGE),
            outbox: VecDeque::new(),
            deadline: Some(Instant::now() + NAME_WAIT),
            closing: false,
            ended: false,
            took: None,
            interest: None,
        };
        self.connections.insert(number, connection);
        self.watch(number);
        if full {
            // Told, and closed well, as a refused name is.
            self.close(number, CLOSE_WAIT);
            self.send(number, pair(ROOM, "the room is full"));
        }
    }
    // ANCHOR_END: accept

    // ANCHOR: read
    /// Reads what came from `number`, READS_PER_TURN recvs at most.
    fn read(&mut self, number: usize) {
        let mut buffer = [0; MAX_MESSAGE];
        for _ in 0..READS_PER_TURN {
            let Some(conn) = self.connections.get_mut(&number) else { return };
            if conn.ended || self.paused {
                return;
            }
            let got = (&conn.socket).read(&mut buffer);
            let got = match got {
                Ok(got) => got,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    self.out.trace(format_args!(
                        "recv({MAX_MESSAGE}) on connection {number} -> \
                         would block: all read"
                    ));
                    return;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {
                    continue;
                }
                Err(error) => return self.leave(number, Some(why(&error))),
            };
            self.out.trace(format_args!(
                "recv({MAX_MESSAGE}) on connection {number} -> {}",
                plural(got, "byte")
            ));
            self.out.hex("received", &buffer[..got]);
            if got == 0 {
                conn.ended = true;
                return self.ended(number);
            }
            if conn.closing {
                continue; // what a refused client still sends is dropped
            }
            if let Err(error) = self.take_messages(number, &buffer[..got]) {
                return self.leave(number, Some(error.to_string()));
            }
        }
        // Perhaps more there: edge-triggered, so no event will say so.
        self.unread.insert(number);
    }

    /// Each whole message in `bytes`, in turn.
    fn take_messages(
        &mut self,
        number: usize,
        bytes: &[u8],
    ) -> Result<(), FramingError> {
        let mut texts = Vec::new();
        // The messages before a broken header count: served, then the break.
        let broken = {
            let Some(conn) = self.connections.get_mut(&number) else {
                return Ok(());
            };
            conn.inbox.feed(bytes);
            loop {
                match conn.inbox.next_piece() {
                    Ok(Some(Piece::Message(message))) => {
                        texts.push(String::from_utf8(message.to_vec()).ok());
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break None,
                    Err(error) => break Some(error),
                }
            }
        };
        for text in texts {
            let Some(text) = text else {
                self.leave(number, Some("a message not UTF-8".into()));
                return Ok(());
            };
            self.said(number, text);
            match self.connections.get(&number) {
                Some(conn) if !conn.closing => {}
                _ => return Ok(()),
            }
        }
        broken.map_or(Ok(()), Err)
    }

    /// Its stream ended (recv returned 0).
    fn ended(&mut self, number: usize) {
        let Some(conn) = self.connections.get(&number) else { return };
        if conn.closing {
            return self.flush(number);
        }
        let why = match conn.inbox.finish() {
            Ok(_) => None,
            Err(FramingError::Empty) => None,
            Err(error) => Some(error.to_string()),
        };
        self.watch(number);
        self.leave(number, why);
    }
    // ANCHOR_END: read

    // ANCHOR: said
    fn said(&mut self, number: usize, text: String) {
        let Some(conn) = self.connections.get(&number) else { return };
        if let Some(name) = conn.name.clone() {
            self.out.say(format_args!("{name}: {}", escape(&text)));
            return self.broadcast(Some(number), &pair(&name, &text));
        }
        if let Err(why) = check(&text) {
            return self.refuse(number, &why);
        }
        if self.members().any(|m| m.name.as_deref() == Some(text.as_str())) {
            return self.refuse(number, &format!("{text} is taken"));
        }
        self.out.say(format_args!("connection {number}: {text} joined"));
        let here: Vec<&str> =
            self.members().filter_map(|m| m.name.as_deref()).collect();
        let welcome = pair(ROOM, &welcome(&text, &here));
        self.send(number, welcome);
        match self.connections.get(&number) {
            Some(conn) if !conn.closing => {}
            _ => return, // the welcome failed: it was refused, not let in
        }
        self.broadcast(None, &pair(ROOM, &format!("{text} joined")));
        if let Some(conn) = self.connections.get_mut(&number) {
            (conn.name, conn.deadline) = (Some(text), None);
        }
        self.joined = true;
    }

    /// Queues `bytes` for every member but `sender`.
    fn broadcast(&mut self, sender: Option<usize>, bytes: &[u8]) {
        let members: Vec<usize> = self
            .members()
            .map(|m| m.number)
            .filter(|&n| Some(n) != sender)
            .collect();
        for number in members {
            self.send(number, bytes.to_vec());
        }
    }

    /// While an outbox is full, no one is read, so the talkers wait (TCP
    /// slows them down). A full outbox whose socket has taken nothing for
    /// PATIENCE has a member that does not read: it is dropped. Members
    /// that stopped reading together cost the room PATIENCE once.
    fn check_outboxes(&mut self) {
        let now = Instant::now();
        let stuck: Vec<usize> = self
            .members()
            .filter(|m| m.outbox.len() >= QUEUE)
            .filter(|m| m.took.is_some_and(|took| now >= took + PATIENCE))
            .map(|m| m.number)
            .collect();
        for number in stuck {
            let (waited, why) = (PATIENCE.as_secs(), "it does not read");
            let why = format!("{why} ({QUEUE} messages, {waited} s)");
            self.drop_member(number, &why);
        }
        // After the drops: their announcements may have filled an outbox,
        // or a socket may have taken some of one.
        let full = self.members().any(|m| m.outbox.len() >= QUEUE);
        if full != self.paused {
            // Every connection is watched anew: for reading, or not.
            self.paused = full;
            let numbers: Vec<usize> =
                self.connections.keys().copied().collect();
            for number in numbers {
                self.watch(number);
            }
        }
    }

    // ANCHOR_END: said

    // ANCHOR: send
    fn send(&mut self, number: usize, bytes: Vec<u8>) {
        let Some(conn) = self.connections.get_mut(&number) else { return };
        if conn.outbox.is_empty() {
            conn.took = Some(Instant::now());
        }
        conn.outbox.push_back(bytes);
        self.flush(number);
    }

    /// Sends what waits for `number`, as far as its socket takes it now.
    fn flush(&mut self, number: usize) {
        let Some(conn) = self.connections.get_mut(&number) else { return };
        let mut progressed = false;
        let mut failed = None;
        while let Some(first) = conn.outbox.front_mut() {
            match (&conn.socket).write(first) {
                Ok(sent) => {
                    self.out.trace(format_args!(
                        "send({}) to connection {number} -> {}",
                        plural(first.len(), "byte"),
                        plural(sent, "byte")
                    ));
                    self.out.hex("sent", &first[..sent]);
                    progressed = true;
                    if sent < first.len() {
                        first.drain(..sent); // the rest, next time
                        break;
                    }
                    conn.outbox.pop_front();
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    self.out.trace(format_args!(
                        "send({}) to connection {number} -> would block: \
                         its buffers are full",
                        plural(first.len(), "byte")
                    ));
                    break;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    conn.outbox.clear();
                    failed = Some(why(&error));
                    break;
                }
            }
        }
        let now = Instant::now();
        if progressed {
            conn.took = (!conn.outbox.is_empty()).then_some(now);
        }
        if conn.name.is_some() && !conn.closing {
            // A socket that takes nothing for SEND_WAIT is not read.
            if conn.outbox.is_empty() {
                conn.deadline = None;
            } else if progressed || conn.deadline.is_none() {
                conn.deadline = Some(now + SEND_WAIT);
            }
        }
        if let Some(why) = failed.filter(|_| !conn.closing) {
            return self.leave(number, Some(why));
        }
        if conn.closing && conn.outbox.is_empty() {
            if conn.ended {
                return self.forget(number);
            }
            // The last bytes are out: shutdown(Write) sends the end of the
            // stream after them.
            let _ = conn.socket.shutdown(Shutdown::Write);
        }
        self.watch(number);
    }

    /// Has `poll` watch `number` for what is wanted now: reading unless it
    /// ended or the room is paused, writing only while output waits.
    fn watch(&mut self, number: usize) {
        let paused = self.paused;
        let Some(conn) = self.connections.get_mut(&number) else { return };
        let read = !conn.ended && !paused;
        let wanted = match (read, conn.outbox.is_empty()) {
            (true, true) => Some(Interest::READABLE),
            (true, false) => Some(Interest::READABLE | Interest::WRITABLE),
            (false, false) => Some(Interest::WRITABLE),
            (false, true) => None,
        };
        if wanted == conn.interest {
            return;
        }
        let registry = self.poll.registry();
        let token = Token(number);
        let done = match (conn.interest, wanted) {
            (None, Some(wanted)) => {
                registry.register(&mut conn.socket, token, wanted)
            }
            (Some(_), None) => registry.deregister(&mut conn.socket),
            (_, Some(wanted)) => {
                registry.reregister(&mut conn.socket, token, wanted)
            }
            (None, None) => Ok(()),
        };
        if done.is_ok() {
            conn.interest = wanted;
        }
    }
    // ANCHOR_END: send

    // ANCHOR: leave
    /// `number`'s stream ended (`why` is `None`), or broke the protocol.
    fn leave(&mut self, number: usize, why: Option<String>) {
        let Some(conn) = self.connections.get(&number) else { return };
        let Some(name) = conn.name.clone() else {
            let why = why.unwrap_or_else(|| "it sent no name".into());
            return self.refuse(number, &why);
        };
        if conn.closing {
            return self.forget(number);
        }
        if let Some(why) = why {
            return self.drop_member(number, &why);
        }
        self.close(number, SEND_WAIT); // what waits for it is sent first
        let left = format!("{name} left");
        self.out.say(&left);
        self.broadcast(None, &pair(ROOM, &left));
        self.flush(number);
    }

    /// Deadlines that have passed: a name that did not come, a socket that
    /// takes nothing, a refused client that does not close.
    fn expire(&mut self) {
        let now = Instant::now();
        if self.accept_again.is_some_and(|when| now >= when) {
            self.accept_again = None;
            let registry = self.poll.registry();
            let listener = &mut self.listener;
            // Registered anew: if clients wait, poll says so at once.
            let _ = registry.register(listener, LISTENER, Interest::READABLE);
        }
        let late: Vec<usize> = self
            .connections
            .values()
            .filter(|c| c.deadline.is_some_and(|d| now >= d))
            .map(|c| c.number)
            .collect();
        for number in late {
            let Some(conn) = self.connections.get(&number) else { continue };
            match (conn.name.is_some(), conn.closing) {
                (_, true) => self.forget(number),
                (false, false) => {
                    let secs = NAME_WAIT.as_secs();
                    let why = format!("it sent no name within {secs} s");
                    self.refuse(number, &why);
                }
                (true, false) => {
                    let secs = SEND_WAIT.as_secs();
                    let why = format!("it took nothing for {secs} s");
                    self.leave(number, Some(why));
                }
            }
        }
    }

    /// Tells a client why it is not let in, and closes well: after the
    /// refusal, the end of the stream; what the client still sends is read
    /// for a second at most, so that the close is not a reset (RST), which
    /// could destroy the refusal before the client reads it.
    fn refuse(&mut self, number: usize, why: &str) {
        let why = format!("not let in: {why}");
        self.out.say(format_args!("connection {number}: {why}"));
        self.close(number, CLOSE_WAIT);
        self.send(number, pair(ROOM, &why));
    }

    fn close(&mut self, number: usize, wait: Duration) {
        if let Some(conn) = self.connections.get_mut(&number) {
            conn.closing = true;
            conn.deadline = Some(Instant::now() + wait);
        }
    }

    /// Cuts a member off (what waits for it is not sent), and says so.
    fn drop_member(&mut self, number: usize, why: &str) {
        let Some(conn) = self.connections.get(&number) else { return };
        let name = conn.name.clone().unwrap_or_default();
        self.forget(number);
        let dropped = format!("{name} was dropped: {why}");
        self.out.say(&dropped);
        self.broadcast(None, &pair(ROOM, &dropped));
    }

    /// Closes `number`'s socket and forgets it.
    fn forget(&mut self, number: usize) {
        if let Some(mut conn) = self.connections.remove(&number) {
            if conn.interest.is_some() {
                let _ = self.poll.registry().deregister(&mut conn.socket);
            }
            self.out.trace(format_args!("close() connection {number}"));
        }
    }
}
// ANCHOR_END: leave

// ANCHOR: messages
/// A name and a text as two framed messages, in one buffer.
fn pair(name: &str, text: &str) -> Vec<u8> {
    // Both are at most MAX_MESSAGE bytes: framing cannot fail.
    let framed = |text: &str| frame(text.as_bytes()).unwrap_or_default();
    [framed(name), framed(text)].concat()
}

/// A name is printed as it is (`ada joined`): nothing in it may move the
/// cursor, reverse the text or hide. Python's rule, str.isprintable, so
/// that every server lets in the same names.
fn check(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a name has 1 to {MAX_NAME} bytes"));
    }
    let shows = |c| is_printable(c) && !invisible(c);
    let trimmed = name.trim_matches(' ');
    if trimmed == ROOM || trimmed != name || !name.chars().all(shows) {
        return Err(format!("'{}' cannot be a name", shown(name)));
    }
    Ok(())
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

/// What a new member is told: who is here, if the list fits a message.
fn welcome(name: &str, here: &[&str]) -> String {
    match here.join(", ") {
        _ if here.is_empty() => format!("welcome, {name}; nobody else is here"),
        list if list.len() > MAX_MESSAGE / 2 => {
            format!("welcome, {name}; {} others are here", here.len())
        }
        list => format!("welcome, {name}; here: {list}"),
    }
}

/// Why a connection ended, in the room's words.
fn why(error: &io::Error) -> String {
    match error.kind() {
        ErrorKind::ConnectionReset => "its connection was reset".into(),
        ErrorKind::BrokenPipe => "it closed its connection".into(),
        _ => error.to_string(),
    }
}
// ANCHOR_END: messages

// ANCHOR: client
/// Shows what non-blocking calls do: a recv with nothing there, a send to a
/// peer that does not read; then joins the room as --name, and leaves.
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let name = &config.options.name;
    let (to, shown) = (config.server, escape(name));
    out.say(format_args!("connecting to {to} as {shown}"));
    let domain = Domain::for_address(config.server);
    let socket = Socket::new(domain, Type::STREAM, None)?;
    socket.connect_timeout(&config.server.into(), config.wait)?;
    socket.set_nonblocking(true)?;
    let mut server = TcpStream::from_std(socket.into());
    let poll = Poll::new()?;
    poll.registry().register(&mut server, Token(0), Interest::READABLE)?;
    let mut waiting = Waiting { poll, wait: config.wait, out: out.clone() };
    // The room sends nothing before a name: nothing is there to read.
    let mut buffer = [0; MAX_MESSAGE];
    match (&server).read(&mut buffer) {
        Err(error) if error.kind() == ErrorKind::WouldBlock => out.say(
            "recv(4096) before the name -> WouldBlock (EAGAIN): \
             nothing came",
        ),
        Ok(got) => out.say(format_args!("recv(4096) -> {got} bytes already")),
        Err(error) => return Err(error),
    }
    let framed = frame(name.as_bytes())?;
    let sent = (&server).write(&framed)?;
    out.hex("sent", &framed[..sent]);
    out.say(format_args!(
        "send({}) -> took {}",
        plural(framed.len(), "byte"),
        plural(sent, "byte")
    ));
    let welcome = waiting.first_answer(&server)?;
    out.say(format_args!("{ROOM}: {}", escape(&welcome)));
    if !welcome.starts_with("welcome, ") {
        return Err(io::Error::other(escape(&welcome)));
    }
    partial_sends(out)?;
    out.say(format_args!("{shown} leaves"));
    server.shutdown(Shutdown::Write)?;
    // What the room still sends is skipped, until it closes in turn.
    while waiting.recv(&server, &mut buffer)? > 0 {}
    out.say("the server closed the connection");
    Ok(())
}

/// A peer of our own that never reads, on small buffers: each send takes
/// what fits, then WouldBlock.
fn partial_sends(out: &Out) -> io::Result<()> {
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    listener.set_recv_buffer_size(4096)?; // the accepted socket's too
    listener.bind(&local.into())?;
    listener.listen(1)?;
    let sender = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sender.set_send_buffer_size(4096)?;
    sender.connect(&listener.local_addr()?)?;
    let (_peer, _) = listener.accept()?; // and never read
    sender.set_nonblocking(true)?;
    let bytes = vec![b'x'; 65536];
    out.say(format_args!(
        "a peer that does not read: send({}) until WouldBlock",
        plural(bytes.len(), "byte")
    ));
    let mut total = 0;
    loop {
        match (&sender).write(&bytes) {
            Ok(sent) => {
                out.hex("sent", &bytes[..sent]);
                total += sent;
                out.say(format_args!("send -> took {}", plural(sent, "byte")));
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                let total = plural(total, "byte");
                out.say(format_args!(
                    "send -> WouldBlock: both buffers are full, after {total}"
                ));
                return Ok(());
            }
            Err(error) => return Err(error),
        }
    }
}

/// The client's own `poll`, on its one socket, and how long it may wait.
struct Waiting {
    poll: Poll,
    wait: Duration,
    out: Out,
}

impl Waiting {
    /// recv, and only when it would block, poll for readability (--wait at
    /// most): readiness is edge-triggered, so poll says only what is new.
    fn recv(
        &mut self,
        socket: &TcpStream,
        buffer: &mut [u8],
    ) -> io::Result<usize> {
        let mut events = Events::with_capacity(1);
        loop {
            match (&*socket).read(buffer) {
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Ok(got) => {
                    self.out.hex("received", &buffer[..got]);
                    return Ok(got);
                }
                failed => return failed,
            }
            match self.poll.poll(&mut events, Some(self.wait)) {
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
                Ok(()) if events.is_empty() => {
                    return Err(ErrorKind::TimedOut.into());
                }
                Ok(()) => {}
            }
        }
    }

    /// The server's first answer, a name and a text: the text.
    fn first_answer(&mut self, socket: &TcpStream) -> io::Result<String> {
        let mut reader = Reassembler::with_max_len(MAX_MESSAGE);
        let mut texts = Vec::new();
        let mut buffer = [0; MAX_MESSAGE];
        while texts.len() < 2 {
            let got = self.recv(socket, &mut buffer)?;
            if got == 0 {
                return Err(io::Error::other("the server closed at once"));
            }
            reader.feed(&buffer[..got]);
            while let Some(piece) = reader.next_piece()? {
                if let Piece::Message(message) = piece {
                    let text = String::from_utf8(message.to_vec());
                    let not_utf8 = |_| io::Error::other("a message not UTF-8");
                    texts.push(text.map_err(not_utf8)?);
                }
            }
        }
        Ok(texts.swap_remove(1))
    }
}
// ANCHOR_END: client
