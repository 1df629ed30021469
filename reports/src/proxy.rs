//! The "LiteLLM proxy, end to end" section: per scenario throughput, latency and CPU per
//! request, plain LiteLLM against fast-litellm with the runs' spread, and the profile by area.

use std::fmt::Write;

use crate::html::escape;
use crate::model::{ProxyProfile, ProxyReport, ProxyScenario, ProxyVariant, Spread};

const BAR_WIDTH: f64 = 420.0;
const LABEL_WIDTH: f64 = 150.0;
const ROW: f64 = 16.0;

pub fn render(page: &mut String, proxy: &ProxyReport) {
    let _ = write!(
        page,
        "<h2>LiteLLM proxy, end to end</h2><p class=\"note\">Measured {}</p>",
        escape(&proxy.generated_at)
    );
    for note in &proxy.notes {
        let _ = write!(page, "<p class=\"note\">{}</p>", escape(note));
    }
    page.push_str(&cpu_chart(&proxy.scenarios));
    page.push_str(
        "<table><tr><th class=\"l\">scenario</th><th>workers</th><th class=\"l\">variant</th><th>req/s</th>\
         <th>p50</th><th>p99</th><th>CPU per request</th><th>errors</th><th class=\"l\">fast vs plain</th></tr>",
    );
    for scenario in &proxy.scenarios {
        scenario_rows(page, scenario);
    }
    page.push_str("</table>");
    for profile in &proxy.profiles {
        profile_tables(page, profile);
    }
}

/// `median (min–max)`.
fn spread(value: &Spread, decimals: usize) -> String {
    format!(
        "{:.*} <span class=\"note\">({:.*}–{:.*})</span>",
        decimals, value.median, decimals, value.min, decimals, value.max
    )
}

fn variant_cells(variant: &ProxyVariant) -> String {
    let cpu = variant
        .cpu_ms_per_request
        .as_ref()
        .map_or("–".to_owned(), |cpu| format!("{} ms", spread(cpu, 2)));
    format!(
        "<td>{}</td><td>{} ms</td><td>{} ms</td><td>{cpu}</td><td>{}</td>",
        spread(&variant.requests_per_second, 1),
        spread(&variant.p50_ms, 1),
        spread(&variant.p99_ms, 1),
        variant.errors
    )
}

fn scenario_rows(page: &mut String, scenario: &ProxyScenario) {
    let (plain, fast) = (&scenario.plain, &scenario.fast);
    let throughput = fast.requests_per_second.median / plain.requests_per_second.median;
    let verdict = match (&plain.cpu_ms_per_request, &fast.cpu_ms_per_request) {
        (Some(plain_cpu), Some(fast_cpu)) => {
            let cpu = fast_cpu.median / plain_cpu.median;
            let class = if cpu <= 1.0 { "win" } else { "lose" };
            format!("<span class=\"{class}\">CPU ×{cpu:.3}</span>, throughput ×{throughput:.3}")
        }
        _ => format!("throughput ×{throughput:.3}"),
    };
    let _ = write!(
        page,
        "<tr><td class=\"l\" rowspan=\"2\">{}<br><span class=\"note\">{} runs per variant</span></td>\
         <td rowspan=\"2\">{}</td><td class=\"l\">LiteLLM</td>{}<td class=\"l\" rowspan=\"2\">{verdict}</td></tr>\
         <tr><td class=\"l\">fast-litellm</td>{}</tr>",
        escape(&scenario.description),
        scenario.runs_per_variant,
        scenario.workers,
        variant_cells(plain),
        variant_cells(fast),
    );
}

