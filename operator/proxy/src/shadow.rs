//! Mirrors a share of inference requests to the shadow revision, off the
//! client's path: the copy is sent once the request body is in, the primary
//! answer never waits for it, and at most `maxConcurrent` copies are in
//! flight; beyond that a copy is dropped and counted, so a slow shadow can
//! never pile up memory or sockets in the primary's pod.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, Uri, header};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::agreement::compare_predictions;
use crate::body;
use crate::budget::{BodyCopy, ByteBudget};
use crate::config::{Config, ShadowConfig, SignatureField};
use crate::contract as c;
use crate::metrics::{CodeClass, Metrics};
use crate::offload;
use crate::payload::{self, Columns, Protocol};
use crate::upstream::{self, Target};

/// The Services a ModelDeployment owns: a host named like one of them is a client, even if it ends in -shadow.
pub fn own_hosts(deployment: &str) -> Vec<String> {
    c::OWN_SERVICE_SUFFIXES.iter().map(|s| format!("{deployment}{s}")).collect()
}

/// Whether a request is a mirrored copy rather than a client's: our own mirror sets
/// SHADOW_HEADER; Envoy (Istio, Envoy-based Gateway API) appends "-shadow" to the host of the
/// copies it mirrors (iris.ml.svc.cluster.local-shadow).
pub fn is_mirrored_copy(headers: &HeaderMap, uri: &Uri, own_hosts: &[String]) -> bool {
    if headers.contains_key(c::SHADOW_HEADER) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(host) = host else { return false };
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|ch| ch.is_ascii_digit()) => h,
        _ => host,
    };
    host.ends_with("-shadow") && !own_hosts.iter().any(|o| o == host)
}

/// The share a shadow asks for, from its answer at MIRROR_PATH; anything else is 0.
pub fn announced_percent(body: &[u8]) -> f64 {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("percent")?.as_f64())
        .filter(|p| p.is_finite())
        .map_or(0.0, |p| p.clamp(0.0, 100.0))
}

pub struct ShadowMirror {
    config: ShadowConfig,
    /// The share mirrored now (f64 bits).
    percent: AtomicU64,
    inflight: AtomicUsize,
    rest: Target,
    grpc: Target,
    metrics: Arc<Metrics>,
    budget: Arc<ByteBudget>,
    max_answer_bytes: usize,
    outputs: Vec<SignatureField>,
    /// xorshift state for picking the mirrored share.
    random: AtomicU64,
}

impl ShadowMirror {
    pub fn start(config: &ShadowConfig, proxy: &Config, metrics: Arc<Metrics>, budget: Arc<ByteBudget>) -> Arc<Self> {
        let idle = Duration::from_secs(30);
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
        let mirror = Arc::new(ShadowMirror {
            config: config.clone(),
            percent: AtomicU64::new(config.percent.unwrap_or(0.0).to_bits()),
            inflight: AtomicUsize::new(0),
            rest: Target::parse(&config.url, upstream::client(idle, config.max_concurrent, false), false),
            grpc: Target::parse(&config.url, upstream::client(idle, 1, true), true),
            metrics,
            budget,
            max_answer_bytes: proxy.max_parse_bytes,
            outputs: proxy.signature.outputs.clone(),
            random: AtomicU64::new(seed),
        });
        if config.percent.is_none() {
            tokio::spawn(discover(Arc::downgrade(&mirror)));
        }
        mirror
    }

