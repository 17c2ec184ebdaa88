//! Lesson 15: your browser talks to your socket server, HTTP/1.1 by hand.
//!
//! HTTP/1.1 is lesson 7's request and answer over lesson 8's threads, with
//! two framings: a request's head (its request line and headers) ends at
//! the first blank line, `\r\n\r\n`, for there is no length header before
//! it; a body, if any, is as long as its `Content-Length` says, as
//! lesson 5's header said. The server reads heads and bodies with `recv`,
//! answers with `send`, and serves one page, at `/`: no HTTP library, and
//! no files. The client sends a `GET` for each `--path`, on one connection.
//!
//! ```text
//! cargo run --example lesson_15                  # both, in one process
//! cargo run --example lesson_15 -- server        # then visit
//!                                                # http://127.0.0.1:4115/
//! cargo run --example lesson_15 -- client --path / --path /nothing
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use socket_lessons::cli::{Patience, seconds};
use socket_lessons::errors::{self, Deadline, Situation};
use socket_lessons::output::{address, plural};
use socket_lessons::text::{bytes_repr, escape};
use socket_lessons::{Client, Lesson, Out, Server};
use socket2::{Domain, Socket, Type};

const LESSON: Lesson<ServerOptions, ClientOptions> = Lesson {
    name: "lesson_15",
    about: "your browser talks to your socket server: HTTP/1.1 by hand",
    port: 4115,
    wait: "10",
    show: true,
    server,
    client,
};

/// The longest head (request line and headers) the server reads, and the
/// longest answer head the client reads. Chromium's is about 700 bytes.
const MAX_HEAD: usize = 8 * 1024;

/// The longest body the server reads (and drops): it serves no uploads.
const MAX_BODY: u64 = 64 * 1024;

/// The longest answer body the client reads.
const MAX_ANSWER: usize = 64 * 1024;

/// The first byte of a TLS record that starts a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// The most one recv asks for.
const RECV_SIZE: usize = 4096;

/// Before it closes, the server reads and drops what the client still
/// sends (the rest of a 1 MB header after the 431, say), for at most this
/// long and this many bytes: a close with bytes unread sends a reset (RST),
/// and the client's recv fails (on Linux after the answer; RFC 9112 warns
/// that a reset may erase an answer not yet read).
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// How many connections the system may queue before `accept`: a browser
/// opens several at once.
const BACKLOG: i32 = 128;

/// The pause after a failed accept (out of file descriptors, EMFILE):
/// without it, the loop would spin, as lesson 8 explains.
const ACCEPT_PAUSE: Duration = Duration::from_millis(500);

/// What a connection that gets no thread is told in the server's log.
const NO_THREAD: &str =
    "no thread could be started for it (out of memory or of threads): closed";

/// The methods the server serves: `Allow` lists them in a 405.
const ALLOW: &str = "GET, HEAD";

/// The lessons, which the page lists.
const LESSONS: [&str; 15] = [
    "basic send",
    "a buffer too small",
    "receiving in a loop",
    "the close ends the message",
    "Python objects with pickle",
    "when a recv brings less, or more, than one message",
    "a request, its answer, and the half-close",
    "many clients at once",
    "a chat room",
    "UDP datagrams keep their edges",
    "your own types, with serde",
    "names and addresses",
    "one thread and many sockets",
    "async and await",
    "your browser talks to your socket server",
];

#[derive(Args, Debug, Clone)]
struct ServerOptions {
    /// How many connections it serves at once
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    max_clients: u16,
    /// How long a connection may wait for its next request
    #[arg(long, value_name = "SECONDS", default_value = "5",
          value_parser = seconds)]
    idle: Duration,
    /// How long a request may take to arrive, from its first byte
    #[arg(long, value_name = "SECONDS", default_value = "10",
          value_parser = some_seconds)]
    request_time: Duration,
}

