//! Lesson 12: names and addresses: getaddrinfo, IPv6 and dual stack.
//!
//! The server listens where `--host` says, as every lesson's does, or, with
//! `--hostname`, where the tutorial's `bind((gethostname(), 1234))` does. On
//! `::` it is dual stack: one IPv6 socket takes IPv4 clients too, and sees
//! them as IPv4-mapped addresses (`::ffff:127.0.0.1`). It tells each client
//! the address it sees. The client, with `--name`, looks the name up itself
//! and tries each address in turn, as real clients do.
//!
//! ```text
//! cargo run --example lesson_12                  # both, in one process
//! cargo run --example lesson_12 -- server --host ::
//! cargo run --example lesson_12 -- client --name localhost
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::Args;
use socket_lessons::errors::{Situation, explain};
use socket_lessons::text::escape;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_12",
    about: "names and addresses: getaddrinfo, IPv6 and dual stack",
    port: 4112,
    wait: "5",
    show: true,
    server,
    client,
};

/// The longest a lookup may take: a DNS server that never answers would
/// otherwise hold the program for as long as the system's resolver waits.
const LOOKUP_WAIT: Duration = Duration::from_secs(10);

/// The most the client reads: the server's one line is far shorter.
const MOST: u64 = 1024;

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    /// Listen on gethostname()'s first IPv4 address, as the tutorial does
    /// (not on --host)
    #[arg(long)]
    hostname: bool,
    /// On an IPv6 address, take IPv6 clients only (IPV6_V6ONLY on)
    #[arg(long)]
    ipv6_only: bool,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// Look NAME up, and try each of its addresses in turn (not --host)
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: lookup
/// getaddrinfo(3), through std's `ToSocketAddrs`: every address of `name`
/// for TCP, in the order the system prefers. The call cannot be
/// interrupted, so it runs on a thread of its own, waited for at most
/// LOOKUP_WAIT; a thread still waiting ends with the program.
fn lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let (sender, answer) = mpsc::channel();
    let asked = name.to_owned();
    thread::spawn(move || {
        let found = (asked.as_str(), port).to_socket_addrs();
        let _ = sender.send(found.map(Vec::from_iter));
    });
    let words = match answer.recv_timeout(LOOKUP_WAIT) {
        Ok(Ok(found)) => return Ok(found),
        Ok(Err(_)) => format!("cannot find the host {name:?}"),
        Err(_) => {
            let limit = LOOKUP_WAIT.as_secs();
            format!("no answer for the host {name:?} in {limit} s")
        }
    };
    Err(io::Error::other(words))
}
// ANCHOR_END: lookup

