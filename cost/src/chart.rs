//! The charts, as SVG, drawn with plotters: memory against idle connections,
//! and broadcast latency against the room's size, one line for each server.

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use crate::measure::{Quantiles, Row};

const COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
];

type Drawn = Result<(), Box<dyn Error>>;

/// Resident memory (MiB) at each step, above a floor point at no clients.
pub fn memory(path: &Path, rows: &[Row], steps: &[usize]) -> Drawn {
    let series: Vec<(String, Vec<(f64, f64)>)> = rows
        .iter()
        .filter_map(|row| {
            let measured = row.result.as_ref().ok()?;
            let points = measured
                .steps
                .iter()
                .filter_map(|s| {
                    s.memory.as_ref().ok().map(|usage| {
                        (s.clients as f64, usage.rss_kib as f64 / 1024.0)
                    })
                })
                .collect();
            Some((row.design.label(), points))
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let (first, last) = (
        *steps.first().unwrap_or(&10) as f64,
        *steps.last().unwrap_or(&1000) as f64,
    );
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Resident memory with idle connections", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (first * 0.8..last * 1.25).log_scale(),
            0.0..top * 1.6, // room above the lines for the legend
        )?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("idle connections (log scale)")
        .y_desc("VmRSS, MiB")
        .x_label_formatter(&|x| crate::report::count(x.round() as usize))
        .draw()?;
    for (index, (label, points)) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(
                points.clone(),
                colour.stroke_width(2),
            ))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    colour.stroke_width(2),
                )
            });
        chart.draw_series(
            points.iter().map(|&p| Circle::new(p, 4, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// p99 (solid) and p50 (dashed) against the room's size, log-log, with the
/// loopback floor's p99 as a grey line. A p99 past the drain (not delivered
/// to all in time) is a triangle at the drain: a bound, not a figure (each
/// server's a little to the right of the one before, so none hides another).
pub fn latency(
    path: &Path,
    rows: &[Row],
    rooms: &[usize],
    floor: &Result<Quantiles, String>,
    drain: Duration,
) -> Drawn {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    type Points = Vec<(f64, f64)>;
    let series: Vec<(String, Points, Points, Points)> = rows
        .iter()
        .filter_map(|row| {
            let measured = row.result.as_ref().ok()?;
            let pick = |p99: bool| -> Points {
                measured
                    .latency
                    .iter()
                    .filter_map(|l| {
                        let q = l.result.as_ref().ok()?;
                        let d = if p99 { q.p99 } else { q.p50 }?;
                        Some((l.room as f64, ms(d)))
                    })
                    .collect()
            };
            let late = measured
                .latency
                .iter()
                .filter(|l| l.result.as_ref().is_ok_and(|q| q.p99.is_none()))
                .map(|l| (l.room as f64, ms(drain)))
                .collect();
            Some((row.design.label(), pick(true), pick(false), late))
        })
        .collect();
    let floor_ms = floor.as_ref().ok().and_then(|q| q.p99).map(ms);
    let values = series
        .iter()
        .flat_map(|(_, a, b, c)| a.iter().chain(b).chain(c).map(|p| p.1))
        .chain(floor_ms);
    let (low, high) =
        values.fold((f64::MAX, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let low = if low == f64::MAX { 0.01 } else { low };
    let (first, last) = (
        *rooms.first().unwrap_or(&10) as f64,
        *rooms.last().unwrap_or(&1000) as f64,
    );
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Send to last delivery: p99 (solid), p50 (dashed)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (first * 0.8..last * 1.25).log_scale(), // room above for the legend
            (low * 0.5..high * 30.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("members in the room, each saying a line a second (log scale)")
        .y_desc("ms (log scale)")
        .x_label_formatter(&|x| crate::report::count(x.round() as usize))
        .draw()?;
    if let Some(floor) = floor_ms {
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(LineSeries::new(
                [(first * 0.8, floor), (last * 1.25, floor)],
                grey.stroke_width(1),
            ))?
            .label("floor: loopback echo, p99")
            .legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    grey.stroke_width(1),
                )
            });
    }
    if series.iter().any(|(_, _, _, late)| !late.is_empty()) {
        let grey = RGBColor(120, 120, 120);
        let label = format!(
            "triangle: p99 over {} s, drawn at {} s",
            drain.as_secs(),
            drain.as_secs()
        );
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(label)
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, grey));
    }
    for (index, (label, p99, p50, late)) in series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(p99.clone(), colour.stroke_width(2)))?
            .label(format!("{label}, p99"))
            .legend(move |(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 20, y)],
                    colour.stroke_width(2),
                )
            });
        chart.draw_series(
            p99.iter().map(|&p| Circle::new(p, 4, colour.filled())),
        )?;
        chart.draw_series(late.iter().map(|&(x, y)| {
            let x = x * (1.0 + 0.04 * index as f64);
            TriangleMarker::new((x, y), 7, colour.filled())
        }))?;
        chart.draw_series(DashedLineSeries::new(
            p50.clone(),
            6,
            4,
            colour.stroke_width(1),
        ))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::designs::DESIGNS;
    use crate::measure::{Held, Latency, Measured, Step};
    use crate::server::Usage;

    fn quantiles(p50_ms: u64, p99: Option<u64>) -> Quantiles {
        Quantiles {
            p50: Some(Duration::from_millis(p50_ms)),
            p99: p99.map(Duration::from_millis),
            said: 10,
            delivered: 10,
            dropped: 0,
            server_cpu: Some(0.1),
            load_cpu: 0.1,
            passed_on: 90.0,
            asked: 90,
        }
    }

    /// Both charts, drawn from made-up figures: a measured server, one
    /// that fell behind, one missing.
    #[test]
    fn draws_both_charts() {
        let usage = |rss_kib| Usage { rss_kib, threads: 2, fds: 6 };
        let measured = Measured {
            floor: usage(3000),
            steps: vec![
                Step { clients: 100, memory: Ok(usage(5000)) },
                Step { clients: 1000, memory: Err("held 500".into()) },
            ],
            held: Held { count: 500, at_least: false, why: "refused".into() },
            latency: vec![
                Latency { room: 10, result: Ok(quantiles(1, Some(2))) },
                Latency { room: 100, result: Ok(quantiles(30, None)) },
            ],
        };
        let rows = [
            Row { design: &DESIGNS[0], lines: Some(1), result: Ok(measured) },
            Row { design: &DESIGNS[2], lines: None, result: Err("no".into()) },
        ];
        let directory = std::env::temp_dir()
            .join(format!("socket-lessons-cost-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let (memory_svg, latency_svg) =
            (directory.join("memory.svg"), directory.join("latency.svg"));
        memory(&memory_svg, &rows, &[100, 1000]).unwrap();
        let floor = Ok(quantiles(0, Some(1)));
        let drain = Duration::from_secs(3);
        latency(&latency_svg, &rows, &[10, 100], &floor, drain).unwrap();
        for path in [memory_svg, latency_svg] {
            let svg = std::fs::read_to_string(&path).unwrap();
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.contains("threads (Rust)"), "{svg}");
            assert!(!svg.contains("event loop (Rust)"), "{svg}");
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
