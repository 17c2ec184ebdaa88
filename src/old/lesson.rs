//! What a lesson is, and how one is run: as a demo, a server or a client.

use std::env;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use socket2::Socket;

use crate::old::cli::{
    self, Command, Defaults, Extra, LessonOption, Mode, Options, Pace,
};
use crate::old::errors::{self, RUNTIME_ERROR, Situation, USAGE_ERROR};
use crate::old::output::{Out, Role};
use crate::old::wire::Wire;

/// One step of the tutorial: a server, a client, and the defaults they agree
/// on.
///
/// A lesson's `main` is `LESSON.main()`; everything the lesson teaches is in
/// its two functions.
#[derive(Debug, Clone, Copy)]
pub struct Lesson {
    /// The example's name, as in `cargo run --example lesson_01`.
    pub name: &'static str,
    /// What the lesson shows, in a few words.
    pub title: &'static str,
    /// The port both sides use unless told otherwise, and how long the
    /// client waits.
    pub defaults: Defaults,
    /// Options of this lesson's own, besides the ones every lesson has.
    pub options: &'static [LessonOption],
    pub server: fn(&ServerConfig, &Out) -> io::Result<()>,
    pub client: fn(&ClientConfig, &Out) -> io::Result<()>,
}

/// Where a server listens, for how many clients, and how it sends.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub address: SocketAddrV4,
    /// Serve one client and return, instead of serving until interrupted.
    pub once: bool,
    /// `--chunk` and `--pause`: slow motion.
    pub pace: Pace,
    /// The lesson's own options.
    pub extra: Extra,
}

/// Which server a client talks to, and how long it waits for it.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub server: SocketAddrV4,
    /// The longest a client waits for `connect(2)` and for each `recv(2)`.
    pub wait: Duration,
    /// The longest a client runs in all: a client of these lessons never
    /// hangs forever, even on a server that sends a byte now and then.
    pub deadline: Duration,
    /// `--buffer`: the size of the buffer each `recv` fills (0 in a lesson
    /// whose client has none).
    pub buffer: usize,
    /// Whether this client is the demo's: a lesson whose client reads the
    /// keyboard can play a scripted part instead.
    pub demo: bool,
    /// The lesson's own options.
    pub extra: Extra,
}

impl ServerConfig {
    /// The server's socket, as a [`Wire`] that sends at the `--chunk` pace.
    pub fn wire(&self, socket: Socket, out: &Out) -> Wire {
        Wire::new(socket, out, self.pace, None)
    }

    /// The tutorial's `while True:` around `accept()`: calls `serve_one` for
    /// one client after another, once only with `--once`.
    ///
    /// One client's failure (it reset the connection, went away while we
    /// were sending) is reported and the loop goes on: a server must outlive
    /// its clients' mistakes.
    pub fn serve_clients(
        &self,
        out: &Out,
        mut serve_one: impl FnMut() -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.once {
            out.say("waiting for clients; Ctrl-C stops the server");
        }
        loop {
            match serve_one() {
                Err(error) if !self.once => {
                    let situation =
                        Situation::Serving { address: self.address };
                    out.error(errors::explain(&error, situation));
                }
                result => result?,
            }
            if self.once {
                return Ok(());
            }
            out.say("waiting for the next client; Ctrl-C stops the server");
        }
    }
}

impl ClientConfig {
    /// The client's socket, as a [`Wire`] with the client's deadline.
    pub fn wire(&self, socket: Socket, out: &Out) -> Wire {
        Wire::new(socket, out, Pace::default(), Some(self.deadline))
    }
}

