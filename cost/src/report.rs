//! The table of the numbers, in markdown, and the machine they were
//! measured on.

use std::fmt::Write;
use std::process::Command;
use std::time::Duration;

use crate::measure::{Measured, Quantiles, Row, Settings};
use crate::server::Usage;

/// The machine, as the table's heading tells it.
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub rust: String,
    pub python: String,
    pub open_files: String,
    /// /proc/loadavg's first three figures, when this was made.
    pub load: String,
}

impl Machine {
    pub fn this(open_files: String) -> Machine {
        let cpuinfo =
            std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| {
                rest.trim_start_matches([' ', '\t', ':']).trim().to_string()
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| format!("Linux {}", k.trim()))
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel,
            rust: version("rustc"),
            python: version("python3"),
            open_files,
            load: load_average(),
        }
    }
}

/// The 1, 5 and 15 minute load averages: how busy the machine was.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// What `PROGRAM --version` says, on one line.
fn version(program: &str) -> String {
    let output = Command::new(program).arg("--version").output();
    let text =
        output.map(|o| [o.stdout, o.stderr].concat()).unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    if text.is_empty() { format!("no {program}") } else { text }
}

/// Numbered notes under a table, for what does not fit in a cell.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    /// The marker for `text`, one number for each different text.
    fn mark(&mut self, text: &str) -> String {
        let at = match self.0.iter().position(|note| note == text) {
            Some(at) => at,
            None => {
                self.0.push(text.to_string());
                self.0.len() - 1
            }
        };
        format!("({})", at + 1)
    }

    fn write(self, out: &mut String) {
        if !self.0.is_empty() {
            let _ = writeln!(out);
        }
        for (at, note) in self.0.iter().enumerate() {
            let _ = writeln!(out, "{}. {note}", at + 1);
        }
    }
}

/// One markdown table: its header, then a row for each server.
fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out);
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(header.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

fn server_name(row: &Row) -> String {
    format!("{}, `{}`", row.design.label(), row.design.program())
}

/// The tables, as the chapter includes them.
pub fn markdown(
    machine: &Machine,
    settings: &Settings,
    command: &str,
    floor: &Result<Quantiles, String>,
    rows: &[Row],
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- Written by `{command}`: edit the harness (cost/), not this file. -->"
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Measured with `{command}` on {} cores (nproc), {}, {}, {}, {}; {}; \
         load average (1, 5, 15 min) {} at the start, {} at the end.",
        machine.cores,
        machine.cpu,
        machine.kernel,
        machine.rust,
        machine.python,
        machine.open_files,
        machine.load,
        load_average(),
    );
    memory_tables(&mut out, settings, rows);
    latency_tables(&mut out, settings, floor, rows);
    out
}

fn memory_tables(out: &mut String, settings: &Settings, rows: &[Row]) {
    let steps: Vec<String> = settings.steps.iter().map(|&s| count(s)).collect();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Memory**: the server process's VmRSS with no clients, and with idle \
         connections (connected, nothing sent):"
    );
    let mut header = vec!["server".into(), "lines".into(), "no clients".into()];
    header.extend(steps.iter().cloned());
    header
        .extend(["per idle connection".into(), "most connections held".into()]);
    let mut notes = Notes::default();
    let mut cells = Vec::new();
    for row in rows {
        let mut line =
            vec![server_name(row), row.lines.map_or("—".into(), count)];
        match &row.result {
            Err(why) => {
                line.push(why.clone());
                line.extend(vec!["—".to_string(); steps.len() + 2]);
            }
            Ok(measured) => {
                line.push(mib(measured.floor.rss_kib));
                for step in &measured.steps {
                    line.push(match &step.memory {
                        Ok(usage) => mib(usage.rss_kib),
                        Err(why) => format!("— {}", notes.mark(why)),
                    });
                }
                line.push(match per_connection(measured) {
                    Some((kib, clients)) => {
                        format!("{kib:.1} KiB (at {})", count(clients))
                    }
                    None => "—".into(),
                });
                let held = &measured.held;
                let shown = match held.at_least {
                    true => format!("≥ {}", count(held.count)),
                    false => count(held.count),
                };
                line.push(format!("{shown} {}", notes.mark(&held.why)));
            }
        }
        cells.push(line);
    }
    table(out, &header, &cells);
    notes.write(out);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Threads / open file descriptors** of the server, with idle \
         connections:"
    );
    let mut header = vec!["server".into(), "no clients".into()];
    header.extend(steps);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .filter_map(|row| {
            let measured = row.result.as_ref().ok()?;
            let mut line = vec![server_name(row), usage_cell(&measured.floor)];
            for step in &measured.steps {
                let usage = step.memory.as_ref().ok();
                line.push(usage.map_or("—".into(), usage_cell));
            }
            Some(line)
        })
        .collect();
    table(out, &header, &cells);
}

