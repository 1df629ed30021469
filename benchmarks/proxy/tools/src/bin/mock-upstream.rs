//! A mock OpenAI-compatible upstream for the end-to-end proxy benchmark.
//!
//! It answers `POST .../chat/completions` with a fixed completion (or, for `"stream": true`,
//! server-sent chunks) after an optional delay, so the proxy in front of it is what costs CPU.
//! A path prefix selects other behaviour:
//!
//! - `/no-usage/...`: no `usage` in responses (LiteLLM then counts tokens to price the call);
//! - `/fail-500/...`: a 500 with an OpenAI error body.
//!
//! Responses are deterministic (fixed id and timestamp), so plain and accelerated proxies can
//! be compared byte for byte.
//!
//! ```text
//! mock-upstream [--port 0] [--latency-ms 0] [--workers 64]
//! ```
//!
//! Prints `listening on PORT` once bound.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tiny_http::{Header, Request, Response, Server, StatusCode};

const REPLY: &str = "This is a fixed reply from the mock upstream of the fast-litellm benchmark.";
const CREATED: u64 = 1_700_000_000;

struct Options {
    port: u16,
    latency: Duration,
    workers: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        latency: Duration::ZERO,
        workers: 64,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => options.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--latency-ms" => {
                let ms: u64 = value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?;
                options.latency = Duration::from_millis(ms);
            }
            "--workers" => {
                options.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("mock-upstream: {message}");
            std::process::exit(2);
        }
    };
    let server = match Server::http(("127.0.0.1", options.port)) {
        Ok(server) => Arc::new(server),
        Err(error) => {
            eprintln!("mock-upstream: cannot listen: {error}");
            std::process::exit(1);
        }
    };
    let port = server
        .server_addr()
        .to_ip()
        .map_or(options.port, |a| a.port());
    println!("listening on {port}");
    let workers: Vec<_> = (0..options.workers.max(1))
        .map(|_| {
            let server = Arc::clone(&server);
            let latency = options.latency;
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    if !latency.is_zero() {
                        std::thread::sleep(latency);
                    }
                    // A client that went away is not the mock's problem.
                    let _ = answer(request);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn answer(mut request: Request) -> std::io::Result<()> {
    let url = request.url().to_owned();
    let mut body = String::new();
    if request.as_reader().read_to_string(&mut body).is_err() {
        return request.respond(error(400, "request body is not UTF-8"));
    }
    if url.ends_with("/models") {
        let models = json!({"object": "list", "data": [{"id": "mock", "object": "model", "created": CREATED, "owned_by": "mock"}]});
        return request.respond(json_response(200, &models));
    }
    if !url.ends_with("/chat/completions") {
        return request.respond(error(404, "only chat completions are mocked"));
    }
    if url.starts_with("/fail-500/") {
        return request.respond(error(500, "the mock upstream was asked to fail"));
    }
    let Ok(payload) = serde_json::from_str::<Value>(&body) else {
        return request.respond(error(400, "request body is not JSON"));
    };
    let model = payload
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock")
        .to_owned();
    let with_usage = !url.starts_with("/no-usage/");
    if payload.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = with_usage
            && payload
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                == Some(true);
        let events = stream_events(&model, include_usage);
        let response = Response::new(
            StatusCode(200),
            vec![
                header("Content-Type", "text/event-stream"),
                header("Cache-Control", "no-cache"),
            ],
            std::io::Cursor::new(events.into_bytes()),
            None, // no length: chunked, as real upstreams stream
            None,
        );
        return request.respond(response);
    }
    let mut completion = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": REPLY, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
    });
    if with_usage {
        completion["usage"] = usage();
    }
    request.respond(json_response(200, &completion))
}

fn usage() -> Value {
    json!({"prompt_tokens": 19, "completion_tokens": 16, "total_tokens": 35})
}

/// The reply as OpenAI streams it: a role chunk, a chunk per word, a finish chunk, the usage
/// chunk when asked for, then `[DONE]`.
fn stream_events(model: &str, include_usage: bool) -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let words: Vec<&str> = REPLY.split_inclusive(' ').collect();
    events.extend(
        words
            .iter()
            .map(|word| chunk(json!({"content": word}), Value::Null)),
    );
    events.push(chunk(json!({}), json!("stop")));
    if include_usage {
        events.push(json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [],
            "usage": usage(),
        }));
    }
    let mut text: String = events
        .iter()
        .map(|event| format!("data: {event}\n\n"))
        .collect();
    text.push_str("data: [DONE]\n\n");
    text
}

fn json_response(status: u16, value: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(value.to_string().into_bytes())
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "application/json"))
}

fn error(status: u16, message: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    let body = json!({"error": {"message": message, "type": "mock_error", "param": null, "code": status.to_string()}});
    json_response(status, &body)
}
