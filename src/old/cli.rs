//! The command line every lesson shares.
//!
//! ```text
//! lesson_NN [OPTIONS]            the demo: server and client in one process
//! lesson_NN server [OPTIONS]     a server, for a teacher's first terminal
//! lesson_NN client [OPTIONS]     a client, for the second
//! lesson_NN --help
//! ```
//!
//! Every lesson has the same options (`--host`, `--port`, `--once`, `--wait`,
//! `--deadline`, and the three that make the invisible visible: `--chunk`
//! with `--pause`, `--hex`, `--trace`). A lesson may add its own, each
//! described by a [`LessonOption`]. A handful of flags do not need an
//! argument-parsing crate: this module is a loop over the words.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The host a server binds and a client connects to when `--host` is not
/// given.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The longest time any option accepts: an hour is already far longer than
/// any lesson needs.
const MAX_SECONDS: f64 = 3600.0;

/// The pause between the pieces of a `--chunk`ed send, unless `--pause` says
/// otherwise: long enough for each piece to arrive on its own.
pub const DEFAULT_PAUSE: Duration = Duration::from_millis(200);

/// The longest a client runs in all, unless `--deadline` says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// Which sides an option is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
    Both,
}

impl Side {
    fn allows(self, mode: Mode) -> bool {
        matches!(
            (self, mode),
            (_, Mode::Demo)
                | (Side::Both, _)
                | (Side::Server, Mode::Server)
                | (Side::Client, Mode::Client)
        )
    }
}

/// What value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A switch: present or not.
    Switch,
    /// Any text that is not empty.
    Text,
    /// A whole number from 1 to `max`.
    Count { max: u64 },
}

/// An option a lesson adds to the shared ones, such as lesson 7's `--message`.
#[derive(Debug, Clone, Copy)]
pub struct LessonOption {
    /// The flag, with its dashes: `"--message"`.
    pub flag: &'static str,
    pub value: Value,
    /// What `--help` shows for the value (`TEXT`, `N`), unused for a switch.
    pub placeholder: &'static str,
    /// The value when the option is not given (unused for a switch).
    pub default: &'static str,
    pub side: Side,
    pub help: &'static str,
}

/// The defaults a lesson sets for its command line.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// The port this lesson's server and client agree on.
    pub port: u16,
    /// How long the client's `connect` and each `recv` wait.
    pub wait: Duration,
    /// The size of the client's receive buffer: how much one `recv` may
    /// return. `None` for a lesson whose client reads otherwise (with
    /// `read_to_end`, say): it refuses `--buffer`.
    pub buffer: Option<usize>,
}

/// Which of the three ways to run a lesson the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The server in a thread and a client against it, on a port the system
    /// picks.
    Demo,
    /// Serve clients until interrupted, or one client with `--once`.
    Server,
    /// Connect to a server and talk to it.
    Client,
}

/// How a lesson shows what its sockets do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Show {
    /// `--hex`: every byte sent and received, as a hex dump.
    pub hex: bool,
    /// `--trace`: a line before and after each call that can block.
    pub trace: bool,
}

/// How a server sends: all at once, or in slow motion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pace {
    /// `--chunk BYTES`: each `send` carries at most this many bytes.
    pub chunk: Option<usize>,
    /// `--pause SECONDS`: the pause before each piece after the first.
    pub pause: Duration,
}

/// Everything the command line said, with the lesson's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub mode: Mode,
    pub host: String,
    pub port: u16,
    pub once: bool,
    pub wait: Duration,
    pub deadline: Duration,
    pub buffer: usize,
    pub pace: Pace,
    pub show: Show,
    /// The lesson's own options, by flag, each with its value or default.
    pub extra: Extra,
}

/// A lesson's own options, as given or defaulted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extra(BTreeMap<&'static str, String>);

impl Extra {
    /// The text of a [`Value::Text`] option.
    pub fn text(&self, flag: &str) -> &str {
        self.0.get(flag).map_or("", String::as_str)
    }

    /// The number of a [`Value::Count`] option (checked when parsed).
    pub fn count(&self, flag: &str) -> u64 {
        self.text(flag).parse().unwrap_or(1)
    }

    /// Whether a [`Value::Switch`] was given.
    pub fn switch(&self, flag: &str) -> bool {
        self.0.contains_key(flag)
    }
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Run(Options),
    /// Print the usage and exit 0.
    Help,
}

