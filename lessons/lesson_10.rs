//! Lesson 10: UDP, where a message keeps its edges and a small buffer loses
//! the rest.
//!
//! Lessons 2 to 6 show that a stream has no message boundaries. A datagram
//! socket is the opposite: each `send_to` is one datagram, and each receive
//! takes one datagram, whole or cut to the buffer, never two glued together
//! and never the rest of one later. There is no connection: no `listen`, no
//! `accept`, no close that the other side sees.
//!
//! The server answers every datagram it receives with one datagram, the
//! lesson's message. The client receives that into a 7-byte buffer, as
//! lesson 2 did, and the system says the datagram was truncated; then it
//! sends three datagrams in a row to a socket of its own, and receives them
//! one by one, the last one empty.

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use socket_lessons::old::cli::Defaults;
use socket_lessons::old::python::{bytes_repr, escape_unprintable};
use socket_lessons::old::wire::is_timeout;
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig, output};
use socket2::{Domain, MaybeUninitSlice, SockAddr, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_10",
    title: "UDP datagrams keep their edges",
    // The client's second receive is meant to time out: a short default
    // wait keeps the lesson quick. Loopback answers in microseconds.
    defaults: Defaults {
        port: 4110,
        wait: Duration::from_secs(1),
        buffer: Some(7),
    },
    options: &[],
    server,
    client,
};

/// What the server answers every datagram with.
const MESSAGE: &[u8] = b"Socket Programming in Rust";

/// What the client sends the server: any datagram gets an answer.
const REQUEST: &[u8] = b"hello";

/// The largest datagram the server reads whole; the rest of a longer one is
/// discarded by the system, so a hostile peer cannot make it use more.
const SERVER_BUFFER: usize = 1024;

/// The three datagrams the client sends in a row, the last one empty.
const BURST: [&[u8]; 3] = [b"one", b"two", b""];

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    if config.pace.chunk.is_some() {
        out.warn(
            "--chunk and --pause cut a stream's sends into pieces; a \
             datagram always leaves whole, in one send_to, so here they \
             change nothing",
        );
    }
    // socket(2): an IPv4 datagram (SOCK_DGRAM) socket, that is UDP:
    // Python's socket.socket(socket.AF_INET, socket.SOCK_DGRAM).
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    // bind(2), and no listen(2) or accept(2): there are no connections to
    // queue. Datagrams for this port wait in the socket's receive buffer.
    socket.bind(&config.address.into())?;
    out.listening(&socket)?;

    config.serve_clients(out, || {
        let mut buffer = [0; SERVER_BUFFER];
        let datagram = receive(&socket, &mut buffer, None, out)?;
        let from = output::address(&datagram.from);
        // A datagram cut to the buffer is not one of that size: say which.
        let what = match datagram.truncated {
            true => "the first bytes of a longer datagram",
            false => "a datagram",
        };
        out.say(format_args!(
            "received {what}, {} bytes, from {from}: {}",
            datagram.len,
            bytes_repr(&buffer[..datagram.len])
        ));
        if datagram.truncated {
            out.warn(format_args!(
                "that datagram was longer than this server's {SERVER_BUFFER} \
                 byte buffer: the system discarded the rest"
            ));
        }
        if datagram.len == 0 {
            out.say(
                "an empty datagram is still a datagram, and gets an answer",
            );
        }
        out.say(format_args!(
            "answering with one datagram of {} bytes",
            MESSAGE.len()
        ));
        send(&socket, MESSAGE, &datagram.from, out)
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let deadline = Deadline::new(config);
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    // No connect(2): the first send_to binds this socket to a port the
    // system picks, and the datagram goes out. Nothing says whether a
    // server is there; only an answer would.
    let server = SockAddr::from(config.server);
    out.say(format_args!(
        "sending one datagram of {} bytes to {}: {}",
        REQUEST.len(),
        config.server,
        bytes_repr(REQUEST)
    ));
    send(&socket, REQUEST, &server, out)?;

    let mut buffer = vec![0; config.buffer];
    let size = buffer.len();
    let wait = deadline.wait()?;
    let datagram = match receive(&socket, &mut buffer, Some(wait), out) {
        Err(error) if is_timeout(&error) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no answer from {} within {wait}. Is this lesson's \
                     server running there? UDP cannot tell: a datagram to a \
                     port where nothing listens is dropped.",
                    config.server,
                ),
            ));
        }
        result => result?,
    };
    let piece = &buffer[..datagram.len];
    out.say(format_args!(
        "recvmsg({size}) returned {} bytes from {}: {}",
        datagram.len,
        output::address(&datagram.from),
        bytes_repr(piece)
    ));
    out.say(escape_unprintable(&String::from_utf8_lossy(piece)));
    if datagram.truncated {
        // MSG_TRUNC, in the flags recvmsg(2) returns. The rest of the
        // datagram is not waiting in the socket, as lesson 2's was: the
        // system threw it away.
        out.say(format_args!(
            "the system flagged the datagram as truncated (MSG_TRUNC): it \
             was longer than the {size}-byte buffer, and the rest is gone"
        ));
    }
    let wait = deadline.wait()?;
    match receive(&socket, &mut buffer, Some(wait), out) {
        Err(error) if is_timeout(&error) => out.say(format_args!(
            "a second recvmsg({size}) got nothing within {wait}: the rest of \
             the datagram was never kept, unlike lesson 2's stream",
        )),
        Err(error) => return Err(error),
        Ok(datagram) => out.say(format_args!(
            "a second recvmsg({size}) returned another datagram, of {} \
             bytes, not the rest of the first",
            datagram.len
        )),
    }
    burst(&socket, &deadline, out)
}
// ANCHOR_END: client

