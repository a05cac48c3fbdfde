//! Rendering lab results: a text table, CSV, and an SVG chart.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::lab::Results;

/// The hit-ratio table (percent, two decimals), one row per size; the best
/// non-OPT result of each row is marked `*`. Then each contender's replay
/// rate, averaged over the sizes.
pub fn table(results: &Results) -> String {
    let mut out = String::new();
    let width = results
        .contenders
        .iter()
        .map(|c| c.to_string().len())
        .max()
        .unwrap_or(6)
        .max(7)
        + 1;
    let _ = writeln!(
        out,
        "{}: {} requests; hit ratio, percent (* best without OPT)",
        results.trace, results.requests
    );
    let _ = write!(out, "{:>10}", "size");
    for c in &results.contenders {
        let _ = write!(out, "{:>width$}", c.to_string());
    }
    out.push('\n');
    for (row, size) in results.sizes.iter().enumerate() {
        let _ = write!(out, "{size:>10}");
        let best = results.best(row);
        for (col, outcome) in results.cells[row].iter().enumerate() {
            let mark = if Some(col) == best { "*" } else { " " };
            let _ = write!(out, "{:>w$.2}{mark}", outcome.hit_ratio(), w = width - 1);
        }
        out.push('\n');
    }
    let _ = write!(out, "{:>10}", "Mreq/s");
    for col in 0..results.contenders.len() {
        let rate = results.cells.iter().map(|r| r[col].rate()).sum::<f64>()
            / results.sizes.len().max(1) as f64;
        let _ = write!(out, "{:>width$.2}", rate / 1e6);
    }
    out.push('\n');
    out
}

/// One CSV line per size and contender:
/// `trace,size,contender,hits,requests,hit_ratio,seconds`.
pub fn csv(results: &Results) -> String {
    let mut out = String::from("trace,size,contender,hits,requests,hit_ratio,seconds\n");
    for (row, size) in results.sizes.iter().enumerate() {
        for (col, o) in results.cells[row].iter().enumerate() {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.4},{:.6}",
                results.trace,
                size,
                results.contenders[col],
                o.hits,
                o.requests,
                o.hit_ratio(),
                o.elapsed.as_secs_f64()
            );
        }
    }
    out
}

/// Draws hit ratio against size, one line per contender, into `path`.
///
/// # Errors
/// A message if the file cannot be written or there is nothing to draw.
pub fn svg(results: &Results, path: &Path) -> Result<(), String> {
    let (Some(&lo), Some(&hi)) = (results.sizes.iter().min(), results.sizes.iter().max()) else {
        return Err("no sizes to draw".into());
    };
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{}: hit ratio by cache size", results.trace),
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(
                (lo as f64..(hi as f64).max(lo as f64 + 1.0)).log_scale(),
                0f64..100f64,
            )?;
        chart
            .configure_mesh()
            .x_desc("capacity (entries)")
            .y_desc("hit ratio (%)")
            .draw()?;
        for (col, contender) in results.contenders.iter().enumerate() {
            let color = Palette99::pick(col).to_rgba();
            let points = results
                .sizes
                .iter()
                .zip(&results.cells)
                .map(|(&size, row)| (size as f64, row[col].hit_ratio()));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(contender.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("cannot draw {}: {e}", path.display()))
}
