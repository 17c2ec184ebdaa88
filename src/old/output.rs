//! Labelled, coloured lines: who said what, at a glance.
//!
//! Every line a lesson prints starts with its role, `[server]` or
//! `[client]`, so the demo (both roles in one terminal) and a teacher's two
//! terminals read the same way. Colour is added only when the stream is a
//! terminal, and the common switches are honoured: `NO_COLOR` and
//! `TERM=dumb` turn it off, `CLICOLOR_FORCE` turns it on even when piped.
//!
//! A line that cannot be written (stdout closed, or on a full disk) is not
//! worth a panic, but it is not success either: [`Out::write_failed`]
//! remembers it, and the lesson exits 1.

use std::env;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

use colored::{ColoredString, Colorize};
use socket2::{SockAddr, Socket};

use crate::old::cli::Show;

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

/// Where a lesson prints: its role's label, stdout for the story, stderr
/// for trouble. Clones print to the same place (a thread per client uses
/// one each).
#[derive(Debug, Clone)]
pub struct Out {
    role: Role,
    /// `--hex` and `--trace`: what else to show besides the story.
    pub show: Show,
    /// The demo's client waits on this for the address the server listens
    /// on.
    listening: Option<Sender<SocketAddrV4>>,
    /// Set when a line could not be written.
    failed: Arc<AtomicBool>,
}