// ANCHOR: burst
/// Datagrams sent in a row arrive one per receive, each whole, and none of
/// them says "closed".
fn burst(sender: &Socket, deadline: &Deadline, out: &Out) -> io::Result<()> {
    // A second socket of this client's own, on a port the system picks, as
    // the receiver: the server answers one datagram with one, and this part
    // needs a receiver that does nothing but receive.
    let receiver = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    receiver.bind(&SockAddr::from(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        0,
    )))?;
    let address = receiver.local_addr()?;
    out.say(format_args!(
        "sending {} datagrams in a row to a socket of this client's own, at \
         {}: {}",
        BURST.len(),
        output::address(&address),
        BURST.map(bytes_repr).join(", ")
    ));
    for datagram in BURST {
        send(sender, datagram, &address, out)?;
    }
    // A buffer with room for all three: a stream would hand back
    // b'onetwo' in one receive if both had arrived.
    let mut buffer = [0; 1024];
    let size = buffer.len();
    for _ in BURST {
        let wait = deadline.wait()?;
        let datagram = receive(&receiver, &mut buffer, Some(wait), out)?;
        let piece = bytes_repr(&buffer[..datagram.len]);
        out.say(format_args!(
            "recvmsg({size}) returned {} bytes: {piece}",
            datagram.len
        ));
    }
    out.say(
        "the empty datagram is a datagram like the others: 0 bytes here is \
         not an end, as it is on a stream",
    );
    let wait = deadline.wait()?;
    match receive(&receiver, &mut buffer, Some(wait), out) {
        Err(error) if is_timeout(&error) => out.say(format_args!(
            "recvmsg({size}) got nothing more within {wait}, and nothing ever \
             says \"closed\": UDP has no connection to close. A datagram \
             lost on the way is not sent again either (loopback loses none, \
             so this run cannot show it)",
        )),
        Err(error) => return Err(error),
        Ok(datagram) => out.say(format_args!(
            "recvmsg({size}) returned a datagram of {} bytes this client did \
             not send: anyone may send to a UDP port",
            datagram.len
        )),
    }
    Ok(())
}
// ANCHOR_END: burst

/// The client's `--deadline`: every receive waits at most `--wait`, and
/// never past it.
struct Deadline {
    at: Instant,
    wait: Duration,
    limit: Duration,
}

