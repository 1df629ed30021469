//! Inline SVG log-log line chart.

use std::fmt::Write;

pub struct Series<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 45.0;

/// A log-log chart of `series` (x: payload size, y: nanoseconds) with an optional vertical
/// marker at `marker_x` (the crossover).
pub fn log_log(series: &[Series<'_>], x_label: &str, marker_x: Option<f64>) -> String {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|&(x, y)| x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite())
        .collect();
    if all.is_empty() {
        return "<p>No measurements.</p>".to_owned();
    }
    let (x_min, x_max) = decade_bounds(all.iter().map(|p| p.0));
    let (y_min, y_max) = decade_bounds(all.iter().map(|p| p.1));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x.log10() - x_min) / (x_max - x_min) * plot_w;
    let sy = |y: f64| TOP + plot_h - (y.log10() - y_min) / (y_max - y_min) * plot_h;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="11">"##
    );
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>"##
    );
    for decade in (x_min as i32)..=(x_max as i32) {
        let x = sx(10f64.powi(decade));
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 15.0,
            si(10f64.powi(decade))
        );
    }
    for decade in (y_min as i32)..=(y_max as i32) {
        let y = sy(10f64.powi(decade));
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 5.0,
            y + 4.0,
            duration(10f64.powi(decade))
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">latency (p50, log)</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        crate::html::escape(x_label),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    if let Some(marker) = marker_x.filter(|m| *m > 0.0) {
        let x = sx(marker.clamp(10f64.powf(x_min), 10f64.powf(x_max)));
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#d33" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#d33">crossover {}</text>"##,
            TOP + plot_h,
            x + 4.0,
            TOP + 12.0,
            si(marker)
        );
    }
    for (index, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|&&(x, y)| x > 0.0 && y > 0.0)
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"##,
            path.join(" "),
            s.color
        );
        for point in &path {
            let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                svg,
                r##"<circle cx="{x}" cy="{y}" r="2.5" fill="{}"/>"##,
                s.color
            );
        }
        let legend_y = TOP + 14.0 + 14.0 * index as f64;
        let _ = write!(
            svg,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"##,
            LEFT + 10.0,
            legend_y - 4.0,
            LEFT + 30.0,
            legend_y - 4.0,
            s.color,
            LEFT + 35.0,
            legend_y,
            crate::html::escape(s.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn decade_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let lo = lo.log10().floor();
    let hi = hi.log10().ceil();
    if hi <= lo {
        (lo, lo + 1.0)
    } else {
        (lo, hi)
    }
}

/// 1, 10, 100, 1k, 10k, 1M ...
pub fn si(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{}M", trim(v / 1e6)),
        v if v >= 1e3 => format!("{}k", trim(v / 1e3)),
        v => trim(v),
    }
}

/// A nanosecond value as ns, µs, ms or s.
pub fn duration(ns: f64) -> String {
    match ns {
        v if v >= 1e9 => format!("{} s", trim(v / 1e9)),
        v if v >= 1e6 => format!("{} ms", trim(v / 1e6)),
        v if v >= 1e3 => format!("{} µs", trim(v / 1e3)),
        v => format!("{} ns", trim(v)),
    }
}

fn trim(value: f64) -> String {
    let text = if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    text
}
