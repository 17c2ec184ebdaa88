//! Lesson 12, names and addresses: the demo, IPv6 and dual stack, a client
//! that tries each address in turn, the tutorial's gethostname() bind,
//! bounded name resolution, peers no one here wrote (nc, socat, curl),
//! every lesson with `--host ::1` and `--host localhost`, and another
//! machine simulated by scripts/two-hosts.
//!
//! Some tests need root (network, mount and UTS namespaces) or a tool;
//! where those are missing they are ignored, with a note saying why,
//! except under CI, where they run and fail.

use std::process::Command;
use std::thread;

use libtest_mimic::Trial;

use crate::support::{
    LESSONS, Output, Process, assert_exit, assert_sides_transcript,
    assert_transcript, lesson, python_found, python_twin, root, run, story,
};

const NAME: &str = "lesson_12";

/// What a test needs beyond the lesson itself.
#[derive(Clone, Copy)]
enum Needs {
    Nothing,
    Python,
    Root,
    Tool(&'static str),
}

pub fn tests() -> Vec<Trial> {
    use Needs::*;
    let tests: [(&str, fn(), Needs); 23] = [
        ("demo", demo, Nothing),
        ("help_lists_each_sides_options", help, Nothing),
        ("a_dual_stack_server_sees_ipv4_as_mapped", dual_stack, Nothing),
        ("an_ipv6_only_server_refuses_ipv4", ipv6_only, Nothing),
        ("ipv6_only_needs_an_ipv6_host", ipv6_only_needs_ipv6, Nothing),
        ("exercise_loopback_v6_is_not_v4", loopback_v6_not_v4, Nothing),
        ("an_unknown_name_is_one_line_exit_1", unknown_name, Nothing),
        ("trace_names_each_call", trace, Nothing),
        ("every_lesson_takes_ipv6_and_names", every_lesson_rust, Nothing),
        ("python_demo", python_demo, Python),
        ("python_server_rust_client", python_server_rust_client, Python),
        ("rust_server_python_client", rust_server_python_client, Python),
        ("python_errors_are_one_line", python_errors, Python),
        ("every_python_lesson_takes_ipv6", every_lesson_python, Python),
        ("nc_6_and_nc_4_against_dual_stack", nc, Tool("nc")),
        ("socat_against_ipv6_and_dual_stack", socat, Tool("socat")),
        ("curl_against_ipv6_and_dual_stack", curl, Tool("curl")),
        ("localhost_at_ipv6_first_is_tried_in_turn", localhost_v6, Root),
        ("the_tutorials_hostname_bind", hostname_bind, Root),
        ("a_silent_dns_server_is_given_up", silent_dns, Root),
        (
            "another_machine_refused_then_accepted",
            two_hosts_refused_then_accepted,
            Root,
        ),
        ("another_machine_dual_stack_and_python", two_hosts_more, Root),
        ("two_hosts_without_root_says_so", two_hosts_unprivileged, Root),
    ];
    tests
        .into_iter()
        .map(|(test, body, needs)| {
            let missing = missing(needs);
            let skip = missing.is_some() && std::env::var_os("CI").is_none();
            if let (true, Some(why)) = (skip, &missing) {
                eprintln!("note: {NAME}::{test} is ignored: {why}");
            }
            Trial::test(format!("{NAME}::{test}"), move || {
                body();
                Ok(())
            })
            .with_ignored_flag(skip)
        })
        .collect()
}

/// Why a test cannot run here, if it cannot.
fn missing(needs: Needs) -> Option<String> {
    let works = |program: &str, args: &[&str]| {
        let output = Command::new(program).args(args).output();
        output.is_ok_and(|output| output.status.success())
    };
    match needs {
        Needs::Nothing => None,
        Needs::Python => (!python_found()).then(|| "no python3".into()),
        Needs::Root => {
            let id = Command::new("id").arg("-u").output();
            let root = id.is_ok_and(|id| id.stdout == b"0\n");
            let usable = root && python_found() && works("ip", &["-V"]);
            (!usable).then(|| "needs root, ip and python3".into())
        }
        Needs::Tool(tool) => {
            let found = works("sh", &["-c", &format!("command -v {tool}")]);
            (!found).then(|| format!("{tool} is not installed"))
        }
    }
}

/// `text` with every port after an address (`[::1]:PORT`,
/// `10.12.0.2:PORT`) masked as `PORT`: ports change from run to run.
fn masked(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let digits = bytes[at + 1..].iter().take_while(|b| b.is_ascii_digit());
        let digits = digits.count();
        let after = bytes.get(at + 1 + digits).copied().unwrap_or(b'\n');
        let before = at.checked_sub(1).map(|b| bytes[b]);
        let is_port = bytes[at] == b':'
            && digits > 0
            && matches!(before, Some(b']' | b'0'..=b'9'))
            && !(after.is_ascii_alphanumeric() || b".:]".contains(&after));
        if is_port {
            out.push_str(":PORT");
            at += 1 + digits;
        } else {
            let len = text[at..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[at..at + len]);
            at += len;
        }
    }
    out
}