#[derive(Args, Debug, Clone)]
struct ClientOptions {
    /// A path to GET (again for more, on the same connection)
    #[arg(long = "path", value_name = "PATH", default_value = "/",
          value_parser = path)]
    paths: Vec<String>,
    #[command(flatten)]
    patience: Patience,
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
    let options = &config.options;
    let max_clients = usize::from(options.max_clients);
    let connected = AtomicUsize::new(0);

    // Lesson 8's design: a thread per connection, at most --max-clients.
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
                    thread::sleep(ACCEPT_PAUSE);
                    continue;
                }
            };
            number += 1;
            let from = address(&from);
            if connected.load(Ordering::SeqCst) >= max_clients {
                let clients = plural(max_clients, "connection");
                out.say(format_args!(
                    "connection {number} from {from}: {}, {clients} \
                     already (--max-clients): closing",
                    Status::FULL
                ));
                let why = format!("the server is full ({clients})");
                // Best effort, and without reading the request: a client
                // that cannot be told is closed all the same. No linger:
                // the accept loop waits for no client.
                let _ = client.set_write_timeout(Some(ACCEPT_PAUSE));
                let _ =
                    (&client).write_all(&refusal_answer(Status::FULL, &why));
                let _ = client.shutdown(Shutdown::Write);
                continue;
            }
            connected.fetch_add(1, Ordering::SeqCst);
            out.say(format_args!("connection {number} from {from}"));
            let connected = &connected;
            let situation = Situation::Serving { address: config.address };
            // The thread takes the socket; the loop goes back to accept.
            let started =
                thread::Builder::new().spawn_scoped(scope, move || {
                    let mut connection = Connection {
                        socket: &client,
                        label: format!("connection {number}"),
                        out,
                        unused: Vec::new(),
                        send_limit: options.request_time,
                    };
                    if let Err(error) = connection.serve(options) {
                        let error = errors::explain(&error, situation);
                        out.error(format_args!("connection {number}: {error}"));
                    }
                    connected.fetch_sub(1, Ordering::SeqCst);
                });
            if started.is_err() {
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
// ANCHOR_END: server

/// One client's connection, as its thread sees it.
struct Connection<'a> {
    socket: &'a Socket,
    /// `connection 3`, at the start of the server's lines about it.
    label: String,
    out: &'a Out,
    /// Bytes received and not used yet: when one recv brings the end of a
    /// request and the start of the next (lesson 6), the start waits here.
    unused: Vec<u8>,
    /// How long an answer may wait for a client that does not read.
    send_limit: Duration,
}

/// What reading a request's head came to.
enum Head {
    /// The head, without its blank line, and when its request must be in.
    Read(Vec<u8>, Deadline),
    /// The client closed, or stayed idle, between requests: nothing to say.
    Ended(String),
    /// A head the server will not read: answered, then closed.
    Refused(Refusal),
}

/// Why the server will not serve a request: a status, and why in words.
struct Refusal {
    status: Status,
    why: String,
}

fn refuse(status: Status, why: impl Into<String>) -> Refusal {
    Refusal { status, why: why.into() }
}

/// A request whose head parsed.
struct Request {
    method: String,
    target: String,
    /// The path the target names, without its query (`?q=1`).
    path: String,
    /// `HTTP/1.1`, `HTTP/1.0` (or a higher 1.x, read as 1.1).
    version: String,
    content_length: u64,
    /// Whether the client waits for a 100 (Continue) before its body.
    expects_continue: bool,
    /// Whether the connection ends after the answer.
    close: bool,
}

