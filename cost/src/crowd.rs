//! The load generator: every client of a run on one thread, one epoll set
//! (mio), so that it holds 10,000 connections with no thread for each, and
//! takes one of the machine's cores at most. Each client reads everything
//! the room sends it, as soon as it comes: the room drops a member whose
//! socket takes nothing.
//!
//! Every message is lesson 5's framing: a 10-character ASCII decimal length,
//! then the bytes. The room sends pairs: a name, then a text.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const HEADER_LEN: usize = 10;
/// The longest message the room sends (lesson 9's MAX_MESSAGE).
const MAX_MESSAGE: usize = 4096;

/// What happened to the clients so far.
#[derive(Default, Debug)]
pub struct Tally {
    /// Clients the room welcomed.
    pub welcomed: usize,
    /// `... joined` announcements, to all members.
    pub joins_heard: usize,
    /// `... was dropped` announcements, to all members.
    pub drops_heard: usize,
    /// Clients the room turned away, and the first one's reason.
    pub refused: usize,
    pub first_refusal: Option<String>,
    /// Clients that could not connect or were cut off before a welcome,
    /// members whose connection ended, and the first reason.
    pub failed: usize,
    pub members_lost: usize,
    pub first_failure: Option<String>,
}

/// One line said in the room: when it was sent, and how many members have
/// still to receive it.
struct Line {
    sent: Instant,
    left: usize,
}

#[derive(PartialEq)]
enum State {
    Connecting,
    /// Its name is sent; no answer yet.
    Waiting,
    Member,
    Gone,
}

struct Client {
    stream: Option<TcpStream>,
    state: State,
    inbox: Vec<u8>,
    outbox: Vec<u8>,
    /// A name came, its text has not: whether the name was `room`.
    from_room: Option<bool>,
}

pub struct Crowd {
    poll: Poll,
    events: Events,
    server: SocketAddr,
    clients: Vec<Client>,
    pub tally: Tally,
    lines: Vec<Line>,
    /// From send to last delivery, for each line delivered to all.
    pub latencies: Vec<Duration>,
    /// Lines received, by any member, from any member.
    pub deliveries: usize,
    /// With an echo (the floor): a line comes back to its sender.
    echo: bool,
    /// Asks the system to acknowledge at once what came (TCP_QUICKACK,
    /// after each read), instead of a delayed ACK: the check that a delay
    /// comes from Nagle's algorithm on the server's side.
    pub quick_ack: bool,
    buffer: Vec<u8>,
}

impl Crowd {
    pub fn new(server: SocketAddr, echo: bool) -> io::Result<Crowd> {
        Ok(Crowd {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            server,
            clients: Vec::new(),
            tally: Tally::default(),
            lines: Vec::new(),
            latencies: Vec::new(),
            deliveries: 0,
            echo,
            quick_ack: false,
            buffer: vec![0; 256 * 1024],
        })
    }

    /// Members now in the room.
    pub fn members(&self) -> usize {
        self.tally.welcomed - self.tally.members_lost
    }

    /// Clients connecting, or waiting for their welcome.
    pub fn waiting(&self) -> usize {
        let open =
            self.clients.iter().filter(|c| c.state != State::Gone).count();
        open - self.members()
    }

    /// Whether every member has heard of every later member's joining.
    pub fn settled(&self) -> bool {
        let members = self.tally.welcomed;
        self.waiting() == 0
            && self.tally.joins_heard == members * members.saturating_sub(1) / 2
    }

    /// Opens one more client; its name, `c` and its number, goes first.
    pub fn open(&mut self) {
        let name = framed(format!("c{}", self.clients.len()).as_bytes());
        self.open_sending(name);
    }

    /// Opens one more client that sends nothing, not even a name: an idle
    /// connection.
    pub fn open_idle(&mut self) {
        self.open_sending(Vec::new());
    }

