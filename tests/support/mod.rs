//! What the tests share: building and running the lessons as real processes,
//! with a deadline, and comparing what they print with the transcripts the book
//! shows.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest any one process of a test may run; a lesson that takes longer has
/// hung.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The lessons, as their example names.
pub const LESSONS: [&str; 15] = [
    "lesson_01",
    "lesson_02",
    "lesson_03",
    "lesson_04",
    "lesson_05",
    "lesson_06",
    "lesson_07",
    "lesson_08",
    "lesson_09",
    "lesson_10",
    "lesson_11",
    "lesson_12",
    "lesson_13",
    "lesson_14",
    "lesson_15",
];

/// The project's root: the lessons, the book and the Python programs are there.
pub fn root() -> &'static Path {
    // This package is tests/, one level below the root.
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The path of a lesson's executable, built on first use so that `cargo test
/// --test NAME` works on a fresh clone too. Cargo builds examples for `cargo
/// test`, but not for every way of running one test file.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let directory = BUILT.get_or_init(|| {
        // This test runs from target/<profile>/deps; the examples go to
        // target/<profile>/examples.
        let profile_dir = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        let profile =
            match profile_dir.file_name().and_then(|name| name.to_str()) {
                Some("debug") | None => "dev".to_string(),
                Some(other) => other.to_string(),
            };
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--examples", "--profile", &profile])
            .args(["--package", "socket-lessons"])
            // Lesson 14 and its tokio are a package of their own (async/).
            .args(["--package", "socket-lessons-async"])
            .current_dir(root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --examples failed");
        profile_dir.join("examples")
    });
    directory.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A command for a lesson, without colour whatever the environment says.
pub fn lesson(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(example(name));
    command.args(args).env_remove("CLICOLOR_FORCE");
    command
}

/// What a finished process printed.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A process the test watches: its stdout line by line as it comes, killed if
/// the test ends first (a panic included), so no test leaves a server behind.
pub struct Process {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    started: Instant,
}

impl Process {
    pub fn spawn(command: Command) -> Process {
        Process::spawn_with_stdin(command, Stdio::null())
    }

    /// Like [`Process::spawn`], with a pipe to its stdin: what the test
    /// writes there is what a user types (a chat client's lines); dropping
    /// it is the end of input.
    pub fn spawn_piped(command: Command) -> (Process, ChildStdin) {
        let mut process = Process::spawn_with_stdin(command, Stdio::piped());
        let stdin = process.child.stdin.take().unwrap();
        (process, stdin)
    }

    fn spawn_with_stdin(mut command: Command, stdin: Stdio) -> Process {
        let mut child = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {command:?}: {error}")
            });
        let (sender, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Process {
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
            started: Instant::now(),
        }
    }

    fn remaining(&self) -> Duration {
        DEADLINE.saturating_sub(self.started.elapsed())
    }

    /// The next line on stdout; panics if none comes before the deadline.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(self.remaining()) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(error) => panic!(
                "no line from the process ({error:?}); it printed {:?}",
                self.seen
            ),
        }
    }

    /// Waits for the `listening on HOST:PORT` line a server prints first, and
    /// returns the port.
    pub fn listening_port(&mut self) -> u16 {
        let line = self.next_line();
        let port =
            line.rsplit_once(':').and_then(|(_, port)| port.parse().ok());
        assert!(
            line.contains("listening on "),
            "expected the listening line first, got {line:?}"
        );
        port.unwrap_or_else(|| panic!("no port in {line:?}"))
    }

    /// Waits for the process to end, within the deadline, and returns all it
    /// printed.
    pub fn finish(mut self) -> Output {
        loop {
            match self.lines.recv_timeout(self.remaining()) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "the process did not finish within {DEADLINE:?}; it printed {:?}",
                        self.seen
                    )
                }
            }
        }
        // Its stdout is closed, so it has exited or is about to.
        let status = self.child.wait().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        let mut stdout = self.seen.join("\n");
        if !stdout.is_empty() {
            stdout.push('\n');
        }
        Output { status, stdout, stderr }
    }
}

