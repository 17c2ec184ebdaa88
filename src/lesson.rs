//! Running a lesson: as a demo, a server or a client.
//!
//! A lesson's `main` is `LESSON.main()`: this module parses the command
//! line (with clap), resolves the host, runs the chosen side, and turns an
//! error into one line and exit status 1.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser};
use colored::Colorize;

use crate::cli::{self, Connect, Listen, Show};
use crate::errors::{self, Situation};
use crate::output::Out;

/// One lesson: a server, a client, and what they agree on.
pub struct Lesson<S, C> {
    /// The example's name, as in `cargo run --example lesson_01`.
    pub name: &'static str,
    /// What the lesson shows, in a few words.
    pub about: &'static str,
    /// The port both sides use unless told otherwise.
    pub port: u16,
    /// The client's `--wait` unless told otherwise, in seconds.
    pub wait: &'static str,
    /// Whether the lesson offers `--trace` and `--hex`.
    pub show: bool,
    pub server: fn(&Server<S>, &Out) -> io::Result<()>,
    pub client: fn(&Client<C>, &Out) -> io::Result<()>,
}

/// What a server was told: where to listen, whether to serve one client
/// only (`--once`), and the lesson's own server options.
pub struct Server<S> {
    pub address: SocketAddr,
    pub once: bool,
    pub options: S,
}

/// What a client was told: which server, how long `connect` and each
/// `recv` may wait (`--wait`), whether it is the demo's client (which may
/// play a scripted part), and the lesson's own client options.
pub struct Client<C> {
    pub server: SocketAddr,
    pub wait: Duration,
    pub demo: bool,
    pub options: C,
}

impl<S> Server<S> {
    /// `error`, met while serving, in words (`errors::explain`).
    pub fn explain(&self, error: &io::Error) -> String {
        errors::explain(error, Situation::Serving { address: self.address })
    }
}

#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Command<S: Args, C: Args> {
    // With no command, the demo: its client takes the client's own options.
    #[command(flatten)]
    demo: C,
    #[command(subcommand)]
    side: Option<Side<S, C>>,
}

#[derive(clap::Subcommand)]
enum Side<S: Args, C: Args> {
    /// Listen, and serve clients (until Ctrl-C, or --once)
    Server {
        #[command(flatten)]
        listen: Listen,
        #[command(flatten)]
        own: S,
    },
    /// Connect to the server
    Client {
        #[command(flatten)]
        connect: Connect,
        #[command(flatten)]
        own: C,
    },
}

impl<S: Args + Send + 'static, C: Args> Lesson<S, C> {
    /// Runs the lesson as the command line says; returns the exit status.
    pub fn main(&self) -> ExitCode {
        let parsed = self.command().try_get_matches().and_then(|matches| {
            let show = match self.show {
                true => Show::from_arg_matches(&matches)?,
                false => Show::default(),
            };
            Ok((Command::<S, C>::from_arg_matches(&matches)?, show))
        });
        let (command, show) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                // --help is an "error" too, printed on stdout, exit 0:
                // unless it could not be printed.
                let failed = i32::from(error.print().is_err());
                return ExitCode::from(error.exit_code().max(failed) as u8);
            }
        };
        let server = Out::new("[server]".cyan().bold(), show);
        let client = Out::new("[client]".green().bold(), show);
        match command.side {
            None => self.demo(command.demo, server, &client),
            Some(Side::Server { listen, own }) => {
                serve(self.server, &listen, own, &server)
            }
            Some(Side::Client { connect, own }) => {
                self.connect(&connect, own, false, &client)
            }
        }
    }

    fn command(&self) -> clap::Command {
        let port = self.port.to_string();
        // The defaults that differ from lesson to lesson.
        let defaults = |arg: clap::Arg| match arg.get_id().as_str() {
            "port" => arg.default_value(port.clone()).required(false),
            "wait" => arg.default_value(self.wait).required(false),
            _ => arg,
        };
        let mut command = Command::<S, C>::command();
        if self.show {
            command = Show::augment_args(command);
        }
        command
            .name(self.name)
            .disable_help_subcommand(true)
            .bin_name(format!("cargo run --example {} --", self.name))
            .about(format!("{}: {}", self.name, self.about))
            .after_help(DEMO)
            .mut_subcommands(|side| side.mut_args(defaults))
    }

    fn connect(
        &self,
        to: &Connect,
        options: C,
        demo: bool,
        out: &Out,
    ) -> ExitCode {
        let result = errors::resolve(&to.host, to.port).and_then(|server| {
            let client = Client { server, wait: to.wait, demo, options };
            let situation = Situation::Connecting {
                lesson: self.name,
                server,
                wait: to.wait,
            };
            (self.client)(&client, out).map_err(|error| {
                io::Error::other(errors::explain(&error, situation))
            })
        });
        finish(out, result)
    }

    /// The demo: the server in a thread, on a port the system picks, for
    /// one client; the client starts once it has printed `listening on`.
    /// Where neither side waits for the other, their lines may interleave
    /// differently from run to run.
    fn demo(&self, options: C, server: Out, client: &Out) -> ExitCode {
        // The server's own options as their defaults.
        let defaults = S::augment_args(clap::Command::new(self.name))
            .get_matches_from([self.name]);
        let own = S::from_arg_matches(&defaults).expect("defaults parse");
        let (host, once) = ("127.0.0.1".to_string(), true);
        let listen = Listen { host: host.clone(), port: 0, once };
        let (sender, listening) = mpsc::channel();
        let (run, out) = (self.server, server.announcing(sender));
        let server = thread::spawn(move || serve(run, &listen, own, &out));
        let Ok(address) = listening.recv() else {
            // The server never listened: it has said why.
            return server.join().unwrap_or(ExitCode::FAILURE);
        };
        let wait = cli::seconds(self.wait).expect("a lesson's wait parses");
        let to = Connect { host, port: address.port(), wait };
        let status = self.connect(&to, options, true, client);
        // A client that failed does not wait for a server that may wait for
        // it.
        match status == ExitCode::SUCCESS {
            true => server.join().unwrap_or(ExitCode::FAILURE),
            false => status,
        }
    }
}

const DEMO: &str =
    "No command: a demo of both sides; its client takes the options above.";

/// Runs a lesson's server, and says what went wrong, if anything.
fn serve<S>(
    run: fn(&Server<S>, &Out) -> io::Result<()>,
    listen: &Listen,
    options: S,
    out: &Out,
) -> ExitCode {
    let result =
        errors::resolve(&listen.host, listen.port).and_then(|address| {
            let server = Server { address, once: listen.once, options };
            run(&server, out)
                .map_err(|error| io::Error::other(server.explain(&error)))
        });
    finish(out, result)
}

fn finish(out: &Out, result: io::Result<()>) -> ExitCode {
    if let Err(error) = &result {
        out.error(error);
    }
    match result.is_ok() && !out.write_failed() {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}
