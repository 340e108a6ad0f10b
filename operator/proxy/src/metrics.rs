//! Every series the proxy exports, named by the generated contract
//! (contract.rs, from operator/api/metric-names.ts) and labelled with the
//! pod's namespace/deployment/revision/version. Each series is bound once at
//! start-up, so the request path only touches atomics.
use std::fmt::Write;

use crate::config::Config;
use crate::contract as c;
use crate::distributions::{DistributionNames, Distributions};
use crate::exposition::{Counter, Gauge, Histogram, escape_label_value, family_header};

/// Latency buckets (seconds), Prometheus client libraries' usual defaults.
const DURATION_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const SIZE_BUCKETS: [f64; 8] = [256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0];
const ABS_DIFF_BUCKETS: [f64; 12] = [0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 100.0];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeClass {
    C2xx,
    C3xx,
    C4xx,
    C5xx,
}

impl CodeClass {
    pub const ALL: [CodeClass; 4] = [CodeClass::C2xx, CodeClass::C3xx, CodeClass::C4xx, CodeClass::C5xx];

    pub fn of(status: u16) -> CodeClass {
        match status {
            500.. | 0..=99 => CodeClass::C5xx,
            400..=499 => CodeClass::C4xx,
            300..=399 => CodeClass::C3xx,
            _ => CodeClass::C2xx,
        }
    }

    fn label(self) -> &'static str {
        ["2xx", "3xx", "4xx", "5xx"][self as usize]
    }
}

/// One counter per status class.
#[derive(Default)]
pub struct PerCode([Counter; 4]);

impl PerCode {
    pub fn get(&self, code: CodeClass) -> &Counter {
        &self.0[code as usize]
    }
}

/// How an inference request ended, as `code` of REQUESTS_TOTAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Answered(CodeClass),
    /// The client hung up before its answer (CLIENT_CLOSED_CODE).
    ClientClosed,
}

pub struct ShadowMetrics {
    /// Sent copies by the shadow's status class; a class appears once it has happened.
    pub sent: PerCode,
    pub dropped: Counter,
    pub error: Counter,
    pub duration: Histogram,
    pub agree: Counter,
    pub disagree: Counter,
    pub abs_difference: Histogram,
}

pub struct Metrics {
    /// `namespace="..",deployment="..",revision="..",version=".."`.
    base: String,
    pub requests: PerCode,
    pub client_closed: Counter,
    pub passthrough: PerCode,
    pub duration: Histogram,
    pub request_size: Histogram,
    pub response_size: Histogram,
    pub inflight: Gauge,
    pub mirrored: Counter,
    pub mirrored_inflight: Gauge,
    pub unparsed_request: Counter,
    pub unparsed_response: Counter,
    pub shadow: ShadowMetrics,
    pub features: Distributions,
    pub predictions: Distributions,
}

impl Metrics {
    pub fn new(config: &Config) -> Self {
        let base = [
            ("namespace", &config.namespace),
            ("deployment", &config.deployment),
            ("revision", &config.revision),
            ("version", &config.version),
        ]
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
        .collect::<Vec<_>>()
        .join(",");
        Metrics {
            base,
            requests: PerCode::default(),
            client_closed: Counter::default(),
            passthrough: PerCode::default(),
            duration: Histogram::new(DURATION_BUCKETS.to_vec()),
            request_size: Histogram::new(SIZE_BUCKETS.to_vec()),
            response_size: Histogram::new(SIZE_BUCKETS.to_vec()),
            inflight: Gauge::default(),
            mirrored: Counter::default(),
            mirrored_inflight: Gauge::default(),
            unparsed_request: Counter::default(),
            unparsed_response: Counter::default(),
            shadow: ShadowMetrics {
                sent: PerCode::default(),
                dropped: Counter::default(),
                error: Counter::default(),
                duration: Histogram::new(DURATION_BUCKETS.to_vec()),
                agree: Counter::default(),
                disagree: Counter::default(),
                abs_difference: Histogram::new(ABS_DIFF_BUCKETS.to_vec()),
            },
            features: Distributions::new(
                &config.reference.features,
                DistributionNames {
                    histogram: c::FEATURE_VALUE,
                    counter: c::FEATURE_CATEGORY_TOTAL,
                    label: "feature",
                    help: "Input feature values.",
                },
            ),
            predictions: Distributions::new(
                &config.reference.predictions,
                DistributionNames {
                    histogram: c::PREDICTION_VALUE,
                    counter: c::PREDICTION_CATEGORY_TOTAL,
                    label: "output",
                    help: "Predicted values.",
                },
            ),
        }
    }

