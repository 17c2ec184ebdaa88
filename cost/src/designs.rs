//! The six servers of one protocol, lesson 9's chat room: the one table the
//! harness takes them from.

use std::path::Path;
use std::process::Command;

/// How a server is started.
pub enum Start {
    /// A Rust example of the workspace, built with `cargo build --example`.
    Example(&'static str),
    /// A Python program, run with python3.
    Python(&'static str),
}

/// One server: a design, in a language.
pub struct Design {
    /// Threads, an event loop, or async.
    pub design: &'static str,
    pub language: &'static str,
    pub start: Start,
    /// The lesson's file, whose lines the table counts.
    pub source: &'static str,
    /// What `--max-clients` is given: the most lesson 9's takes (5,000: two
    /// threads a member), and for the others 20,000, the open-files limit
    /// here, so that the system refuses first.
    pub max_clients: u32,
}

/// The servers, in the chapter's order.
pub const DESIGNS: [Design; 6] = [
    Design {
        design: "threads",
        language: "Rust",
        start: Start::Example("lesson_09"),
        source: "lessons/lesson_09.rs",
        max_clients: 5000,
    },
    Design {
        design: "threads",
        language: "Python",
        start: Start::Python("lessons/python/lesson_09.py"),
        source: "lessons/python/lesson_09.py",
        max_clients: 5000,
    },
    Design {
        design: "event loop",
        language: "Rust",
        start: Start::Example("lesson_13"),
        source: "lessons/lesson_13.rs",
        max_clients: 20000,
    },
    Design {
        design: "event loop",
        language: "Python",
        start: Start::Python("lessons/python/lesson_13.py"),
        source: "lessons/python/lesson_13.py",
        max_clients: 20000,
    },
    Design {
        design: "async",
        language: "Rust",
        start: Start::Example("lesson_14"),
        source: "lessons/lesson_14.rs",
        max_clients: 20000,
    },
    Design {
        design: "async",
        language: "Python",
        start: Start::Python("lessons/python/lesson_14.py"),
        source: "lessons/python/lesson_14.py",
        max_clients: 20000,
    },
];

impl Design {
    /// "threads (Rust)": the chart's legend.
    pub fn label(&self) -> String {
        format!("{} ({})", self.design, self.language)
    }

    /// The program's name: `lesson_09`, or `lesson_09.py`.
    pub fn program(&self) -> &'static str {
        match self.start {
            Start::Example(name) => name,
            Start::Python(script) => {
                script.rsplit('/').next().unwrap_or(script)
            }
        }
    }

    /// The command that starts the server on a port of the system's choice,
    /// or why there is none ("not built: lesson_13"). `examples` is where
    /// cargo put the Rust examples (target/release/examples).
    pub fn command(
        &self,
        root: &Path,
        examples: &Path,
    ) -> Result<Command, String> {
        let mut command = match self.start {
            Start::Example(name) => {
                let path = examples.join(name);
                if !path.is_file() {
                    return Err(format!("not built: {name}"));
                }
                Command::new(path)
            }
            Start::Python(script) => {
                if !root.join(script).is_file() {
                    return Err(format!("not written: {script}"));
                }
                let mut command = Command::new("python3");
                command.arg(root.join(script));
                command
            }
        };
        let max_clients = self.max_clients.to_string();
        command.args(["server", "--port", "0", "--max-clients", &max_clients]);
        command.current_dir(root);
        Ok(command)
    }

    /// How many lines the lesson's file has, if it is there.
    pub fn lines(&self, root: &Path) -> Option<usize> {
        let text = std::fs::read_to_string(root.join(self.source)).ok()?;
        Some(text.lines().count())
    }
}
