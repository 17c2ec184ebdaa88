//! The socket as a lesson shows it: every wait named, every byte visible,
//! sends in slow motion if asked, and no client waiting without bound.
//!
//! A lesson makes its socket with `Socket::new`, as the tutorial does, and
//! hands it to its config's `wire` method. The [`Wire`] it gets back is still
//! that socket: `bind`, `listen` and the options reach it through `Deref`,
//! and the calls that can block keep their names (`accept`,
//! `connect_timeout`, and `read`/`write` through `Read` and `Write`). Around
//! each of those, the wire does what the command line asked:
//!
//! - `--trace`: a line before the call, saying what it waits for, and one
//!   after, saying what it returned, in the words of the system call.
//! - `--hex`: the bytes of each send and each recv, as a hex dump.
//! - `--chunk BYTES` and `--pause SECONDS` (servers): each `send` takes at
//!   most BYTES bytes, with a pause before each piece after the first, and
//!   `TCP_NODELAY` on, so that each piece leaves in a segment of its own.
//! - `--deadline SECONDS` (clients): no `recv` may wait past it. A server
//!   that trickles a byte a second would otherwise keep a client alive
//!   forever, since each `recv`'s own timeout starts again.

use std::io::{self, Read, Write};
use std::ops::Deref;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{SockAddr, Socket};

use crate::old::cli::Pace;
use crate::old::output::{self, Out, Role};

/// The pause after a failed `accept`, before the server tries again.
pub const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// A socket, with the lesson's eyes on it.
#[derive(Debug)]
pub struct Wire {
    socket: Socket,
    out: Out,
    pace: Pace,
    /// When a client gives up, whatever it is waiting for.
    deadline: Option<(Instant, Duration)>,
    /// Pieces sent so far, for the pause that goes before all but the first.
    pieces: usize,
    /// Bytes received so far, for saying what came before a silence.
    received: usize,
    /// The read timeout as the lesson set it: the system may round what it
    /// keeps, and messages give the lesson's own figure.
    wait: Option<Duration>,
    /// The read timeout the socket has now, as this wire last set it: it
    /// is set again only when the deadline changes it, so that a trace of
    /// the system calls (strace) shows the lesson's own.
    applied: Option<Duration>,
}

impl Deref for Wire {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        &self.socket
    }
}

impl Wire {
    /// Wraps `socket`. `deadline` is how long it may be used in all, from
    /// now: clients have one, servers do not.
    pub fn new(
        socket: Socket,
        out: &Out,
        pace: Pace,
        deadline: Option<Duration>,
    ) -> Wire {
        let deadline = deadline.map(|limit| (Instant::now() + limit, limit));
        Wire {
            socket,
            out: out.clone(),
            pace,
            deadline,
            pieces: 0,
            received: 0,
            wait: None,
            applied: None,
        }
    }

    /// `setsockopt(SO_RCVTIMEO)`: how long each `recv` may wait (`None`:
    /// without end). Python's `settimeout`, for receiving.
    pub fn set_read_timeout(
        &mut self,
        wait: Option<Duration>,
    ) -> io::Result<()> {
        self.socket.set_read_timeout(wait)?;
        (self.wait, self.applied) = (wait, wait);
        Ok(())
    }

    /// What the other end is called in messages.
    fn peer(&self) -> &'static str {
        match self.out.role() {
            Role::Server => "the client",
            Role::Client => "the server",
        }
    }

    /// `accept(2)`: waits for the next connection, and returns a wire for
    /// the new socket (with this one's settings) and the client's address.
    pub fn accept(&self) -> io::Result<(Wire, SockAddr)> {
        self.out.trace("accept() waits for a client to connect");
        let (socket, address) = self.socket.accept().inspect_err(|error| {
            self.out.trace(format_args!("accept() -> error: {error}"));
            // An accept that fails (out of file descriptors, say) fails
            // again at once: without a pause, a server's loop would print
            // thousands of errors a second.
            thread::sleep(ACCEPT_RETRY_PAUSE);
        })?;
        self.out.trace(format_args!(
            "accept() -> a new socket, connected to {}",
            output::address(&address)
        ));
        if self.pace.chunk.is_some() {
            // Without it, the system may hold back a small piece until the
            // last one is acknowledged (Nagle's algorithm), and glue pieces.
            socket.set_tcp_nodelay(true)?;
        }
        let wire = Wire { socket, out: self.out.clone(), ..*self };
        Ok((wire, address))
    }

    /// `connect(2)`, given up after `wait` (or at the deadline, if sooner).
    /// Once connected, says which address and port this side was given.
    pub fn connect_timeout(
        &self,
        address: &SockAddr,
        wait: Duration,
    ) -> io::Result<()> {
        let call = format!("connect({})", output::address(address));
        self.out.trace(format_args!(
            "{call} waits for the handshake with the server to complete"
        ));
        let wait = wait.min(self.time_left()?);
        if let Err(error) = self.socket.connect_timeout(address, wait) {
            self.out.trace(format_args!("{call} -> error: {error}"));
            return Err(error);
        }
        let local = self.socket.local_addr()?;
        self.out.trace(format_args!("{call} -> connected"));
        self.out.say(format_args!(
            "connected from {}: the port the system gave this side",
            output::address(&local)
        ));
        Ok(())
    }

    /// How long until the deadline, or an error if it has passed.
    fn time_left(&self) -> io::Result<Duration> {
        let Some((deadline, _)) = self.deadline else {
            return Ok(Duration::MAX);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        // Under a millisecond left is past it: a timeout of less than a
        // microsecond would reach the system as 0, which means no timeout.
        if left < Duration::from_millis(1) {
            return Err(self.past_deadline());
        }
        Ok(left)
    }

    /// From now, this socket may be used for at most `limit` in all: a
    /// server's bound on one connection, however slowly its client sends.
    /// (A client's wire has its `--deadline` from the start.)
    pub fn set_deadline(&mut self, limit: Duration) {
        self.deadline = Some((Instant::now() + limit, limit));
    }

    /// No deadline from now on.
    pub fn clear_deadline(&mut self) {
        self.deadline = None;
    }

    fn past_deadline(&self) -> io::Error {
        let limit = self.deadline.map_or(Duration::ZERO, |(_, limit)| limit);
        let (limit, peer) = (limit.as_secs_f64(), self.peer());
        // Only a client has the option; a server's limit is its lesson's.
        let hint = match self.out.role() {
            Role::Client => " --deadline SECONDS allows longer.",
            Role::Server => "",
        };
        let message = match self.received {
            0 => format!(
                "gave up after {limit} s in all: nothing arrived from {peer} \
                 in that time.{hint}"
            ),
            bytes => format!(
                "gave up after {limit} s in all, with {bytes} bytes received: \
                 {peer} was still sending.{hint}"
            ),
        };
        io::Error::new(io::ErrorKind::TimedOut, PastDeadline(message))
    }

    /// Says what a `recv` that timed out waited for, for the error message.
    fn silence(&self, wait: Duration) -> io::Error {
        // A client's wait is its --wait; a server's is the lesson's own.
        let waited = match self.out.role() {
            Role::Client => format!("{} s (--wait)", wait.as_secs_f64()),
            Role::Server => format!("{} s", wait.as_secs_f64()),
        };
        let peer = match self.socket.peer_addr() {
            Ok(address) => output::address(&address).to_string(),
            Err(_) => self.peer().to_string(),
        };
        let message = match (self.received, self.out.role()) {
            (0, Role::Client) => format!(
                "connected to {peer}, but nothing arrived within {waited}. \
                 Is this lesson's server the one listening there? A server \
                 busy with another client leaves this connection waiting in \
                 its backlog."
            ),
            (0, Role::Server) => format!(
                "the client at {peer} connected, but sent nothing within \
                 {waited}"
            ),
            (bytes, _) => format!(
                "{} sent {bytes} bytes, then nothing more within {waited}, \
                 and did not close the connection",
                self.peer()
            ),
        };
        io::Error::new(io::ErrorKind::TimedOut, message)
    }
}

