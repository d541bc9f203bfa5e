//! One SVG plot per table of `BENCHMARKS.md`, drawn with plotters (SVG backend only: the text is
//! SVG `<text>` the viewer lays out, so no font files are needed to draw).
//!
//! A table whose benches take a size (sessions in the registry) becomes time against size, both
//! axes logarithmic, one line per bench: ours beside the baseline and the peers. A table without
//! sizes becomes one horizontal bar per bench on a logarithmic time axis. Colours say the role:
//! ours in red, baselines in blue, peers in grey; the 95% interval is drawn as a whisker.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::{Measurement, Role};

/// Pixels of every plot.
const SIZE_PX: (u32, u32) = (720, 420);

/// One row of a table as the plot needs it.
pub(super) struct Point<'a> {
    /// The bench's name.
    pub(super) name: &'a str,
    /// Its role.
    pub(super) role: Role,
    /// The result.
    pub(super) measurement: &'a Measurement,
}

fn colour(role: Role) -> RGBColor {
    match role {
        Role::Ours => RGBColor(200, 30, 30),
        Role::Baseline => RGBColor(30, 80, 200),
        Role::Peer => RGBColor(120, 120, 120),
    }
}

/// Nanoseconds per operation, lower and upper bound of the interval.
fn bounds(measurement: &Measurement) -> (f64, f64, f64) {
    let per_element = measurement.elements.unwrap_or(1.0);
    (
        measurement.per_op_ns(),
        measurement.lower_ns / per_element,
        measurement.upper_ns / per_element,
    )
}

/// The logarithmic range covering every interval, padded by a factor on each side.
fn time_range(points: &[Point<'_>]) -> (f64, f64) {
    let (low, high) = points.iter().fold((f64::MAX, f64::MIN), |(low, high), point| {
        let (_, lower, upper) = bounds(point.measurement);
        (low.min(lower), high.max(upper))
    });
    ((low / 1.5).max(0.01), high * 1.5)
}

/// Draws the table's plot into `path`; `unit` labels the time axis ("ns per touch").
pub(super) fn draw(path: &Path, title: &str, unit: &str, points: &[Point<'_>]) -> Result<()> {
    let sizes: Vec<f64> = points
        .iter()
        .filter_map(|point| point.measurement.parameter.as_deref()?.parse::<f64>().ok())
        .collect();
    let result = if sizes.len() == points.len() && !points.is_empty() {
        draw_lines(path, title, unit, points, &sizes)
    } else {
        draw_bars(path, title, unit, points)
    };
    result.map_err(|error| anyhow!("drawing {}: {error}", path.display()))
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw_lines(
    path: &Path,
    title: &str,
    unit: &str,
    points: &[Point<'_>],
    sizes: &[f64],
) -> DrawResult {
    let root = SVGBackend::new(path, SIZE_PX).into_drawing_area();
    root.fill(&WHITE)?;
    let low_size = sizes.iter().copied().fold(f64::MAX, f64::min) / 2.0;
    let high_size = sizes.iter().copied().fold(f64::MIN, f64::max) * 2.0;
    let (low_ns, high_ns) = time_range(points);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((low_size..high_size).log_scale(), (low_ns..high_ns).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("size (sessions)")
        .y_desc(format!("time {unit}"))
        .x_label_formatter(&|size| format_size(*size))
        .y_label_formatter(&|ns| format_time(*ns))
        .draw()?;
    let mut names: Vec<(&str, Role)> = Vec::new();
    for point in points {
        if !names.iter().any(|(name, _)| *name == point.name) {
            names.push((point.name, point.role));
        }
    }
    for (name, role) in names {
        let style = colour(role);
        let series: Vec<(f64, f64, f64, f64)> = points
            .iter()
            .zip(sizes)
            .filter(|(point, _)| point.name == name)
            .map(|(point, size)| {
                let (ns, lower, upper) = bounds(point.measurement);
                (*size, ns, lower, upper)
            })
            .collect();
        chart
            .draw_series(LineSeries::new(
                series.iter().map(|row| (row.0, row.1)),
                style.stroke_width(2),
            ))?
            .label(format!("{name} ({})", role.name()))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], style.stroke_width(2))
            });
        chart
            .draw_series(series.iter().map(|row| Circle::new((row.0, row.1), 3, style.filled())))?;
        chart.draw_series(series.iter().map(|row| {
            PathElement::new(vec![(row.0, row.2), (row.0, row.3)], style.stroke_width(1))
        }))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()?;
    root.present()?;
    Ok(())
}

fn draw_bars(path: &Path, title: &str, unit: &str, points: &[Point<'_>]) -> DrawResult {
    let root = SVGBackend::new(path, SIZE_PX).into_drawing_area();
    root.fill(&WHITE)?;
    let (low_ns, high_ns) = time_range(points);
    let labels: Vec<String> = points.iter().map(|point| bar_label(point)).collect();
    let label_px = labels.iter().map(String::len).max().unwrap_or(0).saturating_mul(7).min(340);
    let count = u32::try_from(points.len())?;
    // Row `index` of the table is drawn at height `count - 1 - index`: the first row on top.
    let height = |index: u32| f64::from(count.saturating_sub(1).saturating_sub(index));
    let rows = f64::from(count);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(u32::try_from(label_px).unwrap_or(340))
        .build_cartesian_2d((low_ns..high_ns).log_scale(), -0.5..rows - 0.5)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(format!("time {unit}"))
        .x_label_formatter(&|ns| format_time(*ns))
        .y_labels(points.len())
        .y_label_formatter(&|y| {
            (0..count)
                .zip(&labels)
                .find(|(index, _)| (height(*index) - y).abs() < 0.01)
                .map(|(_, label)| label.clone())
                .unwrap_or_default()
        })
        .draw()?;
    for (index, point) in (0..count).zip(points) {
        let y = height(index);
        let (ns, lower, upper) = bounds(point.measurement);
        let style = colour(point.role);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(low_ns, y - 0.35), (ns, y + 0.35)],
            style.mix(0.8).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(lower, y), (upper, y)],
            BLACK.stroke_width(1),
        )))?;
    }
    root.present()?;
    Ok(())
}

fn bar_label(point: &Point<'_>) -> String {
    let mut label = point.name.to_owned();
    if let Some(parameter) = &point.measurement.parameter {
        label.push_str(&format!(" ({parameter})"));
    }
    label.push_str(&format!(" [{}]", point.role.name()));
    label
}

fn format_size(size: f64) -> String {
    if size >= 1e6 {
        format!("{}M", size / 1e6)
    } else if size >= 1e3 {
        format!("{}k", size / 1e3)
    } else {
        format!("{size}")
    }
}

/// An axis label for a time in nanoseconds: `50 ns`, `2 µs`, `17 ms`.
fn format_time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{} µs", ns / 1e3)
    } else {
        format!("{ns} ns")
    }
}
