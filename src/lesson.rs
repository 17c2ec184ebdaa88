//! What a lesson is, and how one is run: as a demo, a server or a client.

use std::env;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::cli::{self, Command, Defaults};
use crate::errors::{self, RUNTIME_ERROR, Situation, USAGE_ERROR};
use crate::output::{Out, Role};

/// One step of the tutorial: a server, a client, and the defaults they agree on.
///
/// A lesson's `main` is `LESSON.main()`; everything the lesson teaches is in its two functions.
#[derive(Debug, Clone, Copy)]
pub struct Lesson {
    /// The example's name, as in `cargo run --example lesson_01`.
    pub name: &'static str,
    /// What the lesson shows, in a few words.
    pub title: &'static str,
    /// The port both sides use unless told otherwise, and how long the client waits.
    pub defaults: Defaults,
    pub server: fn(&ServerConfig, &Out) -> io::Result<()>,
    pub client: fn(&ClientConfig, &Out) -> io::Result<()>,
}

/// Where a server listens, and for how many clients.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub address: SocketAddrV4,
    /// Serve one client and return, instead of serving until interrupted.
    pub once: bool,
}

/// Which server a client talks to, and how long it waits for it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub server: SocketAddrV4,
    /// The longest a client waits for `connect(2)` and for each `recv(2)`: a client of these
    /// lessons never hangs forever.
    pub wait: Duration,
}

impl ServerConfig {
    /// The tutorial's `while True:` around `accept()`: calls `serve_one` for one client after
    /// another, once only with `--once`.
    ///
    /// One client's failure (it reset the connection, went away while we were sending) is
    /// reported and the loop goes on: a server must outlive its clients' mistakes.
    pub fn serve_clients(
        &self,
        out: &Out,
        mut serve_one: impl FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        loop {
            match serve_one() {
                Err(error) if !self.once => out.error(format_args!(
                    "{} Waiting for the next client.",
                    errors::explain(
                        &error,
                        Situation::Serving { address: self.address }
                    )
                )),
                result => result?,
            }
            if self.once {
                return Ok(());
            }
        }
    }
}

impl Lesson {
    /// Runs the lesson as the command line says, and returns the exit status.
    pub fn main(&self) -> ExitCode {
        let words: Result<Vec<String>, _> =
            env::args_os().skip(1).map(|word| word.into_string()).collect();
        let command = match words {
            Ok(words) => cli::parse(words, self.defaults),
            Err(word) => {
                Err(cli::UsageError(format!("{word:?} is not valid text")))
            }
        };
        match command {
            Err(error) => {
                eprint!("error: {error}\n\n{}", self.usage());
                ExitCode::from(USAGE_ERROR)
            }
            Ok(Command::Help) => {
                print!("{}", self.usage());
                ExitCode::SUCCESS
            }
            Ok(Command::Demo { wait }) => self.demo(wait),
            Ok(Command::Server { host, port, once }) => {
                let out = Out::new(Role::Server);
                let result = errors::resolve(&host, port).and_then(|address| {
                    let config = ServerConfig { address, once };
                    (self.server)(&config, &out).map_err(|error| {
                        self.explained(error, Situation::Serving { address })
                    })
                });
                self.finish(&out, result)
            }
            Ok(Command::Client { host, port, wait }) => {
                let out = Out::new(Role::Client);
                let result = errors::resolve(&host, port).and_then(|server| {
                    (self.client)(&ClientConfig { server, wait }, &out).map_err(
                        |error| {
                            self.explained(error, self.connecting(server, wait))
                        },
                    )
                });
                self.finish(&out, result)
            }
        }
    }

    /// The demo: the server in a thread on a port the system picks, the client against it.
    ///
    /// The client starts only when the server has printed `listening on`, so the lines come
    /// in the same order on every run: each line either side prints follows, in time, from
    /// one the other side printed before it.
    fn demo(&self, wait: Duration) -> ExitCode {
        let (listening, address) = mpsc::channel();
        let lesson = *self;
        let server = thread::spawn(move || {
            let out = Out::announcing_to(Role::Server, listening);
            let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
            let result =
                (lesson.server)(&ServerConfig { address, once: true }, &out);
            lesson.finish(
                &out,
                result.map_err(|error| {
                    lesson.explained(error, Situation::Serving { address })
                }),
            )
        });
        let Ok(address) = address.recv() else {
            // The server never got to listen: it has said why.
            return server.join().unwrap_or(ExitCode::from(RUNTIME_ERROR));
        };
        let out = Out::new(Role::Client);
        let result =
            (self.client)(&ClientConfig { server: address, wait }, &out);
        if result.is_err() {
            // Not waiting for the server: it may be blocked on a client that is gone.
            return self.finish(
                &out,
                result.map_err(|error| {
                    self.explained(error, self.connecting(address, wait))
                }),
            );
        }
        server.join().unwrap_or(ExitCode::from(RUNTIME_ERROR))
    }

    fn connecting(
        &self,
        server: SocketAddrV4,
        wait: Duration,
    ) -> Situation<'static> {
        Situation::Connecting { lesson: self.name, server, wait }
    }

    fn explained(
        &self,
        error: io::Error,
        situation: Situation<'_>,
    ) -> io::Error {
        io::Error::new(error.kind(), errors::explain(&error, situation))
    }

    fn finish(&self, out: &Out, result: io::Result<()>) -> ExitCode {
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                out.error(error);
                ExitCode::from(RUNTIME_ERROR)
            }
        }
    }

    fn usage(&self) -> String {
        cli::usage(self.name, self.title, self.defaults)
    }
}