/// `recv(2)`, as `read`: socket2's own `recv` takes a buffer of
/// `MaybeUninit<u8>`, which `Read` spares the lessons.
impl Read for Wire {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let call = format!("recv({})", buffer.len());
        let peer = self.peer();
        // The deadline comes first: this recv waits only until then.
        let wait = match self.deadline {
            Some(_) => {
                let left = self.time_left()?;
                Some(self.wait.map_or(left, |wait| wait.min(left)))
            }
            None => self.wait,
        };
        if wait != self.applied {
            self.socket.set_read_timeout(wait)?;
            self.applied = wait;
        }
        self.out.trace(format_args!("{call} waits for bytes from {peer}"));
        match (&self.socket).read(buffer) {
            Ok(0) => {
                self.out.trace(format_args!(
                    "{call} -> 0 bytes ({peer} will send no more)"
                ));
                Ok(0)
            }
            Ok(received) => {
                self.received += received;
                self.out.trace(format_args!("{call} -> {received} bytes"));
                self.out.hex("received", &buffer[..received]);
                Ok(received)
            }
            Err(error) if is_timeout(&error) => {
                let waited = wait.unwrap_or_default();
                match (self.time_left(), self.deadline) {
                    (Err(past), Some((_, limit))) => {
                        // The deadline cut this wait short: say so, not the
                        // fraction of a second that was left.
                        self.out.trace(format_args!(
                            "{call} -> nothing within what was left of its \
                             {} s in all",
                            limit.as_secs_f64()
                        ));
                        Err(past)
                    }
                    _ => {
                        self.out.trace(format_args!(
                            "{call} -> nothing within {} s",
                            waited.as_secs_f64()
                        ));
                        Err(self.silence(waited))
                    }
                }
            }
            Err(error) => {
                self.out.trace(format_args!("{call} -> error: {error}"));
                Err(error)
            }
        }
    }
}

/// `send(2)`, as `write`; `write_all` calls it until every byte is out, so
/// with `--chunk` each piece is a `send` of its own.
impl Write for Wire {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let piece = match self.pace.chunk {
            Some(chunk) => &bytes[..bytes.len().min(chunk)],
            None => bytes,
        };
        if self.pace.chunk.is_some() && self.pieces > 0 {
            thread::sleep(self.pace.pause);
        }
        let call = format!("send({} bytes)", piece.len());
        self.out.trace(format_args!(
            "{call} waits for room in this side's send buffer"
        ));
        match (&self.socket).write(piece) {
            Ok(sent) => {
                self.pieces += 1;
                self.out.trace(format_args!("{call} -> {sent} bytes"));
                self.out.hex("sent", &piece[..sent]);
                Ok(sent)
            }
            Err(error) => {
                self.out.trace(format_args!("{call} -> error: {error}"));
                Err(error)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether `error` is a timeout: `WouldBlock` on Unix, `TimedOut` on
/// Windows.
pub fn is_timeout(error: &io::Error) -> bool {
    let kind = error.kind();
    matches!(kind, io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
        && !is_past_deadline(error)
}

/// Whether `error` says a wire's deadline has passed (see
/// [`Wire::set_deadline`]), rather than one call's wait.
pub fn is_past_deadline(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<PastDeadline>())
}

/// The error of a wire whose deadline has passed: a timeout, told apart
/// from the wait of one call by [`is_past_deadline`].
#[derive(Debug)]
struct PastDeadline(String);

impl std::fmt::Display for PastDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PastDeadline {}