// ANCHOR: hostname
/// gethostname(2), Python's socket.gethostname(): the name this machine
/// calls itself, which std has no function for.
#[cfg(unix)]
fn gethostname() -> io::Result<String> {
    let mut name = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what
    // the call is told.
    let status =
        unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    if status != 0 {
        return Err(io::Error::last_os_error());
    }
    let end = name.iter().position(|&byte| byte == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}
// ANCHOR_END: hostname

#[cfg(not(unix))]
fn gethostname() -> io::Result<String> {
    Err(io::Error::other("--hostname: this lesson calls it on Unix only"))
}

/// Where the tutorial's server listens: the first IPv4 address of
/// gethostname(), as Python's bind() with an AF_INET socket takes it.
fn tutorials_address(port: u16, out: &Out) -> io::Result<SocketAddr> {
    let name = gethostname()?;
    let found = lookup(&name, port)?;
    let first = found.iter().find(|address| address.is_ipv4());
    let Some(&address) = first else {
        let words = format!("the host name {name:?} has no IPv4 address");
        return Err(io::Error::other(words));
    };
    out.say(format_args!("gethostname() is {name:?}, at {}", address.ip()));
    Ok(address)
}

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let options = &config.options;
    let address = match options.hostname {
        true => tutorials_address(config.address.port(), out)?,
        false => config.address,
    };
    // AF_INET6 for an IPv6 address, AF_INET for an IPv4 one.
    let listener =
        Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    if address.is_ipv6() {
        // IPV6_V6ONLY off: on `::`, IPv4 clients too (dual stack). Said
        // every time: the default differs (Linux: off, from
        // /proc/sys/net/ipv6/bindv6only; Windows and OpenBSD: on).
        listener.set_only_v6(options.ipv6_only)?;
    } else if options.ipv6_only {
        let words = "--ipv6-only needs an IPv6 --host, such as :: or ::1";
        return Err(io::Error::other(words));
    }
    listener.bind(&address.into()).map_err(|error| {
        let situation = Situation::Serving { address };
        io::Error::new(error.kind(), explain(&error, situation))
    })?;
    listener.listen(5)?;
    out.listening(&listener)?;
    loop {
        let (client, from) =
            out.traced("accept()", "a client", || listener.accept())?;
        let from = from.as_socket().ok_or(io::ErrorKind::Unsupported)?;
        out.say(format_args!("Connection to {from} established"));
        if let SocketAddr::V6(six) = from {
            if let Some(four) = six.ip().to_ipv4_mapped() {
                out.say(format_args!("that is the IPv4 client {four}"));
            }
        }
        // What the server sees is what it tells: across machines, or
        // through a NAT, it may not be what the client thinks it is.
        let reply = format!("you are {from}\n");
        let sent = out.traced("send()", "room in the send buffer", || {
            (&client).write_all(reply.as_bytes()).map(|()| reply.len())
        });
        if let Err(error) = sent {
            // A client that left early must not stop the server.
            let why = explain(&error, Situation::Serving { address });
            out.error(format_args!("sending to {from}: {why}"));
        }
        drop(client);
        if config.once {
            return Ok(());
        }
    }
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    // The demo looks `localhost` up; a client told --host uses the one
    // address the runner found for it, IPv4 first, as every lesson does.
    let demo = config.demo.then_some("localhost");
    let addresses = match config.options.name.as_deref().or(demo) {
        Some(name) => {
            let found = lookup(name, config.server.port())?;
            let shown: Vec<String> =
                found.iter().map(SocketAddr::to_string).collect();
            out.say(format_args!(
                "getaddrinfo({name:?}): {}",
                shown.join(", ")
            ));
            found
        }
        None => vec![config.server],
    };
    let Some((&last, first)) = addresses.split_last() else {
        return Err(io::Error::other("the lookup gave no address to try"));
    };
    for &address in first.iter().chain([&last]) {
        out.say(format_args!("trying {address}"));
        let server =
            Socket::new(Domain::for_address(address), Type::STREAM, None)?;
        let connected = out.traced("connect()", "the handshake", || {
            server.connect_timeout(&address.into(), config.wait)
        });
        let Err(error) = connected else {
            return talk(&server, config, out);
        };
        let situation = Situation::Connecting {
            lesson: "lesson_12",
            server: address,
            wait: config.wait,
        };
        let why = explain(&error, situation);
        if address == last {
            return Err(io::Error::new(error.kind(), why));
        }
        // Not the end: the next address may answer.
        out.warn(why);
    }
    Ok(())
}

fn talk(
    server: &Socket,
    config: &Client<ClientOptions>,
    out: &Out,
) -> io::Result<()> {
    let local = server.local_addr()?.as_socket();
    let local = local.ok_or(io::ErrorKind::Unsupported)?;
    out.say(format_args!("connected from {local}"));
    server.set_read_timeout(Some(config.wait))?;
    // Until the server closes, and no more than MOST bytes.
    let mut reply = Vec::new();
    out.traced("recv() until the close", "bytes", || {
        server.take(MOST).read_to_end(&mut reply)
    })?;
    out.hex("received", &reply);
    let text = String::from_utf8_lossy(&reply);
    out.say(format_args!("the server says: {}", escape(text.trim_end())));
    Ok(())
}
// ANCHOR_END: client
