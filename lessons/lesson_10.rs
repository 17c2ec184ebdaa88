//! Lesson 10: UDP, where a message keeps its edges, and may be lost.
//!
//! Lessons 2 to 6 show that a stream has no message boundaries. A datagram
//! socket is the opposite: each `send_to` is one datagram, and each receive
//! takes one datagram, whole or cut to the buffer, never two glued together
//! and never the rest of one later. There is no connection: no `listen`, no
//! `accept`, no close that the other side sees, and no delivery promised.
//!
//! The server answers each request (a datagram that starts with `ask `) with
//! one datagram. The client receives the answer into a 7-byte buffer, as
//! lesson 2 did, and the system says the datagram was truncated. Then it
//! sends datagrams to a socket of its own: three in a row, which arrive one
//! per receive, the last one empty; then 50 while that socket does not
//! read, and most of them are lost.
//!
//! ```text
//! cargo run --example lesson_10                  # both, in one process
//! cargo run --example lesson_10 -- server        # terminal 1
//! cargo run --example lesson_10 -- client        # terminal 2
//! ```

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use socket_lessons::cli::Patience;
use socket_lessons::errors::Deadline;
use socket_lessons::output::{address, plural};
use socket_lessons::text::{bytes_repr, escape};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, MaybeUninitSlice, SockAddr, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_10",
    about: "UDP datagrams keep their edges, and may be lost",
    port: 4110,
    // The client's second receive is meant to find nothing: a short wait
    // keeps the lesson quick. Loopback answers in microseconds.
    wait: "1",
    show: true,
    server,
    client,
};

/// Every request starts so, and no answer does: a server that answered
/// anything would answer another server's answer, or its own, for ever.
const ASK: &[u8] = b"ask ";

/// What the client asks.
const REQUEST: &[u8] = b"ask for the message";

/// What the server answers each request with.
const MESSAGE: &[u8] = b"Socket Programming in Rust";

/// The most answers the server sends in one second. A forged source address
/// makes a UDP server send its answer (longer than the request) to a
/// victim: a bound caps what a flood of such requests gets out of it.
const ANSWERS_PER_SECOND: u32 = 100;

/// The largest datagram the server reads whole; the system discards the
/// rest of a longer one, so a hostile peer cannot make it use more.
const SERVER_BUFFER: usize = 1024;

/// The three datagrams the client sends in a row, the last one empty.
const BURST: [&[u8]; 3] = [b"one", b"two", b""];

/// How many datagrams, of how many bytes, the client sends while its own
/// receiver does not read, and the receive buffer it asks that socket for.
const FLOOD: usize = 50;
const FLOOD_BYTES: usize = 1000;
const SMALL_BUFFER: usize = 4096;

/// The server has no options of its own: a datagram is sent whole, so
/// there is no slow motion.
#[derive(Args, Debug, Clone)]
struct ServerOptions {}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// The most the receive of the answer may return
    #[arg(long, value_name = "BYTES", default_value_t = 7,
          value_parser = clap::value_parser!(u16).range(1..))]
    buffer: u16,
    #[command(flatten)]
    patience: Patience,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    // socket(2): a datagram (SOCK_DGRAM) socket, that is UDP: Python's
    // socket.socket(socket.AF_INET, socket.SOCK_DGRAM).
    let domain = Domain::for_address(config.address);
    let socket = Socket::new(domain, Type::DGRAM, None)?;
    // bind(2), and no listen(2) or accept(2): there are no connections to
    // queue. Datagrams for this port wait in the socket's receive buffer.
    socket.bind(&config.address.into())?;
    let own = out.listening(&socket)?;
    let mut buffer = [0; SERVER_BUFFER];
    // When the current second began, and how many answers went out in it.
    let (mut second, mut answers) = (Instant::now(), 0);
    loop {
        let datagram = match receive(&socket, &mut buffer, out) {
            // Windows reports an ICMP "port unreachable" for an earlier
            // answer so, on the next receive: that client is gone.
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {
                out.warn(format_args!("an earlier answer bounced: {error}"));
                continue;
            }
            result => result?,
        };
        let (bytes, from) = (&buffer[..datagram.len], &datagram.from);
        // A datagram cut to the buffer is not one of that size: say which.
        let what = match datagram.truncated {
            true => "the first bytes of a longer datagram",
            false => "a datagram",
        };
        out.say(format_args!(
            "received {what}, {}, from {}: {}",
            plural(bytes.len(), "byte"),
            address(from),
            bytes_repr(bytes)
        ));
        if datagram.truncated {
            out.warn(format_args!(
                "it was longer than the {SERVER_BUFFER}-byte buffer: the \
                 system discarded the rest"
            ));
        }
        // Anyone may send to a UDP port, and give any source address. What
        // no client sends (an answer, or a datagram "from" this socket
        // itself) gets no answer, so that no exchange can go on for ever.
        if is_own(from, own) {
            out.say("no answer: it claims to come from this very socket");
            continue;
        }
        if !bytes.starts_with(ASK) {
            let ask = bytes_repr(ASK);
            out.say(format_args!("no answer: a request starts with {ask}"));
            continue;
        }
        if second.elapsed() >= Duration::from_secs(1) {
            (second, answers) = (Instant::now(), 0);
        }
        if answers == ANSWERS_PER_SECOND {
            out.say(format_args!(
                "no answer: {ANSWERS_PER_SECOND} answers in this second already"
            ));
            continue;
        }
        answers += 1;
        out.say(format_args!(
            "answering with one datagram of {}",
            plural(MESSAGE.len(), "byte")
        ));
        // A source address may be forged, or unreachable: a failed send
        // is that datagram's loss, not the server's end.
        if let Err(error) = send_to(&socket, MESSAGE, from, out) {
            out.error(format_args!("sending to {}: {error}", address(from)));
        }
        if config.once {
            return Ok(());
        }
    }
}

