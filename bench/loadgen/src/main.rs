//! Open-loop load generator for bench/proxy.ts.
//!
//!     modelops-loadgen <rest|grpc> <rate> <seconds> <bodies-file> <slice-ms> <url>...
//!
//! Requests start on a fixed schedule (request i at start + i/rate) whatever
//! the answers do, and each latency is measured from its *scheduled* time, so
//! a stalled server (or a late generator) shows up as latency instead of
//! silently lowering the rate (no coordinated omission). A scheduler thread
//! with a 1 µs timer slack keeps the schedule (tokio's timer wheel ticks in
//! whole milliseconds, too coarse at 2,000 rps); the requests run on one
//! current-thread runtime: HTTP/1.1 keep-alive pool for `rest`, h2c (HTTP/2
//! prior knowledge) for `grpc`.
//!
//! bodies-file: `rest`, one JSON body per line; `grpc`, gRPC frames (5-byte
//! header + protobuf message) back to back. Requests cycle through them.
//!
//! Several URLs take turns, slice by slice (slice-ms each, round robin), for
//! `seconds` each in all: a neighbour's burst on a shared machine then lands
//! on every target alike instead of on whichever ran at that moment.
//! Prints a JSON array on stdout, one object per URL, in order.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Beyond this many requests in flight the target is saturated; further
/// requests are counted as errors instead of opening ever more connections.
const MAX_INFLIGHT: usize = 2048;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Rest,
    Grpc,
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    lags_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

fn usage() -> ! {
    eprintln!(
        "usage: modelops-loadgen <rest|grpc> <rate> <seconds> <bodies-file> <slice-ms> <url>..."
    );
    std::process::exit(2)
}

fn read_bodies(mode: Mode, path: &str) -> Vec<Bytes> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let bodies: Vec<Bytes> = match mode {
        Mode::Rest => raw
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(Bytes::copy_from_slice)
            .collect(),
        Mode::Grpc => {
            let mut out = Vec::new();
            let mut at = 0;
            while at + 5 <= raw.len() {
                let len = u32::from_be_bytes(raw[at + 1..at + 5].try_into().unwrap()) as usize;
                out.push(Bytes::copy_from_slice(&raw[at..at + 5 + len]));
                at += 5 + len;
            }
            out
        }
    };
    assert!(!bodies.is_empty(), "{path}: no bodies");
    bodies
}

fn request(mode: Mode, uri: &http::Uri, body: Bytes) -> Request<Full<Bytes>> {
    let mut req = Request::builder().method(Method::POST).uri(uri.clone());
    let h = req.headers_mut().unwrap();
    if mode == Mode::Grpc {
        h.insert("content-type", HeaderValue::from_static("application/grpc"));
        h.insert("te", HeaderValue::from_static("trailers"));
    } else {
        h.insert("content-type", HeaderValue::from_static("application/json"));
    }
    req.body(Full::new(body)).unwrap()
}

/// Sends one request; Err says why it failed (status, grpc-status, transport).
async fn exchange(
    client: &Client<HttpConnector, Full<Bytes>>,
    mode: Mode,
    req: Request<Full<Bytes>>,
) -> Result<(), String> {
    let res = client.request(req).await.map_err(|e| {
        let mut msg = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = src {
            msg = format!("{msg}: {s}");
            src = s.source();
        }
        msg
    })?;
    let status = res.status();
    let head_grpc = res.headers().get("grpc-status").cloned();
    let head_msg = res.headers().get("grpc-message").cloned();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    if status != StatusCode::OK {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    if mode == Mode::Rest {
        return Ok(());
    }
    let trailers = body.trailers().cloned();
    let (code, msg) = match &trailers {
        Some(t) if t.contains_key("grpc-status") => (
            t.get("grpc-status").cloned(),
            t.get("grpc-message").cloned(),
        ),
        _ => (head_grpc, head_msg),
    };
    let code = code.map(|c| c.to_str().unwrap_or("?").to_string());
    match code.as_deref() {
        Some("0") if body.to_bytes().len() >= 5 => Ok(()),
        Some("0") => Err("grpc-status 0 without a response message".into()),
        Some(c) => {
            let m = msg
                .map(|m| m.to_str().unwrap_or("").to_string())
                .unwrap_or_default();
            Err(format!("grpc-status {c}: {m}"))
        }
        None => Err("no grpc-status".into()),
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p * sorted.len() as f64).floor() as usize).min(sorted.len() - 1);
    sorted[i] as f64 / 1000.0
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".into()
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        usage();
    }
    let mode = match args[1].as_str() {
        "rest" => Mode::Rest,
        "grpc" => Mode::Grpc,
        _ => usage(),
    };
    let rate: f64 = args[2].parse().unwrap_or_else(|_| usage());
    let seconds: f64 = args[3].parse().unwrap_or_else(|_| usage());
    let bodies = read_bodies(mode, &args[4]);
    let slice_ms: f64 = args[5].parse().unwrap_or_else(|_| usage());
    let uris: Vec<http::Uri> = args[6..]
        .iter()
        .map(|u| u.parse().unwrap_or_else(|_| usage()))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(mode, uris, rate, seconds, slice_ms, bodies));
}