impl Lesson {
    /// Runs the lesson as the command line says, and returns the exit status.
    pub fn main(&self) -> ExitCode {
        let words: Result<Vec<String>, _> =
            env::args_os().skip(1).map(|word| word.into_string()).collect();
        let command = match words {
            Ok(words) => cli::parse(words, self.defaults, self.options),
            Err(word) => {
                Err(cli::UsageError(format!("{word:?} is not valid text")))
            }
        };
        match command {
            Err(error) => {
                let usage = self.usage();
                // If even stderr cannot be written, the exit status still
                // says what happened.
                let _ = write!(io::stderr(), "error: {error}\n\n{usage}");
                ExitCode::from(USAGE_ERROR)
            }
            Ok(Command::Help) => match write!(io::stdout(), "{}", self.usage())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(RUNTIME_ERROR),
            },
            Ok(Command::Run(options)) => self.run(options),
        }
    }

    fn run(&self, options: Options) -> ExitCode {
        let role = match options.mode {
            Mode::Demo => return self.demo(options),
            Mode::Server => Role::Server,
            Mode::Client => Role::Client,
        };
        let out = Out::new(role, options.show);
        let result =
            errors::resolve(&options.host, options.port).and_then(|address| {
                match role {
                    Role::Server => {
                        self.serve(server_config(address, &options), &out)
                    }
                    Role::Client => {
                        self.connect(client_config(address, &options), &out)
                    }
                }
            });
        self.finish(&out, result)
    }

    fn serve(&self, config: ServerConfig, out: &Out) -> io::Result<()> {
        let situation = Situation::Serving { address: config.address };
        (self.server)(&config, out).map_err(|error| explained(error, situation))
    }

    fn connect(&self, config: ClientConfig, out: &Out) -> io::Result<()> {
        let situation = self.connecting(&config);
        (self.client)(&config, out).map_err(|error| explained(error, situation))
    }

    /// The demo: the server in a thread on a port the system picks, the
    /// client against it.
    ///
    /// The client starts only when the server has printed `listening on`.
    /// From then on the two sides run at once, so where neither waits for
    /// the other their lines may interleave differently from run to run;
    /// each side's own lines always come in the same order.
    fn demo(&self, options: Options) -> ExitCode {
        let (listening, address) = mpsc::channel();
        let lesson = *self;
        let local = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
        let config =
            ServerConfig { once: true, ..server_config(local, &options) };
        let server_out =
            Out::announcing_to(Role::Server, options.show, listening);
        let server = thread::spawn(move || {
            let result = lesson.serve(config, &server_out);
            lesson.finish(&server_out, result)
        });
        let Ok(address) = address.recv() else {
            // The server never got to listen: it has said why.
            return server.join().unwrap_or(ExitCode::from(RUNTIME_ERROR));
        };
        let out = Out::new(Role::Client, options.show);
        let result = self.connect(client_config(address, &options), &out);
        if result.is_err() {
            // Not waiting for the server: it may be blocked on a client that
            // is gone.
            return self.finish(&out, result);
        }
        let client = self.finish(&out, result);
        match server.join() {
            Ok(status) if client == ExitCode::SUCCESS => status,
            _ => ExitCode::from(RUNTIME_ERROR),
        }
    }

    fn connecting(&self, config: &ClientConfig) -> Situation<'static> {
        Situation::Connecting {
            lesson: self.name,
            server: config.server,
            wait: config.wait,
        }
    }

    fn finish(&self, out: &Out, result: io::Result<()>) -> ExitCode {
        match result {
            Err(error) => {
                out.error(error);
                ExitCode::from(RUNTIME_ERROR)
            }
            Ok(()) if out.write_failed() => {
                out.error("some of this lesson's output could not be written");
                ExitCode::from(RUNTIME_ERROR)
            }
            Ok(()) => ExitCode::SUCCESS,
        }
    }

    fn usage(&self) -> String {
        cli::usage(self.name, self.title, self.defaults, self.options)
    }
}

fn server_config(address: SocketAddrV4, options: &Options) -> ServerConfig {
    ServerConfig {
        address,
        once: options.once,
        pace: options.pace,
        extra: options.extra.clone(),
    }
}

fn client_config(server: SocketAddrV4, options: &Options) -> ClientConfig {
    ClientConfig {
        server,
        wait: options.wait,
        deadline: options.deadline,
        buffer: options.buffer,
        demo: options.mode == Mode::Demo,
        extra: options.extra.clone(),
    }
}

fn explained(error: io::Error, situation: Situation<'_>) -> io::Error {
    io::Error::new(error.kind(), errors::explain(&error, situation))
}