// ANCHOR: serve
impl Connection<'_> {
    /// Requests and answers, one after another, until the client closes,
    /// asks to close, stays idle too long, or sends what cannot be read.
    fn serve(&mut self, options: &ServerOptions) -> io::Result<()> {
        // An answer the client does not take waits at most this long.
        self.socket.set_write_timeout(Some(self.send_limit))?;
        for count in 1.. {
            let label = format!("{}, request {count}", self.label);
            let (head, deadline) = match self.read_head(options)? {
                Head::Read(head, deadline) => (head, deadline),
                Head::Ended(why) => {
                    self.out.say(format_args!("{}: {why}", self.label));
                    return Ok(());
                }
                Head::Refused(refusal) => return self.refused(&label, refusal),
            };
            for line in split_lines(&head) {
                let line = escape(&String::from_utf8_lossy(line));
                self.out.trace(format_args!("{label}: > {line}"));
            }
            let request = match parse(&head) {
                Ok(request) => request,
                Err(refusal) => return self.refused(&label, refusal),
            };
            // A client that sent `Expect: 100-continue` sends its body only
            // after this (or an answer), which RFC 9110 says to send at once.
            if request.expects_continue && request.content_length > 0 {
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            // The body, framed by Content-Length: read, and dropped.
            if let Err(refusal) = self.skip_body(&request, deadline)? {
                return self.refused(&label, refusal);
            }
            let (status, bytes) = respond(&request, &label);
            self.send(&bytes)?;
            let Request { method, target, version, .. } = &request;
            self.out.say(format_args!(
                "{label}: {method} {target} {version} -> {status}"
            ));
            if request.close {
                let why = match version.as_str() {
                    "HTTP/1.0" => "an HTTP/1.0 request: closing",
                    _ => "the client asked to close (Connection: close)",
                };
                self.out.say(format_args!("{}: {why}", self.label));
                linger(self.socket);
                return Ok(());
            }
        }
        Ok(())
    }

    /// Reads until the blank line that ends a head, within bounds: at most
    /// MAX_HEAD bytes, --idle for its first byte, --request-time from then.
    fn read_head(&mut self, options: &ServerOptions) -> io::Result<Head> {
        let limit = options.request_time;
        let idle_ends = Deadline::after(options.idle);
        // A pipelined request has begun already.
        let mut deadline =
            (!self.unused.is_empty()).then(|| Deadline::after(limit));
        let mut searched: usize = 0;
        let mut buffer = [0; RECV_SIZE];
        loop {
            // The blank line: no length header frames a head, this does.
            let from = searched.saturating_sub(3);
            if let Some(at) = find(&self.unused[from..], b"\r\n\r\n") {
                let end = from + at;
                if end > MAX_HEAD {
                    break;
                }
                let head = self.unused[..end].to_vec();
                self.unused.drain(..end + 4);
                let deadline = deadline.unwrap_or(Deadline::after(limit));
                return Ok(Head::Read(head, deadline));
            }
            // Lines that end in LF alone (as `nc` sends them, without -C)
            // end their head with `\n\n`: the blank line would never come.
            if find(&self.unused[from..], b"\n\n").is_some() {
                let why = "lines that end in LF alone, not CR LF";
                return Ok(Head::Refused(refuse(Status::BAD, why)));
            }
            searched = self.unused.len();
            if searched > MAX_HEAD {
                break;
            }
            // A TLS handshake (an https:// URL) starts with this byte, and
            // no request line does: its blank line would never come.
            if self.unused.first() == Some(&TLS_HANDSHAKE) {
                let why = "a TLS handshake (https://), but this server \
                           speaks plain HTTP";
                return Ok(Head::Refused(refuse(Status::BAD, why)));
            }
            let wait = match deadline {
                None => idle_ends.wait_at_most(options.idle),
                Some(deadline) => deadline.wait_at_most(limit),
            };
            let Ok(wait) = wait else {
                return Ok(match deadline {
                    None => Head::Ended(format!(
                        "no request in {} s (--idle): closing",
                        options.idle.as_secs_f64()
                    )),
                    Some(_) => Head::Refused(refuse(
                        Status::TIMEOUT,
                        format!(
                            "no whole head in {} s (--request-time)",
                            limit.as_secs_f64()
                        ),
                    )),
                });
            };
            self.socket.set_read_timeout(Some(wait))?;
            let received = match self.recv(&mut buffer, "bytes") {
                Ok(0) if self.unused.is_empty() => {
                    let why = "the client closed the connection";
                    return Ok(Head::Ended(why.into()));
                }
                Ok(0) => {
                    return Ok(Head::Ended(format!(
                        "the client closed in the middle of a head, after {}",
                        plural(self.unused.len(), "byte")
                    )));
                }
                Ok(received) => received,
                Err(error) if is_timeout(&error) => continue,
                Err(error) => return Err(error),
            };
            self.unused.extend_from_slice(&buffer[..received]);
            deadline.get_or_insert_with(|| Deadline::after(limit));
        }
        let why = format!("a head longer than {MAX_HEAD} bytes");
        Ok(Head::Refused(refuse(Status::TOO_LONG, why)))
    }

    /// Reads the request's body, as many bytes as its Content-Length says,
    /// and drops them: what comes after them is the next request.
    fn skip_body(
        &mut self,
        request: &Request,
        deadline: Deadline,
    ) -> io::Result<Result<(), Refusal>> {
        let length = request.content_length;
        let mut left = length;
        let mut buffer = [0; RECV_SIZE];
        loop {
            let here = left.min(self.unused.len() as u64);
            self.unused.drain(..here as usize);
            left -= here;
            if left == 0 {
                return Ok(Ok(()));
            }
            let Ok(wait) = deadline.wait_at_most(Duration::MAX) else {
                let why = format!(
                    "the body stopped at {} of {length} bytes",
                    length - left
                );
                return Ok(Err(refuse(Status::TIMEOUT, why)));
            };
            self.socket.set_read_timeout(Some(wait))?;
            let room = buffer.len().min(left as usize);
            match self.recv(&mut buffer[..room], "the body") {
                Ok(0) => {
                    let why = format!(
                        "the client closed after {} of {length} body bytes",
                        length - left
                    );
                    self.out.say(format_args!("{}: {why}", self.label));
                    return Ok(Err(refuse(Status::BAD, why)));
                }
                Ok(received) => {
                    self.unused.extend_from_slice(&buffer[..received]);
                }
                Err(error) if is_timeout(&error) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Answers a request the server will not serve, and closes.
    fn refused(&self, label: &str, refusal: Refusal) -> io::Result<()> {
        let Refusal { status, why } = refusal;
        self.out.say(format_args!("{label}: {why} -> {status}: closing"));
        // Best effort: a client that went away cannot be told.
        let _ = self.send(&refusal_answer(status, &why));
        linger(self.socket);
        Ok(())
    }

    /// recv, traced, and shown with --hex.
    fn recv(&self, buffer: &mut [u8], waits_for: &str) -> io::Result<usize> {
        let recv = format!("{}: recv({})", self.label, buffer.len());
        let received = self
            .out
            .traced(recv, waits_for, || read_again(self.socket, buffer))?;
        if received > 0 {
            self.out.hex("received", &buffer[..received]);
        }
        Ok(received)
    }

    /// send until every byte is out (Python's sendall), traced and shown.
    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let size = bytes.len();
        let send = format!("{}: send({size} bytes)", self.label);
        let sent = self.out.traced(send, "room", || {
            (&*self.socket).write_all(bytes).map(|()| size)
        });
        if let Err(error) = sent {
            if !is_timeout(&error) {
                return Err(error);
            }
            let limit = self.send_limit.as_secs_f64();
            let why = format!("the client took no answer in {limit} s");
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("{why} (--request-time): closing"),
            ));
        }
        self.out.hex("sent", bytes);
        Ok(())
    }
}
// ANCHOR_END: serve