/// A command line that cannot be understood: print the message and the usage,
/// exit 2.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The options every lesson has, with the side each is for.
const SHARED: [(&str, Side); 10] = [
    ("--host", Side::Both),
    ("--port", Side::Both),
    ("--once", Side::Server),
    ("--wait", Side::Client),
    ("--deadline", Side::Client),
    ("--buffer", Side::Client),
    ("--chunk", Side::Server),
    ("--pause", Side::Server),
    ("--hex", Side::Both),
    ("--trace", Side::Both),
];

/// Reads the words after the program name.
pub fn parse<I, S>(
    words: I,
    defaults: Defaults,
    lesson_options: &[LessonOption],
) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut words = words.into_iter().map(Into::into).peekable();
    let mode = match words.peek().map(String::as_str) {
        Some("server") => Mode::Server,
        Some("client") => Mode::Client,
        _ => Mode::Demo,
    };
    if mode != Mode::Demo {
        words.next();
    }
    let mode_name = match mode {
        Mode::Demo => "the demo",
        Mode::Server => "server",
        Mode::Client => "client",
    };
    let mut given: BTreeMap<&'static str, String> = BTreeMap::new();
    while let Some(word) = words.next() {
        if word == "-h" || word == "--help" {
            return Ok(Command::Help);
        }
        let (flag, inline_value) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (word.clone(), None),
        };
        let shared = SHARED.iter().find(|(name, _)| *name == flag);
        let own = lesson_options.iter().find(|option| option.flag == flag);
        let (name, side, takes_value) = match (shared, own) {
            (Some(&(name, side)), _) => {
                (name, side, !matches!(name, "--once" | "--hex" | "--trace"))
            }
            (None, Some(option)) => {
                (option.flag, option.side, option.value != Value::Switch)
            }
            _ if word == "server" || word == "client" => {
                return Err(UsageError(format!(
                    "'{word}' must come first, before any option"
                )));
            }
            _ if word.starts_with('-') => {
                return Err(UsageError(format!("unknown option '{word}'")));
            }
            _ => {
                return Err(UsageError(format!(
                    "unexpected argument '{word}'"
                )));
            }
        };
        let demo_refuses = matches!(name, "--host" | "--port" | "--once");
        if !side.allows(mode) || (mode == Mode::Demo && demo_refuses) {
            return Err(UsageError(format!(
                "{name} is not an option of {mode_name}"
            )));
        }
        let value = match (takes_value, inline_value) {
            (true, Some(value)) => value,
            (true, None) => words
                .next()
                .ok_or_else(|| UsageError(format!("{name} needs a value")))?,
            (false, None) => String::new(),
            (false, Some(_)) => {
                return Err(UsageError(format!("{name} takes no value")));
            }
        };
        if given.insert(name, value).is_some() {
            return Err(UsageError(format!("{name} is given twice")));
        }
    }

    let seconds = |flag: &str, default: Duration| match given.get(flag) {
        Some(text) => parse_seconds(flag, text),
        None => Ok(default),
    };
    let port = match given.get("--port") {
        Some(text) => parse_port(text)?,
        None => defaults.port,
    };
    if mode == Mode::Client && port == 0 {
        return Err(UsageError(
            "a client needs the server's real port, not 0".into(),
        ));
    }
    let host = match given.get("--host") {
        Some(text) if text.trim().is_empty() => {
            return Err(UsageError(
                "--host needs a host name or an IPv4 address, such as \
                 127.0.0.1 (0.0.0.0 means every interface)"
                    .into(),
            ));
        }
        Some(text) => text.clone(),
        None => DEFAULT_HOST.to_string(),
    };
    let chunk = match given.get("--chunk") {
        Some(text) => Some(parse_bytes("--chunk", text)?),
        None => None,
    };
    if given.contains_key("--pause") && chunk.is_none() {
        return Err(UsageError(
            "--pause goes with --chunk: it is the pause between pieces".into(),
        ));
    }
    let mut extra = BTreeMap::new();
    for option in lesson_options {
        match (given.get(option.flag), option.value) {
            (Some(_), Value::Switch) => {
                extra.insert(option.flag, String::new());
            }
            (None, Value::Switch) => {}
            (given, value) => {
                let text = given.map_or(option.default, String::as_str);
                check_value(option.flag, value, text)?;
                extra.insert(option.flag, text.to_string());
            }
        }
    }
    Ok(Command::Run(Options {
        mode,
        host,
        port,
        once: given.contains_key("--once"),
        wait: seconds("--wait", defaults.wait)?,
        deadline: seconds("--deadline", DEFAULT_DEADLINE)?,
        buffer: match (given.get("--buffer"), defaults.buffer) {
            (Some(text), Some(_)) => parse_bytes("--buffer", text)?,
            (Some(_), None) => {
                return Err(UsageError(
                    "--buffer does not apply: this lesson's client does not \
                     read into a buffer of its own"
                        .into(),
                ));
            }
            (None, buffer) => buffer.unwrap_or(0),
        },
        pace: Pace { chunk, pause: seconds("--pause", DEFAULT_PAUSE)? },
        show: Show {
            hex: given.contains_key("--hex"),
            trace: given.contains_key("--trace"),
        },
        extra: Extra(extra),
    }))
}