    pub fn record(&self, outcome: Outcome) {
        match outcome {
            Outcome::Answered(code) => self.requests.get(code).inc(),
            Outcome::ClientClosed => self.client_closed.inc(),
        }
    }

    /// The whole text exposition.
    pub fn render(&self, buffered: usize) -> String {
        let base = &self.base;
        let mut out = String::with_capacity(16 * 1024);
        let o = &mut out;
        let sample = |o: &mut String, name: &str, own: &str, v: i128| {
            let sep = if own.is_empty() { "" } else { "," };
            let _ = writeln!(o, "{name}{{{own}{sep}{base}}} {v}");
        };
        let per_code = |o: &mut String, name: &str, counters: &PerCode, extra: Option<(&str, u64)>| {
            for code in CodeClass::ALL {
                sample(o, name, &format!("code=\"{}\"", code.label()), counters.get(code).get() as i128);
            }
            if let Some((label, v)) = extra {
                sample(o, name, &format!("code=\"{label}\""), v as i128);
            }
        };
        let histogram = |o: &mut String, name: &str, help: &str, h: &Histogram| {
            family_header(name, "histogram", help, o);
            h.render(name, base, o);
        };

        family_header(c::REQUESTS_TOTAL, "counter", "Inference requests by status class.", o);
        per_code(o, c::REQUESTS_TOTAL, &self.requests, Some((c::CLIENT_CLOSED_CODE, self.client_closed.get())));
        family_header(c::PASSTHROUGH_REQUESTS_TOTAL, "counter", "Other requests (health, metadata) by status class.", o);
        per_code(o, c::PASSTHROUGH_REQUESTS_TOTAL, &self.passthrough, None);
        family_header(c::UNPARSED_TOTAL, "counter", "Payloads forwarded but not parsed.", o);
        sample(o, c::UNPARSED_TOTAL, "part=\"request\"", self.unparsed_request.get() as i128);
        sample(o, c::UNPARSED_TOTAL, "part=\"response\"", self.unparsed_response.get() as i128);

        let s = &self.shadow;
        family_header(c::SHADOW_REQUESTS_TOTAL, "counter", "Mirrored requests by result and status class.", o);
        for code in CodeClass::ALL {
            let n = s.sent.get(code).get();
            if n > 0 {
                sample(o, c::SHADOW_REQUESTS_TOTAL, &format!("result=\"sent\",code=\"{}\"", code.label()), n as i128);
            }
        }
        sample(o, c::SHADOW_REQUESTS_TOTAL, "result=\"dropped\",code=\"\"", s.dropped.get() as i128);
        sample(o, c::SHADOW_REQUESTS_TOTAL, "result=\"error\",code=\"\"", s.error.get() as i128);
        family_header(c::SHADOW_AGREEMENT_TOTAL, "counter", "Compared predictions: agree or disagree.", o);
        sample(o, c::SHADOW_AGREEMENT_TOTAL, "result=\"agree\"", s.agree.get() as i128);
        sample(o, c::SHADOW_AGREEMENT_TOTAL, "result=\"disagree\"", s.disagree.get() as i128);

        family_header(c::INFLIGHT_REQUESTS, "gauge", "Inference requests in flight.", o);
        sample(o, c::INFLIGHT_REQUESTS, "", self.inflight.get() as i128);
        family_header(c::MIRRORED_REQUESTS_TOTAL, "counter", "Inference requests received as mirrored copies.", o);
        sample(o, c::MIRRORED_REQUESTS_TOTAL, "", self.mirrored.get() as i128);
        family_header(c::MIRRORED_INFLIGHT_REQUESTS, "gauge", "Mirrored inference requests in flight.", o);
        sample(o, c::MIRRORED_INFLIGHT_REQUESTS, "", self.mirrored_inflight.get() as i128);
        family_header(c::BUFFERED_BYTES, "gauge", "Bytes held in body copies for parsing and shadow comparison.", o);
        sample(o, c::BUFFERED_BYTES, "", buffered as i128);

        histogram(o, c::REQUEST_DURATION, "Inference latency seen by the proxy (s).", &self.duration);
        histogram(o, c::REQUEST_SIZE, "Inference request body size (bytes).", &self.request_size);
        histogram(o, c::RESPONSE_SIZE, "Inference response body size (bytes).", &self.response_size);
        histogram(o, c::SHADOW_REQUEST_DURATION, "Latency of the shadow revision (s).", &s.duration);
        histogram(o, c::SHADOW_ABS_DIFF, "|primary - shadow| of numeric predictions.", &s.abs_difference);

        self.features.render(base, o);
        self.predictions.render(base, o);
        out
    }
}