// ANCHOR: parse
/// The request line and headers of a head, checked: what the server will
/// not read is a refusal, with its status.
fn parse(head: &[u8]) -> Result<Request, Refusal> {
    let bad = |why: String| refuse(Status::BAD, why);
    // An empty line before the request line is ignored (RFC 9112, 2.2):
    // some clients end a body with an extra CR LF.
    let lines = split_lines(head.strip_prefix(b"\r\n").unwrap_or(head));
    for line in &lines {
        if let Some(&byte) = line.iter().find(|b| b"\0\r\n".contains(b)) {
            let (byte, line) = (bytes_repr(&[byte]), excerpt(line));
            return Err(bad(format!("a byte {byte} in the line {line}")));
        }
    }
    let parts: Vec<&[u8]> = lines[0].split(|&b| b == b' ').collect();
    let [method, target, version] = parts[..] else {
        let line = excerpt(lines[0]);
        return Err(bad(format!("{line} is not METHOD PATH VERSION")));
    };
    if method.is_empty() || !method.iter().copied().all(is_token) {
        return Err(bad(format!("the method {} is no word", excerpt(method))));
    }
    // HTTP/1.0, 1.1, and a higher 1.x read as 1.1 (RFC 9110, 2.5); another
    // major version, HTTP/2's say, is one this server does not speak.
    let why = format!("the version {} is not HTTP/1.x", excerpt(version));
    match version.strip_prefix(b"HTTP/") {
        Some([b'1', b'.', minor]) if minor.is_ascii_digit() => {}
        Some([major, b'.', minor])
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(refuse(Status::VERSION, why));
        }
        _ => return Err(bad(why)),
    }
    let Some(path) = path_of(method, target) else {
        let target = excerpt(target);
        return Err(bad(format!(
            "the target {target} is not /PATH, nor http://HOST/PATH"
        )));
    };
    let printable = |b: &u8| (0x21..0x7f).contains(b);
    if !target.iter().all(printable) {
        let target = excerpt(target);
        return Err(bad(format!("the path {target} is not printable ASCII")));
    }
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut request = Request {
        method: text(method),
        target: text(target),
        path: text(path),
        version: text(version),
        content_length: 0,
        expects_continue: false,
        // HTTP/1.0 closes after each answer, unless it asks otherwise;
        // this server does not offer it the choice.
        close: version == b"HTTP/1.0",
    };
    let (mut hosts, mut lengths) = (0, Vec::new());
    for line in &lines[1..] {
        let Some((name, value)) = split_colon(line) else {
            return Err(bad(format!(
                "the header {} has no colon",
                excerpt(line)
            )));
        };
        if name.is_empty() || !name.iter().copied().all(is_token) {
            let name = excerpt(name);
            return Err(bad(format!("the header name {name} is no word")));
        }
        let value = trim_spaces(value);
        match text(name).to_ascii_lowercase().as_str() {
            "host" => hosts += 1,
            "content-length" => lengths.push(value),
            "transfer-encoding" => {
                let why = "a Transfer-Encoding, which this server cannot read";
                return Err(refuse(Status::NOT_IMPLEMENTED, why));
            }
            // An HTTP/1.0 client is sent no 100 (RFC 9110, 10.1.1).
            "expect" if version != b"HTTP/1.0" => {
                request.expects_continue |=
                    value.eq_ignore_ascii_case(b"100-continue");
            }
            "connection" => {
                let mut tokens = value.split(|&b| b == b',');
                request.close |= tokens.any(|token| {
                    trim_spaces(token).eq_ignore_ascii_case(b"close")
                });
            }
            _ => {}
        }
    }
    if request.version == "HTTP/1.1" && hosts != 1 {
        return Err(bad(format!("{hosts} Host headers, not 1")));
    }
    if let Some(&first) = lengths.first() {
        let digits = !first.is_empty() && first.iter().all(u8::is_ascii_digit);
        if !digits || lengths.iter().any(|&length| length != first) {
            let why = format!("a Content-Length of {}", excerpt(first));
            return Err(bad(why));
        }
        // Too many digits for a u64 is too large too.
        let length = text(first).parse::<u64>().ok();
        let Some(length) = length.filter(|&length| length <= MAX_BODY) else {
            let first = excerpt(first);
            let why =
                format!("a Content-Length of {first}, over {MAX_BODY} bytes");
            return Err(refuse(Status::TOO_LARGE, why));
        };
        request.content_length = length;
    }
    Ok(request)
}
// ANCHOR_END: parse

