//! Lesson 8: many clients at once, a thread for each.
//!
//! Lesson 3's server serves one client at a time: while it holds one
//! connection, the next client waits in the backlog. This server hands each
//! accepted connection to a thread of its own and goes straight back to
//! `accept`, so clients are served side by side, and one idle client delays
//! no one. Threads cost memory, so it serves at most `--max-clients` at
//! once; a client beyond that is told so and closed.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use socket_lessons::old::cli::{Defaults, LessonOption, Side, Value};
use socket_lessons::old::python::escape_unprintable;
use socket_lessons::old::wire::{is_past_deadline, is_timeout};
use socket_lessons::old::{ClientConfig, Lesson, Out, ServerConfig, Wire};
use socket_lessons::old::{output, reuse_address};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson = Lesson {
    name: "lesson_08",
    title: "many clients at once",
    defaults: Defaults {
        port: 4108,
        wait: Duration::from_secs(10),
        buffer: None,
    },
    options: &[MAX_CLIENTS, HOLD, COUNT, STAY],
    server,
    client,
};

const MAX_CLIENTS: LessonOption = LessonOption {
    flag: "--max-clients",
    value: Value::Count { max: 1000 },
    placeholder: "N",
    default: "4",
    side: Side::Server,
    help: "how many clients it serves at once",
};

const HOLD: LessonOption = LessonOption {
    flag: "--hold",
    value: Value::Count { max: 3600 },
    placeholder: "SECONDS",
    default: "30",
    side: Side::Server,
    help: "how long to wait for a client to hang up",
};

const COUNT: LessonOption = LessonOption {
    flag: "--count",
    value: Value::Count { max: 100 },
    placeholder: "N",
    default: "1",
    side: Side::Client,
    help: "how many clients to start at once",
};

const STAY: LessonOption = LessonOption {
    flag: "--stay",
    value: Value::Count { max: 3600 },
    placeholder: "SECONDS",
    default: "1",
    side: Side::Client,
    help: "how long each client stays connected",
};

/// The longest greeting a client reads: a line from a server is a few dozen
/// bytes, and a hostile one must not fill the client's memory.
const MAX_GREETING: usize = 200;

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &ServerConfig, out: &Out) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let listener = config.wire(socket, out);
    reuse_address(&listener)?;
    listener.bind(&config.address.into())?;
    listener.listen(5)?;
    out.listening(&listener)?;
    let max_clients = config.extra.count(MAX_CLIENTS.flag) as usize;
    let hold = Duration::from_secs(config.extra.count(HOLD.flag));
    // `server --once` serves one client; the demo's server serves as many
    // as the demo's client starts (--count).
    let to_serve = match config.once {
        true => config.extra.count(COUNT.flag),
        false => u64::MAX,
    };
    // How many connections have a thread now. Threads add and take away at
    // once, so it is an atomic counter, not a plain number.
    let connected = AtomicUsize::new(0);

    // A scope: the threads started in it may borrow `out` and `connected`,
    // because the scope waits for all of them before it ends.
    thread::scope(|scope| {
        let mut number = 0;
        while number < to_serve {
            let (mut client, address) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if !config.once => {
                    out.error(format_args!("accept failed: {error}"));
                    continue;
                }
                Err(error) => return Err(error),
            };
            number += 1;
            let address = output::address(&address).to_string();
            if connected.load(Ordering::SeqCst) >= max_clients {
                out.say(format_args!(
                    "connection {number} from {address}: refused, \
                     {max_clients} clients are connected already \
                     (--max-clients)"
                ));
                // Best effort: a client that cannot be told is closed all
                // the same.
                let _ = client.write_all(
                    format!(
                        "the server is full ({max_clients} clients); try \
                         again later\n"
                    )
                    .as_bytes(),
                );
                continue;
            }
            connected.fetch_add(1, Ordering::SeqCst);
            out.say(format_args!(
                "connection {number} from {address}: a thread of its own"
            ));
            let connected = &connected;
            // `move`: the thread takes the accepted socket (and the
            // number and address), so it is this thread's alone; the loop
            // goes back to accept at once. The socket closes when the
            // thread ends.
            let started =
                thread::Builder::new().spawn_scoped(scope, move || {
                    let result = serve_one(client, number, &address, hold, out);
                    if let Err(error) = result {
                        out.error(format_args!("connection {number}: {error}"));
                    }
                    connected.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(error) = started {
                // No thread (out of memory or of threads): this client is
                // closed, and the server goes on.
                connected.fetch_sub(1, Ordering::SeqCst);
                out.error(format_args!("connection {number}: {error}"));
            }
        }
        Ok(())
    })
}

