//! Labelled, coloured lines: who said what, at a glance.
//!
//! Every line a lesson prints starts with its role, `[server]` or `[client]`, so the demo (both
//! roles in one terminal) and a teacher's two terminals read the same way. Colour is added only
//! when the stream is a terminal, and the common switches are honoured: `NO_COLOR` turns it off,
//! `CLICOLOR_FORCE` turns it on even when piped.

use std::env;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddrV4;
use std::sync::OnceLock;
use std::sync::mpsc::Sender;

use colored::{ColoredString, Colorize};
use socket2::{SockAddr, Socket};

/// Which side of the connection a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

impl Role {
    fn label(self) -> ColoredString {
        match self {
            Role::Server => "[server]".cyan().bold(),
            Role::Client => "[client]".green().bold(),
        }
    }
}

/// Where a lesson prints: its role's label, stdout for the story, stderr for trouble.
#[derive(Debug)]
pub struct Out {
    role: Role,
    /// The demo's client waits on this for the address the server really listens on.
    listening: Option<Sender<SocketAddrV4>>,
}

impl Out {
    pub fn new(role: Role) -> Self {
        Out { role, listening: None }
    }

    /// An `Out` whose [`Out::listening`] also hands the address to the demo's client.
    pub(crate) fn announcing_to(
        role: Role,
        listening: Sender<SocketAddrV4>,
    ) -> Self {
        Out { role, listening: Some(listening) }
    }

    /// One line of the lesson's story, on stdout.
    pub fn say(&self, line: impl fmt::Display) {
        let label = paint(Stream::Stdout, self.role.label());
        // A closed stdout (`| head`) is not worth a panic: the line just goes nowhere.
        let _ = writeln!(io::stdout().lock(), "{label} {line}");
    }

    /// Something the user should know about that does not stop the lesson, on stderr.
    pub fn warn(&self, line: impl fmt::Display) {
        self.to_stderr("warning:".yellow().bold(), line);
    }

    /// What went wrong, on stderr.
    pub fn error(&self, line: impl fmt::Display) {
        self.to_stderr("error:".red().bold(), line);
    }

    fn to_stderr(&self, kind: ColoredString, line: impl fmt::Display) {
        let label = paint(Stream::Stderr, self.role.label());
        let kind = paint(Stream::Stderr, kind);
        let _ = writeln!(io::stderr().lock(), "{label} {kind} {line}");
    }

    /// Prints `listening on HOST:PORT` for a socket that `listen(2)` has been called on, with
    /// the port the system really gave it, and returns that address.
    ///
    /// Tests and the demo wait for this line instead of sleeping: once it is printed, the
    /// socket is queueing connections.
    pub fn listening(&self, socket: &Socket) -> io::Result<SocketAddrV4> {
        let address =
            socket.local_addr()?.as_socket_ipv4().ok_or_else(|| {
                io::Error::other("the server socket has no IPv4 address")
            })?;
        self.say(format_args!("listening on {address}"));
        if address.ip().is_unspecified() {
            self.warn(format_args!(
                "{} means every network interface: other machines that can reach this one can connect",
                address.ip()
            ));
        }
        if let Some(listening) = &self.listening {
            // The demo's receiver only goes away if the demo has already given up.
            let _ = listening.send(address);
        }
        Ok(address)
    }
}

/// Shows a socket address the way people write it: `127.0.0.1:54321`.
pub fn address(address: &SockAddr) -> impl fmt::Display + '_ {
    struct Shown<'a>(&'a SockAddr);
    impl fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0.as_socket() {
                Some(address) => write!(f, "{address}"),
                None => write!(f, "{:?}", self.0),
            }
        }
    }
    Shown(address)
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Keeps the colour of `text` where the stream wants colour, and strips it elsewhere.
fn paint(stream: Stream, text: ColoredString) -> ColoredString {
    static WANTS_COLOUR: OnceLock<[bool; 2]> = OnceLock::new();
    let wants = WANTS_COLOUR.get_or_init(|| {
        // This module decides per stream; `colored` only writes the escape codes.
        colored::control::set_override(true);
        [
            wants_colour(io::stdout().is_terminal()),
            wants_colour(io::stderr().is_terminal()),
        ]
    });
    if wants[stream as usize] { text } else { text.clear() }
}

/// `CLICOLOR_FORCE` (not "0") wins, then `NO_COLOR` (not empty), then whether it is a terminal.
fn wants_colour(is_terminal: bool) -> bool {
    let set = |name| env::var_os(name).is_some_and(|value| !value.is_empty());
    if set("CLICOLOR_FORCE")
        && env::var_os("CLICOLOR_FORCE").is_some_and(|value| value != "0")
    {
        return true;
    }
    !set("NO_COLOR") && is_terminal
}