impl Process {
    /// Stops a server that serves until interrupted, and returns all it
    /// printed.
    pub fn stop(mut self) -> Output {
        let _ = self.child.kill();
        self.finish()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to its end, within the deadline.
pub fn run(command: Command) -> Output {
    Process::spawn(command).finish()
}

/// Starts `server`, waits for its `listening on` line, runs the client that
/// `client` makes for that port, and waits for both to end successfully.
/// Returns their outputs, server first.
pub fn server_then_client(
    server: Command,
    client: impl FnOnce(&str) -> Command,
) -> (Output, Output) {
    let mut server = Process::spawn(server);
    let port = server.listening_port().to_string();
    let client = run(client(&port));
    let server = server.finish();
    assert_exit(&client, 0);
    assert_exit(&server, 0);
    (server, client)
}

/// Replaces every port after `127.0.0.1:` with `PORT`: ports change from run to
/// run.
pub fn mask_ports(text: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(HOST) {
        let (before, after) = rest.split_at(at + HOST.len());
        masked.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        masked.push_str(if digits > 0 { "PORT" } else { "" });
        rest = &after[digits..];
    }
    masked.push_str(rest);
    masked
}

/// The transcript file of `lesson` named `name`: what the book shows and what
/// the test expects.
pub fn transcript_path(lesson: &str, name: &str) -> PathBuf {
    root().join("book/src/transcripts").join(lesson).join(format!("{name}.txt"))
}

/// Asserts that `output` (ports masked) is the transcript, and shows a diff
/// where it is not. `SNAPSHOTS=overwrite cargo test` writes the transcripts
/// from the real runs instead.
pub fn assert_transcript(lesson: &str, name: &str, output: &str) {
    let expected =
        snapbox::Data::read_from(&transcript_path(lesson, name), None).raw();
    snapbox::Assert::new()
        .action_env("SNAPSHOTS")
        .normalize_paths(false)
        .eq(mask_ports(output), expected);
}

/// Like [`assert_transcript`], for output where two sides print at once (a
/// demo): the sides' lines may interleave differently from run to run, so
/// the output matches if each side printed the transcript's lines for that
/// side, in the same order.
pub fn assert_sides_transcript(lesson: &str, name: &str, output: &str) {
    let path = transcript_path(lesson, name);
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    let output = mask_ports(output);
    let side = |text: &str, label: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with(label))
            .map(str::to_string)
            .collect()
    };
    let same_sides = ["[server]", "[client]"]
        .iter()
        .all(|label| side(&output, label) == side(&expected, label));
    let only_sides = output.lines().all(|line| {
        line.starts_with("[server]") || line.starts_with("[client]")
    });
    if !(same_sides
        && only_sides
        && output.lines().count() == expected.lines().count())
    {
        assert_transcript(lesson, name, &output);
    }
}

/// `cargo run --example NAME`: the demo ends with status 0, prints nothing
/// on stderr, and each side prints what the demo transcript shows.
pub fn assert_demo(name: &str) {
    let output = run(lesson(name, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "", "the demo should print nothing on stderr");
    assert_sides_transcript(name, "demo", &output.stdout);
}

/// Asserts a run ended with `code`, showing what it printed where it did not.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        output.stdout,
        output.stderr
    );
}

/// `python3 SCRIPT`, for the tests that talk to Python. They are registered
/// with `python_tests!`, so where python3 is missing they are ignored
/// (outside CI) and never get here. `-S` leaves out the site packages,
/// which the twins do not use and which cost each start-up a third of its
/// time on the development machine; and the twins' bytecode is cached.
pub fn python3(script: &str) -> Option<Command> {
    let python = python_path().expect("python3 is not on PATH: install it");
    let mut command = Command::new(python);
    command.arg("-S").arg(root().join(script));
    // Compiled once into __pycache__ (ignored by git), not at every start.
    command
        .env("PYTHONIOENCODING", "utf-8")
        .env_remove("PYTHONDONTWRITEBYTECODE");
    Some(command)
}