fn transcript(name: &str, text: &str) {
    assert_transcript(NAME, name, &masked(text));
}

/// A lesson 12 server with `args` (`--port 0 --once` added), and its port.
fn start_server(args: &[&str]) -> (Process, String) {
    let mut all = vec!["server", "--port", "0", "--once"];
    all.extend_from_slice(args);
    let mut server = Process::spawn(lesson(NAME, &all));
    let port = server.listening_port().to_string();
    (server, port)
}

fn run_client(port: &str, args: &[&str]) -> Output {
    let mut all = vec!["client", "--port", port];
    all.extend_from_slice(args);
    run(lesson(NAME, &all))
}

/// A command that is `program` with `args`.
fn command(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

fn demo() {
    let output = run(lesson(NAME, &[]));
    assert_exit(&output, 0);
    assert_eq!(output.stderr, "");
    assert_sides_transcript(NAME, "demo", &masked(&output.stdout));
}

fn help() {
    crate::support::assert_help_transcripts(NAME);
}

fn dual_stack() {
    let (server, port) = start_server(&["--host", "::"]);
    let client = run_client(&port, &["--host", "127.0.0.1"]);
    assert_exit(&client, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    let mapped = "Connection to [::ffff:127.0.0.1]:";
    assert!(server.stdout.contains(mapped), "{}", server.stdout);
    assert!(server.stdout.contains("that is the IPv4 client 127.0.0.1\n"));
    transcript("dual-stack-server", &story(&server));
    transcript("dual-stack-client", &client.stdout);
}

/// With IPV6_V6ONLY the server holds [::]:PORT and not 0.0.0.0:PORT, so
/// another program may take 127.0.0.1:PORT (a parallel test did once). The
/// test takes it first, bound but not listening: a connection to it is
/// refused, whoever else runs. Should another program have it already,
/// the test tries a new server on a new port.
fn ipv6_only() {
    let (server, port, _reserved) = (0..5)
        .find_map(|_| {
            let (server, port) = start_server(&["--host", "::", "--ipv6-only"]);
            let reserved = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                None,
            )
            .unwrap();
            let address: std::net::SocketAddr =
                format!("127.0.0.1:{port}").parse().unwrap();
            match reserved.bind(&address.into()) {
                Ok(()) => Some((server, port, reserved)),
                Err(_) => {
                    server.stop();
                    None
                }
            }
        })
        .expect("a port free on IPv4 too");
    let refused = run_client(&port, &["--host", "127.0.0.1"]);
    assert_exit(&refused, 1);
    assert!(refused.stderr.contains("(connection refused)"), "{refused:?}");
    transcript("ipv6-only-refused", &story(&refused));
    let served = run_client(&port, &["--host", "::1"]);
    assert_exit(&served, 0);
    assert!(served.stdout.contains("you are [::1]:"), "{}", served.stdout);
    assert_exit(&server.finish(), 0);
}

/// The chapter's exercise: a server on ::1 and a client told 127.0.0.1.
fn loopback_v6_not_v4() {
    let (server, port) = start_server(&["--host", "::1"]);
    let refused = run_client(&port, &["--host", "127.0.0.1"]);
    assert_exit(&refused, 1);
    transcript("exercise-v6-loopback", &story(&refused));
    assert_exit(&run_client(&port, &["--host", "localhost"]), 1);
    assert_exit(&run_client(&port, &["--host", "::1"]), 0);
    assert_exit(&server.finish(), 0);
}

fn ipv6_only_needs_ipv6() {
    let output = run(lesson(NAME, &["server", "--ipv6-only", "--port", "0"]));
    assert_exit(&output, 1);
    let line = "[server] error: --ipv6-only needs an IPv6 --host, such as :: \
                or ::1\n";
    assert_eq!(output.stderr, line);
}

fn unknown_name() {
    let output = run_client("4112", &["--name", "no-such-host.invalid"]);
    assert_exit(&output, 1);
    let line =
        "[client] error: cannot find the host \"no-such-host.invalid\"\n";
    assert_eq!(output.stderr, line);
    assert_eq!(output.stdout, "");
}

fn trace() {
    let (server, port) = start_server(&["--trace"]);
    let client = run_client(&port, &["--name", "localhost", "--trace"]);
    assert_exit(&client, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    assert!(client.stdout.contains("connect() waits for the handshake"));
    assert!(server.stdout.contains("accept() waits for a client"));
    transcript("trace-client", &client.stdout);
}

/// Each lesson's server on `listen` (port 0, `--once`), and that lesson's
/// client told `connect`, in Rust or in Python: both exit 0.
fn every_lesson(python: bool, hosts: &'static [(&'static str, &'static str)]) {
    let program = move |name: &str, args: &[&str]| match python {
        true => python_twin(name, args).unwrap(),
        false => lesson(name, args),
    };
    let checks: Vec<_> = LESSONS
        .iter()
        .map(|&name| {
            thread::spawn(move || {
                for &(listen, connect) in hosts {
                    let args =
                        ["server", "--host", listen, "--port", "0", "--once"];
                    let mut server = Process::spawn(program(name, &args));
                    let port = server.listening_port().to_string();
                    let args = ["client", "--host", connect, "--port", &port];
                    let client = run(program(name, &args));
                    let what = format!("{name} {listen} {connect} {python}");
                    assert_eq!(client.status.code(), Some(0), "{what}");
                    let server = server.finish();
                    assert_eq!(server.status.code(), Some(0), "{what}");
                }
            })
        })
        .collect();
    for check in checks {
        check.join().unwrap();
    }
}

const HOSTS: [(&str, &str); 5] = [
    ("::1", "::1"),
    ("localhost", "localhost"),
    ("[::1]", "[::1]"),
    ("0.0.0.0", "127.0.0.1"),
    ("::", "::1"),
];

fn every_lesson_rust() {
    every_lesson(false, &HOSTS);
}

fn every_lesson_python() {
    every_lesson(true, &HOSTS[..2]);
}

fn python_demo() {
    let output = run(python_twin(NAME, &[]).unwrap());
    assert_exit(&output, 0);
    assert_sides_transcript(NAME, "python-demo", &masked(&output.stdout));
}

fn python_server_rust_client() {
    let args = ["server", "--host", "::", "--port", "0", "--once"];
    let mut server = Process::spawn(python_twin(NAME, &args).unwrap());
    let port = server.listening_port().to_string();
    let client = run_client(&port, &["--host", "127.0.0.1"]);
    assert_exit(&client, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    transcript("python-dual-stack-server", &story(&server));
    transcript("client-of-python-server", &client.stdout);
}

fn rust_server_python_client() {
    let (server, port) = start_server(&["--host", "::1"]);
    let args = ["client", "--port", &port, "--host", "::1"];
    let client = run(python_twin(NAME, &args).unwrap());
    assert_exit(&client, 0);
    assert_exit(&server.finish(), 0);
    transcript("python-client", &client.stdout);
}

fn python_errors() {
    let unknown = ["client", "--name", "no-such-host.invalid"];
    let output = run(python_twin(NAME, &unknown).unwrap());
    assert_exit(&output, 1);
    let line = "[client] error: cannot find the host 'no-such-host.invalid'\n";
    assert_eq!(output.stderr, line);
    let needs = ["server", "--ipv6-only", "--port", "0"];
    let output = run(python_twin(NAME, &needs).unwrap());
    assert_exit(&output, 1);
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert!(!output.stderr.contains("Traceback"));
}

/// `peer` (a command given the port) against a lesson 12 server on
/// `host`: what the peer printed, and the server's story.
fn peer(host: &str, make: impl FnOnce(&str) -> Command) -> (String, String) {
    let (server, port) = start_server(&["--host", host]);
    let output = run(make(&port));
    assert_exit(&output, 0);
    let server = server.finish();
    assert_exit(&server, 0);
    (output.stdout, server.stdout)
}

fn nc() {
    let (six, _) =
        peer("::", |port| command("nc", &["-6", "-w", "10", "::1", port]));
    assert!(six.starts_with("you are [::1]:"), "{six}");
    let (four, server) = peer("::", |port| {
        command("nc", &["-4", "-w", "10", "127.0.0.1", port])
    });
    assert!(four.starts_with("you are [::ffff:127.0.0.1]:"), "{four}");
    transcript("nc-4-dual-stack", &format!("$ nc -4 127.0.0.1 PORT\n{four}"));
    transcript("nc-4-dual-stack-server", &server);
}

fn socat() {
    let six = peer("::1", |port| {
        command("socat", &["-u", &format!("TCP6:[::1]:{port}"), "STDOUT"])
    });
    assert!(six.0.starts_with("you are [::1]:"), "{}", six.0);
    let four = peer("::", |port| {
        command("socat", &["-u", &format!("TCP4:127.0.0.1:{port}"), "STDOUT"])
    });
    assert!(four.0.starts_with("you are [::ffff:127.0.0.1]:"), "{}", four.0);
}

fn curl() {
    let six = peer("::", |port| {
        command("curl", &["-sS", &format!("telnet://[::1]:{port}")])
    });
    assert!(six.0.starts_with("you are [::1]:"), "{}", six.0);
    transcript("curl-6", &format!("$ curl -sS telnet://[::1]:PORT\n{}", six.0));
}

/// `wrapper` followed by `program`'s own words and environment: `program`
/// run by `wrapper`.
fn inside(mut wrapper: Command, program: Command) -> Command {
    wrapper.arg(program.get_program()).args(program.get_args());
    for (key, value) in program.get_envs() {
        match value {
            Some(value) => wrapper.env(key, value),
            None => wrapper.env_remove(key),
        };
    }
    wrapper
}

/// `program` with its stderr in its stdout, in the order it printed.
fn merged(program: Command) -> Command {
    inside(command("sh", &["-c", "exec \"$0\" \"$@\" 2>&1"]), program)
}

/// `program` with `args`, in a mount namespace of its own where
/// /etc/hosts is `hosts` and, if `hostname` is given, in a UTS namespace
/// whose host name it is. The network is the test's own.
fn with_hosts(
    hosts: &str,
    hostname: Option<&str>,
    program: Command,
) -> Command {
    let file = std::env::temp_dir().join(format!(
        "lesson_12-hosts-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    std::fs::write(&file, hosts).unwrap();
    let mut command = Command::new("unshare");
    command.args(["-m", "-u", "sh", "-c"]).arg(
        "mount --bind \"$0\" /etc/hosts && { [ -z \"$1\" ] || hostname \"$1\"; } \
         && shift && exec \"$@\"",
    );
    command.arg(&file).arg(hostname.unwrap_or(""));
    inside(command, program)
}

fn localhost_v6() {
    // A common /etc/hosts: localhost at ::1 too. getaddrinfo sorts ::1
    // first (RFC 6724), whatever the file's order.
    let hosts = "127.0.0.1 localhost\n::1 localhost\n";
    let (server, port) = start_server(&["--host", "127.0.0.1"]);
    let args = ["client", "--port", &port, "--name", "localhost"];
    let client = run(merged(with_hosts(hosts, None, lesson(NAME, &args))));
    assert_exit(&client, 0);
    assert_exit(&server.finish(), 0);
    let found = format!("getaddrinfo(\"localhost\"): [::1]:{port}, 127.0.0.1:");
    assert!(client.stdout.contains(&found), "{}", client.stdout);
    transcript("localhost-at-ipv6-first", &client.stdout);
    // The same with Python's getaddrinfo: the same order.
    let (server, port) = start_server(&["--host", "127.0.0.1"]);
    let args = ["client", "--port", &port, "--name", "localhost"];
    let client =
        run(with_hosts(hosts, None, python_twin(NAME, &args).unwrap()));
    assert_exit(&client, 0);
    assert_exit(&server.finish(), 0);
    assert!(client.stdout.contains(&format!("[::1]:{port}, 127.0.0.1:")));
    assert!(
        client.stderr.contains(&format!("nothing listens on [::1]:{port}"))
    );
}

fn hostname_bind() {
    // Debian's installer writes such a line for the machine's name.
    let hosts = "127.0.0.1 localhost\n127.0.1.1 tutorial\n";
    let args = ["server", "--hostname", "--port", "0"];
    let mut server = Process::spawn(with_hosts(
        hosts,
        Some("tutorial"),
        lesson(NAME, &args),
    ));
    let first = server.next_line();
    assert_eq!(first, "[server] gethostname() is \"tutorial\", at 127.0.1.1");
    let port = server.listening_port().to_string();
    let refused = run_client(&port, &["--host", "localhost"]);
    assert_exit(&refused, 1);
    let served = run_client(&port, &["--host", "127.0.1.1"]);
    assert_exit(&served, 0);
    let server = server.stop();
    transcript("hostname-server", &server.stdout);
    transcript("hostname-refused", &story(&refused));
    transcript("hostname-served", &served.stdout);
}

/// `program` in a network and mount namespace of its own, whose only DNS
/// server (127.0.0.1:53, held by tests/python/silent_dns.py) never
/// answers: a name not in /etc/hosts waits there.
fn with_silent_dns(program: Command) -> Command {
    let file = std::env::temp_dir().join(format!(
        "lesson_12-resolv-{}-{:?}",
        std::process::id(),
        thread::current().id()
    ));
    std::fs::write(
        &file,
        "nameserver 127.0.0.1\noptions timeout:30 attempts:5\n",
    )
    .unwrap();
    let silent = root().join("tests/python/silent_dns.py");
    let mut command = Command::new("unshare");
    command.args(["-m", "-n", "sh", "-c"]).arg(
        "mount --bind \"$0\" /etc/resolv.conf && ip link set lo up && exec \"$@\"",
    );
    command.arg(&file).arg(crate::support::python_path().unwrap()).arg(silent);
    inside(command, program)
}

fn silent_dns() {
    let runs: Vec<(Command, &str)> = vec![
        (lesson("lesson_01", &["client", "--host", "slow.example"]), "\""),
        (lesson(NAME, &["client", "--name", "slow.example"]), "\""),
        (
            python_twin("lesson_01", &["client", "--host", "slow.example"])
                .unwrap(),
            "'",
        ),
        (
            python_twin(NAME, &["client", "--name", "slow.example"]).unwrap(),
            "'",
        ),
    ];
    let runs: Vec<_> = runs
        .into_iter()
        .map(|(program, quote)| {
            thread::spawn(move || (run(with_silent_dns(program)), quote))
        })
        .collect();
    for (index, run) in runs.into_iter().enumerate() {
        let (output, quote) = run.join().unwrap();
        assert_exit(&output, 1);
        if index == 0 {
            transcript("silent-dns", &output.stderr);
        }
        let line = format!(
            "[client] error: no answer for the host {quote}slow.example{quote} in 10 s\n"
        );
        assert_eq!(output.stderr, line);
    }
}

/// What scripts/two-hosts printed, each side's lines in order (the two
/// sides' lines may interleave differently from run to run), after the
/// script's own first line.
fn two_hosts_transcript(name: &str, output: &Output) {
    let (first, rest) = output.stdout.split_once('\n').unwrap();
    assert!(first.starts_with("two-hosts: server on 10.12.0.1"), "{first}");
    let sides = masked(&format!("{rest}{}", output.stderr));
    assert_sides_transcript(NAME, name, &sides);
}

/// scripts/two-hosts with the lesson's `server` and `client` arguments;
/// the client's `--host` and `--port` come from the script.
fn two_hosts(server: &str, client: &str) -> Output {
    let lesson_12 = crate::support::example(NAME).display().to_string();
    let python = format!(
        "{} -S {}",
        crate::support::python_path().unwrap().display(),
        root().join("lessons/python/lesson_12.py").display()
    );
    let expand = |side: &str| {
        side.replace("RUST", &lesson_12).replace("PYTHON", &python)
    };
    run(command(
        &root().join("scripts/two-hosts").display().to_string(),
        &[&expand(server), &expand(client)],
    ))
}

fn two_hosts_refused_then_accepted() {
    let refused = two_hosts(
        "RUST server --host 127.0.0.1 --port 0 --once",
        "RUST client --host $SERVER --port $PORT",
    );
    assert_exit(&refused, 1);
    assert!(refused.stderr.contains("nothing listens on 10.12.0.1:"));
    two_hosts_transcript("other-machine-loopback", &refused);
    let accepted = two_hosts(
        "RUST server --host 0.0.0.0 --port 0 --once",
        "RUST client --host $SERVER --port $PORT",
    );
    assert_exit(&accepted, 0);
    assert!(accepted.stdout.contains("[server] Connection to 10.12.0.2:"));
    two_hosts_transcript("other-machine-every-interface", &accepted);
}

fn two_hosts_more() {
    let dual = two_hosts(
        "PYTHON server --host :: --port 0 --once",
        "RUST client --host $SERVER --port $PORT",
    );
    assert_exit(&dual, 0);
    assert!(dual.stdout.contains("you are [::ffff:10.12.0.2]:"), "{dual:?}");
    two_hosts_transcript("other-machine-dual-stack", &dual);
    let six = two_hosts(
        "RUST server --host :: --port 0 --once",
        "PYTHON client --host $SERVER6 --port $PORT",
    );
    assert_exit(&six, 0);
    assert!(six.stdout.contains("you are [fd12::2]:"), "{six:?}");
}

fn two_hosts_unprivileged() {
    let script = root().join("scripts/two-hosts").display().to_string();
    let output = run(command(
        "setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &script,
            "a",
            "b",
        ],
    ));
    assert_exit(&output, 0);
    let line = "two-hosts: skipped: network namespaces need root (try sudo)\n";
    assert_eq!(output.stdout, line);
}