fn usage_cell(usage: &Usage) -> String {
    format!("{} / {}", count(usage.threads as usize), count(usage.fds as usize))
}

fn latency_tables(
    out: &mut String,
    settings: &Settings,
    floor: &Result<Quantiles, String>,
    rows: &[Row],
) {
    let (seconds, drain) =
        (settings.window.as_secs(), settings.drain.as_secs());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Broadcast latency**, p50 / p99, from a line's send to its last \
         delivery, each member saying a line a second for {seconds} s \
         (\"> {drain} s\": not delivered to all {drain} s after the last send):"
    );
    let mut header = vec!["server".to_string()];
    header.extend(
        settings.rooms.iter().map(|&r| format!("room of {}", count(r))),
    );
    let mut notes = Notes::default();
    let mut empty = vec!["".to_string(); settings.rooms.len() - 1];
    let mut floor_line = vec![format!(
        "floor: one client, echoed through the loopback ({} lines a second)",
        settings.floor_rate
    )];
    floor_line.push(match floor {
        Ok(q) => latency_cell(q, settings.drain, &mut notes),
        Err(why) => why.clone(),
    });
    floor_line.append(&mut empty);
    let mut cells = vec![floor_line];
    for row in rows {
        let mut line = vec![server_name(row)];
        match &row.result {
            Err(why) => {
                line.push(why.clone());
                line.extend(vec!["—".to_string(); settings.rooms.len() - 1]);
            }
            Ok(measured) => {
                for latency in &measured.latency {
                    line.push(match &latency.result {
                        Ok(q) => latency_cell(q, settings.drain, &mut notes),
                        Err(why) => format!("— {}", notes.mark(why)),
                    });
                }
            }
        }
        cells.push(line);
    }
    table(out, &header, &cells);
    notes.write(out);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Share of a core** used while the room talked: the server / the load \
         generator:"
    );
    let cells: Vec<Vec<String>> = rows
        .iter()
        .filter_map(|row| {
            let measured = row.result.as_ref().ok()?;
            let mut line = vec![server_name(row)];
            for latency in &measured.latency {
                let q = latency.result.as_ref().ok();
                line.push(q.map_or("—".into(), cpu_cell));
            }
            Some(line)
        })
        .collect();
    table(out, &header, &cells);
}

fn cpu_cell(q: &Quantiles) -> String {
    let percent = |share: f64| format!("{:.0} %", share * 100.0);
    match q.server_cpu {
        Some(server) => {
            format!("{} / {}", percent(server), percent(q.load_cpu))
        }
        None => format!("— / {}", percent(q.load_cpu)),
    }
}

/// Memory per idle connection at the largest step reached, above the floor,
/// in KiB, and that step.
pub fn per_connection(measured: &Measured) -> Option<(f64, usize)> {
    let (clients, kib) = measured.steps.iter().rev().find_map(|step| {
        step.memory.as_ref().ok().map(|usage| (step.clients, usage.rss_kib))
    })?;
    let above = kib as f64 - measured.floor.rss_kib as f64;
    Some((above / clients as f64, clients))
}

fn latency_cell(q: &Quantiles, drain: Duration, notes: &mut Notes) -> String {
    let shown = |d: Option<Duration>| match d {
        Some(d) => milliseconds(d),
        None => format!("> {} s", drain.as_secs()),
    };
    let mut cell = format!("{} / {}", shown(q.p50), shown(q.p99));
    let mut why = Vec::new();
    if q.delivered < q.said {
        why.push(format!(
            "{} of {} lines not delivered to all; {} deliveries a second of \
             the {} asked",
            count(q.said - q.delivered),
            count(q.said),
            count(q.passed_on.round() as usize),
            count(q.asked),
        ));
    }
    if q.dropped > 0 {
        why.push(format!("{} members dropped", count(q.dropped)));
    }
    if !why.is_empty() {
        cell = format!("{cell} {}", notes.mark(&why.join("; ")));
    }
    cell
}

/// A duration in ms, with three significant figures or so.
pub fn milliseconds(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    match ms {
        ms if ms < 1.0 => format!("{ms:.3} ms"),
        ms if ms < 100.0 => format!("{ms:.1} ms"),
        ms => format!("{} ms", count(ms.round() as usize)),
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// 10000 as 10,000.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