/// A lesson's Python twin, `lessons/python/NAME.py`, with `args` and
/// without colour; `None` where python3 is missing (outside CI).
pub fn python_twin(name: &str, args: &[&str]) -> Option<Command> {
    let mut command = python3(&format!("lessons/python/{name}.py"))?;
    command.args(args).env_remove("CLICOLOR_FORCE");
    Some(command)
}

/// `pickle.dumps(eval(expression), protocol)` for each expression, by
/// Python itself (tests/python/dumps.py); `None` where python3 is missing.
pub fn python_pickles(
    expressions: &[&str],
    protocol: u8,
) -> Option<Vec<Vec<u8>>> {
    use std::io::Write;
    let mut python = python3("tests/python/dumps.py")?;
    let mut child = python
        .arg(protocol.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for expression in expressions {
        writeln!(stdin, "{expression}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let hex = String::from_utf8(output.stdout).unwrap();
    let byte = |line: &str, at: usize| {
        u8::from_str_radix(&line[at..at + 2], 16).unwrap()
    };
    Some(
        hex.lines()
            .map(|line| {
                (0..line.len()).step_by(2).map(|at| byte(line, at)).collect()
            })
            .collect(),
    )
}

// -----------------------------------------------------------------------------
// The one test binary (tests/main.rs): registering tests, honest skips, and
// peers that send given bytes.

/// A test of the one binary, named `module::test` (`lesson_05::demo`), so
/// that `cargo test lesson_05` runs one lesson's tests. A test that needs
/// python3 is reported as ignored where python3 is missing, except under
/// CI (the `CI` variable set), where it runs and fails.
pub fn trial<R: Outcome + 'static>(
    module: &str,
    test: &str,
    body: fn() -> R,
    needs_python: bool,
) -> libtest_mimic::Trial {
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    let skip =
        needs_python && !python_found() && std::env::var_os("CI").is_none();
    libtest_mimic::Trial::test(format!("{module}::{test}"), move || {
        body().outcome()
    })
    .with_ignored_flag(skip)
}

/// What a test returns: nothing (it panics on failure), or a `Result`.
pub trait Outcome {
    fn outcome(self) -> Result<(), libtest_mimic::Failed>;
}

impl Outcome for () {
    fn outcome(self) -> Result<(), libtest_mimic::Failed> {
        Ok(())
    }
}

impl<E: std::fmt::Debug> Outcome for Result<(), E> {
    fn outcome(self) -> Result<(), libtest_mimic::Failed> {
        self.map_err(|error| format!("{error:?}").into())
    }
}

/// Whether `python3` runs here.
pub fn python_found() -> bool {
    python_path().is_some()
}

/// The interpreter `python3` names, found once: `sys.executable`. Tests
/// start it directly, not through `python3` on PATH, which may be a
/// version manager's shim (pyenv's costs 60 ms of CPU a start here, the
/// interpreter itself 9 ms).
pub fn python_path() -> Option<&'static Path> {
    static PATH: OnceLock<Option<PathBuf>> = OnceLock::new();
    PATH.get_or_init(|| {
        let script = "import sys; print(sys.executable)";
        let output = Command::new("python3").args(["-c", script]).output();
        let output = output.ok().filter(|output| output.status.success())?;
        let path = String::from_utf8(output.stdout).ok()?;
        Some(PathBuf::from(path.trim_end()))
    })
    .as_deref()
}

/// `tests![a, b]`: the module's tests `a` and `b`, for tests/main.rs.
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        vec![$($crate::support::trial(
            module_path!(), stringify!($test), $test, false)),*]
    };
}