    fn next_random(&self) -> f64 {
        let mut x = self.random.load(Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether this request is one of the mirrored share; decided before reading its body.
    pub fn selects(&self) -> bool {
        let percent = f64::from_bits(self.percent.load(Relaxed));
        percent > 0.0 && self.next_random() * 100.0 < percent
    }

    /// Sends the copy; the receiver gets the shadow's parsed predictions, or None when it
    /// failed (counted). None at once when the copy is dropped (too many in flight, counted).
    pub fn send(
        self: &Arc<Self>,
        path: String,
        content_type: Option<HeaderValue>,
        body: Arc<BodyCopy>,
        protocol: Protocol,
    ) -> Option<oneshot::Receiver<Option<Columns>>> {
        if self.inflight.fetch_add(1, Relaxed) >= self.config.max_concurrent {
            self.inflight.fetch_sub(1, Relaxed);
            self.metrics.shadow.dropped.inc();
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let mirror = self.clone();
        tokio::spawn(async move {
            let answer = mirror.exchange(&path, content_type, &body, protocol).await;
            drop(body); // the request's copy stays counted in the budget until the copy is sent
            mirror.inflight.fetch_sub(1, Relaxed);
            if answer.is_err() {
                mirror.metrics.shadow.error.inc();
            }
            let _ = tx.send(answer.ok().flatten());
        });
        Some(rx)
    }

    async fn exchange(&self, path: &str, content_type: Option<HeaderValue>, body: &BodyCopy, protocol: Protocol) -> Result<Option<Columns>, ()> {
        let grpc = protocol == Protocol::Grpc;
        let target = if grpc { &self.grpc } else { &self.rest };
        let mut headers = HeaderMap::new();
        if let Some(t) = content_type {
            headers.insert(header::CONTENT_TYPE, t);
        }
        headers.insert(c::SHADOW_HEADER, HeaderValue::from_static("1"));
        if grpc {
            headers.insert(header::TE, HeaderValue::from_static("trailers"));
        }
        let start = Instant::now();
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let req = target.request(Method::POST, path.parse().ok().as_ref(), headers, body::full(body.bytes()));
        let work = async {
            let res = target.send(req, timeout).await.map_err(|_| ())?;
            let status = res.status();
            let mut grpc_status = res.headers().get("grpc-status").cloned();
            // The answer is kept only within maxParseBytes and the shared budget; beyond that it
            // is read and dropped, and not compared.
            let mut answer = BodyCopy::new(self.max_answer_bytes, Some(self.budget.clone()));
            let mut incoming = res.into_body();
            while let Some(frame) = incoming.frame().await {
                let frame = frame.map_err(|_| ())?;
                if let Some(d) = frame.data_ref() {
                    answer.add(d);
                }
                if let Some(t) = frame.trailers_ref() {
                    grpc_status = t.get("grpc-status").cloned().or(grpc_status);
                }
            }
            Ok::<_, ()>((status, grpc_status, answer))
        };
        let (status, grpc_status, mut answer) = tokio::time::timeout(timeout, work).await.map_err(|_| ())??;
        self.metrics.shadow.duration.observe(start.elapsed().as_secs_f64());
        let ok = if grpc { grpc_status.as_ref().is_some_and(|s| s == "0") } else { status.as_u16() < 300 };
        let class = if grpc && !ok { CodeClass::C5xx } else { CodeClass::of(status.as_u16()) };
        self.metrics.shadow.sent.get(class).inc();
        if !ok || !answer.complete() {
            return Ok(None);
        }
        answer.freeze();
        let outputs = self.outputs.clone();
        let parsed = offload::parse(answer.size, move || payload::parse_response(protocol, &answer.bytes(), &outputs).ok()).await;
        Ok(parsed.flatten())
    }

    /// Records how the shadow's predictions compare with the primary's.
    pub fn record(&self, primary: &Columns, shadow: &Columns) {
        let cmp = compare_predictions(primary, shadow, &self.outputs);
        let s = &self.metrics.shadow;
        s.agree.add(cmp.agree);
        s.disagree.add(cmp.disagree);
        for d in cmp.abs_differences {
            s.abs_difference.observe(d);
        }
    }
}

/// Asks the shadow for its share now and every discoverEveryMs; no answer means no shadow.
async fn discover(mirror: std::sync::Weak<ShadowMirror>) {
    loop {
        let Some(m) = mirror.upgrade() else { return };
        let req = m.rest.request(Method::GET, Some(&http::uri::PathAndQuery::from_static(c::MIRROR_PATH)), HeaderMap::new(), body::empty());
        let ask = async {
            let res = m.rest.send(req, Duration::from_secs(1)).await.ok()?;
            if !res.status().is_success() {
                return None;
            }
            let body = tokio::time::timeout(Duration::from_secs(1), res.into_body().collect()).await.ok()?.ok()?;
            Some(announced_percent(&body.to_bytes()))
        };
        let percent = ask.await.unwrap_or(0.0);
        m.percent.store(percent.to_bits(), Relaxed);
        let every = Duration::from_millis(m.config.discover_every_ms);
        drop(m);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_mirrored_copies_from_clients_requests() {
        // The Services of a ModelDeployment named "fraud-shadow": its clients call hosts ending in "-shadow".
        let own = own_hosts("fraud-shadow");
        let cases: [(&str, Option<&str>, bool, bool); 8] = [
            ("a client's request", Some("fraud-shadow-canary.ml.svc:80"), false, false),
            ("a copy from another revision's proxy", Some("127.0.0.1:8000"), true, true),
            ("a copy mirrored by Envoy (Istio, Gateway API)", Some("fraud-shadow.ml.svc.cluster.local-shadow"), false, true),
            ("an Envoy copy with a port", Some("api.example.com-shadow:8080"), false, true),
            ("a client calling a Service whose name ends in -shadow", Some("fraud-shadow"), false, false),
            ("the same, with a port", Some("fraud-shadow:80"), false, false),
            ("an Envoy copy of that call", Some("fraud-shadow-shadow"), false, true),
            ("no host at all", None, false, false),
        ];
        for (what, host, shadow_header, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(h) = host {
                headers.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            }
            if shadow_header {
                headers.insert(c::SHADOW_HEADER, HeaderValue::from_static("1"));
            }
            assert_eq!(is_mirrored_copy(&headers, &Uri::from_static("/"), &own), expected, "{what}");
        }
    }

    #[test]
    fn reads_the_announced_share_and_clamps_it() {
        assert_eq!(announced_percent(br#"{"percent":20}"#), 20.0);
        assert_eq!(announced_percent(br#"{"percent":250}"#), 100.0);
        assert_eq!(announced_percent(br#"{"percent":"20"}"#), 0.0);
        assert_eq!(announced_percent(b"not json"), 0.0);
    }
}
