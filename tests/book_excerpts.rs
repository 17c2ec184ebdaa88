//! The lesson chapters quote their lesson's code a few lines at a time to
//! explain it: every quoted excerpt must still be the lesson's code, line
//! for line, so that the book cannot drift from what runs.

use crate::support::root;

pub fn tests() -> Vec<libtest_mimic::Trial> {
    tests![every_quoted_excerpt_is_the_lessons_code,]
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