impl Deadline {
    fn new(config: &ClientConfig) -> Deadline {
        let at = Instant::now() + config.deadline;
        Deadline { at, wait: config.wait, limit: config.deadline }
    }

    /// How long the next receive may wait: `--wait`, or less if the
    /// deadline comes first.
    fn wait(&self) -> io::Result<Wait> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "gave up after {} s in all (--deadline)",
                    self.limit.as_secs_f64()
                ),
            ));
        }
        Ok(match left < self.wait {
            true => Wait { time: left, deadline: Some(self.limit) },
            false => Wait { time: self.wait, deadline: None },
        })
    }
}

/// How long one receive waits, and why: `--wait`, or what is left before
/// the deadline. Messages name the figures the learner gave, not what the
/// system rounded the socket's timeout to.
#[derive(Debug, Clone, Copy)]
struct Wait {
    time: Duration,
    /// The `--deadline`, when it is what cut this wait short.
    deadline: Option<Duration>,
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.deadline {
            None => write!(f, "{} s (--wait)", self.time.as_secs_f64()),
            Some(limit) => write!(
                f,
                "what was left of its {} s in all (--deadline)",
                limit.as_secs_f64()
            ),
        }
    }
}

// ANCHOR: calls
/// One datagram received: its length (as much as fit in the buffer),
/// whether the system cut it, and who sent it.
struct Datagram {
    len: usize,
    truncated: bool,
    from: SockAddr,
}

/// `recvmsg(2)`: takes one datagram off the socket's queue, into `buffer`.
/// Unlike `recvfrom(2)` (Python's `recvfrom`), it also returns flags, and
/// `MSG_TRUNC` among them says the datagram did not fit.
/// With a `wait`, it waits at most that long (`SO_RCVTIMEO`).
fn receive(
    socket: &Socket,
    buffer: &mut [u8],
    wait: Option<Wait>,
    out: &Out,
) -> io::Result<Datagram> {
    if let Some(wait) = wait {
        socket.set_read_timeout(Some(wait.time))?;
    }
    let call = format!("recvmsg({})", buffer.len());
    out.trace(format_args!("{call} waits for a datagram"));
    // socket2 takes buffers as MaybeUninit<u8>, so that a program need not
    // zero them first.
    // SAFETY: socket2 promises never to write uninitialised bytes into the
    // buffer (see its `recv`), so `buffer` still holds valid bytes after.
    let buffer_for_socket2 =
        unsafe { &mut *(&mut *buffer as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let mut buffers = [MaybeUninitSlice::new(buffer_for_socket2)];
    match socket.recv_from_vectored(&mut buffers) {
        Ok((len, flags, from)) => {
            let truncated = flags.is_truncated();
            out.trace(format_args!(
                "{call} -> {len} bytes from {}{}",
                output::address(&from),
                if truncated { ", flags MSG_TRUNC" } else { "" }
            ));
            out.hex("received", &buffer[..len]);
            Ok(Datagram { len, truncated, from })
        }
        Err(error) => {
            match wait {
                Some(wait) if is_timeout(&error) => {
                    out.trace(format_args!("{call} -> nothing within {wait}"))
                }
                _ => out.trace(format_args!("{call} -> error: {error}")),
            }
            Err(error)
        }
    }
}

/// `sendto(2)`: one datagram, whole, to `to`. It never waits for the other
/// side: it returns once the datagram is handed to the system.
fn send(
    socket: &Socket,
    datagram: &[u8],
    to: &SockAddr,
    out: &Out,
) -> io::Result<()> {
    let call =
        format!("sendto({} bytes, {})", datagram.len(), output::address(to));
    out.trace(format_args!("{call} hands one datagram to the system"));
    match socket.send_to(datagram, to) {
        Ok(sent) => {
            out.trace(format_args!("{call} -> {sent} bytes"));
            out.hex("sent", &datagram[..sent]);
            Ok(())
        }
        Err(error) => {
            out.trace(format_args!("{call} -> error: {error}"));
            Err(error)
        }
    }
}
// ANCHOR_END: calls
