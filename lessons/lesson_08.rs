//! Lesson 8: many clients at once, a thread for each.
//!
//! Lesson 3's server serves one client at a time: while it holds one
//! connection, the next client waits in the backlog. This server hands each
//! accepted connection to a thread of its own and goes straight back to
//! `accept`, so clients are served side by side, and one idle client delays
//! no one. Threads cost memory, so it serves at most `--max-clients` at
//! once; a client beyond that is told so and closed. The client's `--count
//! N` starts N clients at once.
//!
//! ```text
//! cargo run --example lesson_08                  # both, in one process
//! cargo run --example lesson_08 -- server        # terminal 1
//! cargo run --example lesson_08 -- client --count 3   # terminal 2
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clap::Args;
use socket_lessons::cli::seconds;
use socket_lessons::errors::{self, Deadline, Situation};
use socket_lessons::output::{address, plural};
use socket_lessons::text::escape;
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_08",
    about: "many clients at once",
    port: 4108,
    wait: "10",
    show: true,
    server,
    client,
};

/// The longest greeting a client reads: a line from a server is a few dozen
/// bytes, and a hostile one must not fill the client's memory.
const MAX_GREETING: usize = 200;

/// The pause after a failed accept. An accept that fails for want of file
/// descriptors (EMFILE) fails again at once until a client leaves: without
/// a pause, the loop would spin, printing thousands of errors a second.
const ACCEPT_PAUSE: Duration = Duration::from_millis(500);

/// How many connections the system may hold before the server accepts them
/// (listen's backlog): with 5, a burst of clients loses some SYNs, and
/// those clients wait a second for the retry.
const BACKLOG: i32 = 128;

/// What a client that gets no thread is told in the server's log.
const NO_THREAD: &str =
    "no thread could be started for it (out of memory or of threads): closed";

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    /// How many clients it serves at once
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    max_clients: u16,
    /// How long to wait for a client to hang up
    #[arg(long, value_name = "SECONDS", default_value = "30",
          value_parser = seconds)]
    hold: Duration,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// How many clients to start at once
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=100))]
    count: u16,
    /// How long each client stays connected
    #[arg(long, value_name = "SECONDS", default_value = "1",
          value_parser = seconds)]
    stay: Duration,
}

fn main() -> ExitCode {
    LESSON.main()
}

// ANCHOR: server
fn server(config: &Server<ServerOptions>, out: &Out) -> io::Result<()> {
    let listener =
        Socket::new(Domain::for_address(config.address), Type::STREAM, None)?;
    #[cfg(unix)]
    listener.set_reuse_address(true)?;
    listener.bind(&config.address.into())?;
    listener.listen(BACKLOG)?;
    out.listening(&listener)?;
    let max_clients = usize::from(config.options.max_clients);
    // How many connections have a thread now. Threads add and take away at
    // once, so it is an atomic counter, not a plain number.
    let connected = AtomicUsize::new(0);

    // A scope: the threads started in it may borrow `out` and `connected`,
    // because the scope waits for all of them before it ends.
    thread::scope(|scope| {
        let mut number = 0;
        loop {
            let accepted =
                out.traced("accept()", "a client", || listener.accept());
            let (client, from) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // It would fail again at once: pause, not spin.
                    out.error(format_args!(
                        "accept: {}; trying again in {} s",
                        accept_failure(&error),
                        ACCEPT_PAUSE.as_secs_f64()
                    ));
                    let pause = format!("sleep({ACCEPT_PAUSE:?})");
                    out.traced(pause, "time to pass", || {
                        thread::sleep(ACCEPT_PAUSE);
                        Ok(())
                    })?;
                    continue;
                }
            };
            number += 1;
            let from = address(&from);
            if connected.load(Ordering::SeqCst) >= max_clients {
                out.say(format_args!(
                    "connection {number} from {from}: refused, \
                     {} already (--max-clients)",
                    plural(max_clients, "client")
                ));
                let full = format!(
                    "the server is full ({}); try again later\n",
                    plural(max_clients, "client")
                );
                // Best effort: a client that cannot be told is closed all
                // the same.
                let _ = (&client).write_all(full.as_bytes());
                continue;
            }
            connected.fetch_add(1, Ordering::SeqCst);
            out.say(format_args!(
                "connection {number} from {from}: a thread of its own"
            ));
            let (connected, hold) = (&connected, config.options.hold);
            let situation = Situation::Serving { address: config.address };
            // `move`: the thread takes the accepted socket (and the
            // number and address), so it is this thread's alone; the loop
            // goes back to accept at once. The socket closes when the
            // thread ends.
            let started =
                thread::Builder::new().spawn_scoped(scope, move || {
                    let result = serve_one(&client, number, &from, hold, out);
                    if let Err(error) = result {
                        let error = errors::explain(&error, situation);
                        out.error(format_args!("connection {number}: {error}"));
                    }
                    connected.fetch_sub(1, Ordering::SeqCst);
                });
            if started.is_err() {
                // The system refused (EAGAIN): this client is closed, and
                // the server goes on.
                connected.fetch_sub(1, Ordering::SeqCst);
                out.error(format_args!("connection {number}: {NO_THREAD}"));
            }
            if config.once {
                break;
            }
        }
        Ok(())
    })
}