/// The answer to a request that parsed, and its status: the page at `/`, a
/// 404 anywhere else, a 405 for a method other than GET and HEAD.
fn respond(request: &Request, label: &str) -> (Status, Vec<u8>) {
    let path = request.path.as_str();
    let (status, body) = match (request.method.as_str(), path) {
        ("GET" | "HEAD", "/") => (Status::OK, page(label)),
        ("GET" | "HEAD", _) => {
            let why = format!(
                "No page at <code>{}</code>. This server serves no files: \
                 its one page is at <a href=\"/\">/</a>.",
                html_escape(path)
            );
            (Status::NOT_FOUND, error_page(Status::NOT_FOUND, &why))
        }
        _ => {
            let why = "This server answers GET and HEAD only.";
            (Status::METHOD, error_page(Status::METHOD, why))
        }
    };
    let mut bytes = answer(status, &body, request.close);
    if request.method == "HEAD" {
        // The same head as a GET's, Content-Length too, and no body.
        bytes.truncate(bytes.len() - body.len());
    }
    (status, bytes)
}

/// The answer to a request the server will not serve: it closes after it.
fn refusal_answer(status: Status, why: &str) -> Vec<u8> {
    // As the log says it: a capital would make b'GET' read B'GET'.
    let why = html_escape(&format!("Refused: {why}."));
    answer(status, &error_page(status, &why), true)
}

