//! The command line every lesson shares.
//!
//! ```text
//! lesson_0N                                    the demo: server and client in one process
//! lesson_0N server [--host H] [--port P] [--once]
//! lesson_0N client [--host H] [--port P] [--wait SECONDS]
//! lesson_0N --help
//! ```
//!
//! Three flags do not need an argument-parsing crate: this module is a loop over the words.

use std::fmt;
use std::time::Duration;

/// The host a server binds and a client connects to when `--host` is not given.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The longest `--wait` accepted: an hour is already far longer than any lesson needs.
const MAX_WAIT_SECONDS: f64 = 3600.0;

/// What the user asked a lesson to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the server in a thread and a client against it, on a port the system picks.
    Demo { wait: Duration },
    /// Serve clients until interrupted, or one client with `--once`.
    Server { host: String, port: u16, once: bool },
    /// Connect to a server and receive what it sends.
    Client { host: String, port: u16, wait: Duration },
    /// Print the usage and exit 0.
    Help,
}

/// The defaults a lesson sets for its command line.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// The port this lesson's server and client agree on.
    pub port: u16,
    /// How long the client's `recv` waits for data before it gives up.
    pub wait: Duration,
}

/// A command line that cannot be understood: print the message and the usage, exit 2.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Reads the words after the program name.
pub fn parse<I, S>(words: I, defaults: Defaults) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut words = words.into_iter().map(Into::into).peekable();
    let mode = match words.peek().map(String::as_str) {
        Some("server") | Some("client") => words.next(),
        _ => None,
    };
    let mut host = None;
    let mut port = None;
    let mut wait = None;
    let mut once = false;
    while let Some(word) = words.next() {
        let (flag, inline_value) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (word.clone(), None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| words.next())
                .ok_or_else(|| UsageError(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--host" => host = Some(parse_host(&value()?)?),
            "--port" => port = Some(parse_port(&value()?)?),
            "--wait" => wait = Some(parse_wait(&value()?)?),
            "--once" if inline_value.is_none() => once = true,
            "server" | "client" => {
                return Err(UsageError(format!(
                    "'{word}' must come first, before any flag"
                )));
            }
            _ if word.starts_with('-') => {
                return Err(UsageError(format!("unknown flag '{word}'")));
            }
            _ => {
                return Err(UsageError(format!("unexpected argument '{word}'")));
            }
        }
    }
    let given = [
        ("--host", host.is_some()),
        ("--port", port.is_some()),
        ("--wait", wait.is_some()),
        ("--once", once),
    ];
    let only = |allowed: &[&str]| match given
        .iter()
        .find(|(flag, set)| *set && !allowed.contains(flag))
    {
        Some((flag, _)) => Err(UsageError(format!(
            "{flag} is not an option of {}",
            mode.as_deref().unwrap_or("the demo")
        ))),
        None => Ok(()),
    };
    let host = host.unwrap_or_else(|| DEFAULT_HOST.to_string());
    let port = port.unwrap_or(defaults.port);
    let wait = wait.unwrap_or(defaults.wait);
    match mode.as_deref() {
        Some("server") => only(&["--host", "--port", "--once"])
            .map(|()| Command::Server { host, port, once }),
        Some("client") if port == 0 => Err(UsageError(
            "a client needs the server's real port, not 0".into(),
        )),
        Some("client") => only(&["--host", "--port", "--wait"])
            .map(|()| Command::Client { host, port, wait }),
        _ => only(&["--wait"]).map(|()| Command::Demo { wait }),
    }
}

fn parse_host(text: &str) -> Result<String, UsageError> {
    if text.trim().is_empty() {
        return Err(UsageError(
            "--host needs a host name or an IPv4 address, such as 127.0.0.1"
                .into(),
        ));
    }
    Ok(text.to_string())
}

fn parse_port(text: &str) -> Result<u16, UsageError> {
    text.parse().map_err(|_| {
        UsageError(format!(
            "--port takes a whole number from 0 to 65535, not '{text}'"
        ))
    })
}

fn parse_wait(text: &str) -> Result<Duration, UsageError> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= MAX_WAIT_SECONDS => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => Err(UsageError(format!(
            "--wait takes a number of seconds above 0 and at most {MAX_WAIT_SECONDS}, not '{text}'"
        ))),
    }
}

/// The text `--help` prints, and a usage error follows with.
pub fn usage(lesson: &str, title: &str, defaults: Defaults) -> String {
    format!(
        indoc::indoc! {"
            {lesson}: {title}

            Usage:
              cargo run --example {lesson}                    run server and client together (a demo)
              cargo run --example {lesson} -- server [OPTIONS]
              cargo run --example {lesson} -- client [OPTIONS]

            Options:
              --host HOST       server: address to listen on; client: server to connect to [default: {host}]
              --port PORT       the port; a server given 0 lets the system pick one [default: {port}]
              --once            server: serve one client, then exit (without it: until Ctrl-C)
              --wait SECONDS    client and demo: how long connect and recv wait for the server [default: {wait}]
              -h, --help        print this help
        "},
        lesson = lesson,
        title = title,
        host = DEFAULT_HOST,
        port = defaults.port,
        wait = defaults.wait.as_secs_f64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Defaults =
        Defaults { port: 4101, wait: Duration::from_secs(10) };

    fn parsed(words: &[&str]) -> Result<Command, UsageError> {
        parse(words.iter().copied(), DEFAULTS)
    }

    #[test]
    fn no_words_is_the_demo_with_the_default_wait() {
        assert_eq!(parsed(&[]), Ok(Command::Demo { wait: DEFAULTS.wait }));
    }

    #[test]
    fn server_takes_host_port_and_once_in_both_spellings() {
        assert_eq!(
            parsed(&["server", "--host", "0.0.0.0", "--port=0", "--once"]),
            Ok(Command::Server { host: "0.0.0.0".into(), port: 0, once: true })
        );
    }

    #[test]
    fn client_defaults_to_the_lessons_port_and_takes_fractional_waits() {
        assert_eq!(
            parsed(&["client", "--wait", "0.5"]),
            Ok(Command::Client {
                host: DEFAULT_HOST.into(),
                port: 4101,
                wait: Duration::from_millis(500)
            })
        );
    }

    #[test]
    fn bad_values_and_misplaced_flags_are_usage_errors() {
        for words in [
            &["server", "--port", "70000"][..],
            &["server", "--port", "abc"],
            &["server", "--port"],
            &["client", "--wait", "-1"],
            &["client", "--wait", "nan"],
            &["client", "--port", "0"],
            &["client", "--once"],
            &["server", "--wait", "1"],
            &["--port", "5000"],
            &["--verbose"],
            &["--once=yes", "server"],
            &["serve"],
            &["--once", "server"],
        ] {
            assert!(parsed(words).is_err(), "{words:?} should be refused");
        }
    }

    #[test]
    fn help_wins_wherever_it_stands() {
        assert_eq!(
            parsed(&["client", "--port", "1", "--help"]),
            Ok(Command::Help)
        );
    }

    #[test]
    fn usage_shows_the_lessons_defaults() {
        let text = usage(
            "lesson_03",
            "loop receive",
            Defaults { port: 4103, wait: Duration::from_secs(2) },
        );
        assert!(
            text.contains("[default: 4103]") && text.contains("[default: 2]"),
            "{text}"
        );
    }
}
