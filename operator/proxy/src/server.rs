//! The serving side: every request is forwarded to the model server.
//! Inference calls (V2 infer, V1 predict, gRPC ModelInfer) stream through
//! while a copy of each body is kept, and are parsed only after the client
//! has its answer, on a blocking thread, so histograms and shadow comparison
//! add no latency. Everything else (health, metadata, unknown paths) is
//! forwarded untouched and counted apart.
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::body::{self, Limit, Observer, ProxyBody, Tapped};
use crate::budget::{BodyCopy, ByteBudget};
use crate::config::Config;
use crate::conn::{ConnInfo, Holding};
use crate::contract as c;
use crate::metrics::{CodeClass, Metrics, Outcome};
use crate::offload;
use crate::payload::{self, Columns, Protocol};
use crate::shadow::{self, ShadowMirror};
use crate::upstream::{self, Failure, Target};

pub struct State {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub budget: Arc<ByteBudget>,
    pub shadow: Option<Arc<ShadowMirror>>,
    rest: Target,
    /// A client that never reuses a connection, for the one resend (see `infer`).
    fresh: Target,
    grpc: Option<Target>,
    /// Inference requests holding body copies now (at most maxParseInflight).
    parsing: AtomicUsize,
    /// After SIGTERM: every answer closes its connection.
    pub draining: AtomicBool,
    own_hosts: Vec<String>,
    revision: HeaderValue,
}

impl State {
    pub fn new(config: Config) -> Arc<State> {
        let idle = Duration::from_millis(config.upstream_idle_timeout_ms);
        let rest = Target::parse(&config.upstream, upstream::client(idle, 64, false), false);
        let fresh = Target::parse(&config.upstream, upstream::client(idle, 0, false), false);
        let grpc = config.grpc_upstream.as_deref().map(|u| Target::parse(u, upstream::client(idle, 8, true), true));
        let metrics = Arc::new(Metrics::new(&config));
        let budget = ByteBudget::new(config.max_buffered_bytes);
        let shadow = config.shadow.as_ref().map(|s| ShadowMirror::start(s, &config, metrics.clone(), budget.clone()));
        let own_hosts = shadow::own_hosts(&config.deployment);
        let revision = HeaderValue::from_str(&config.revision).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        Arc::new(State {
            config,
            metrics,
            budget,
            shadow,
            rest,
            fresh,
            grpc,
            parsing: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            own_hosts,
            revision,
        })
    }

    pub fn render_metrics(&self) -> String {
        self.metrics.render(self.budget.held())
    }
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("application/grpc"))
}

/// The gRPC status of an answer: in its headers (trailers-only) or trailers.
fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// gRPC status codes as status classes: the caller's mistakes are 4xx, the server's 5xx.
fn grpc_class(status: i32) -> CodeClass {
    match status {
        0 => CodeClass::C2xx,
        // CANCELLED, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
        // RESOURCE_EXHAUSTED, FAILED_PRECONDITION, OUT_OF_RANGE, UNAUTHENTICATED
        1 | 3 | 5 | 6 | 7 | 8 | 9 | 11 | 16 => CodeClass::C4xx,
        _ => CodeClass::C5xx,
    }
}

/// An answer made by the proxy itself: for gRPC a trailers-only error, else plain text.
fn own_answer(grpc: bool, status: StatusCode, grpc_code: u32, message: &str) -> Response<ProxyBody> {
    let mut res = if grpc {
        let mut r = Response::new(body::empty());
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        h.insert("grpc-status", HeaderValue::from(grpc_code));
        if let Ok(v) = HeaderValue::from_str(&message.replace(|ch: char| !ch.is_ascii_graphic() && ch != ' ', "?")) {
            h.insert("grpc-message", v);
        }
        r
    } else {
        let mut r = Response::new(body::full(format!("modelops-proxy: {message}\n")));
        *r.status_mut() = status;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    };
    if !grpc {
        *res.status_mut() = status;
    }
    res
}

fn upstream_failure(grpc: bool, failure: &Failure) -> Response<ProxyBody> {
    let message = format!("model server {}", failure.message());
    match failure {
        Failure::Timeout => own_answer(grpc, StatusCode::GATEWAY_TIMEOUT, 4, &message), // DEADLINE_EXCEEDED
        _ => own_answer(grpc, StatusCode::BAD_GATEWAY, 14, &message),                   // UNAVAILABLE
    }
}

