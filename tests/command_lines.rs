//! Every lesson's two programs, Rust and Python, take the same command
//! line: for each side, the same long options, so that any
//! pairing of the two works with the same words.

use libtest_mimic::Trial;

use crate::support::{
    LESSONS, assert_exit, help_options, lesson, python_twin, run,
};

pub fn tests() -> Vec<Trial> {
    python_tests![each_side_offers_the_same_options_in_both_languages]
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
