//! Every line starts with `[server]` or `[client]`, so the demo reads as a
//! teacher's two terminals do. Each message is one line, never folded, to
//! be searched for and pasted whole. A line that cannot be written (stdout
//! closed) is no reason to panic, as `println!` would: the lesson exits 1.

use std::env;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

use colored::{ColoredString, Colorize};
use socket2::{SockAddr, Socket};

use crate::cli::Show;

/// Where a lesson prints: its label, stdout for the story, stderr for
/// trouble. Clones print to the same place (a thread per client has one).
#[derive(Debug, Clone)]
pub struct Out {
    label: ColoredString,
    show: Show,
    /// For the demo: the server's address (a send fails only if it gave up).
    pub(crate) listening: Option<Sender<SocketAddr>>,
    failed: Arc<AtomicBool>,
}

impl Out {
    pub(crate) fn new(label: ColoredString, show: Show) -> Self {
        Out { label, show, listening: None, failed: Arc::default() }
    }

    pub fn say(&self, line: impl fmt::Display) {
        self.write(false, None, line.to_string());
    }

    pub fn error(&self, line: impl fmt::Display) {
        self.write(true, Some("error:".red().bold()), line.to_string());
    }

    /// Something worth knowing that does not stop the lesson.
    pub fn warn(&self, line: impl fmt::Display) {
        self.write(true, Some("warning:".yellow().bold()), line.to_string());
    }

    pub fn trace(&self, line: impl fmt::Display) {
        if self.show.trace {
            self.write(false, Some("trace:".dimmed()), line.to_string());
        }
    }

    /// Makes `call`, with a `--trace` line before (what `name` waits for)
    /// and one after (what it returned): it changes nothing about the call.
    pub fn traced<T: Returned>(
        &self,
        name: impl fmt::Display,
        waits_for: &str,
        call: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        self.trace(format_args!("{name} waits for {waits_for}"));
        let result = call();
        let said = match &result {
            Ok(value) => value.said(),
            Err(error) => format!("error: {}", in_words(error)),
        };
        self.trace(format_args!("{name} -> {said}"));
        result
    }

    /// With `--hex`: a line saying what `bytes` are, then their hex dump.
    pub fn hex(&self, what: &str, bytes: &[u8]) {
        if self.show.hex {
            self.say(format_args!("{what} {}:", plural(bytes.len(), "byte")));
            for line in hex_dump(bytes) {
                self.say(line);
            }
        }
    }

    fn write(&self, stderr: bool, kind: Option<ColoredString>, line: String) {
        let label = paint(stderr, self.label.clone());
        let kind = kind.map(|kind| format!(" {}", paint(stderr, kind)));
        let text = format!("{label}{} {line}\n", kind.unwrap_or_default());
        let written = match stderr {
            false => io::stdout().write_all(text.as_bytes()),
            true => io::stderr().write_all(text.as_bytes()),
        };
        self.failed.fetch_or(written.is_err(), Ordering::Relaxed);
    }

    /// Whether some line could not be written: then the lesson exits 1.
    pub fn write_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Prints `listening on HOST:PORT` (the port the system gave) and returns
    /// that address. Tests and the demo wait for this line, not a sleep: once
    /// it is printed, the system is queueing connections.
    pub fn listening(&self, socket: &Socket) -> io::Result<SocketAddr> {
        let address = socket.local_addr()?.as_socket();
        let address = address.ok_or(io::ErrorKind::Unsupported)?;
        self.say(format_args!("listening on {address}"));
        if address.ip().is_unspecified() {
            self.warn(format_args!(
                "{} is every interface: other machines may connect",
                address.ip()
            ));
        }
        if let Some(demo) = &self.listening {
            let _ = demo.send(address);
        }
        Ok(address)
    }
}

/// What a traced call returned, in words.
pub trait Returned {
    fn said(&self) -> String;
}

impl Returned for usize {
    fn said(&self) -> String {
        plural(*self, "byte")
    }
}

impl Returned for () {
    fn said(&self) -> String {
        "done".into()
    }
}

/// What `accept` returns, in socket2 or in std.
impl<S, A: Clone + Into<SockAddr>> Returned for (S, A) {
    fn said(&self) -> String {
        let from = address(&self.1.clone().into());
        format!("a new socket, connected to {from}")
    }
}

/// An error's kind in words: `broken pipe`, not `os error 32`. A recv that
/// waited out its timeout fails with EAGAIN. Kinds std has no name for
/// (EMFILE) print as "uncategorized error": the system's own words say more.
fn in_words(error: &io::Error) -> String {
    let text = error.to_string();
    match error.kind() {
        io::ErrorKind::WouldBlock => "timed out".into(),
        kind if kind.to_string() != "uncategorized error" => kind.to_string(),
        _ => text.split(" (os error").next().unwrap_or("").to_lowercase(),
    }
}

/// `1 byte`, `7 bytes`.
pub fn plural(count: usize, noun: &str) -> String {
    let s = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{s}")
}

/// A socket address as people write it: `127.0.0.1:54321`.
pub fn address(address: &SockAddr) -> String {
    match address.as_socket() {
        Some(address) => address.to_string(),
        None => format!("{address:?}"),
    }
}

/// Lines in the style of `hexdump -C`: the offset, 16 bytes in hex, and
/// the printable ones as text (a dot for the rest).
pub fn hex_dump(bytes: &[u8]) -> Vec<String> {
    let shown =
        |&b: &u8| if (0x20..0x7f).contains(&b) { b as char } else { '.' };
    let line = |(index, row): (usize, &[u8])| {
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        let text: String = row.iter().map(shown).collect();
        format!("{:04x} {:<47} |{text}|", index * 16, hex.join(" "))
    };
    bytes.chunks(16).enumerate().map(line).collect()
}

/// `text`, coloured only where the stream wants colour: `CLICOLOR_FORCE`
/// (not "0") even when piped; else a terminal, unless `NO_COLOR` (not
/// empty) or `TERM=dumb`.
fn paint(stderr: bool, text: ColoredString) -> ColoredString {
    static WANTS_COLOUR: OnceLock<[bool; 2]> = OnceLock::new();
    let wants = WANTS_COLOUR.get_or_init(|| {
        // This module decides per stream; `colored` only writes the codes.
        colored::control::set_override(true);
        let value = |name| env::var(name).unwrap_or_default();
        let forced = !matches!(value("CLICOLOR_FORCE").as_str(), "" | "0");
        let plain = !value("NO_COLOR").is_empty() || value("TERM") == "dumb";
        let terminal = [io::stdout().is_terminal(), io::stderr().is_terminal()];
        terminal.map(|terminal| forced || terminal && !plain)
    });
    if wants[stderr as usize] { text } else { text.clear() }
}