    /// Clients opened so far, whatever became of them.
    pub fn opened(&self) -> usize {
        self.clients.len()
    }

    fn open_sending(&mut self, outbox: Vec<u8>) {
        let index = self.clients.len();
        let mut client = Client {
            stream: None,
            state: State::Connecting,
            inbox: Vec::new(),
            outbox,
            from_room: None,
        };
        match TcpStream::connect(self.server) {
            Ok(mut stream) => {
                let interest = Interest::READABLE | Interest::WRITABLE;
                match self.poll.registry().register(
                    &mut stream,
                    Token(index),
                    interest,
                ) {
                    Ok(()) => client.stream = Some(stream),
                    Err(error) => self.fail_new(&mut client, &error),
                }
            }
            Err(error) => self.fail_new(&mut client, &error),
        }
        self.clients.push(client);
    }

    fn fail_new(&mut self, client: &mut Client, error: &io::Error) {
        client.state = State::Gone;
        self.tally.failed += 1;
        self.tally.first_failure.get_or_insert(format!("connect: {error}"));
    }

    /// Says a line from member `index` of the room (its `index`th client);
    /// false if it is no longer a member.
    pub fn say(&mut self, index: usize) -> bool {
        if self.clients[index].state != State::Member {
            return false;
        }
        let number = self.lines.len();
        let left = if self.echo { 1 } else { self.members() - 1 };
        self.lines.push(Line { sent: Instant::now(), left });
        self.clients[index]
            .outbox
            .extend(framed(number.to_string().as_bytes()));
        self.flush(index);
        true
    }

    /// Lines said so far, and lines every member has received.
    pub fn said(&self) -> (usize, usize) {
        (self.lines.len(), self.latencies.len())
    }

