//! A closed-loop HTTP load generator for the end-to-end proxy benchmark.
//!
//! `--connections` threads each keep one connection and send requests back to back for
//! `--duration` seconds (after `--warmup` seconds that are not recorded), reading every
//! response to its end (streams included). It is compiled and runs outside the proxy's
//! processes, so it never competes for the proxy's GIL. Prints one JSON object:
//! requests, errors, statuses, requests per second and latency percentiles.
//!
//! ```text
//! loadgen --url URL --requests FILE [--connections 32] [--duration 10] [--warmup 2]
//! ```
//!
//! FILE holds one request per line: `{"headers": {"Authorization": "Bearer ..."}, "body": {...}}`;
//! connections go through the lines in turn, each starting at a different line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// One line of the requests file: extra headers and the JSON body, ready to send.
struct Request {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Options {
    url: String,
    requests: Vec<Request>,
    connections: usize,
    duration: Duration,
    warmup: Duration,
}

fn parse_options() -> Result<Options, String> {
    let (mut url, mut file) = (None, None);
    let (mut connections, mut duration, mut warmup) = (32usize, 10.0f64, 2.0f64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--requests" => file = Some(value()?),
            "--connections" => connections = value()?.parse().map_err(|e| format!("{e}"))?,
            "--duration" => duration = value()?.parse().map_err(|e| format!("{e}"))?,
            "--warmup" => warmup = value()?.parse().map_err(|e| format!("{e}"))?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let file = file.ok_or("--requests is required")?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let mut requests = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let request: Value =
            serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}", number + 1))?;
        let headers = request
            .get("headers")
            .and_then(Value::as_object)
            .map(|headers| {
                headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let body = request.get("body").cloned().unwrap_or(Value::Null);
        requests.push(Request {
            headers,
            body: body.to_string().into_bytes(),
        });
    }
    if requests.is_empty() {
        return Err(format!("{file} holds no requests"));
    }
    if !(duration > 0.0 && warmup >= 0.0 && connections > 0) {
        return Err("--duration and --connections must be positive".into());
    }
    Ok(Options {
        url,
        requests,
        connections,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
    })
}

/// What one connection saw while recording.
struct Tally {
    latency_us: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    last_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency_us: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            statuses: BTreeMap::new(),
            transport_errors: 0,
            last_error: None,
        }
    }

    fn merge(&mut self, other: Tally) {
        let _ = self.latency_us.add(&other.latency_us);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        if other.last_error.is_some() {
            self.last_error = other.last_error;
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .max_idle_connections_per_host(1)
        .build()
        .into()
}

/// One request, its response read to the end: the status, or the transport error.
fn send(agent: &ureq::Agent, url: &str, request: &Request) -> Result<u16, String> {
    let mut builder = agent.post(url).header("Content-Type", "application/json");
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let mut response = builder.send(&request.body[..]).map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok(status)
}

fn connection(index: usize, options: &Options, recording: &AtomicBool, done: &AtomicBool) -> Tally {
    let mut tally = Tally::new();
    let mut agent = agent();
    let mut next = index % options.requests.len();
    while !done.load(Ordering::Relaxed) {
        let started = Instant::now();
        let outcome = send(&agent, &options.url, &options.requests[next]);
        next = (next + 1) % options.requests.len();
        let micros = started.elapsed().as_micros() as u64;
        if !recording.load(Ordering::Relaxed) || done.load(Ordering::Relaxed) {
            continue;
        }
        match outcome {
            Ok(status) => {
                *tally.statuses.entry(status).or_default() += 1;
                tally.latency_us.saturating_record(micros.max(1));
            }
            Err(error) => {
                tally.transport_errors += 1;
                tally.last_error = Some(error);
                agent = self::agent(); // a fresh connection after a broken one
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    tally
}

fn main() {
    let options = match parse_options() {
        Ok(options) => Arc::new(options),
        Err(message) => {
            eprintln!("loadgen: {message}");
            std::process::exit(2);
        }
    };
    let recording = Arc::new(AtomicBool::new(options.warmup.is_zero()));
    let done = Arc::new(AtomicBool::new(false));
    let total = Arc::new(Mutex::new(Tally::new()));
    let threads: Vec<_> = (0..options.connections)
        .map(|index| {
            let (options, recording, done, total) = (
                options.clone(),
                recording.clone(),
                done.clone(),
                total.clone(),
            );
            std::thread::spawn(move || {
                let tally = connection(index, &options, &recording, &done);
                if let Ok(mut total) = total.lock() {
                    total.merge(tally);
                }
            })
        })
        .collect();
    std::thread::sleep(options.warmup);
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(options.duration);
    done.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for thread in threads {
        let _ = thread.join();
    }
    let total = total
        .lock()
        .map(|mut t| std::mem::replace(&mut *t, Tally::new()));
    let Ok(total) = total else {
        eprintln!("loadgen: a connection thread failed");
        std::process::exit(1);
    };
    let responses: u64 = total.statuses.values().sum();
    let ok: u64 = total
        .statuses
        .iter()
        .filter(|(status, _)| (200..300).contains(*status))
        .map(|(_, count)| count)
        .sum();
    let ms = |q: f64| total.latency_us.value_at_quantile(q) as f64 / 1000.0;
    let report = json!({
        "seconds": elapsed,
        "connections": options.connections,
        "responses": responses,
        "ok": ok,
        "non_2xx": responses - ok,
        "transport_errors": total.transport_errors,
        "last_transport_error": total.last_error,
        "statuses": total.statuses.iter().map(|(s, c)| (s.to_string(), json!(c))).collect::<serde_json::Map<_, _>>(),
        "requests_per_second": responses as f64 / elapsed,
        "latency_ms": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": total.latency_us.max() as f64 / 1000.0},
    });
    println!("{report}");
}
