//! The one test binary: every lesson's tests (`tests/lesson_NN.rs`), and the
//! checks that are about no single lesson. Cargo links it once and runs
//! every test on one pool of threads; the tests mostly wait (for servers,
//! timeouts, slow motion), so the pool is larger than the machine's cores
//! unless `--test-threads` says otherwise.
//!
//! `cargo test lesson_05` runs one lesson's tests.

#[macro_use]
mod support;

mod book_primer;
mod framing;
mod from_scratch;
mod lesson_01;
mod lesson_05;
mod lesson_06;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut arguments = libtest_mimic::Arguments::from_args();
    if arguments.test_threads.is_none() {
        arguments.test_threads = Some(8);
    }
    if !support::python_found() {
        eprintln!(
            "note: python3 not found: the tests that need it are ignored"
        );
    }
    let tests = [
        lesson_01::tests(),
        lesson_05::tests(),
        lesson_06::tests(),
        framing::tests(),
        book_primer::tests(),
        from_scratch::tests(),
    ]
    .into_iter()
    .flatten()
    .collect();
    libtest_mimic::run(&arguments, tests).exit_code()
}