/// `python_tests![a, b]`: tests that need python3 (skipped without it).
macro_rules! python_tests {
    ($($test:ident),* $(,)?) => {
        vec![$($crate::support::trial(
            module_path!(), stringify!($test), $test, true)),*]
    };
}

/// A one-connection peer: listens on a port the system picks, accepts one
/// connection, sends `bytes`, then closes after reading what the other side
/// sent (so that closing sends a FIN, not an RST). Returns the port and a
/// handle that yields what the other side sent.
pub fn peer_sending(bytes: Vec<u8>) -> (u16, JoinHandle<Vec<u8>>) {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let _ = stream.write_all(&bytes);
        let _ = stream.shutdown(Shutdown::Write);
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received);
        received
    });
    (port, handle)
}

/// `bytes` behind lesson 5's 10-character length header, by the library's
/// own `frame`.
pub fn framed(bytes: &[u8]) -> Vec<u8> {
    socket_lessons::framing::frame(bytes).unwrap()
}

/// A server of `name` started with `server` options (`--port 0 --once`
/// added), and one client with `client` options against it; both outputs,
/// the server's once it has finished.
pub fn pair(name: &str, server: &[&str], client: &[&str]) -> (Output, Output) {
    let mut args = vec!["server", "--port", "0", "--once"];
    args.extend_from_slice(server);
    let mut server = Process::spawn(lesson(name, &args));
    let port = server.listening_port().to_string();
    let mut args = vec!["client", "--port", &port];
    args.extend_from_slice(client);
    let client = run(lesson(name, &args));
    (server.finish(), client)
}

/// Starts `server` (a server given `--port 0`), waits for its `listening
/// on` line, runs the client `client` makes for that port, and stops the
/// server. Returns both outputs, server first.
pub fn against(
    server: Command,
    client: impl FnOnce(&str) -> Command,
) -> (Output, Output) {
    let mut server = Process::spawn(server);
    let port = server.listening_port().to_string();
    let client = run(client(&port));
    (server.stop(), client)
}

/// A command's stdout and stderr, in that order: a transcript of a run
/// that ends in an error.
pub fn story(output: &Output) -> String {
    format!("{}{}", output.stdout, output.stderr)
}

/// The long options a `--help` lists, sorted: the first `--name` of each
/// line that starts (after spaces) with a dash. The Rust and Python helps
/// differ in their words, not in the options they offer.
pub fn help_options(help: &str) -> Vec<String> {
    let mut options: Vec<String> = help
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .filter_map(|line| {
            let word = line.split_whitespace().find(|w| w.starts_with("--"))?;
            let word = word.trim_end_matches(',');
            // Not `--host)`: a wrapped line of help text that names one.
            let plain = word[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
            plain.then(|| word.to_string())
        })
        .collect();
    options.sort();
    options.dedup();
    options
}

/// `--help`, `server --help` and `client --help` of lesson `name`: each
/// exits 0 and prints the transcript the book shows (`help`,
/// `help-server`, `help-client`).
pub fn assert_help_transcripts(name: &str) {
    for (transcript, args) in [
        ("help", &["--help"][..]),
        ("help-server", &["server", "--help"]),
        ("help-client", &["client", "--help"]),
    ] {
        let output = run(lesson(name, args));
        assert_exit(&output, 0);
        assert_transcript(name, transcript, &output.stdout);
    }
}

impl Process {
    /// The process id, for `kill -STOP` or `prlimit --pid`.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

/// `command` started by `sh` with a standard stream closed (`redirect` is
/// `<&-` or `>&-`), as a shell user can start it: not /dev/null, no stream.
pub fn with_closed(redirect: &str, command: &Command) -> Command {
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("exec \"$0\" \"$@\" {redirect}"))
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => shell.env(key, value),
            None => shell.env_remove(key),
        };
    }
    shell
}