/// Whether `from` is this very socket's address, `own`.
fn is_own(from: &SockAddr, own: SocketAddr) -> bool {
    from.as_socket().is_some_and(|from| {
        from.port() == own.port()
            && (own.ip().is_unspecified() || from.ip() == own.ip())
    })
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let deadline = Deadline::after(config.options.patience.deadline);
    let domain = Domain::for_address(config.server);
    let socket = Socket::new(domain, Type::DGRAM, None)?;
    // No connect(2): the first send_to binds this socket to a port the
    // system picks, and the datagram goes out. Nothing says whether a
    // server is there; only an answer would.
    let server = SockAddr::from(config.server);
    out.say(format_args!(
        "sending one datagram of {} to {}: {}",
        plural(REQUEST.len(), "byte"),
        config.server,
        bytes_repr(REQUEST)
    ));
    send_to(&socket, REQUEST, &server, out)?;

    // 7 bytes, lesson 2's buffer, for a 26-byte answer.
    let mut buffer = vec![0; usize::from(config.options.buffer)];
    let size = buffer.len();
    let datagram = loop {
        socket.set_read_timeout(Some(deadline.wait_at_most(config.wait)?))?;
        let datagram = match receive(&socket, &mut buffer, out) {
            Err(error) if timed_out(&error) => {
                return Err(no_answer(config));
            }
            result => result?,
        };
        // Anyone may send to this port: only the server's datagram is its
        // answer.
        if datagram.from.as_socket() == Some(config.server) {
            break datagram;
        }
        out.warn(format_args!(
            "ignoring {} from {}: not the server",
            plural(datagram.len, "byte"),
            address(&datagram.from)
        ));
    };
    let piece = &buffer[..datagram.len];
    out.say(format_args!(
        "recvmsg({size}) returned {} from {}: {}",
        plural(datagram.len, "byte"),
        address(&datagram.from),
        bytes_repr(piece)
    ));
    out.say(escape(&String::from_utf8_lossy(piece)));
    if datagram.truncated {
        // MSG_TRUNC, in the flags recvmsg(2) returns. The rest of the
        // datagram is not waiting in the socket, as lesson 2's was: the
        // system threw it away.
        out.say(format_args!(
            "the system flagged it as truncated (MSG_TRUNC): it was longer \
             than {size} bytes, and the rest is gone"
        ));
    }
    let wait = deadline.wait_at_most(config.wait)?;
    socket.set_read_timeout(Some(wait))?;
    match receive(&socket, &mut buffer, out) {
        Err(error) if timed_out(&error) => out.say(format_args!(
            "a second recvmsg({size}) got nothing within {} s: the rest was \
             never kept, unlike lesson 2's stream",
            wait.as_secs_f64()
        )),
        Err(error) => return Err(error),
        Ok(datagram) => out.say(format_args!(
            "a second recvmsg({size}) returned another datagram, of {}, \
             from {}: not the rest of the first",
            plural(datagram.len, "byte"),
            address(&datagram.from)
        )),
    }
    to_itself(&socket, config, &deadline, out)
}
// ANCHOR_END: client

