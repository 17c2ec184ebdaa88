//! `cargo run --release -p socket-lessons-cost [-- --quick] [--no-chart]
//! [--only lesson_09]`: measures the chat room's servers and writes the
//! book's table and charts (book/src/cost/).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::Parser;
use socket_lessons_cost::designs::{DESIGNS, Start};
use socket_lessons_cost::measure::{self, Settings};
use socket_lessons_cost::report::{self, Machine};
use socket_lessons_cost::server;

/// What a connection costs: memory, the most connections held, and broadcast
/// latency of the chat room's servers (lessons 9, 13 and 14, Rust and
/// Python), written as the book's table and charts.
#[derive(Parser)]
struct Options {
    /// Every figure at small sizes, in seconds (for CI)
    #[arg(long)]
    quick: bool,
    /// Write the table only, not the charts
    #[arg(long)]
    no_chart: bool,
    /// The load generator acknowledges at once (TCP_QUICKACK), so that no
    /// delayed ACK is in the latencies
    #[arg(long)]
    quick_ack: bool,
    /// Measure only this server (lesson_09, lesson_13.py, ...); repeatable
    #[arg(long, value_name = "PROGRAM")]
    only: Vec<String>,
    /// Where the table and the charts go [default: book/src/cost]
    #[arg(long, value_name = "DIRECTORY")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let options = Options::parse();
    let (quick, chart, only) = (options.quick, !options.no_chart, options.only);
    let out = options.out.unwrap_or_else(|| root.join("book/src/cost"));
    let quick_ack = options.quick_ack;
    let started = Instant::now();
    let (soft, hard) = match server::raise_open_files() {
        Ok(limits) => limits,
        Err(error) => {
            eprintln!("cannot raise the open-files limit: {error}");
            (0, 0)
        }
    };
    let mut settings =
        if quick { Settings::quick() } else { Settings::full(soft as usize) };
    settings.quick_ack = quick_ack;
    let mut open_files = format!(
        "open files (RLIMIT_NOFILE) raised to {soft}, the hard limit {hard}"
    );
    // Each connection is a file descriptor here, and one or more in the
    // server.
    let untried: Vec<usize> = settings
        .steps
        .iter()
        .copied()
        .filter(|&step| step + 100 > soft as usize)
        .collect();
    if let Some(first) = untried.first() {
        open_files += &format!(
            ", so {} connections and more cannot be tried",
            report::count(*first)
        );
        settings.steps.retain(|step| !untried.contains(step));
    }
    eprintln!("{open_files}");
    let designs: Vec<_> = DESIGNS
        .iter()
        .filter(|d| only.is_empty() || only.iter().any(|o| o == d.program()))
        .collect();
    for design in &designs {
        if let Start::Example(name) = design.start {
            build(name);
        }
    }
    // This program is target/release/socket-lessons-cost; the lessons are
    // in target/release/examples.
    let exe = std::env::current_exe().unwrap_or_default();
    let examples = exe.with_file_name("examples");
    let machine = Machine::this(open_files);
    eprintln!("floor: one client, echoed through the loopback");
    let floor = measure::floor(&settings);
    let mut rows = Vec::new();
    for design in designs {
        eprintln!("{} ({})", design.label(), design.program());
        let row = measure::measure(design, &root, &examples, &settings);
        if let Err(why) = &row.result {
            eprintln!("{why}");
        }
        rows.push(row);
    }
    let given: Vec<String> = std::env::args().skip(1).collect();
    let mut command = "cargo run --release -p socket-lessons-cost".to_string();
    if !given.is_empty() {
        command = format!("{command} -- {}", given.join(" "));
    }
    let table = report::markdown(&machine, &settings, &command, &floor, &rows);
    print!("{table}");
    if let Err(error) =
        write(&out, &table, chart.then_some((&rows, &settings, &floor)))
    {
        eprintln!("cannot write {}: {error}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wrote {} in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

type Charted<'a> = (
    &'a Vec<measure::Row>,
    &'a Settings,
    &'a Result<measure::Quantiles, String>,
);

fn write(
    out: &Path,
    table: &str,
    chart: Option<Charted>,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("table.md"), table)?;
    if let Some((rows, settings, floor)) = chart {
        socket_lessons_cost::chart::memory(
            &out.join("memory.svg"),
            rows,
            &settings.steps,
        )?;
        socket_lessons_cost::chart::latency(
            &out.join("latency.svg"),
            rows,
            &settings.rooms,
            floor,
            settings.drain,
        )?;
    }
    Ok(())
}

/// Builds a Rust lesson with the release profile; says so on one line if
/// it cannot (the table then says "not built").
fn build(example: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--workspace",
            "--example",
            example,
        ])
        .stderr(Stdio::null())
        .status();
    if !matches!(status, Ok(status) if status.success()) {
        eprintln!("not built: {example}");
    }
}