/// The backlog of the socket that listens on `port`: `ss` shows it as the
/// Send-Q of a listening socket.
pub fn listen_backlog(port: &str) -> u32 {
    let filter = format!("sport = :{port}");
    let ss = Command::new("ss").args(["-Hltn", &filter]).output();
    let listed = String::from_utf8(ss.expect("ss runs").stdout).unwrap();
    let columns: Vec<&str> = listed.split_whitespace().collect();
    columns.get(2).and_then(|q| q.parse().ok()).unwrap_or_else(|| {
        panic!("no listening socket on port {port} in {listed:?}")
    })
}

/// A listener whose backlog is full (listen(0), then connections it never
/// accepts): the system drops a further SYN, so a connect to its port
/// waits. Keep the listener and the held connections alive while in use.
pub fn full_backlog() -> (socket2::Socket, Vec<socket2::Socket>, u16) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    listener.bind(&any.into()).unwrap();
    listener.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    let held = (0..3)
        .map(|_| {
            let held = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            held.set_nonblocking(true).unwrap();
            let _ = held.connect(&address);
            held
        })
        .collect();
    let port = address.as_socket().unwrap().port();
    (listener, held, port)
}

/// A client (`client(port, options)`) whose wait runs out says what ran
/// out: `--deadline` when it came first, at the connect (a full backlog)
/// and at a recv (a server that accepts and never answers); else `--wait`.
pub fn assert_names_what_ran_out(client: &dyn Fn(&str, &[&str]) -> Command) {
    let (_listener, _held, full) = full_backlog();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    for port in [full, silent_port].map(|port| port.to_string()) {
        let deadline =
            run(client(&port, &["--deadline", "0.5", "--wait", "30"]));
        assert_exit(&deadline, 1);
        let said = "error: gave up after 0.5 s in all (--deadline)\n";
        assert!(deadline.stderr.ends_with(said), "{}", story(&deadline));
        let wait = run(client(&port, &["--deadline", "30", "--wait", "0.5"]));
        assert_exit(&wait, 1);
        let said = format!("127.0.0.1:{port} within 0.5 s (--wait)\n");
        assert!(wait.stderr.ends_with(&said), "{}", story(&wait));
    }
}

/// Waits until every thread of process `pid` is asleep (state S in /proc:
/// blocked in a call), and there are `threads` of them if given.
pub fn wait_asleep(pid: u32, threads: Option<usize>) {
    let states = || -> Vec<String> {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        let state = |task: std::fs::DirEntry| {
            let stat = std::fs::read_to_string(task.path().join("stat"));
            let stat = stat.unwrap_or_default();
            let after = stat.rsplit_once(") ").map_or("?", |(_, rest)| rest);
            after.chars().take(1).collect()
        };
        tasks.map(|task| state(task.unwrap())).collect()
    };
    let started = Instant::now();
    loop {
        let now = states();
        let count = threads.unwrap_or(now.len());
        if now.len() == count && now.iter().all(|state| state == "S") {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "{now:?}");
        thread::yield_now();
    }
}

/// Stops process `pid` (`kill -STOP`, as Ctrl-Z does) and continues it.
pub fn stop_and_continue(pid: u32) {
    for signal in ["-STOP", "-CONT"] {
        let sent =
            Command::new("kill").args([signal, &pid.to_string()]).status();
        assert!(sent.unwrap().success());
    }
}

/// A client (`client(port)`, waiting at most 1 s for an answer) stopped
/// and continued while it waits for a server that never answers: it goes
/// on waiting, and says that nothing came, not `Interrupted system call`.
pub fn assert_a_stopped_client_goes_on(client: &dyn Fn(&str) -> Command) {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let process = Process::spawn(client(&port));
    wait_asleep(process.id(), None);
    stop_and_continue(process.id());
    let output = process.finish();
    assert_exit(&output, 1);
    assert!(
        output.stderr.contains("within 1 s (--wait)"),
        "{}",
        story(&output)
    );
}
