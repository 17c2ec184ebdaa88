//! Running a lesson: `LESSON.main()` parses the command line (with clap),
//! resolves the host, runs the demo, the server or the client, and turns an
//! error into one line and exit status 1.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::{Args, Command, FromArgMatches};
use colored::Colorize;

use crate::cli::{self, Connect, Listen, Show};
use crate::errors::{self, Situation};
use crate::output::Out;

/// One lesson: its example's name, what it shows, its default `--port` and
/// `--wait` (seconds), whether it offers `--trace` and `--hex`, both sides.
pub struct Lesson<S, C> {
    pub name: &'static str,
    pub about: &'static str,
    pub port: u16,
    pub wait: &'static str,
    pub show: bool,
    pub server: Side<Server<S>>,
    pub client: Side<Client<C>>,
}

/// A side of a lesson: its code, given what it was told and where to print.
pub type Side<T> = fn(&T, &Out) -> io::Result<()>;

/// What a server was told: where to listen, `--once`, its lesson's options.
pub struct Server<S> {
    pub address: SocketAddr,
    pub once: bool,
    pub options: S,
}

/// What a client was told: `wait` for `connect` and each `recv`, whether
/// it is the demo's (which may play a scripted part), its lesson's options.
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

impl<S: Args + Send + 'static, C: Args> Lesson<S, C> {
    /// Runs the lesson as the command line says; returns the exit status.
    pub fn main(&self) -> ExitCode {
        self.run().unwrap_or_else(|error| {
            // --help is an error too (exit 0, unless it cannot be printed).
            let failed = i32::from(error.print().is_err());
            ExitCode::from(error.exit_code().max(failed) as u8)
        })
    }

    fn run(&self) -> Result<ExitCode, clap::Error> {
        let matches = self.command().try_get_matches()?;
        let show = self.show.then(|| Show::from_arg_matches(&matches));
        let show = show.transpose()?.unwrap_or_default();
        let server = Out::new("[server]".cyan().bold(), show);
        let client = Out::new("[client]".green().bold(), show);
        Ok(match matches.subcommand() {
            None => self.demo(C::from_arg_matches(&matches)?, server, &client),
            Some(("server", side)) => {
                let listen = Listen::from_arg_matches(side)?;
                serve(self.server, &listen, S::from_arg_matches(side)?, &server)
            }
            Some((_, side)) => {
                let to = Connect::from_arg_matches(side)?;
                self.connect(&to, C::from_arg_matches(side)?, false, &client)
            }
        })
    }

    fn command(&self) -> Command {
        let port = self.port.to_string();
        let defaults = |arg: clap::Arg| match arg.get_id().as_str() {
            "port" => arg.default_value(port.clone()).required(false),
            "wait" => arg.default_value(self.wait).required(false),
            _ => arg,
        };
        // About set last: a flattened struct's doc comment would be it.
        let server =
            S::augment_args(Listen::augment_args(Command::new("server")))
                .about("Listen, and serve clients (until Ctrl-C, or --once)");
        let client =
            C::augment_args(Connect::augment_args(Command::new("client")))
                .about("Connect to the server");
        let top = C::augment_args(Command::new(self.name));
        let top = if self.show { Show::augment_args(top) } else { top };
        top.subcommands([server, client])
            .args_conflicts_with_subcommands(true)
            .disable_help_subcommand(true)
            .bin_name(format!("cargo run --example {} --", self.name))
            .about(format!("{}: {}", self.name, self.about))
            .after_help(DEMO)
            .mut_subcommands(|side| side.mut_args(defaults))
    }

    fn connect(&self, to: &Connect, own: C, demo: bool, out: &Out) -> ExitCode {
        let (lesson, wait) = (self.name, to.wait);
        let result = errors::resolve(&to.host, to.port).and_then(|server| {
            let client = Client { server, wait, demo, options: own };
            let situation = Situation::Connecting { lesson, server, wait };
            (self.client)(&client, out)
                .map_err(|e| errors::explain(&e, situation))
        });
        finish(out, result)
    }

    /// The demo: the server in a thread, on a port the system picks, for one
    /// client, which starts once the server printed `listening on`. Where
    /// neither side waits for the other, lines may interleave differently.
    fn demo(&self, options: C, mut server: Out, client: &Out) -> ExitCode {
        // The server's own options as their defaults.
        let defaults = S::augment_args(Command::new(self.name))
            .get_matches_from([self.name]);
        let own = S::from_arg_matches(&defaults).expect("defaults parse");
        let host = String::from("127.0.0.1");
        let listen = Listen { host: host.clone(), port: 0, once: true };
        let (sender, listening) = mpsc::channel();
        server.listening = Some(sender);
        let run = self.server;
        let server = thread::spawn(move || serve(run, &listen, own, &server));
        let Ok(address) = listening.recv() else {
            // The server never listened: it has said why.
            return server.join().unwrap_or(ExitCode::FAILURE);
        };
        let wait = cli::seconds(self.wait).expect("a lesson's wait parses");
        let to = Connect { host, port: address.port(), wait };
        let status = self.connect(&to, options, true, client);
        // Not after a client that failed: the server may be waiting for it.
        match status == ExitCode::SUCCESS {
            true => server.join().unwrap_or(ExitCode::FAILURE),
            false => status,
        }
    }
}

const DEMO: &str =
    "No command: a demo of both sides; its client takes the options above.";

/// Runs a lesson's server, and says what went wrong, if anything.
fn serve<S>(run: Side<Server<S>>, on: &Listen, own: S, out: &Out) -> ExitCode {
    let result = errors::resolve(&on.host, on.port).and_then(|address| {
        let server = Server { address, once: on.once, options: own };
        run(&server, out).map_err(|error| server.explain(&error))
    });
    finish(out, result)
}

fn finish(out: &Out, result: Result<(), String>) -> ExitCode {
    let failed = result.inspect_err(|why| out.error(why)).is_err();
    ExitCode::from(u8::from(failed || out.write_failed()))
}
