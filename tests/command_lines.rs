//! Every lesson's two programs, Rust and Python, take the same command
//! line: for each side, the same long options, so that any
//! pairing of the two works with the same words.

use libtest_mimic::Trial;

use crate::support::{
    LESSONS, assert_exit, help_options, lesson, python_twin, run, story,
};

pub fn tests() -> Vec<Trial> {
    python_tests![
        each_side_offers_the_same_options_in_both_languages,
        text_that_is_not_utf8_is_a_usage_error_in_both_languages
    ]
}

fn each_side_offers_the_same_options_in_both_languages() {
    for name in LESSONS {
        // The demo (no command) takes the client's own options: the client's
        // help covers them.
        for side in [["server", "--help"], ["client", "--help"]] {
            let rust = run(lesson(name, &side));
            let python = run(python_twin(name, &side).unwrap());
            assert_exit(&rust, 0);
            assert_exit(&python, 0);
            assert_eq!(
                help_options(&rust.stdout),
                help_options(&python.stdout),
                "{name} {side:?}"
            );
        }
    }
}

/// A client's text option given bytes that are not UTF-8 (`$'\\xff'` in
/// bash): clap refuses them before anything runs, and so does each Python
/// twin (which would otherwise decode them to lone surrogates and fail
/// with a traceback once it sent them): exit 2, one error, no output.
fn text_that_is_not_utf8_is_a_usage_error_in_both_languages() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"\xff");
    let options = [
        ("lesson_07", "--message"),
        ("lesson_09", "--name"),
        ("lesson_12", "--name"),
        ("lesson_13", "--name"),
        ("lesson_14", "--name"),
    ];
    for (name, option) in options {
        let args = ["client", "--port", "9"];
        for mut command in
            [lesson(name, &args), python_twin(name, &args).unwrap()]
        {
            command.arg(option).arg(bad);
            let output = run(command);
            assert_exit(&output, 2);
            assert!(!output.stderr.contains("Traceback"), "{}", story(&output));
            assert_eq!(output.stdout, "", "{name}: {}", story(&output));
        }
    }
}