fn check_value(flag: &str, value: Value, text: &str) -> Result<(), UsageError> {
    match value {
        Value::Text if text.is_empty() => {
            Err(UsageError(format!("{flag} needs some text, not ''")))
        }
        Value::Count { max } => match text.parse::<u64>() {
            Ok(number) if (1..=max).contains(&number) => Ok(()),
            _ => Err(UsageError(format!(
                "{flag} takes a whole number from 1 to {max}, not '{text}'"
            ))),
        },
        _ => Ok(()),
    }
}

fn parse_port(text: &str) -> Result<u16, UsageError> {
    text.parse().map_err(|_| {
        UsageError(format!(
            "--port takes a whole number from 0 to 65535, not '{text}'"
        ))
    })
}

/// The largest `--chunk` or `--buffer`: 64 KiB, a common size for one
/// `recv`.
const MAX_BYTES: usize = 65536;

fn parse_bytes(flag: &str, text: &str) -> Result<usize, UsageError> {
    match text.parse() {
        Ok(bytes) if (1..=MAX_BYTES).contains(&bytes) => Ok(bytes),
        _ => Err(UsageError(format!(
            "{flag} takes a number of bytes from 1 to {MAX_BYTES}, not '{text}'"
        ))),
    }
}

fn parse_seconds(flag: &str, text: &str) -> Result<Duration, UsageError> {
    // --pause may be 0 (pieces sent back to back); a wait must be at least
    // a millisecond, so that it is not 0 once the system rounds it.
    let least = if flag == "--pause" { 0.0 } else { 0.001 };
    match text.parse::<f64>() {
        Ok(seconds) if seconds >= least && seconds <= MAX_SECONDS => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => Err(UsageError(format!(
            "{flag} takes a number of seconds from {least} and at most \
             {MAX_SECONDS}, not '{text}'"
        ))),
    }
}

