//! The page: header, host table, one section per component and payload class.

use std::fmt::Write;

use crate::chart::{duration, log_log, si, Series};
use crate::model::{ClassReport, Report};

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f4f4f4}td.l,th.l{text-align:left}.win{color:#060}.lose{color:#b00;font-weight:bold}\
.note{color:#555}h2{border-bottom:2px solid #ddd;padding-bottom:4px}";

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(report: &Report) -> String {
    let mut page = String::new();
    let title = escape(&report.title);
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1><p class=\"note\">Generated {}</p>",
        escape(&report.generated_at)
    );
    page.push_str("<table><tr><th class=\"l\" colspan=\"2\">Host and versions</th></tr>");
    for (key, value) in &report.host {
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            escape(key),
            escape(value)
        );
    }
    page.push_str("</table>");
    for note in &report.notes {
        let _ = write!(page, "<p class=\"note\">{}</p>", escape(note));
    }
    for component in &report.components {
        let _ = write!(page, "<h2>{}</h2>", escape(&component.name));
        for class in &component.classes {
            render_class(&mut page, class);
        }
    }
    if let Some(proxy) = &report.proxy {
        crate::proxy::render(&mut page, proxy);
    }
    if !report.benchmarks.is_empty() {
        page.push_str("<h2>Benchmarks</h2><table><tr><th class=\"l\">group</th><th class=\"l\">benchmark</th><th>median</th><th>rounds</th></tr>");
        for bench in &report.benchmarks {
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(&bench.group),
                escape(&bench.name),
                duration(bench.median_us * 1000.0),
                bench.rounds
            );
        }
        page.push_str("</table>");
    }
    page.push_str("</body></html>\n");
    page
}

fn render_class(page: &mut String, class: &ClassReport) {
    let threshold = match class.threshold {
        Some(0) => "native at every size".to_owned(),
        Some(size) => format!("native from {} {} up", si(size as f64), escape(&class.unit)),
        None => "never native (Python at every size)".to_owned(),
    };
    let _ = write!(
        page,
        "<h3>{} (size = {}): {threshold}</h3>",
        escape(&class.name),
        escape(&class.unit)
    );
    let series =
        |label, color, dashed, pick: &dyn Fn(&crate::model::Point) -> Option<f64>| Series {
            label,
            color,
            dashed,
            points: class
                .points
                .iter()
                .filter_map(|p| pick(p).map(|y| (p.size.max(1) as f64, y)))
                .collect(),
        };
    let lines = [
        series("LiteLLM (Python)", "#1f77b4", false, &|p| {
            Some(p.python.p50_ns)
        }),
        series("native", "#ff7f0e", false, &|p| Some(p.native.p50_ns)),
        series("auto (selector)", "#2ca02c", true, &|p| {
            p.auto.map(|a| a.p50_ns)
        }),
    ];
    let marker = class.threshold.filter(|t| *t > 0).map(|t| t as f64);
    page.push_str(&log_log(
        &lines,
        &format!("payload size ({}, log)", class.unit),
        marker,
    ));
    page.push_str(
        "<table><tr><th>size</th><th>Python p50</th><th>Python p99</th><th>native p50</th><th>native p99</th>\
         <th>speedup</th><th>auto p50</th><th>auto p99</th><th>auto vs best</th><th class=\"l\">verdict</th></tr>",
    );
    for point in &class.points {
        let speedup = point.python.p50_ns / point.native.p50_ns;
        let best = point.python.p50_ns.min(point.native.p50_ns);
        let (auto_p50, auto_p99, versus) = match point.auto {
            Some(auto) => {
                let excess = (auto.p50_ns / best - 1.0) * 100.0;
                let class_name = if excess <= 5.0 { "win" } else { "lose" };
                (
                    duration(auto.p50_ns),
                    duration(auto.p99_ns),
                    format!("<span class=\"{class_name}\">{excess:+.1}%</span>"),
                )
            }
            None => ("–".to_owned(), "–".to_owned(), "–".to_owned()),
        };
        let verdict = if speedup > 1.0 {
            format!("<span class=\"win\">native wins ×{speedup:.2}</span>")
        } else {
            format!("<span class=\"lose\">native loses ×{speedup:.2}</span>")
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>×{speedup:.2}</td><td>{auto_p50}</td><td>{auto_p99}</td><td>{versus}</td><td class=\"l\">{verdict}</td></tr>",
            si(point.size as f64),
            duration(point.python.p50_ns),
            duration(point.python.p99_ns),
            duration(point.native.p50_ns),
            duration(point.native.p99_ns),
        );
    }
    page.push_str("</table>");
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_self_contained_page() {
        let json = r#"{"title":"t <x>","generated_at":"now","host":{"cores":"2"},
            "components":[{"name":"tokens","classes":[{"name":"text","unit":"characters","threshold":10,
            "points":[{"size":1,"python":{"p50_ns":1000,"p99_ns":2000},"native":{"p50_ns":3000,"p99_ns":4000},
                       "auto":{"p50_ns":1020,"p99_ns":2100}},
                      {"size":100,"python":{"p50_ns":90000,"p99_ns":99000},"native":{"p50_ns":9000,"p99_ns":9900}}]}]}]}"#;
        let page = crate::render_json(json).unwrap();
        assert!(page.contains("<svg"));
        assert!(page.contains("t &lt;x&gt;"));
        assert!(page.contains("native loses ×0.33"));
        assert!(page.contains("native wins ×10.00"));
        assert!(page.contains("crossover 10"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("http://") || page.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        assert!(crate::render_json("{").is_err());
    }
}
