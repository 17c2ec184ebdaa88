//! The benchmark behind the chapter "What a connection costs" (cost/), in
//! its quick setting, against lesson 9's rooms: every figure of the table is
//! there and sane (memory above zero, one thread for each idle connection,
//! p50 no more than p99, the most connections held at least the last
//! step). Never how fast: the machine is shared.
//! Run without its charts (the `chart` feature), so that `cargo test`
//! builds no plotting crate.

use socket_lessons_cost::designs::{DESIGNS, Design};
use socket_lessons_cost::measure::{self, Quantiles, Row, Settings};
use socket_lessons_cost::report::{self, Machine};

use crate::support::{example, root};

use libtest_mimic::Trial;

pub fn tests() -> Vec<Trial> {
    let mut tests = tests![the_quick_run_of_the_rust_room_has_every_figure];
    tests.extend(python_tests![
        the_quick_run_of_the_python_room_has_every_figure
    ]);
    tests
}

fn the_quick_run_of_the_rust_room_has_every_figure() {
    check("lesson_09");
}

fn the_quick_run_of_the_python_room_has_every_figure() {
    check("lesson_09.py");
}

fn check(program: &str) {
    let design: &'static Design =
        DESIGNS.iter().find(|d| d.program() == program).unwrap();
    let settings = Settings { progress: false, ..Settings::quick() };
    // Built for the tests' profile; its directory has every example.
    let examples = example("lesson_09").with_file_name("");
    let floor = measure::floor(&settings);
    let row = measure::measure(design, root(), &examples, &settings);
    let machine = Machine::this("open files as they were".into());
    let rows = [row];
    let table = report::markdown(
        &machine,
        &settings,
        "the tests' quick run",
        &floor,
        &rows,
    );
    let [row] = &rows;
    sane(row, &floor, &settings, &table);
}

fn sane(
    row: &Row,
    floor: &Result<Quantiles, String>,
    settings: &Settings,
    table: &str,
) {
    let floor = floor.as_ref().expect("the floor");
    ordered(floor);
    let measured = row.result.as_ref().expect("the figures");
    assert!(row.lines.unwrap() > 0, "{table}");
    assert!(measured.floor.rss_kib > 0, "{table}");
    let steps: Vec<usize> = measured.steps.iter().map(|s| s.clients).collect();
    assert_eq!(steps, settings.steps, "{table}");
    for step in &measured.steps {
        let usage = step.memory.as_ref().expect(table);
        assert!(usage.rss_kib > 0 && usage.threads > 0, "{table}");
        assert!(usage.fds as usize > step.clients, "{table}");
        // Idle, not joined: lesson 9 gives an unnamed connection its reading
        // thread alone, a member a writing thread too.
        let most = measured.floor.threads as usize + step.clients;
        assert!(usage.threads as usize <= most, "{table}");
    }
    let (per_connection, at) = report::per_connection(measured).expect(table);
    assert!(per_connection.is_finite() && at == 100, "{table}");
    assert!(measured.held.count >= 100, "{table}");
    let rooms: Vec<usize> = measured.latency.iter().map(|l| l.room).collect();
    assert_eq!(rooms, settings.rooms, "{table}");
    for latency in &measured.latency {
        let quantiles = latency.result.as_ref().expect(table);
        ordered(quantiles);
        let seconds = settings.window.as_secs() as usize;
        assert_eq!(quantiles.said, latency.room * seconds, "{table}");
    }
    // The tables: the machine, and a row in each of the four (memory,
    // threads and fds, latency, CPU).
    assert!(table.contains("cores (nproc)"), "{table}");
    assert!(table.contains("Python 3."), "{table}");
    let label =
        format!("| {}, `{}` |", row.design.label(), row.design.program());
    assert_eq!(table.matches(&label).count(), 4, "{table}");
}

/// p50 no more than p99; a p99 past the drain ("> 2 s") is after any p50.
fn ordered(quantiles: &Quantiles) {
    assert!(quantiles.said > 0);
    match (quantiles.p50, quantiles.p99) {
        (Some(p50), Some(p99)) => {
            assert!(p50 <= p99, "p50 {p50:?} p99 {p99:?}")
        }
        (None, Some(p99)) => panic!("p99 {p99:?} but no p50"),
        _ => {}
    }
}