// ANCHOR: answer
/// An answer: the status line, headers, the blank line, and the body, whose
/// length Content-Length gives.
fn answer(status: Status, body: &str, close: bool) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\n\
         Date: {}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n",
        http_date(),
        body.len()
    );
    if status == Status::METHOD {
        head.push_str(&format!("Allow: {ALLOW}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    [head.as_bytes(), body.as_bytes()].concat()
}
// ANCHOR_END: answer

/// The page at `/`: the lessons, and which request of which connection it
/// answered, when.
fn page(label: &str) -> String {
    let lessons: String = (1..)
        .zip(LESSONS)
        .map(|(number, title)| format!("<li>Lesson {number}: {title}</li>\n"))
        .collect();
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <title>socket-lessons</title>\n\
         <style>body {{ font-family: sans-serif; margin: 2em; }}</style>\n\
         </head>\n\
         <body>\n\
         <h1>Served by your own socket server</h1>\n\
         <p>Lesson 15 read your request with recv() and wrote this page\n\
         with send(): no HTTP library, no files.</p>\n\
         <ol>\n{lessons}</ol>\n\
         <p>{}, served at {}.</p>\n\
         </body>\n\
         </html>\n",
        capitalized(label),
        http_date()
    )
}

/// A page that says what went wrong; `why` is HTML already.
fn error_page(status: Status, why: &str) -> String {
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><title>{status}</title></head>\n\
         <body><h1>{status}</h1><p>{why}</p></body>\n\
         </html>\n"
    )
}

/// A status: its code and its reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Status(u16, &'static str);

impl Status {
    const OK: Status = Status(200, "OK");
    const BAD: Status = Status(400, "Bad Request");
    const NOT_FOUND: Status = Status(404, "Not Found");
    const METHOD: Status = Status(405, "Method Not Allowed");
    const TIMEOUT: Status = Status(408, "Request Timeout");
    const TOO_LARGE: Status = Status(413, "Content Too Large");
    const TOO_LONG: Status = Status(431, "Request Header Fields Too Large");
    const NOT_IMPLEMENTED: Status = Status(501, "Not Implemented");
    const FULL: Status = Status(503, "Service Unavailable");
    const VERSION: Status = Status(505, "HTTP Version Not Supported");
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

// ANCHOR: client
fn client(config: &Client<ClientOptions>, out: &Out) -> io::Result<()> {
    let deadline = Deadline::after(config.options.patience.deadline);
    let domain = Domain::for_address(config.server);
    let server = Socket::new(domain, Type::STREAM, None)?;
    out.say(format_args!("connecting to {}", config.server));
    let reader = Reader { server: &server, config, deadline, out };
    let wait = deadline.wait_at_most(config.wait)?;
    let connected = out.traced("connect()", "the handshake", || {
        server.connect_timeout(&config.server.into(), wait)
    });
    reader.ran_out(connected, wait)?;
    let mut unused = Vec::new();
    let paths = &config.options.paths;
    for (index, path) in paths.iter().enumerate() {
        // The last request asks the server to close after its answer.
        let close = match index + 1 == paths.len() {
            true => "Connection: close\r\n",
            false => "",
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\n\
             Host: {}\r\n\
             User-Agent: lesson_15\r\n\
             {close}\r\n",
            config.server
        );
        let size = request.len();
        out.traced(format!("send({size} bytes)"), "room", || {
            (&server).write_all(request.as_bytes()).map(|()| size)
        })?;
        out.hex("sent", request.as_bytes());
        out.say(format_args!("sent GET {path} HTTP/1.1, {size} bytes"));
        let closes = reader.answer(&mut unused)?;
        if closes && index + 1 < paths.len() {
            let why = "the server closes the connection: no more requests";
            out.say(why);
            break;
        }
    }
    Ok(())
}

/// What the client reads answers with.
struct Reader<'a> {
    server: &'a Socket,
    config: &'a Client<ClientOptions>,
    deadline: Deadline,
    out: &'a Out,
}

