//! What went wrong, in words. The lessons pass `io::Error`s up with `?`, as
//! real programs do; at the edge, [`explain`] turns each kind a user can
//! cause into one line that names the address and the next step.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

/// What a program was doing when an error happened.
#[derive(Debug, Clone, Copy)]
pub enum Situation<'a> {
    /// A server listening on `address`, or talking to one of its clients.
    Serving { address: SocketAddr },
    /// A client of `lesson` talking to `server`, each call waiting `wait`.
    Connecting { lesson: &'a str, server: SocketAddr, wait: Duration },
}

/// Explains `error` for a person, on one line; an error a lesson made
/// itself (with a message of its own) keeps its words.
pub fn explain(error: &io::Error, situation: Situation<'_>) -> String {
    use Situation::{Connecting, Serving};
    use io::ErrorKind::*;
    let peer = match situation {
        Serving { .. } => "the client",
        Connecting { .. } => "the server",
    };
    match (error.kind(), situation) {
        _ if error.get_ref().is_some() => error.to_string(),
        (AddrInUse, Serving { address }) => format!(
            "port {} is in use: is another server running? Stop it, or \
             pick another port with --port",
            address.port()
        ),
        (AddrNotAvailable, Serving { address }) => format!(
            "{} is not an address of this machine; try 127.0.0.1",
            address.ip()
        ),
        (PermissionDenied, Serving { address }) => format!(
            "ports below 1024 need the administrator; {} is one: pick \
             another with --port",
            address.port()
        ),
        (ConnectionRefused, Connecting { lesson, server, .. }) => format!(
            "nothing listens on {server} (connection refused); start the \
             server first: cargo run --example {lesson} -- server"
        ),
        (TimedOut | WouldBlock, Connecting { server, wait, .. }) => format!(
            "nothing from {server} within {} s (--wait)",
            wait.as_secs_f64()
        ),
        (TimedOut | WouldBlock, Serving { .. }) => {
            "the client sent nothing in time".into()
        }
        (HostUnreachable | NetworkUnreachable, Connecting { server, .. }) => {
            format!("{server} cannot be reached from here")
        }
        (ConnectionReset, _) => format!(
            "{peer} reset the connection (RST): it closed with data unread"
        ),
        (BrokenPipe, _) => format!("{peer} closed before all was sent"),
        (ConnectionAborted, _) => {
            format!("the connection to {peer} was aborted")
        }
        _ => error.to_string(),
    }
}

/// The address for `host` and `port` (`127.0.0.1`, `::1`, `[::1]`, a name
/// like `localhost`), IPv4 first, within 10 s: a thread waits for
/// getaddrinfo, which cannot be interrupted.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port)); // digits: nothing to look up
    }
    let (sender, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send((bare, port).to_socket_addrs()));
    let late = |_| format!("no answer for the host {host:?} in 10 s");
    let found = answer.recv_timeout(Duration::from_secs(10)).map_err(late)?;
    let found = found.ok().and_then(|all| all.min_by_key(SocketAddr::is_ipv6));
    found.ok_or_else(|| format!("cannot find the host {host:?}"))
}

/// The moment a client gives up, whatever it is waiting for (`--deadline`).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    limit: Duration,
}

impl Deadline {
    pub fn after(limit: Duration) -> Self {
        Deadline { end: Instant::now() + limit, limit }
    }

    /// How long one call may wait: `wait`, or less if the deadline comes
    /// first; an error once it has passed.
    pub fn wait_at_most(&self, wait: Duration) -> io::Result<Duration> {
        let left = self.end.saturating_duration_since(Instant::now());
        // A timeout under a microsecond reaches the system as 0: no timeout.
        if left < Duration::from_millis(1) {
            let limit = self.limit.as_secs_f64();
            let words = format!("gave up after {limit} s in all (--deadline)");
            return Err(io::Error::new(io::ErrorKind::TimedOut, words));
        }
        Ok(wait.min(left))
    }
}
