//! Error reporting: what happened, in words, and what to do about it.
//!
//! The lessons propagate `io::Error` with `?`, as real programs do. Here, at
//! the edge, each kind of failure a user can cause is turned into a sentence
//! that names the address and the next step. Nothing a user does should end in
//! a panic or a backtrace.

use std::io;
use std::net::SocketAddrV4;
use std::time::Duration;

/// Exit status of a lesson that failed while running (a message is on stderr).
pub const RUNTIME_ERROR: u8 = 1;
/// Exit status of a command line that could not be understood (usage is on
/// stderr).
pub const USAGE_ERROR: u8 = 2;

/// What a program was doing when an error happened, to say it in the message.
#[derive(Debug, Clone, Copy)]
pub enum Situation<'a> {
    /// A server listening on `address`, or talking to one of its clients.
    Serving { address: SocketAddrV4 },
    /// A client of `lesson` talking to the server at `server`, waiting at most
    /// `wait`.
    Connecting { lesson: &'a str, server: SocketAddrV4, wait: Duration },
}

/// Explains `error` for a person, in one or two sentences.
///
/// An error this crate made already says what happened, in its own words
/// (a deadline, a silence, a bad header): those are kept as they are.
pub fn explain(error: &io::Error, situation: Situation<'_>) -> String {
    use io::ErrorKind::*;
    if error.get_ref().is_some() {
        return error.to_string();
    }
    let peer = match situation {
        Situation::Serving { .. } => "the client",
        Situation::Connecting { .. } => "the server",
    };
    match (error.kind(), situation) {
        (AddrInUse, Situation::Serving { address }) => format!(
            "port {} is already in use on {}. Another lesson's server, or an \
             earlier run of this one, may still be running: stop it (Ctrl-C \
             in its terminal), or pick another port with --port.",
            address.port(),
            address.ip()
        ),
        (AddrNotAvailable, Situation::Serving { address }) => format!(
            "{} is not an address of this machine, so no server can listen \
             there. Use 127.0.0.1 (this machine only) or 0.0.0.0 (every \
             interface).",
            address.ip()
        ),
        (PermissionDenied, Situation::Serving { address }) => format!(
            "this user may not listen on port {}: on this system, ports below \
             1024 are kept for the administrator. Pick one from 1024 up with \
             --port.",
            address.port()
        ),
        (ConnectionRefused, Situation::Connecting { lesson, server, .. }) => {
            format!(
                "nothing is listening on {server} (connection refused). Start \
                 the server first, in another terminal: cargo run --example \
                 {lesson} -- server --port {}",
                server.port()
            )
        }
        (TimedOut | WouldBlock, Situation::Connecting { server, wait, .. }) => {
            format!(
                "no answer from {server} within {} s. Is this lesson's server \
                 running there? --wait SECONDS gives it longer.",
                wait.as_secs_f64()
            )
        }
        (
            HostUnreachable | NetworkUnreachable,
            Situation::Connecting { server, .. },
        ) => format!(
            "{server} cannot be reached from here: check the address and the \
             network."
        ),
        (ConnectionReset, _) => format!(
            "{peer}'s system reset the connection (RST). That happens when \
             {peer} closes with data it never read, closes with SO_LINGER \
             set to 0, or no longer knows the connection (its machine \
             restarted). A program that crashes or is killed does not cause \
             it: its system closes its sockets normally."
        ),
        (BrokenPipe, _) => {
            format!("{peer} went away while this side was still sending.")
        }
        (ConnectionAborted, _) => format!(
            "the connection to {peer} was aborted before it was set up."
        ),
        _ => error.to_string(),
    }
}

/// Finds the IPv4 address for `host` (a name such as `localhost`, or digits
/// such as `127.0.0.1`).
///
/// The lessons use IPv4 (`AF_INET`), as the tutorial does.
pub fn resolve(host: &str, port: u16) -> io::Result<SocketAddrV4> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let addresses = (host, port).to_socket_addrs().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot find the host '{host}': {error}"),
        )
    })?;
    addresses
        .filter_map(|address| match address {
            SocketAddr::V4(address) => Some(address),
            SocketAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "'{host}' has no IPv4 address; these lessons use IPv4 \
                     (AF_INET), like the tutorial"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4101);

    #[test]
    fn a_port_in_use_names_the_port_and_the_way_out() {
        let message = explain(
            &io::ErrorKind::AddrInUse.into(),
            Situation::Serving { address: SERVER },
        );
        assert!(
            message.contains("port 4101 is already in use")
                && message.contains("--port"),
            "{message}"
        );
    }

    #[test]
    fn a_refused_connection_says_how_to_start_the_server() {
        let situation = Situation::Connecting {
            lesson: "lesson_01",
            server: SERVER,
            wait: Duration::from_secs(1),
        };
        let message =
            explain(&io::ErrorKind::ConnectionRefused.into(), situation);
        assert!(
            message.contains(
                "cargo run --example lesson_01 -- server --port 4101"
            ),
            "{message}"
        );
    }

    #[test]
    fn other_errors_keep_their_own_words() {
        let error = io::Error::other("the header b'x' is not a length");
        assert_eq!(
            explain(&error, Situation::Serving { address: SERVER }),
            "the header b'x' is not a length"
        );
    }

    #[test]
    fn hosts_resolve_to_ipv4() {
        assert_eq!(
            resolve("127.0.0.1", 7).unwrap(),
            SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7)
        );
        assert_eq!(
            resolve("localhost", 7).unwrap(),
            SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7)
        );
    }
}
