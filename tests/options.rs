//! The options that make the invisible visible (`--chunk`, `--trace`,
//! `--hex`) and the experiments the book's "Try it" sections suggest, run
//! for real: what each prints is a transcript the book shows.

mod support;

use support::{
    Output, Process, assert_exit, assert_transcript, lesson, mask_ports, run,
    unfold,
};

/// A server started with `server` options, and one client with `client`
/// options against it; both outputs, the server's once it has finished.
fn pair(name: &str, server: &[&str], client: &[&str]) -> (Output, Output) {
    let mut args = vec!["server", "--port", "0", "--once"];
    args.extend_from_slice(server);
    let mut server = Process::spawn(lesson(name, &args));
    let port = server.listening_port().to_string();
    let mut args = vec!["client", "--port", &port];
    args.extend_from_slice(client);
    let client = run(lesson(name, &args));
    (server.finish(), client)
}

#[test]
fn in_slow_motion_lesson_1s_single_recv_gets_only_the_first_piece() {
    let (server, client) =
        pair("lesson_01", &["--chunk", "5", "--pause", "0.2"], &[]);
    assert_exit(&client, 0);
    assert!(
        client.stdout.contains("recv(1024) returned 5 bytes"),
        "{}",
        client.stdout
    );
    assert_transcript("lesson_01", "slow-motion-client", &client.stdout);
    // The client has closed after one recv: the server's next piece finds
    // no one to take it, and the server says so.
    assert_exit(&server, 1);
    let story = format!("{}{}", server.stdout, server.stderr);
    assert_transcript("lesson_01", "slow-motion-server", &story);
}

#[test]
fn trace_names_every_call_that_can_block() {
    let (server, client) = pair("lesson_02", &["--trace"], &["--trace"]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    for call in ["accept()", "send(26 bytes)"] {
        assert!(unfold(&server.stdout).contains(call), "{}", server.stdout);
    }
    for call in ["connect(127.0.0.1:", "recv(7) -> 7 bytes"] {
        assert!(unfold(&client.stdout).contains(call), "{}", client.stdout);
    }
    assert_transcript("lesson_02", "trace-server", &server.stdout);
    assert_transcript("lesson_02", "trace-client", &client.stdout);
}

#[test]
fn hex_shows_lesson_5s_headers_and_pickles_as_they_are_sent() {
    let (server, client) = pair("lesson_05", &["--hex"], &[]);
    assert_exit(&server, 0);
    assert_exit(&client, 0);
    assert!(
        server.stdout.contains("0000 33 38 20 20 20 20 20 20 20 20 80 03"),
        "{}",
        server.stdout
    );
    assert_transcript("lesson_05", "hex-server", &server.stdout);
}

#[test]
fn lesson_1_with_a_7_byte_buffer_gets_7_bytes_and_says_so() {
    let (_, client) = pair("lesson_01", &[], &["--buffer", "7"]);
    assert_exit(&client, 0);
    assert_transcript("lesson_01", "client-buffer-7", &client.stdout);
}

#[test]
fn lesson_2_with_a_1024_byte_buffer_gets_everything_that_had_arrived() {
    let (_, client) = pair("lesson_02", &[], &["--buffer", "1024"]);
    assert_exit(&client, 0);
    assert!(
        client.stdout.contains("recv(1024) returned 26 bytes"),
        "{}",
        client.stdout
    );
    assert_transcript("lesson_02", "client-buffer-1024", &client.stdout);
}

#[test]
fn lesson_4s_client_cannot_tell_the_end_from_a_server_that_never_closes() {
    // Lesson 3's server sends the same 26 bytes but keeps the connection
    // open: lesson 4's client waits for a 0 that never comes.
    let mut server = Process::spawn(lesson(
        "lesson_03",
        &["server", "--port", "0", "--once", "--hold", "5"],
    ));
    let port = server.listening_port().to_string();
    let client =
        run(lesson("lesson_04", &["client", "--port", &port, "--wait", "0.5"]));
    assert_exit(&client, 1);
    let stderr = unfold(&client.stderr);
    assert!(
        stderr.contains("sent 26 bytes, then nothing more within 0.5 s"),
        "{stderr}"
    );
    let story = format!("{}{}", client.stdout, client.stderr);
    assert_transcript("lesson_04", "client-of-lesson-03-server", &story);
    server.finish();
}

#[test]
fn lesson_5s_values_do_not_depend_on_the_clients_buffer() {
    let values = |buffer: &str| {
        let (_, client) = pair("lesson_05", &[], &["--buffer", buffer]);
        assert_exit(&client, 0);
        let lines: Vec<String> =
            client.stdout.lines().map(String::from).collect();
        // The last line names the buffer's size; the rest must not change.
        mask_ports(&lines[..lines.len() - 2].join("\n"))
    };
    let tiny = values("1");
    assert!(tiny.contains("{1: 'Client', 2: 'Server'}"), "{tiny}");
    assert_eq!(tiny, values("4096"));
    assert_eq!(tiny, values("10"));
}

/// One lesson's client against another lesson's server (`--once`).
fn cross(server: &str, client: &str, client_options: &[&str]) -> Output {
    let mut server =
        Process::spawn(lesson(server, &["server", "--port", "0", "--once"]));
    let port = server.listening_port().to_string();
    let mut args = vec!["client", "--port", &port];
    args.extend_from_slice(client_options);
    let client = run(lesson(client, &args));
    server.stop();
    client
}

#[test]
fn lesson_1s_server_serves_one_client_after_another() {
    let mut server =
        Process::spawn(lesson("lesson_01", &["server", "--port", "0"]));
    let port = server.listening_port().to_string();
    for _ in 0..2 {
        assert_exit(&run(lesson("lesson_01", &["client", "--port", &port])), 0);
    }
    let server = server.stop();
    let clients: Vec<&str> = server
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("[server] Connection to "))
        .collect();
    assert_eq!(clients.len(), 2, "{}", server.stdout);
    assert_ne!(clients[0], clients[1], "each client has a port of its own");
    assert_transcript("lesson_01", "two-clients-server", &server.stdout);
}