// ANCHOR: burst
/// Datagrams sent in a row arrive one per receive, each whole; sent faster
/// than they are read, most are lost, and no one is told.
fn to_itself(
    sender: &Socket,
    config: &Client<ClientOptions>,
    deadline: &Deadline,
    out: &Out,
) -> io::Result<()> {
    // A second socket of this client's own, on a port the system picks, as
    // the receiver: the server answers only requests, one datagram each.
    let loopback = match config.server {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
    };
    let receiver =
        Socket::new(Domain::for_address(loopback), Type::DGRAM, None)?;
    receiver.bind(&loopback.into())?;
    let to = receiver.local_addr()?;
    let shown: Vec<String> = BURST.iter().map(|d| bytes_repr(d)).collect();
    out.say(format_args!(
        "sending {} datagrams in a row to a socket of this client's, at {}: \
         {}",
        BURST.len(),
        address(&to),
        shown.join(", ")
    ));
    for datagram in BURST {
        send_to(sender, datagram, &to, out)?;
    }
    // Room for all three: a stream would hand back b'onetwo' in one
    // receive if both had arrived.
    let mut buffer = [0; 1024];
    let size = buffer.len();
    for _ in BURST {
        receiver.set_read_timeout(Some(deadline.wait_at_most(config.wait)?))?;
        let datagram = receive(&receiver, &mut buffer, out)?;
        out.say(format_args!(
            "recvmsg({size}) returned {}: {}",
            plural(datagram.len, "byte"),
            bytes_repr(&buffer[..datagram.len])
        ));
    }
    out.say("the empty one is a datagram: 0 bytes here is not an end");

    // setsockopt(SO_RCVBUF): a small receive buffer (Linux doubles what it
    // is asked for), so that a few datagrams fill it.
    receiver.set_recv_buffer_size(SMALL_BUFFER)?;
    out.say(format_args!(
        "sending {FLOOD} datagrams of {FLOOD_BYTES} bytes to it while it \
         does not read; its receive buffer (SO_RCVBUF) is {} bytes",
        receiver.recv_buffer_size()?
    ));
    // Not traced: 50 lines alike. Each send_to succeeds: a datagram handed
    // to the system is not one delivered.
    for _ in 0..FLOOD {
        sender.send_to(&[b'x'; FLOOD_BYTES], &to)?;
    }
    let mut arrived = 0;
    let wait = loop {
        let wait = deadline.wait_at_most(config.wait)?;
        receiver.set_read_timeout(Some(wait))?;
        match receive(&receiver, &mut buffer, out) {
            Ok(_) => arrived += 1,
            Err(error) if timed_out(&error) => break wait,
            Err(error) => return Err(error),
        }
    };
    out.say(format_args!(
        "{arrived} of the {FLOOD} arrived, then nothing within {} s",
        wait.as_secs_f64()
    ));
    out.say(format_args!(
        "the system dropped {} when the buffer was full, and told no one: \
         UDP does not send again, and never says \"closed\"",
        FLOOD - arrived
    ));
    Ok(())
}
// ANCHOR_END: burst

/// Why no answer came: UDP itself cannot say.
fn no_answer(config: &Client<ClientOptions>) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "no answer from {} within {} s (--wait): is the server running? \
             An unconnected UDP socket is never told that nothing listens",
            config.server,
            config.wait.as_secs_f64()
        ),
    )
}

/// A receive that waited its `SO_RCVTIMEO` out: `EAGAIN` on Unix,
/// `WSAETIMEDOUT` on Windows.
fn timed_out(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
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
/// Unlike `recvfrom(2)` (socket2's `recv_from`, Python's `recvfrom`), it
/// also returns flags, and `MSG_TRUNC` among them says the datagram did
/// not fit.
fn receive(
    socket: &Socket,
    buffer: &mut [u8],
    out: &Out,
) -> io::Result<Datagram> {
    let call = format!("recvmsg({})", buffer.len());
    out.trace(format_args!("{call} waits for a datagram"));
    // socket2 takes buffers as MaybeUninit<u8>, so that a program need not
    // zero them first.
    // SAFETY: socket2 promises never to write uninitialised bytes into the
    // buffer (see its `recv`), so `buffer` still holds valid bytes after.
    let buffer_for_socket2 =
        unsafe { &mut *(&mut *buffer as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let mut buffers = [MaybeUninitSlice::new(buffer_for_socket2)];
    // A wait with a timeout, stopped (Ctrl-Z, `kill -STOP`) and continued,
    // ends in EINTR: it is asked again.
    let received = loop {
        match socket.recv_from_vectored(&mut buffers) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            received => break received,
        }
    };
    match received {
        Ok((len, flags, from)) => {
            let truncated = flags.is_truncated();
            let flag = if truncated { ", flags MSG_TRUNC" } else { "" };
            let from_text = address(&from);
            let got = plural(len, "byte");
            out.trace(format_args!("{call} -> {got} from {from_text}{flag}"));
            out.hex("received", &buffer[..len]);
            Ok(Datagram { len, truncated, from })
        }
        Err(error) => {
            match timed_out(&error) {
                true => out.trace(format_args!("{call} -> nothing in time")),
                false => out.trace(format_args!("{call} -> error: {error}")),
            }
            Err(error)
        }
    }
}

/// `sendto(2)`: one datagram, whole, to `to`. It does not wait for the
/// other side: it returns once the datagram is handed to the system.
fn send_to(
    socket: &Socket,
    datagram: &[u8],
    to: &SockAddr,
    out: &Out,
) -> io::Result<usize> {
    let call =
        format!("sendto({}, {})", plural(datagram.len(), "byte"), address(to));
    let sent = out.traced(call, "room in this side's send buffer", || {
        socket.send_to(datagram, to)
    })?;
    out.hex("sent", &datagram[..sent]);
    Ok(sent)
}
// ANCHOR_END: calls
