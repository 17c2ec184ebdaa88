//! The library's errors in words (`src/errors.rs`): one line each, with
//! the next step, and a client's deadline.

use std::io;
use std::time::Duration;

use libtest_mimic::Trial;
use socket_lessons::errors::{Deadline, Situation, explain, resolve};
use std::net::SocketAddr;

pub fn tests() -> Vec<Trial> {
    tests![
        a_refused_connection_says_how_to_start_the_server,
        a_lessons_own_words_are_kept,
        hosts_resolve_ipv4_first,
        a_passed_deadline_says_which_option,
    ]
}

const SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4101);

fn a_refused_connection_says_how_to_start_the_server() {
    let situation = Situation::Connecting {
        lesson: "lesson_01",
        server: SERVER,
        wait: Duration::from_secs(1),
    };
    let message = explain(&io::ErrorKind::ConnectionRefused.into(), situation);
    assert!(message.ends_with("cargo run --example lesson_01 -- server"));
}

fn a_lessons_own_words_are_kept() {
    let error = io::Error::other("the header b'x' is not a length");
    let situation = Situation::Serving { address: SERVER };
    assert_eq!(explain(&error, situation), "the header b'x' is not a length");
}

fn hosts_resolve_ipv4_first() {
    assert_eq!(resolve("localhost", 4101).unwrap(), SERVER);
    assert!(resolve("[::1]", 7).unwrap().is_ipv6());
}

fn a_passed_deadline_says_which_option() {
    let deadline = Deadline::after(Duration::ZERO);
    let error = deadline.wait_at_most(Duration::from_secs(1)).unwrap_err();
    assert_eq!(error.to_string(), "gave up after 0 s in all (--deadline)");
}