#[test]
fn lesson_3s_client_ends_cleanly_against_lesson_4s_server() {
    let client = cross("lesson_04", "lesson_03", &[]);
    assert_exit(&client, 0);
    assert_transcript(
        "lesson_03",
        "client-of-lesson-04-server",
        &client.stdout,
    );
}

#[test]
fn lesson_3_with_a_26_byte_buffer_gets_all_in_one_recv_then_still_waits() {
    let (_, client) = pair(
        "lesson_03",
        &["--hold", "5"],
        &["--buffer", "26", "--wait", "0.5"],
    );
    assert_exit(&client, 0);
    assert!(
        client.stdout.contains("recv(26) returned 26 bytes"),
        "{}",
        client.stdout
    );
    assert_transcript("lesson_03", "client-buffer-26", &client.stdout);
}

#[test]
fn lesson_4s_client_takes_lesson_5s_four_messages_for_one() {
    let client = cross("lesson_05", "lesson_04", &[]);
    assert_exit(&client, 0);
    let stdout = unfold(&client.stdout);
    let complete: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("complete message:"))
        .collect();
    assert_eq!(complete.len(), 1, "{stdout}");
    // Four headers in one message: nothing told the client where each
    // message ended.
    for header in ["38        ", "24        ", "29        ", "37        "] {
        assert!(complete[0].contains(header), "{stdout}");
    }
}

/// The demo of lesson 1 on a terminal (a pty made by `script`), with
/// `variables` set; what it printed.
fn on_a_terminal(variables: &[(&str, &str)]) -> Option<String> {
    let script = std::process::Command::new("script").arg("--version").output();
    if !script.is_ok_and(|output| output.status.success()) {
        eprintln!("note: no `script` command here to make a terminal; skipped");
        return None;
    }
    let program = support::example("lesson_01");
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &program.display().to_string(), "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm")
        .envs(variables.iter().copied());
    Some(run(command).stdout)
}

#[test]
fn colour_on_a_terminal_unless_no_color_or_a_dumb_terminal() {
    let Some(coloured) = on_a_terminal(&[]) else { return };
    assert!(coloured.contains("\x1b["), "{coloured:?}");
    for variables in [[("TERM", "dumb")], [("NO_COLOR", "1")]] {
        let plain = on_a_terminal(&variables).unwrap();
        assert!(plain.contains("[server] listening on"), "{plain:?}");
        assert!(!plain.contains('\x1b'), "{variables:?}: {plain:?}");
    }
}