/// What one thread does for its client: tells it which connection it is,
/// then holds the connection until the client hangs up, as lesson 3 does.
fn serve_one(
    mut client: Wire,
    number: u64,
    address: &str,
    hold: Duration,
    out: &Out,
) -> io::Result<()> {
    let greeting = format!("you are connection {number}, from {address}\n");
    client.write_all(greeting.as_bytes())?;
    // The hold is bounded in all, however slowly the client sends.
    client.set_deadline(hold);
    match io::copy(&mut client, &mut io::sink()) {
        Ok(_) => out.say(format_args!(
            "connection {number}: the client hung up; its thread ends"
        )),
        Err(error) if is_past_deadline(&error) => out.say(format_args!(
            "connection {number}: no hang-up after {} s: closing it",
            hold.as_secs()
        )),
        Err(error) => return Err(error),
    }
    Ok(())
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &ClientConfig, out: &Out) -> io::Result<()> {
    let count = config.extra.count(COUNT.flag);
    let stay = Duration::from_secs(config.extra.count(STAY.flag));
    // Scoped threads may borrow `config` and `out`: the scope waits for
    // every thread before it returns.
    let mut results: Vec<io::Result<()>> = thread::scope(|scope| {
        let mut threads = Vec::new();
        for number in 1..=count {
            // Each thread says when its client is connected, so that the
            // clients connect in order (and the server numbers them so);
            // after that they all run at once.
            let (connected, is_connected) = mpsc::channel();
            let label = match count {
                1 => String::new(),
                _ => format!("client {number}: "),
            };
            threads.push(scope.spawn(move || {
                one_client(config, out, stay, &label, connected)
            }));
            // A client that fails drops the sender: recv returns at once.
            let _ = is_connected.recv();
        }
        let joined = threads.into_iter().map(|thread| thread.join());
        joined
            .map(|result| result.unwrap_or_else(|_| Err(panicked())))
            .collect()
    });
    if count == 1 {
        return results.pop().unwrap_or_else(|| Err(panicked()));
    }
    let mut failures = 0;
    for (number, result) in (1..).zip(results) {
        if let Err(error) = result {
            out.error(format_args!("client {number}: {error}"));
            failures += 1;
        }
    }
    match failures {
        0 => Ok(()),
        _ => Err(io::Error::other(format!(
            "{failures} of the {count} clients failed"
        ))),
    }
}

fn panicked() -> io::Error {
    io::Error::other("a client's thread panicked")
}

/// One client: connects, reads the server's greeting line, stays connected
/// for `stay`, and hangs up.
fn one_client(
    config: &ClientConfig,
    out: &Out,
    stay: Duration,
    label: &str,
    connected: mpsc::Sender<()>,
) -> io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let mut server = config.wire(socket, out);
    out.say(format_args!("{label}connecting to {}", config.server));
    server.connect_timeout(&config.server.into(), config.wait)?;
    drop(connected);
    server.set_read_timeout(Some(config.wait))?;

    // The greeting is one line: read until the newline, the close, or
    // MAX_GREETING bytes.
    let mut greeting = Vec::new();
    let mut buffer = [0; MAX_GREETING];
    while !greeting.ends_with(b"\n") && greeting.len() < MAX_GREETING {
        let room = MAX_GREETING - greeting.len();
        let received = server.read(&mut buffer[..room])?;
        if received == 0 {
            break;
        }
        greeting.extend_from_slice(&buffer[..received]);
    }
    let text = String::from_utf8_lossy(&greeting);
    out.say(format_args!(
        "{label}the server says: {}",
        escape_unprintable(text.trim_end_matches('\n'))
    ));

    // Stay connected: a recv that waits `stay`, unless the server closes.
    server.set_read_timeout(Some(stay))?;
    match server.read(&mut buffer) {
        Ok(0) => {
            out.say(format_args!("{label}the server closed the connection"))
        }
        Err(error) if is_timeout(&error) => out.say(format_args!(
            "{label}hanging up after staying {} s",
            stay.as_secs()
        )),
        Ok(_) => out.say(format_args!(
            "{label}the server sent more than a greeting: hanging up"
        )),
        Err(error) => return Err(error),
    }
    Ok(())
}
// ANCHOR_END: client