/// What one thread does for its client: tells it which connection it is,
/// then holds the connection until the client hangs up, as lesson 3 does.
fn serve_one(
    client: &Socket,
    number: usize,
    from: &str,
    hold: Duration,
    out: &Out,
) -> io::Result<()> {
    let greeting = format!("you are connection {number}, from {from}\n");
    let (label, bytes) = (format!("connection {number}: "), greeting.len());
    out.traced(format!("{label}send({bytes} bytes)"), "room", || {
        (&*client).write_all(greeting.as_bytes()).map(|()| bytes)
    })?;
    out.hex("sent", greeting.as_bytes());
    // recv until the client hangs up (0), each recv waiting what is left
    // of the hold: the hold is bounded in all, however slowly it sends.
    let hold_ends = Deadline::after(hold);
    let mut buffer = [0; 1024];
    loop {
        let Ok(wait) = hold_ends.wait_at_most(hold) else {
            let hold = hold.as_secs_f64();
            out.say(format_args!("{label}no hang-up in {hold} s: closing it"));
            return Ok(());
        };
        client.set_read_timeout(Some(wait))?;
        let size = buffer.len();
        let recv = format!("{label}recv({size})");
        match out.traced(recv, "bytes, or the hang-up", || {
            read_again(client, &mut buffer)
        }) {
            Ok(0) => break,
            // What the client sends is not for this server: dropped.
            Ok(_) => continue,
            Err(error) if is_timeout(&error) => continue,
            Err(error) => return Err(error),
        }
    }
    out.say(format_args!("{label}the client hung up"));
    Ok(())
}
// ANCHOR_END: server

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let count = config.options.count;
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
            threads.push(
                scope.spawn(move || one_client(config, out, &label, connected)),
            );
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
    let situation = Situation::Connecting {
        lesson: LESSON.name,
        server: config.server,
        wait: config.wait,
    };
    let mut failures = 0;
    for (number, result) in (1..).zip(results) {
        if let Err(error) = result {
            let error = errors::explain(&error, situation);
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
/// for `--stay`, and hangs up.
fn one_client(
    config: &Client<ClientOptions>,
    out: &Out,
    label: &str,
    connected: mpsc::Sender<()>,
) -> io::Result<()> {
    let domain = Domain::for_address(config.server);
    let server = Socket::new(domain, Type::STREAM, None)?;
    out.say(format_args!("{label}connecting to {}", config.server));
    out.traced(format!("{label}connect()"), "the handshake", || {
        server.connect_timeout(&config.server.into(), config.wait)
    })?;
    drop(connected);
    server.set_read_timeout(Some(config.wait))?;

    // The greeting is one line: read until the newline, the close, or
    // MAX_GREETING bytes.
    let mut greeting = Vec::new();
    let mut buffer = [0; MAX_GREETING];
    while !greeting.ends_with(b"\n") && greeting.len() < MAX_GREETING {
        let room = MAX_GREETING - greeting.len();
        let received = match out.traced(
            format!("recv({room})"),
            "bytes",
            || read_again(&server, &mut buffer[..room]),
        ) {
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                // What a server's close does to a connection still in its
                // backlog: it was never accepted.
                return Err(io::Error::new(
                    error.kind(),
                    "never accepted: reset when the server stopped listening",
                ));
            }
            result => result?,
        };
        if received == 0 {
            break;
        }
        out.hex("received", &buffer[..received]);
        greeting.extend_from_slice(&buffer[..received]);
    }
    let text = String::from_utf8_lossy(&greeting);
    let text = escape(text.trim_end_matches('\n'));
    out.say(format_args!("{label}the server says: {text}"));

    // Stay connected: a recv that waits `--stay`, unless the server closes.
    let stay = config.options.stay;
    if !stay.is_zero() {
        server.set_read_timeout(Some(stay))?;
        match out.traced(
            format!("{label}recv(1)"),
            "the server's close",
            || read_again(&server, &mut buffer[..1]),
        ) {
            Ok(0) => {
                out.say(format_args!(
                    "{label}the server closed the connection"
                ));
                return Ok(());
            }
            Ok(_) => {
                let more = "the server sent more than a greeting: hanging up";
                out.say(format_args!("{label}{more}"));
                return Ok(());
            }
            Err(error) if is_timeout(&error) => {}
            Err(error) => return Err(error),
        }
    }
    let stay = stay.as_secs_f64();
    out.say(format_args!("{label}hanging up after staying {stay} s"));
    // Dropping the socket closes it: the server's recv returns 0.
    Ok(())
}
// ANCHOR_END: client

/// Why accept failed, in words.
fn accept_failure(error: &io::Error) -> String {
    // EMFILE: 24 on Linux, macOS and the BSDs.
    const EMFILE: i32 = 24;
    match error.raw_os_error() {
        Some(EMFILE) if cfg!(unix) => "out of file descriptors (EMFILE)".into(),
        _ => error.to_string(),
    }
}

/// A read that waited its time out.
fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// read(2), asked again when it ends in EINTR: what a recv with a timeout
/// does when the process is stopped (Ctrl-Z, `kill -STOP`) and continued.
fn read_again(mut socket: &Socket, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match socket.read(buffer) {
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}