async fn run(
    mode: Mode,
    uris: Vec<http::Uri>,
    rate: f64,
    seconds: f64,
    slice_ms: f64,
    bodies: Vec<Bytes>,
) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    // One client, a keep-alive pool per target.
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(mode == Mode::Grpc)
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector);

    let targets = uris.len();
    // Whole slices, as many for each target: `seconds` rounded up to them.
    let own_seconds = (seconds * 1000.0 / slice_ms).ceil() * slice_ms / 1000.0;
    let total = (rate * own_seconds * targets as f64).round() as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    std::thread::spawn(move || {
        // The default 50 µs slack would let the kernel batch wake-ups.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1) };
        for i in 0..total {
            let at = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if tx.send((i, at)).is_err() {
                break;
            }
        }
    });

    let stats: Vec<Arc<Mutex<Stats>>> = (0..targets)
        .map(|_| Arc::new(Mutex::new(Stats::default())))
        .collect();
    let inflight = Arc::new(AtomicUsize::new(0));
    while let Some((i, scheduled)) = rx.recv().await {
        let slice = ((scheduled - start).as_secs_f64() * 1000.0 / slice_ms).floor() as usize;
        let t = slice % targets;
        let lag = scheduled.elapsed();
        stats[t]
            .lock()
            .unwrap()
            .lags_us
            .push(lag.as_micros().min(u32::MAX as u128) as u32);
        if inflight.load(Ordering::Relaxed) >= MAX_INFLIGHT {
            *stats[t]
                .lock()
                .unwrap()
                .errors
                .entry("in-flight cap reached".into())
                .or_default() += 1;
            continue;
        }
        inflight.fetch_add(1, Ordering::Relaxed);
        let req = request(mode, &uris[t], bodies[(i as usize) % bodies.len()].clone());
        let (client, stats, inflight) = (client.clone(), stats[t].clone(), inflight.clone());
        tokio::spawn(async move {
            let outcome =
                match tokio::time::timeout(REQUEST_TIMEOUT, exchange(&client, mode, req)).await {
                    Ok(r) => r,
                    Err(_) => Err("timeout".into()),
                };
            let done = Instant::now();
            let mut s = stats.lock().unwrap();
            match outcome {
                Ok(()) => {
                    let us = (done - scheduled).as_micros().min(u32::MAX as u128) as u32;
                    s.latencies_us.push(us);
                }
                Err(e) => *s.errors.entry(e).or_default() += 1,
            }
            drop(s);
            inflight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Every request is bounded by REQUEST_TIMEOUT, so this ends.
    while inflight.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let out: Vec<String> = stats
        .iter()
        .map(|s| summary(&mut s.lock().unwrap(), own_seconds))
        .collect();
    println!("[{}]", out.join(","));
}

/// One target's figures. Its achieved rate: answers (within the timeout) over its slices' time.
fn summary(s: &mut Stats, own_seconds: f64) -> String {
    s.latencies_us.sort_unstable();
    s.lags_us.sort_unstable();
    let sent = s.lags_us.len() as u64;
    let ok = s.latencies_us.len() as u64;
    let errors: u64 = s.errors.values().sum();
    let error_list: Vec<String> = s
        .errors
        .iter()
        .map(|(k, v)| format!("{{\"error\":{},\"count\":{v}}}", json_str(k)))
        .collect();
    format!(
        "{{\"sent\":{sent},\"ok\":{ok},\"errors\":{errors},\"achievedRps\":{},\"p50Ms\":{},\"p99Ms\":{},\"p999Ms\":{},\"maxMs\":{},\"sendLagP99Ms\":{},\"errorKinds\":[{}]}}",
        json_num(ok as f64 / own_seconds),
        json_num(percentile(&s.latencies_us, 0.5)),
        json_num(percentile(&s.latencies_us, 0.99)),
        json_num(percentile(&s.latencies_us, 0.999)),
        json_num(
            s.latencies_us
                .last()
                .map(|v| *v as f64 / 1000.0)
                .unwrap_or(f64::NAN)
        ),
        json_num(percentile(&s.lags_us, 0.99)),
        error_list.join(",")
    )
}
