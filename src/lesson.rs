//! Running a lesson: as a demo, a server or a client.
//!
//! A lesson's `main` is `LESSON.main()`. The lesson's file holds the
//! server and the client, and a struct of options for each side; this
//! module parses the command line (with clap), resolves the host, runs the
//! chosen side, and turns an error into one line and exit status 1.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser};

use crate::cli::{self, Connect, Listen, Show};
use crate::errors::{self, RUNTIME_ERROR, Situation};
use crate::output::{Out, Role};

/// One lesson: a server, a client, and what they agree on.
#[derive(Debug, Clone, Copy)]
pub struct Lesson<S, C> {
    /// The example's name, as in `cargo run --example lesson_01`.
    pub name: &'static str,
    /// What the lesson shows, in a few words.
    pub about: &'static str,
    /// The port both sides use unless told otherwise.
    pub port: u16,
    /// How long the client's connect and each recv wait, unless told.
    pub wait: &'static str,
    /// Whether the lesson offers `--trace` and `--hex`.
    pub show: bool,
    pub server: fn(&Server<S>, &Out) -> io::Result<()>,
    pub client: fn(&Client<C>, &Out) -> io::Result<()>,
}

/// What a server was told: where to listen, for how many clients, and the
/// lesson's own server options.
#[derive(Debug, Clone)]
pub struct Server<S> {
    pub address: SocketAddr,
    /// `--once`: serve one client, then return.
    pub once: bool,
    pub options: S,
}

/// What a client was told: which server, how long to wait for each call,
/// and the lesson's own client options.
#[derive(Debug, Clone)]
pub struct Client<C> {
    pub server: SocketAddr,
    /// `--wait`: the longest `connect` and each `recv` wait.
    pub wait: Duration,
    /// Whether this is the demo's client (which may play a scripted part).
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
    /// With no command, the demo: its client takes the client's own options.
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

impl<S, C> Lesson<S, C>
where
    S: Args + Send + 'static,
    C: Args,
{
    /// Runs the lesson as the command line says; returns the exit status.
    pub fn main(&self) -> ExitCode {
        let matches = match self.command().try_get_matches() {
            Ok(matches) => matches,
            Err(error) => {
                // --help is an "error" too, printed on stdout, exit 0: unless
                // it could not be printed.
                let code = error.exit_code() as u8;
                let printed = error.print().is_ok();
                return ExitCode::from(if printed || code != 0 {
                    code
                } else {
                    1
                });
            }
        };
        let show = show(&matches);
        let (out, result) = match self.parse(&matches) {
            Ok(Command { side: Some(side), .. }) => self.run(side, show),
            Ok(Command { side: None, demo }) => return self.demo(demo, show),
            Err(error) => (Out::new(Role::Client, show), Err(error)),
        };
        finish(&out, result)
    }

    fn command(&self) -> clap::Command {
        let port = self.port.to_string();
        // Defaults that differ from lesson to lesson, set when it runs.
        let set_port = |c: clap::Command| {
            c.mut_arg("port", |arg| {
                arg.default_value(port.clone()).required(false)
            })
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
            .mut_subcommand("server", set_port)
            .mut_subcommand("client", |c| {
                set_port(c).mut_arg("wait", |arg| {
                    arg.default_value(self.wait).required(false)
                })
            })
    }

    fn parse(&self, matches: &ArgMatches) -> io::Result<Command<S, C>> {
        Command::<S, C>::from_arg_matches(matches)
            .map_err(|error| io::Error::other(error.to_string()))
    }

    /// The server's options as their defaults, for the demo.
    fn server_defaults(&self) -> S {
        let words = [self.name, "server"].map(OsString::from);
        let matches = self.command().get_matches_from(words);
        match self.parse(&matches).map(|command| command.side) {
            Ok(Some(Side::Server { own, .. })) => own,
            _ => unreachable!("a server's defaults parse"),
        }
    }

    fn run(&self, side: Side<S, C>, show: Show) -> (Out, io::Result<()>) {
        match side {
            Side::Server { listen, own } => {
                let out = Out::new(Role::Server, show);
                let result = errors::resolve(&listen.host, listen.port)
                    .and_then(|address| {
                        let once = listen.once;
                        let server = Server { address, once, options: own };
                        self.serve(&server, &out)
                    });
                (out, result)
            }
            Side::Client { connect, own } => {
                let out = Out::new(Role::Client, show);
                let result = errors::resolve(&connect.host, connect.port)
                    .and_then(|server| {
                        let (wait, demo) = (connect.wait, false);
                        let client =
                            Client { server, wait, demo, options: own };
                        self.connect(&client, &out)
                    });
                (out, result)
            }
        }
    }

    fn serve(&self, server: &Server<S>, out: &Out) -> io::Result<()> {
        let situation = Situation::Serving { address: server.address };
        let result = (self.server)(server, out);
        result.map_err(|error| explained(error, situation))
    }

    fn connect(&self, client: &Client<C>, out: &Out) -> io::Result<()> {
        let situation = Situation::Connecting {
            lesson: self.name,
            server: client.server,
            wait: client.wait,
        };
        let result = (self.client)(client, out);
        result.map_err(|error| explained(error, situation))
    }

    /// The demo: the server in a thread, on a port the system picks, for
    /// one client; the client starts once it has printed `listening on`.
    /// Where neither side waits for the other, their lines may interleave
    /// differently from run to run.
    fn demo(&self, client_own: C, show: Show) -> ExitCode {
        let own = self.server_defaults();
        let (sender, listening) = mpsc::channel();
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = Server { address: local, once: true, options: own };
        let out = Out::new(Role::Server, show).announcing(sender);
        let serve = self.server;
        let server = thread::spawn(move || {
            let situation = Situation::Serving { address: server.address };
            let result = serve(&server, &out);
            finish(&out, result.map_err(|e| explained(e, situation)))
        });
        let Ok(address) = listening.recv() else {
            // The server never listened: it has said why.
            return server.join().unwrap_or(ExitCode::from(RUNTIME_ERROR));
        };
        let out = Out::new(Role::Client, show);
        let wait = cli::seconds(self.wait).expect("a lesson's wait parses");
        let options = client_own;
        let client = Client { server: address, wait, demo: true, options };
        let result = self.connect(&client, &out);
        let failed = result.is_err();
        let status = finish(&out, result);
        if failed {
            // Not waiting for a server that may wait for this client.
            return status;
        }
        match server.join() {
            Ok(server) if status == ExitCode::SUCCESS => server,
            _ => ExitCode::from(RUNTIME_ERROR),
        }
    }
}

const DEMO: &str =
    "No command: a demo of both sides; its client takes the options above.";

fn show(matches: &ArgMatches) -> Show {
    let flag = |name| matches.try_get_one::<bool>(name).ok().flatten().copied();
    Show {
        trace: flag("trace").unwrap_or(false),
        hex: flag("hex").unwrap_or(false),
    }
}

fn finish(out: &Out, result: io::Result<()>) -> ExitCode {
    match result {
        Err(error) => {
            out.error(error);
            ExitCode::from(RUNTIME_ERROR)
        }
        Ok(()) if out.write_failed() => ExitCode::from(RUNTIME_ERROR),
        Ok(()) => ExitCode::SUCCESS,
    }
}

fn explained(error: io::Error, situation: Situation<'_>) -> io::Error {
    io::Error::new(error.kind(), errors::explain(&error, situation))
}