    /// Waits for events, `timeout` at most, and handles them all.
    pub fn turn(&mut self, timeout: Duration) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                return Ok(());
            }
            other => other?,
        }
        let ready: Vec<(usize, bool)> = self
            .events
            .iter()
            .map(|event| {
                (event.token().0, event.is_writable() || event.is_error())
            })
            .collect();
        for (index, writable) in ready {
            if self.clients[index].state == State::Connecting {
                self.connected(index);
            }
            if writable {
                self.flush(index);
            }
            self.read(index);
        }
        Ok(())
    }

    /// A connecting client's socket became ready: connected, or refused.
    fn connected(&mut self, index: usize) {
        let Some(stream) = &self.clients[index].stream else { return };
        match (stream.take_error(), stream.peer_addr()) {
            (Ok(Some(error)) | Err(error), _) => {
                self.lose(index, &format!("connect: {error}"))
            }
            (Ok(None), Ok(_)) => self.clients[index].state = State::Waiting,
            (Ok(None), Err(error))
                if error.kind() == io::ErrorKind::NotConnected => {}
            (Ok(None), Err(error)) => {
                self.lose(index, &format!("connect: {error}"))
            }
        }
    }

    fn flush(&mut self, index: usize) {
        let client = &mut self.clients[index];
        if client.state == State::Connecting {
            return;
        }
        let Some(stream) = &mut client.stream else { return };
        let mut written = 0;
        let result = loop {
            if written == client.outbox.len() {
                break Ok(());
            }
            match stream.write(&client.outbox[written..]) {
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    break Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => break Err(error),
            }
        };
        client.outbox.drain(..written);
        if let Err(error) = result {
            self.lose(index, &format!("send: {error}"));
        }
    }

    /// Reads all that has come for client `index`, and takes the messages.
    fn read(&mut self, index: usize) {
        loop {
            let Some(stream) = &mut self.clients[index].stream else { return };
            match stream.read(&mut self.buffer) {
                Ok(0) => {
                    return self
                        .lose(index, "the server closed the connection");
                }
                Ok(n) => {
                    if self.quick_ack {
                        quick_ack(stream);
                    }
                    let client = &mut self.clients[index];
                    client.inbox.extend_from_slice(&self.buffer[..n]);
                    if let Err(why) = self.take_messages(index) {
                        return self.lose(index, &why);
                    }
                    // Less than asked: nothing more has come. What comes
                    // later is a new event (epoll's edge), so the read that
                    // would only say WouldBlock is saved.
                    if n < self.buffer.len() {
                        return;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    return self.lose(index, &format!("recv: {error}"));
                }
            }
        }
    }

    fn take_messages(&mut self, index: usize) -> Result<(), String> {
        let now = Instant::now();
        let mut inbox = std::mem::take(&mut self.clients[index].inbox);
        let mut at = 0;
        let result = loop {
            let Some(header) = inbox.get(at..at + HEADER_LEN) else {
                break Ok(());
            };
            let length = match std::str::from_utf8(header)
                .ok()
                .map(|h| h.trim().parse::<usize>())
            {
                Some(Ok(length)) if length <= MAX_MESSAGE => length,
                _ => {
                    break Err(format!(
                        "a bad header: {:?}",
                        String::from_utf8_lossy(header)
                    ));
                }
            };
            let Some(message) =
                inbox.get(at + HEADER_LEN..at + HEADER_LEN + length)
            else {
                break Ok(());
            };
            at += HEADER_LEN + length;
            match self.clients[index].from_room.take() {
                None => {
                    self.clients[index].from_room = Some(message == b"room")
                }
                Some(from_room) => self.heard(index, from_room, message, now),
            }
        };
        inbox.drain(..at);
        if let Some(client) = self.clients.get_mut(index) {
            if client.state != State::Gone {
                client.inbox = inbox;
            }
        }
        result
    }

    /// A name and a text came for client `index`.
    fn heard(
        &mut self,
        index: usize,
        from_room: bool,
        text: &[u8],
        now: Instant,
    ) {
        if !from_room {
            self.deliveries += 1;
            let number = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<usize>().ok());
            if let Some(line) = number.and_then(|n| self.lines.get_mut(n)) {
                line.left = line.left.saturating_sub(1);
                if line.left == 0 {
                    self.latencies.push(now - line.sent);
                }
            }
            return;
        }
        if text.starts_with(b"welcome, ")
            && self.clients[index].state == State::Waiting
        {
            self.clients[index].state = State::Member;
            self.tally.welcomed += 1;
        } else if text.ends_with(b" joined") {
            self.tally.joins_heard += 1;
        } else if text.windows(12).any(|w| w == b" was dropped") {
            self.tally.drops_heard += 1;
        } else if self.clients[index].state == State::Waiting {
            self.tally.refused += 1;
            let why = String::from_utf8_lossy(text).into_owned();
            self.tally.first_refusal.get_or_insert(why);
            // Refused: this side closes, and is not counted as a failure.
            self.clients[index].state = State::Gone;
            self.clients[index].stream = None;
        }
    }

    /// Client `index` is gone: why, counted once.
    fn lose(&mut self, index: usize, why: &str) {
        let client = &mut self.clients[index];
        match client.state {
            State::Gone => return,
            State::Member => self.tally.members_lost += 1,
            State::Connecting | State::Waiting => self.tally.failed += 1,
        }
        client.state = State::Gone;
        client.stream = None;
        client.inbox = Vec::new();
        self.tally.first_failure.get_or_insert(why.to_string());
    }
}

/// A message as lesson 5 frames it: the length, left-aligned in 10
/// characters, then the bytes.
pub fn framed(bytes: &[u8]) -> Vec<u8> {
    let mut framed = format!("{:<HEADER_LEN$}", bytes.len()).into_bytes();
    framed.extend_from_slice(bytes);
    framed
}

/// TCP_QUICKACK: the ACKs owed go now, and the next few too (Linux resets
/// it on its own, so it is set after every read).
fn quick_ack(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads an int from `on` for the stream's own fd.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