impl Out {
    pub fn new(role: Role, show: Show) -> Self {
        Out {
            role,
            show,
            listening: None,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// An `Out` whose [`Out::listening`] also hands the address to the
    /// demo's client.
    pub(crate) fn announcing_to(
        role: Role,
        show: Show,
        listening: Sender<SocketAddrV4>,
    ) -> Self {
        Out { listening: Some(listening), ..Out::new(role, show) }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// One line of the lesson's story, on stdout.
    pub fn say(&self, line: impl fmt::Display) {
        self.write(Stream::Stdout, None, line);
    }

    /// With `--trace`: a line about a call that can block, after a dimmed
    /// `trace:`.
    pub fn trace(&self, line: impl fmt::Display) {
        if self.show.trace {
            self.write(Stream::Stdout, Some("trace:".dimmed()), line);
        }
    }

    /// With `--hex`: `bytes` as a hex dump, after a line that says what they
    /// are (`sent 26 bytes:`).
    pub fn hex(&self, what: &str, bytes: &[u8]) {
        if self.show.hex {
            self.say(format_args!("{what} {} bytes:", bytes.len()));
            for line in hex_dump(bytes) {
                self.say(line);
            }
        }
    }

    /// Something the user should know about that does not stop the lesson,
    /// on stderr.
    pub fn warn(&self, line: impl fmt::Display) {
        self.to_stderr("warning:".yellow().bold(), line);
    }

    /// What went wrong, on stderr.
    pub fn error(&self, line: impl fmt::Display) {
        self.to_stderr("error:".red().bold(), line);
    }

    fn to_stderr(&self, kind: ColoredString, line: impl fmt::Display) {
        self.write(Stream::Stderr, Some(kind), line);
    }

    /// Writes `line` after the role's label (and `kind`, if any), folded to
    /// [`WIDTH`] columns by [`fold`]; only the label and kind are coloured.
    fn write(
        &self,
        stream: Stream,
        kind: Option<ColoredString>,
        line: impl fmt::Display,
    ) {
        let label = self.role.label();
        let (start, painted) = match &kind {
            Some(kind) => (
                format!("{} {}", label.input, kind.input),
                format!(
                    "{} {}",
                    paint(stream, label.clone()),
                    paint(stream, kind.clone())
                ),
            ),
            None => {
                (label.input.clone(), paint(stream, label.clone()).to_string())
            }
        };
        let indent = format!("{}   ", paint(stream, label.clone()));
        let mut text = String::new();
        let lines = fold(&format!("{start} {line}"), &label.input);
        for (index, folded) in lines.iter().enumerate() {
            let (head, rest) = match index {
                0 => (&painted, &folded[start.len()..]),
                _ => (&indent, &folded[label.input.len() + 3..]),
            };
            text.push_str(head);
            text.push_str(rest);
            text.push('\n');
        }
        let written = match stream {
            Stream::Stdout => write_all(io::stdout().lock(), &text),
            Stream::Stderr => write_all(io::stderr().lock(), &text),
        };
        if written.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    /// Whether some line could not be written: then the lesson did not do
    /// all it was asked, and must not exit 0.
    pub fn write_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Prints `listening on HOST:PORT` for a socket that `listen(2)` has been
    /// called on, with the port the system really gave it, and returns that
    /// address.
    ///
    /// Tests and the demo wait for this line instead of sleeping: once it is
    /// printed, the socket is queueing connections.
    pub fn listening(&self, socket: &Socket) -> io::Result<SocketAddrV4> {
        let address =
            socket.local_addr()?.as_socket_ipv4().ok_or_else(|| {
                io::Error::other("the server socket has no IPv4 address")
            })?;
        self.say(format_args!("listening on {address}"));
        if address.ip().is_unspecified() {
            self.warn(format_args!(
                "{} means every network interface: other machines that can \
                 reach this one can connect",
                address.ip()
            ));
        }
        if let Some(listening) = &self.listening {
            // The demo's receiver only goes away if the demo has already
            // given up.
            let _ = listening.send(address);
        }
        Ok(address)
    }
}

fn write_all(mut stream: impl Write, text: &str) -> io::Result<()> {
    stream.write_all(text.as_bytes())?;
    stream.flush()
}

/// The width lines are folded to: a terminal's, and the book's column.
pub const WIDTH: usize = 80;

/// Folds `line` (which starts with `label`) into lines of at most [`WIDTH`]
/// characters, breaking only at a single space between two words, so that
/// runs of spaces (inside `b'41        '`, say) are never cut. The lines
/// after the first start with `label` and three spaces. A word too long for
/// a line stays whole.
///
/// ```
/// use socket_lessons::old::output::fold;
/// let line = format!("[client] {}", "word ".repeat(20).trim_end());
/// let folded = fold(&line, "[client]");
/// assert_eq!(folded.len(), 2);
/// assert!(folded[0].len() <= 80);
/// assert!(folded[1].starts_with("[client]   word"));
/// ```
pub fn fold(line: &str, label: &str) -> Vec<String> {
    let indent = format!("{label}   ");
    let chars: Vec<char> = line.chars().collect();
    // The first line keeps its label, its kind (`error:`) and one word: no
    // break before that.
    let mut first_word = match line.strip_prefix(label) {
        Some(text) => {
            let kind = text.trim_start().split(' ').next();
            let kind = kind.filter(|word| word.ends_with(':'));
            label.chars().count()
                + kind.map_or(0, |kind| kind.chars().count() + 1)
        }
        None => 0,
    };
    let is_break = |at: usize, first_word: usize| {
        chars[at] == ' '
            && at > first_word
            && chars[at - 1] != ' '
            && chars.get(at + 1).is_some_and(|next| *next != ' ')
    };
    let mut lines = Vec::new();
    let (mut start, mut prefix_len) = (0, 0);
    while chars.len() - start + prefix_len > WIDTH {
        // The last break within the width; else the first one after it.
        let limit = start + WIDTH - prefix_len;
        let within = (start + 1..limit.min(chars.len()))
            .rev()
            .find(|&at| is_break(at, first_word));
        let Some(at) = within.or_else(|| {
            (limit..chars.len()).find(|&at| is_break(at, first_word))
        }) else {
            break;
        };
        let head: String = chars[start..at].iter().collect();
        lines.push(if prefix_len == 0 {
            head
        } else {
            format!("{indent}{head}")
        });
        (start, prefix_len, first_word) = (at + 1, indent.chars().count(), 0);
    }
    let tail: String = chars[start..].iter().collect();
    lines.push(if prefix_len == 0 { tail } else { format!("{indent}{tail}") });
    lines
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

/// How many bytes one line of a hex dump shows.
const HEX_WIDTH: usize = 16;

/// Lines in the style of `hexdump -C`: the offset, the bytes in hex, and
/// the printable ones as text (a dot for the rest), 71 characters wide.
///
/// ```
/// let lines = socket_lessons::old::output::hex_dump(b"Socket\n");
/// let hex = "53 6f 63 6b 65 74 0a";
/// assert_eq!(lines, [format!("0000 {hex:<47} |Socket.|")]);
/// ```
pub fn hex_dump(bytes: &[u8]) -> Vec<String> {
    let line = |(index, row): (usize, &[u8])| {
        let hex: Vec<String> =
            row.iter().map(|byte| format!("{byte:02x}")).collect();
        let text: String = row
            .iter()
            .map(|&byte| match byte {
                0x20..0x7f => byte as char,
                _ => '.',
            })
            .collect();
        format!("{:04x} {:<47} |{text}|", index * HEX_WIDTH, hex.join(" "))
    };
    bytes.chunks(HEX_WIDTH).enumerate().map(line).collect()
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Keeps the colour of `text` where the stream wants colour, and strips it
/// elsewhere.
fn paint(stream: Stream, text: ColoredString) -> ColoredString {
    static WANTS_COLOUR: OnceLock<[bool; 2]> = OnceLock::new();
    let wants = WANTS_COLOUR.get_or_init(|| {
        // This module decides per stream; `colored` only writes the codes.
        colored::control::set_override(true);
        [
            wants_colour(io::stdout().is_terminal()),
            wants_colour(io::stderr().is_terminal()),
        ]
    });
    if wants[stream as usize] { text } else { text.clear() }
}

/// `CLICOLOR_FORCE` (not "0") wins, then `NO_COLOR` (not empty) and
/// `TERM=dumb`, then whether it is a terminal.
fn wants_colour(is_terminal: bool) -> bool {
    let value = |name| env::var(name).unwrap_or_default();
    if !matches!(value("CLICOLOR_FORCE").as_str(), "" | "0") {
        return true;
    }
    value("NO_COLOR").is_empty() && value("TERM") != "dumb" && is_terminal
}