impl Reader<'_> {
    /// Reads one answer, its head to the blank line and its body as long
    /// as its Content-Length says, and prints it; returns whether the
    /// server closes the connection after it.
    fn answer(&self, unused: &mut Vec<u8>) -> io::Result<bool> {
        let end = loop {
            if let Some(at) = find(unused, b"\r\n\r\n") {
                break at;
            }
            if unused.len() > MAX_HEAD {
                let why =
                    format!("an answer head longer than {MAX_HEAD} bytes");
                return Err(io::Error::other(why));
            }
            self.recv(unused, RECV_SIZE)?;
        };
        let head = unused[..end].to_vec();
        unused.drain(..end + 4);
        let lines = split_lines(&head);
        if !lines[0].starts_with(b"HTTP/1.") {
            let line = excerpt(lines[0]);
            return Err(io::Error::other(format!("{line} is no status line")));
        }
        let mut length = None;
        let mut closes = false;
        for line in &lines {
            self.out.say(escape(&String::from_utf8_lossy(line)));
            let Some((name, value)) = split_colon(line) else { continue };
            let value = String::from_utf8_lossy(trim_spaces(value));
            if name.eq_ignore_ascii_case(b"content-length") {
                // Digits only: parse would take a `+3` too.
                let digits = value.bytes().all(|b| b.is_ascii_digit());
                length = value.parse::<usize>().ok().filter(|_| digits);
            }
            if name.eq_ignore_ascii_case(b"connection") {
                closes |= value.eq_ignore_ascii_case("close");
            }
        }
        let Some(length) = length.filter(|&length| length <= MAX_ANSWER) else {
            let why = format!(
                "an answer without a Content-Length of at most {MAX_ANSWER}: \
                 this client reads no other framing"
            );
            return Err(io::Error::other(why));
        };
        while unused.len() < length {
            self.recv(unused, length - unused.len())?;
        }
        let body: Vec<u8> = unused.drain(..length).collect();
        self.out.say(format_args!("a body of {}:", plural(length, "byte")));
        for line in String::from_utf8_lossy(&body).lines() {
            self.out.say(format_args!("  {}", escape(line)));
        }
        Ok(closes)
    }

    /// `result`, of a call that waited `wait`: where the wait ran out and
    /// --deadline had cut it short, the error says that --deadline did.
    fn ran_out<T>(
        &self,
        result: io::Result<T>,
        wait: Duration,
    ) -> io::Result<T> {
        match result {
            Err(error) if is_timeout(&error) && wait < self.config.wait => {
                let limit = self.config.options.patience.deadline;
                let limit = limit.as_secs_f64();
                let why =
                    format!("gave up after {limit} s in all (--deadline)");
                Err(io::Error::new(ErrorKind::TimedOut, why))
            }
            result => result,
        }
    }

    /// One recv of at most `room` bytes, added to `unused`; an error if the
    /// server closed, or sent nothing within --wait (or --deadline).
    fn recv(&self, unused: &mut Vec<u8>, room: usize) -> io::Result<()> {
        let mut buffer = [0; RECV_SIZE];
        let room = room.min(RECV_SIZE);
        let wait = self.deadline.wait_at_most(self.config.wait)?;
        self.server.set_read_timeout(Some(wait))?;
        let received =
            self.out.traced(format!("recv({room})"), "bytes", || {
                read_again(self.server, &mut buffer[..room])
            });
        let received = self.ran_out(received, wait)?;
        if received == 0 {
            let why = "the server closed before the end of its answer";
            return Err(io::Error::new(ErrorKind::UnexpectedEof, why));
        }
        self.out.hex("received", &buffer[..received]);
        unused.extend_from_slice(&buffer[..received]);
        Ok(())
    }
}
// ANCHOR_END: client

/// Seconds, but not 0: --request-time bounds each send too, and a
/// timeout of 0 would mean none (socket2) or no waiting at all (Python).
fn some_seconds(text: &str) -> Result<Duration, String> {
    match seconds(text)? {
        Duration::ZERO => Err("expected more than 0 seconds".into()),
        duration => Ok(duration),
    }
}

/// A path for --path: `/`, then printable ASCII, as a request line needs.
fn path(text: &str) -> Result<String, String> {
    let printable = text.bytes().all(|b| (0x21..0x7f).contains(&b));
    match text.starts_with('/') && printable && text.len() <= 1000 {
        true => Ok(text.into()),
        false => Err("a path starts with / and is printable ASCII, \
                      without spaces, at most 1000 bytes"
            .into()),
    }
}

