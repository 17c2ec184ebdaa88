//! The one test binary: every lesson's tests (`tests/lesson_NN.rs`), and the
//! checks that are about no single lesson. Cargo links it once and runs
//! every test on one pool of threads; the tests mostly wait (for servers,
//! timeouts, slow motion), so the pool is larger than the machine's cores
//! unless `--test-threads` says otherwise.
//!
//! `cargo test lesson_05` runs one lesson's tests.

#[macro_use]
mod support;

mod book_excerpts;
mod book_primer;
mod command_lines;
mod cost;
mod errors;
mod exercises;
mod framing;
mod from_scratch;
mod lesson_01;
mod lesson_02;
mod lesson_03;
mod lesson_04;
mod lesson_05;
mod lesson_06;
mod lesson_07;
mod lesson_08;
mod lesson_09;
mod lesson_10;
mod lesson_11;
mod lesson_12;
mod lesson_13;
mod lesson_14;
mod lesson_15;
mod library;
mod pickle_reader;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut arguments = libtest_mimic::Arguments::from_args();
    if arguments.test_threads.is_none() {
        let threads = std::env::var("RUST_TEST_THREADS").ok();
        arguments.test_threads =
            threads.and_then(|n| n.parse().ok()).or(Some(16));
    }
    if !support::python_found() {
        eprintln!(
            "note: python3 not found: the tests that need it are ignored"
        );
    }
    let mut tests = Vec::new();
    tests.extend(book_excerpts::tests());
    tests.extend(book_primer::tests());
    tests.extend(command_lines::tests());
    tests.extend(cost::tests());
    tests.extend(errors::tests());
    tests.extend(exercises::tests());
    tests.extend(framing::tests());
    tests.extend(from_scratch::tests());
    tests.extend(lesson_01::tests());
    tests.extend(lesson_02::tests());
    tests.extend(lesson_03::tests());
    tests.extend(lesson_04::tests());
    tests.extend(lesson_05::tests());
    tests.extend(lesson_06::tests());
    tests.extend(lesson_07::tests());
    tests.extend(lesson_08::tests());
    tests.extend(lesson_09::tests());
    tests.extend(lesson_10::tests());
    tests.extend(lesson_11::tests());
    tests.extend(lesson_12::tests());
    tests.extend(lesson_13::tests());
    tests.extend(lesson_14::tests());
    tests.extend(lesson_15::tests());
    tests.extend(library::tests());
    tests.extend(pickle_reader::tests());
    libtest_mimic::run(&arguments, tests).exit_code()
}
