//! The book's "from scratch" program: lesson 4 with socket2 alone. It must
//! need nothing of this project's library, and must work as the chapter
//! says.

use crate::support;

use support::{assert_exit, assert_transcript, lesson, root, run};

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![
        it_uses_nothing_but_std_and_socket2,
        its_server_and_client_talk_as_lesson_4s_do,
        a_bad_command_line_is_a_usage_error,
    ]
}

fn it_uses_nothing_but_std_and_socket2() {
    let source =
        std::fs::read_to_string(root().join("book/src/from-scratch.rs"))
            .unwrap();
    for line in source.lines().filter(|line| line.starts_with("use ")) {
        assert!(
            line.starts_with("use std::") || line.starts_with("use socket2::"),
            "{line}"
        );
    }
}

fn its_server_and_client_talk_as_lesson_4s_do() {
    let mut server =
        support::Process::spawn(lesson("from_scratch", &["server", "0"]));
    let port = server.listening_port().to_string();
    let client = run(lesson("from_scratch", &["client", &port]));
    assert_exit(&client, 0);
    assert_transcript("from_scratch", "client", &client.stdout);
    let server = server.stop();
    assert_transcript("from_scratch", "server", &server.stdout);
}

fn a_bad_command_line_is_a_usage_error() {
    for args in [&["serve"][..], &["client", "0"], &["server", "70000"], &[]] {
        let output = run(lesson("from_scratch", args));
        assert_exit(&output, 2);
        assert!(output.stdout.starts_with("usage:"), "{}", output.stdout);
    }
}