/// Handles one request from a client (or a mirrored copy from another proxy).
pub async fn handle(state: Arc<State>, conn: Arc<ConnInfo>, req: Request<Incoming>) -> Result<Response<ProxyBody>, Infallible> {
    let active = conn.begin_request();
    let h1 = req.version() <= Version::HTTP_11;
    let client_closes = req.headers().get(header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let mirrored = shadow::is_mirrored_copy(req.headers(), req.uri(), &state.own_hosts);
    let mut res = if req.method() == Method::GET && req.uri().path() == c::MIRROR_PATH {
        answer_mirror(&state)
    } else if let Some(protocol) = payload::inference_route(req.method().as_str(), req.uri().path()) {
        infer(&state, req, protocol, mirrored).await
    } else {
        passthrough(&state, req).await
    };
    let headers = res.headers_mut();
    // Which revision answered, on every answer; not on a mirrored copy's, which only the mirroring side reads.
    headers.remove(c::REVISION_HEADER);
    if !mirrored {
        headers.insert(c::REVISION_HEADER, state.revision.clone());
    }
    // A Service balances connections, not requests: an old keep-alive connection is closed
    // after this answer so the client reconnects wherever the Service sends it now.
    if h1 && (state.draining.load(Relaxed) || conn.older_than(state.config.max_connection_age_ms)) {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else if h1 && !client_closes {
        // Said explicitly, as most servers do: clients can tell a kept connection from a closing one.
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    Ok(res.map(|b| Holding::new(b, active)))
}

fn answer_mirror(state: &State) -> Response<ProxyBody> {
    let (status, text) = match state.config.mirror_percent {
        Some(p) => (StatusCode::OK, serde_json::json!({ "percent": p }).to_string()),
        None => (StatusCode::NOT_FOUND, r#"{"error":"not a shadow revision"}"#.to_string()),
    };
    let mut res = Response::new(body::full(text));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn target<'a>(state: &'a State, grpc: bool) -> Option<&'a Target> {
    if grpc { state.grpc.as_ref() } else { Some(&state.rest) }
}

fn no_grpc() -> Response<ProxyBody> {
    own_answer(true, StatusCode::OK, 12, "modelops-proxy: no gRPC port configured for this model (runtime.grpcPort)")
}

/// The model server's answer for the client: end-to-end headers, body streamed.
fn client_response(parts: http::response::Parts, body: ProxyBody) -> Response<ProxyBody> {
    let mut out = Response::new(body);
    *out.status_mut() = parts.status;
    *out.headers_mut() = upstream::end_to_end(&parts.headers, false);
    out
}

/// Counts a passthrough answer once its class is known (gRPC: at the end, from trailers).
struct PassthroughSide {
    state: Arc<State>,
    class: Mutex<Option<CodeClass>>,
}

impl Observer for PassthroughSide {
    fn ended(&self) {}
    fn failed(&self, _timed_out: bool) {
        *self.class.lock().unwrap_or_else(|e| e.into_inner()) = Some(CodeClass::C5xx);
    }
    fn trailers(&self, trailers: &HeaderMap) {
        if let Some(s) = grpc_status(trailers) {
            *self.class.lock().unwrap_or_else(|e| e.into_inner()) = Some(grpc_class(s));
        }
    }
}

impl Drop for PassthroughSide {
    fn drop(&mut self) {
        if let Some(class) = *self.class.lock().unwrap_or_else(|e| e.into_inner()) {
            self.state.metrics.passthrough.get(class).inc();
        }
    }
}

async fn passthrough(state: &Arc<State>, req: Request<Incoming>) -> Response<ProxyBody> {
    let grpc = is_grpc(req.headers());
    let Some(target) = target(state, grpc) else {
        state.metrics.passthrough.get(CodeClass::C5xx).inc();
        return no_grpc();
    };
    let (parts, body) = req.into_parts();
    let timeout = Duration::from_millis(state.config.upstream_timeout_ms);
    let deadline = Instant::now() + Duration::from_millis(state.config.request_timeout_ms);
    let side = Arc::new(PassthroughSide { state: state.clone(), class: Mutex::new(None) });
    let request_side = Arc::new(RequestTimer::default());
    let body = Tapped::new(body, None, Limit::Deadline(deadline), request_side.clone()).boxed();
    let up = target.request(parts.method, parts.uri.path_and_query(), upstream::end_to_end(&parts.headers, grpc), body);
    match target.send(up, timeout).await {
        Ok(res) => {
            let class = match (grpc, grpc_status(res.headers())) {
                (true, Some(s)) => Some(grpc_class(s)),
                (true, None) if res.status() == StatusCode::OK => None, // known from the trailers
                _ => Some(CodeClass::of(res.status().as_u16())),
            };
            *side.class.lock().unwrap_or_else(|e| e.into_inner()) = class;
            let (parts, incoming) = res.into_parts();
            let idle = Limit::Idle(timeout);
            let body = Tapped::new(incoming, None, idle, side).boxed();
            client_response(parts, body)
        }
        Err(_) if request_side.timed_out() => request_timeout(),
        Err(failure) => {
            *side.class.lock().unwrap_or_else(|e| e.into_inner()) = Some(CodeClass::C5xx);
            upstream_failure(grpc, &failure)
        }
    }
}

/// Notes that a client's request body did not arrive in time (slowloris).
#[derive(Default)]
struct RequestTimer(AtomicBool);

impl RequestTimer {
    fn timed_out(&self) -> bool {
        self.0.load(Relaxed)
    }
}

impl Observer for RequestTimer {
    fn ended(&self) {}
    fn failed(&self, timed_out: bool) {
        if timed_out {
            self.0.store(true, Relaxed);
        }
    }
}

fn request_timeout() -> Response<ProxyBody> {
    let mut res = own_answer(false, StatusCode::REQUEST_TIMEOUT, 0, "request not received in time");
    res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// One inference call, from its arrival to its metrics. Finished exactly once:
/// when its answer has gone out, or when the client left first.
struct Exchange {
    state: Arc<State>,
    protocol: Protocol,
    start: Instant,
    mirrored: bool,
    /// Holds copies (counted in State::parsing).
    parse: bool,
    request: Arc<Mutex<BodyCopy>>,
    response: Arc<Mutex<BodyCopy>>,
    /// The request's copy once the whole body is in, shared with the shadow's copy of the call.
    request_done: Mutex<Option<Arc<BodyCopy>>>,
    request_timed_out: AtomicBool,
    /// What the mirrored copy answered (its parsed predictions), when one was sent.
    shadowed: Mutex<Option<oneshot::Receiver<Option<Columns>>>>,
    copy_to_shadow: bool,
    path: String,
    content_type: Option<HeaderValue>,
    /// HTTP status of the answer (0: none yet); for gRPC also its grpc-status (-1: none yet).
    status: AtomicU16,
    grpc_status: AtomicI32,
    upstream_failed: AtomicBool,
    finished: AtomicBool,
}

impl Exchange {
    fn class(&self) -> CodeClass {
        let status = self.status.load(Relaxed);
        if self.protocol == Protocol::Grpc && status == 200 {
            match self.grpc_status.load(Relaxed) {
                -1 => CodeClass::C5xx, // an answer that never said how it ended
                s => grpc_class(s),
            }
        } else {
            CodeClass::of(status)
        }
    }

    fn fail(&self, status: u16) {
        self.upstream_failed.store(true, Relaxed);
        self.status.store(status, Relaxed);
    }

    fn finish(self: &Arc<Self>, answered: bool) {
        if self.finished.swap(true, Relaxed) {
            return;
        }
        let m = &self.state.metrics;
        m.inflight.add(-1);
        if self.parse {
            self.state.parsing.fetch_sub(1, Relaxed);
        }
        if self.mirrored {
            m.mirrored_inflight.add(-1);
            m.mirrored.inc();
        }
        // A client that hangs up before its answer is neither the model's error nor a 4xx the
        // model gave: counted apart. An answer cut because the model failed is a 5xx.
        let failed = self.upstream_failed.load(Relaxed);
        let outcome = if answered || failed { Outcome::Answered(self.class()) } else { Outcome::ClientClosed };
        m.record(outcome);
        m.duration.observe(self.start.elapsed().as_secs_f64());
        let request = self.request_done.lock().unwrap_or_else(|e| e.into_inner()).take();
        let request_size = match &request {
            Some(copy) => copy.size,
            None => lock(&self.request).size,
        };
        let mut response = std::mem::replace(&mut *lock(&self.response), BodyCopy::new(0, None));
        m.request_size.observe(request_size as f64);
        m.response_size.observe(response.size as f64);
        if !answered {
            return; // the client left or the answer was cut: nothing to observe
        }
        response.freeze();
        let shadowed = self.shadowed.lock().unwrap_or_else(|e| e.into_inner()).take();
        let state = self.state.clone();
        let protocol = self.protocol;
        let ok = self.class() == CodeClass::C2xx;
        let bytes = request.as_ref().map_or(0, |r| r.size) + response.size;
        tokio::spawn(async move {
            let s = state.clone();
            let parsed = offload::parse(bytes, move || observe_payloads(&s, protocol, request, response, ok)).await;
            if let (Some(Some(primary)), Some(shadowed)) = (parsed, shadowed) {
                if let (Ok(Some(answer)), Some(mirror)) = (shadowed.await, &state.shadow) {
                    mirror.record(&primary, &answer);
                }
            }
        });
    }
}

fn lock(m: &Mutex<BodyCopy>) -> std::sync::MutexGuard<'_, BodyCopy> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parses the copies into the feature and prediction distributions; returns
/// the predictions for shadow comparison. A payload that does not parse is
/// counted, never an error.
fn observe_payloads(
    state: &State,
    protocol: Protocol,
    request: Option<Arc<BodyCopy>>,
    response: BodyCopy,
    ok: bool,
) -> Option<Columns> {
    let m = &state.metrics;
    let signature = &state.config.signature;
    // Without a reference for its features there is nothing to observe in a request.
    if !m.features.is_empty() {
        let features = request
            .filter(|r| r.complete())
            .and_then(|r| payload::parse_request(protocol, &r.bytes(), &signature.inputs).ok());
        match features {
            Some(columns) => m.features.observe(&columns),
            None => m.unparsed_request.inc(),
        }
    }
    if !ok {
        return None; // an error body is not a prediction
    }
    let predictions = Some(&response)
        .filter(|r| r.complete())
        .and_then(|r| payload::parse_response(protocol, &r.bytes(), &signature.outputs).ok());
    match predictions {
        Some(columns) => {
            m.predictions.observe(&columns);
            Some(columns)
        }
        None => {
            m.unparsed_response.inc();
            None
        }
    }
}

/// Finishes the exchange as not answered when dropped first (the client left).
struct ExchangeGuard(Arc<Exchange>);

impl Drop for ExchangeGuard {
    fn drop(&mut self) {
        self.0.finish(false);
    }
}

struct RequestSide(Arc<Exchange>);

impl Observer for RequestSide {
    fn ended(&self) {
        let ex = &self.0;
        let mut copy = std::mem::replace(&mut *lock(&ex.request), BodyCopy::new(0, None));
        copy.freeze();
        let copy = Arc::new(copy);
        *ex.request_done.lock().unwrap_or_else(|e| e.into_inner()) = Some(copy.clone());
        if ex.copy_to_shadow && copy.complete() && !ex.finished.load(Relaxed) {
            if let Some(mirror) = &ex.state.shadow {
                let answer = mirror.send(ex.path.clone(), ex.content_type.clone(), copy, ex.protocol);
                *ex.shadowed.lock().unwrap_or_else(|e| e.into_inner()) = answer;
            }
        }
    }
    fn failed(&self, timed_out: bool) {
        if timed_out {
            self.0.request_timed_out.store(true, Relaxed);
        }
    }
}

struct ResponseSide(ExchangeGuard);

impl Observer for ResponseSide {
    fn ended(&self) {
        self.0.0.finish(true);
    }
    fn failed(&self, timed_out: bool) {
        self.0.0.fail(if timed_out { 504 } else { 502 });
        self.0.0.finish(false);
    }
    fn trailers(&self, trailers: &HeaderMap) {
        if let Some(s) = grpc_status(trailers) {
            self.0.0.grpc_status.store(s, Relaxed);
        }
    }
}

async fn infer(state: &Arc<State>, req: Request<Incoming>, protocol: Protocol, mirrored: bool) -> Response<ProxyBody> {
    let grpc = protocol == Protocol::Grpc;
    let Some(target) = target(state, grpc) else {
        state.metrics.requests.get(CodeClass::C5xx).inc();
        return no_grpc();
    };
    let config = &state.config;
    let m = &state.metrics;
    m.inflight.add(1);
    if mirrored {
        m.mirrored_inflight.add(1);
    }
    // Beyond maxParseInflight requests are only forwarded: no copies, so the memory a burst
    // can take is bounded by the cap, not by the burst.
    let parse = state.parsing.fetch_add(1, Relaxed) < config.max_parse_inflight;
    if !parse {
        state.parsing.fetch_sub(1, Relaxed);
    }
    let budget = parse.then(|| state.budget.clone());
    // A copy is never copied again: a shadow's own proxies mirror nothing of it.
    let copy_to_shadow = parse && !mirrored && state.shadow.as_ref().is_some_and(|s| s.selects());
    let (parts, incoming) = req.into_parts();
    let ex = Arc::new(Exchange {
        state: state.clone(),
        protocol,
        start: Instant::now(),
        mirrored,
        parse,
        request: Arc::new(Mutex::new(BodyCopy::new(config.max_parse_bytes, budget.clone()))),
        response: Arc::new(Mutex::new(BodyCopy::new(config.max_parse_bytes, budget))),
        request_done: Mutex::new(None),
        request_timed_out: AtomicBool::new(false),
        shadowed: Mutex::new(None),
        copy_to_shadow,
        path: parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
        status: AtomicU16::new(0),
        grpc_status: AtomicI32::new(-1),
        upstream_failed: AtomicBool::new(false),
        finished: AtomicBool::new(false),
    });
    let guard = ExchangeGuard(ex.clone());
    let timeout = Duration::from_millis(config.upstream_timeout_ms);
    let deadline = Instant::now() + Duration::from_millis(config.request_timeout_ms);
    let copy = parse.then(|| ex.request.clone());
    let body = Tapped::new(incoming, copy, Limit::Deadline(deadline), Arc::new(RequestSide(ex.clone()))).boxed();
    let headers = upstream::end_to_end(&parts.headers, grpc);
    let sent = target.send(target.request(parts.method.clone(), parts.uri.path_and_query(), headers.clone(), body), timeout);
    let answer = match sent.await {
        // A kept-alive connection the model server closed just as the request went out: sent
        // again, once, on a new connection; only with the whole body in hand (nothing was answered).
        Err(Failure::Lost(_)) if !grpc && whole_request(&ex).is_some() => {
            let body = body::full(whole_request(&ex).unwrap_or_default());
            let again = state.fresh.request(parts.method, parts.uri.path_and_query(), headers, body);
            state.fresh.send(again, timeout).await
        }
        other => other,
    };
    let res = match answer {
        Ok(res) => res,
        Err(_) if ex.request_timed_out.load(Relaxed) => {
            ex.fail(408);
            ex.finish(true);
            return request_timeout();
        }
        Err(failure) => {
            ex.fail(if matches!(failure, Failure::Timeout) { 504 } else { 502 });
            ex.finish(true);
            return upstream_failure(grpc, &failure);
        }
    };
    ex.status.store(res.status().as_u16(), Relaxed);
    if let Some(s) = grpc_status(res.headers()) {
        ex.grpc_status.store(s, Relaxed);
    }
    let (parts, incoming) = res.into_parts();
    let copy = parse.then(|| ex.response.clone());
    let body = Tapped::new(incoming, copy, Limit::Idle(timeout), Arc::new(ResponseSide(guard))).boxed();
    client_response(parts, body)
}

/// The request's body when all of it was received and copied.
fn whole_request(ex: &Exchange) -> Option<bytes::Bytes> {
    let done = ex.request_done.lock().unwrap_or_else(|e| e.into_inner());
    done.as_ref().filter(|c| c.complete()).map(|c| c.bytes())
}