/// The text `--help` prints, and a usage error follows with.
pub fn usage(
    lesson: &str,
    title: &str,
    defaults: Defaults,
    lesson_options: &[LessonOption],
) -> String {
    let mut text = format!(
        indoc::indoc! {"
            {lesson}: {title}

            Usage:
              cargo run --example {lesson}             a demo: server and client
              cargo run --example {lesson} -- server [OPTIONS]
              cargo run --example {lesson} -- client [OPTIONS]

            Options:
              --host HOST        server: the address to listen on; client: the
                                 server to connect to [default: {host}]
              --port PORT        the port; a server given 0 lets the system pick
                                 one [default: {port}]
              --once             server: serve one client, then exit
                                 (without it: until Ctrl-C)
              --wait SECONDS     client: how long connect and each recv wait
                                 [default: {wait}]
              --deadline SECONDS client: how long it may run in all
                                 [default: {deadline}]
        "},
        lesson = lesson,
        title = title,
        host = DEFAULT_HOST,
        port = defaults.port,
        wait = defaults.wait.as_secs_f64(),
        deadline = DEFAULT_DEADLINE.as_secs_f64(),
    );
    if let Some(bytes) = defaults.buffer {
        text.push_str(&format!(
            concat!(
                "  --buffer BYTES     client: the most one recv may return\n",
                "                     [default: {bytes}]\n",
            ),
            bytes = bytes
        ));
    }
    text.push_str(&format!(
        concat!(
            "  --chunk BYTES      server: send in pieces of at most BYTES \
             bytes,\n",
            "                     each its own send (slow motion)\n",
            "  --pause SECONDS    server: the pause between pieces\n",
            "                     [default: {pause}]\n",
            "  --hex              show every byte sent and received, in hex\n",
            "  --trace            say what each call waits for, and what it\n",
            "                     returned\n",
        ),
        pause = DEFAULT_PAUSE.as_secs_f64(),
    ));
    for option in lesson_options {
        let side = match option.side {
            Side::Server => "server: ",
            Side::Client => "client: ",
            Side::Both => "",
        };
        let flag = match option.value {
            Value::Switch => option.flag.to_string(),
            _ => format!("{} {}", option.flag, option.placeholder),
        };
        text.push_str(&format!("  {flag:<18} {side}{}\n", option.help));
        if option.value != Value::Switch {
            let default = option.default;
            text.push_str(&format!("{:21}[default: {default}]\n", ""));
        }
    }
    text.push_str(
        "  -h, --help         print this help\n\nThe demo takes every \
         option but --host, --port and --once.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Defaults = Defaults {
        port: 4101,
        wait: Duration::from_secs(10),
        buffer: Some(1024),
    };

    const MESSAGE: LessonOption = LessonOption {
        flag: "--message",
        value: Value::Text,
        placeholder: "TEXT",
        default: "hello",
        side: Side::Client,
        help: "what to send",
    };

    fn parsed(words: &[&str]) -> Result<Options, UsageError> {
        match parse(words.iter().copied(), DEFAULTS, &[MESSAGE])? {
            Command::Run(options) => Ok(options),
            Command::Help => Err(UsageError("help".into())),
        }
    }

    #[test]
    fn no_words_is_the_demo_with_the_defaults() {
        let options = parsed(&[]).unwrap();
        assert_eq!(options.mode, Mode::Demo);
        assert_eq!(options.wait, DEFAULTS.wait);
        assert_eq!(options.pace, Pace { chunk: None, pause: DEFAULT_PAUSE });
        assert_eq!(options.extra.text("--message"), "hello");
    }

    #[test]
    fn server_takes_its_options_in_both_spellings() {
        let options = parsed(&[
            "server",
            "--host",
            "0.0.0.0",
            "--port=0",
            "--once",
            "--chunk",
            "5",
            "--pause=0",
            "--hex",
        ])
        .unwrap();
        assert_eq!((options.host.as_str(), options.port), ("0.0.0.0", 0));
        assert!(options.once && options.show.hex && !options.show.trace);
        assert_eq!(
            options.pace,
            Pace { chunk: Some(5), pause: Duration::ZERO }
        );
    }

    #[test]
    fn client_takes_fractional_waits_and_its_lessons_options() {
        let options =
            parsed(&["client", "--wait", "0.5", "--message", "hi"]).unwrap();
        assert_eq!(options.wait, Duration::from_millis(500));
        assert_eq!(options.extra.text("--message"), "hi");
    }

    #[test]
    fn bad_values_and_misplaced_options_are_usage_errors() {
        for words in [
            &["server", "--port", "70000"][..],
            &["server", "--port", "abc"],
            &["server", "--port"],
            &["server", "--host", ""],
            &["server", "--chunk", "0"],
            &["server", "--pause", "1"],
            &["server", "--message", "x"],
            &["client", "--wait", "-1"],
            &["client", "--wait", "nan"],
            &["client", "--wait", "1e-10"],
            &["client", "--port", "0"],
            &["client", "--once"],
            &["client", "--chunk", "3"],
            &["client", "--message", ""],
            &["client", "--hex=yes"],
            &["client", "--wait", "1", "--wait", "2"],
            &["--port", "5000"],
            &["--verbose"],
            &["serve"],
            &["--once", "server"],
        ] {
            assert!(parsed(words).is_err(), "{words:?} should be refused");
        }
    }

    #[test]
    fn help_wins_wherever_it_stands() {
        let words = ["client", "--port", "1", "--help"];
        assert_eq!(parse(words, DEFAULTS, &[]), Ok(Command::Help));
    }

    #[test]
    fn usage_shows_the_lessons_defaults_within_80_columns() {
        let defaults = Defaults {
            port: 4103,
            wait: Duration::from_secs(2),
            buffer: Some(7),
        };
        let text = usage("lesson_03", "loop receive", defaults, &[MESSAGE]);
        assert!(text.contains("[default: 4103]"), "{text}");
        assert!(text.contains("[default: 2]"), "{text}");
        assert!(text.contains("--message TEXT"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line}");
        }
    }
}