/// Horizontal bars of the median CPU per request, plain and fast, per scenario.
fn cpu_chart(scenarios: &[ProxyScenario]) -> String {
    let bars: Vec<(&str, f64, f64)> = scenarios
        .iter()
        .filter_map(|s| {
            let plain = s.plain.cpu_ms_per_request.as_ref()?.median;
            let fast = s.fast.cpu_ms_per_request.as_ref()?.median;
            Some((s.name.as_str(), plain, fast))
        })
        .collect();
    let most = bars
        .iter()
        .map(|&(_, plain, fast)| plain.max(fast))
        .fold(0.0, f64::max);
    if bars.is_empty() || most <= 0.0 {
        return String::new();
    }
    let height = 30.0 + bars.len() as f64 * (2.0 * ROW + 8.0);
    let width = LABEL_WIDTH + BAR_WIDTH + 90.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" font-family="sans-serif" font-size="11"><text x="{LABEL_WIDTH}" y="12">CPU ms per request (median): LiteLLM (blue), fast-litellm (orange)</text>"##
    );
    for (index, (name, plain, fast)) in bars.iter().enumerate() {
        let top = 22.0 + index as f64 * (2.0 * ROW + 8.0);
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LABEL_WIDTH - 6.0,
            top + ROW + 4.0,
            escape(name)
        );
        for (row, (value, color)) in [(plain, "#1f77b4"), (fast, "#ff7f0e")].iter().enumerate() {
            let y = top + row as f64 * ROW;
            let length = (**value / most * BAR_WIDTH).max(1.0);
            let _ = write!(
                svg,
                r##"<rect x="{LABEL_WIDTH}" y="{y:.1}" width="{length:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}">{:.2}</text>"##,
                ROW - 3.0,
                LABEL_WIDTH + length + 4.0,
                y + ROW - 5.0,
                value
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn profile_tables(page: &mut String, profile: &ProxyProfile) {
    let _ = write!(
        page,
        "<h3>Where the proxy's CPU goes ({}): {} ({:.2} ms sampled per request)</h3>\
         <table><tr><th class=\"l\">area</th><th>self ms/request</th><th>inclusive ms/request</th><th>self share</th></tr>",
        if profile.variant == "fast" { "with fast-litellm" } else { "plain LiteLLM" },
        escape(&profile.description),
        profile.ms_per_request
    );
    for area in &profile.areas {
        let share = if profile.ms_per_request > 0.0 {
            area.self_ms / profile.ms_per_request * 100.0
        } else {
            0.0
        };
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{:.3}</td><td>{:.3}</td><td>{share:.1}%</td></tr>",
            escape(&area.area),
            area.self_ms,
            area.inclusive_ms
        );
    }
    page.push_str("</table><table><tr><th class=\"l\">top functions (self)</th><th class=\"l\">area</th><th>ms/request</th></tr>");
    for function in profile.top_functions.iter().take(20) {
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.3}</td></tr>",
            escape(&function.function),
            escape(&function.area),
            function.self_ms
        );
    }
    page.push_str("</table>");
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_scenarios_and_profiles() {
        let spread = |m: f64| format!(r#"{{"median":{m},"min":{},"max":{}}}"#, m * 0.9, m * 1.1);
        let variant = |rps: f64, cpu: f64| {
            format!(
                r#"{{"requests_per_second":{},"p50_ms":{},"p99_ms":{},"cpu_ms_per_request":{},"errors":0}}"#,
                spread(rps),
                spread(600.0),
                spread(1100.0),
                spread(cpu)
            )
        };
        let json = format!(
            r#"{{"title":"t","generated_at":"now","host":{{}},"proxy":{{"generated_at":"then","scenarios":[
              {{"name":"chat","description":"chat <one>","workers":1,"runs_per_variant":3,"plain":{},"fast":{}}}],
              "profiles":[{{"scenario":"chat","description":"chat","ms_per_request":25.0,
                "areas":[{{"area":"pydantic","self_ms":2.5,"inclusive_ms":4.0}}],
                "top_functions":[{{"function":"f (a/b.py)","area":"pydantic","self_ms":1.0}}]}}]}}}}"#,
            variant(36.0, 28.0),
            variant(38.0, 26.0)
        );
        let page = crate::render_json(&json).unwrap();
        assert!(page.contains("LiteLLM proxy, end to end"));
        assert!(page.contains("chat &lt;one&gt;"));
        assert!(page.contains("CPU ×0.929"));
        assert!(page.contains("10.0%"));
        assert!(page.matches("<svg").count() == 1);
    }
}
