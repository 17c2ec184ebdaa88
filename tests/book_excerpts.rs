//! The lesson chapters quote their lesson's code a few lines at a time to
//! explain it: every quoted excerpt must still be the lesson's code, line
//! for line, so that the book cannot drift from what runs.

use crate::support::root;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    let mut tests = tests![
        every_quoted_excerpt_is_the_lessons_code,
        no_lessons_output_is_typed_into_a_chapter,
    ];
    tests.extend(tests![lesson_10s_client_with_no_server_is_a_real_run]);
    tests.extend(python_tests![lesson_11s_wrong_type_error_is_a_real_run]);
    tests
}

/// The ```rust,ignore blocks of a chapter that quote code (not includes).
fn excerpts(chapter: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in chapter.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```rust,ignore") => current = Some(Vec::new()),
            (Some(block), "```") => {
                let quoted =
                    !block.iter().any(|line| line.contains("{{#include"));
                if quoted && !block.is_empty() {
                    blocks.push(block.clone());
                }
                current = None;
            }
            (Some(block), _) => block.push(line.to_string()),
            _ => {}
        }
    }
    blocks
}

fn every_quoted_excerpt_is_the_lessons_code() {
    let mut checked = 0;
    for number in 1..=11 {
        let chapter = root().join(format!("book/src/lesson-{number:02}.md"));
        let lesson = root().join(format!("lessons/lesson_{number:02}.rs"));
        let chapter = std::fs::read_to_string(chapter).unwrap();
        let code = std::fs::read_to_string(lesson).unwrap();
        let code: Vec<&str> = code.lines().collect();
        for excerpt in excerpts(&chapter) {
            let found = code.windows(excerpt.len()).any(|window| {
                window.iter().zip(&excerpt).all(|(code, quoted)| code == quoted)
            });
            assert!(
                found,
                "lesson-{number:02}.md quotes code that is not in \
                 lesson_{number:02}.rs:\n{}",
                excerpt.join("\n")
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} excerpts found");
}

/// A server of three lines of Python answers lesson 11's client with the
/// string 'ten' for `number`: what the client prints is the transcript that
/// lesson-11.md shows, not a line typed into the chapter.
fn lesson_11s_wrong_type_error_is_a_real_run() {
    use crate::support::{Process, assert_exit, assert_transcript, lesson};
    let script = "import pickle, socket\n\
        s = socket.create_server(('127.0.0.1', 0))\n\
        print('listening on %s:%d' % s.getsockname(), flush=True)\n\
        c, _ = s.accept(); c.recv(1024)\n\
        p = pickle.dumps({'number': 'ten', 'title': 'UDP', \
        'transport': 'Udp', 'calls': [], 'next': 11}, protocol=3)\n\
        c.sendall(b'%-10d' % len(p) + p); c.close()";
    let python = crate::support::python_path().unwrap();
    let mut command = std::process::Command::new(python);
    command.args(["-c", script]);
    let mut server = Process::spawn(command);
    let port = server.listening_port().to_string();
    let client =
        crate::support::run(lesson("lesson_11", &["client", "--port", &port]));
    server.finish();
    assert_exit(&client, 1);
    let printed = format!("{}{}", client.stdout, client.stderr);
    assert!(printed.contains("field `number`"), "{printed}");
    assert_transcript("lesson_11", "answer-ten", &printed);
}

/// Lesson 10's client asks a port where nothing listens (a port the system
/// gave a UDP socket that is closed again): what it prints is the
/// transcript lesson-10.md shows.
fn lesson_10s_client_with_no_server_is_a_real_run() {
    use crate::support::{assert_exit, assert_transcript, lesson, run};
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    drop(socket);
    let client = run(lesson("lesson_10", &["client", "--port", &port]));
    assert_exit(&client, 1);
    let printed = format!("{}{}", client.stdout, client.stderr);
    assert!(printed.contains("never told that nothing listens"), "{printed}");
    assert_transcript("lesson_10", "no-server", &printed);
}

/// A lesson's output in a chapter is an included transcript, written by a
/// real run, never lines typed into a ```text block.
fn no_lessons_output_is_typed_into_a_chapter() {
    let mut typed = Vec::new();
    let chapters = std::fs::read_dir(root().join("book/src")).unwrap();
    for chapter in chapters.map(|entry| entry.unwrap().path()) {
        let name = chapter.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".md") {
            continue;
        }
        let text = std::fs::read_to_string(&chapter).unwrap();
        let mut in_text_block = false;
        for (number, line) in text.lines().enumerate() {
            match line.trim_start() {
                "```text" => in_text_block = true,
                "```" => in_text_block = false,
                line if in_text_block
                    && (line.starts_with("[client]")
                        || line.starts_with("[server]")) =>
                {
                    typed.push(format!("{name}:{}: {line}", number + 1));
                }
                _ => {}
            }
        }
    }
    assert!(typed.is_empty(), "typed, not included:\n{}", typed.join("\n"));
}
