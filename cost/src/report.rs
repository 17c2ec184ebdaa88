//! The table of the numbers, in markdown, and the machine they were
//! measured on.

use std::fmt::Write;
use std::process::Command;
use std::time::Duration;

use crate::measure::{Held, Latency, Measured, Quantiles, Row, Settings};
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

/// The table, as the chapter includes it.
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
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Memory** (VmRSS, the server's whole process) with idle members:"
    );
    let _ = writeln!(out);
    let mut header = "| server | lines | no clients |".to_string();
    for step in &settings.steps {
        let _ = write!(header, " {} |", count(*step));
    }
    header += " per idle member | most members held |";
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "|{}", " --- |".repeat(settings.steps.len() + 5));
    for row in rows {
        let name =
            format!("{}, `{}`", row.design.label(), row.design.program());
        let lines = row.lines.map_or("—".into(), count);
        match &row.result {
            Err(why) => {
                let cells = " — |".repeat(settings.steps.len() + 2);
                let _ = writeln!(out, "| {name} | {lines} | {why} |{cells}");
            }
            Ok(measured) => {
                let _ = writeln!(
                    out,
                    "| {name} | {lines} | {} |",
                    memory_cells(measured)
                );
            }
        }
    }
    let _ = writeln!(out);
    let seconds = settings.window.as_secs();
    let drain = settings.drain.as_secs();
    let _ = writeln!(
        out,
        "**Broadcast latency**, p50 / p99, from a line's send to its last delivery, \
         each member saying a line a second for {seconds} s \
         (\"> {drain} s\": not delivered to all {drain} s after the last send):"
    );
    let _ = writeln!(out);
    let mut header = "| server |".to_string();
    for room in &settings.rooms {
        let _ = write!(header, " room of {} |", count(*room));
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "|{}", " --- |".repeat(settings.rooms.len() + 1));
    let floor_cell = match floor {
        Ok(q) => latency_cell(q, settings.drain),
        Err(why) => why.clone(),
    };
    let _ = writeln!(
        out,
        "| floor: one client, echoed through the loopback ({} lines a second) | {floor_cell} |{}",
        settings.floor_rate,
        " |".repeat(settings.rooms.len() - 1)
    );
    for row in rows {
        let name =
            format!("{}, `{}`", row.design.label(), row.design.program());
        let cells: Vec<String> = match &row.result {
            Err(why) => {
                let mut cells = vec!["—".to_string(); settings.rooms.len()];
                cells[0] = why.clone();
                cells
            }
            Ok(measured) => measured
                .latency
                .iter()
                .map(|l| room_cell(l, settings.drain))
                .collect(),
        };
        let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
    }
    out
}

fn memory_cells(measured: &Measured) -> String {
    let mut cells = vec![memory_cell(&measured.floor)];
    for step in &measured.steps {
        cells.push(match &step.memory {
            Ok(usage) => memory_cell(usage),
            Err(why) => why.clone(),
        });
    }
    cells.push(match per_member(measured) {
        Some((kib, clients)) => format!("{kib:.1} KiB (at {})", count(clients)),
        None => "—".into(),
    });
    cells.push(held_cell(&measured.held));
    cells.join(" | ")
}

fn memory_cell(usage: &Usage) -> String {
    let threads = match usage.threads {
        1 => "1 thread".to_string(),
        n => format!("{} threads", count(n as usize)),
    };
    let fds = count(usage.fds as usize);
    format!("{}, {threads}, {fds} fds", mib(usage.rss_kib))
}

/// Memory per idle member at the largest step reached, above the floor, in
/// KiB, and that step.
pub fn per_member(measured: &Measured) -> Option<(f64, usize)> {
    let (clients, kib) = measured.steps.iter().rev().find_map(|step| {
        step.memory.as_ref().ok().map(|usage| (step.clients, usage.rss_kib))
    })?;
    Some((
        (kib as f64 - measured.floor.rss_kib as f64) / clients as f64,
        clients,
    ))
}

fn held_cell(held: &Held) -> String {
    match held.at_least {
        true => format!("≥ {} ({})", count(held.count), held.why),
        false => format!("{} ({})", count(held.count), held.why),
    }
}

fn room_cell(latency: &Latency, drain: Duration) -> String {
    match &latency.result {
        Ok(q) => latency_cell(q, drain),
        Err(why) => why.clone(),
    }
}

fn latency_cell(q: &Quantiles, drain: Duration) -> String {
    let shown = |d: Option<Duration>| match d {
        Some(d) => milliseconds(d),
        None => format!("> {} s", drain.as_secs()),
    };
    let mut cell = format!("{} / {}", shown(q.p50), shown(q.p99));
    if q.delivered < q.said {
        let _ = write!(
            cell,
            "; {} of {} lines not delivered to all; {} deliveries a second \
             of the {} asked",
            count(q.said - q.delivered),
            count(q.said),
            count(q.passed_on.round() as usize),
            count(q.asked),
        );
    }
    if q.dropped > 0 {
        let _ = write!(cell, "; {} members dropped", count(q.dropped));
    }
    let percent = |share: f64| format!("{:.0} %", share * 100.0);
    match q.server_cpu {
        Some(server) => {
            let load = percent(q.load_cpu);
            let _ =
                write!(cell, " (CPU: server {}, load {load})", percent(server));
        }
        None => {
            let _ = write!(cell, " (CPU: load {})", percent(q.load_cpu));
        }
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