/// Where `needle` first starts in `bytes`.
fn find(bytes: &[u8], needle: &[u8]) -> Option<usize> {
    bytes.windows(needle.len()).position(|window| window == needle)
}

/// The lines of a head, split at each CR LF.
fn split_lines(head: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut rest = head;
    while let Some(at) = find(rest, b"\r\n") {
        lines.push(&rest[..at]);
        rest = &rest[at + 2..];
    }
    lines.push(rest);
    lines
}

/// The path a request target names, without its query: the target itself
/// in the origin form (`/page?q=1`); in the absolute form
/// (`http://host/page`, which RFC 9112 says a server MUST accept), from
/// the first `/` after the host; `*` for OPTIONS (the asterisk form, of
/// the server as a whole). None for any other target.
fn path_of<'a>(method: &[u8], target: &'a [u8]) -> Option<&'a [u8]> {
    let lower = target.to_ascii_lowercase();
    let scheme = ["http://", "https://"]
        .into_iter()
        .find(|scheme| lower.starts_with(scheme.as_bytes()));
    let path: &[u8] = match scheme {
        _ if target.starts_with(b"/") => target,
        _ if method == b"OPTIONS" && target == b"*" => target,
        Some(scheme) => {
            let host_and_path = &target[scheme.len()..];
            match host_and_path.iter().position(|&b| b == b'/') {
                Some(at) => &host_and_path[at..],
                None => b"/",
            }
        }
        None => return None,
    };
    path.split(|&b| b == b'?').next()
}

/// A header's value without the spaces and tabs around it (RFC 9110's
/// OWS: no other byte is whitespace there).
fn trim_spaces(value: &[u8]) -> &[u8] {
    let space = |b: &u8| b" \t".contains(b);
    let start = value.iter().position(|b| !space(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !space(b)).map_or(start, |at| at + 1);
    &value[start..end]
}

/// A header line's name and value, at its first colon.
fn split_colon(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = line.iter().position(|&b| b == b':')?;
    Some((&line[..at], &line[at + 1..]))
}

/// A byte that may be in a method or a header's name (RFC 9110's tchar).
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A peer's bytes, safe to print: Python's repr of at most 40 of them.
fn excerpt(bytes: &[u8]) -> String {
    match bytes.len() > 40 {
        true => format!("{}...", bytes_repr(&bytes[..40])),
        false => bytes_repr(bytes),
    }
}

/// Text made safe to put in HTML.
fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// `text` with its first letter in capitals.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Now, as HTTP writes dates (RFC 9110's IMF-fixdate), in UTC:
/// `Thu, 03 Dec 2026 12:55:33 GMT`.
fn http_date() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    let seconds = now.map_or(0, |now| now.as_secs());
    let (days, second) = (seconds / 86_400, seconds % 86_400);
    // 1 January 1970 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let weekday = weekday[(days % 7) as usize];
    let (year, month, day) = civil_date(days);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
        "Nov", "Dec",
    ];
    let month = months[month - 1];
    let (hour, minute, second) = (second / 3600, second / 60 % 60, second % 60);
    let time = format!("{hour:02}:{minute:02}:{second:02}");
    format!("{weekday}, {day:02} {month} {year} {time} GMT")
}

/// The year, month (1 to 12) and day of the days since 1 January 1970:
/// Howard Hinnant's `civil_from_days`, for the days since then.
fn civil_date(days: u64) -> (u64, usize, u64) {
    let days = days + 719_468; // from 1 March of the year 0
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
        - day_of_era / 146_096)
        / 365;
    let day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // 0 is March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month =
        if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month as usize, day)
}

/// Ends a connection without destroying the last answer: shuts down the
/// sending half (a FIN, after the answer), then reads and drops what the
/// client still sends, until it closes too, for at most LINGER and
/// LINGER_BYTES. A close with bytes unread would send a reset (RST).
fn linger(socket: &Socket) {
    let _ = socket.shutdown(Shutdown::Write);
    let ends = Deadline::after(LINGER);
    let mut buffer = [0; RECV_SIZE];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        let Ok(wait) = ends.wait_at_most(LINGER) else { return };
        if socket.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match read_again(socket, &mut buffer) {
            Ok(0) => return,
            Ok(received) => dropped += received,
            Err(error) if is_timeout(&error) => {}
            Err(_) => return,
        }
    }
}

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
