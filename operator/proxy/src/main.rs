//! modelops-proxy: the data-plane sidecar the operator adds to every
//! inference pod. Configuration comes from MODELOPS_PROXY_CONFIG (config.rs).
//! Serves inference (HTTP/1.1, and HTTP/2 cleartext for gRPC) on listenPort,
//! /metrics and its own /healthz on metricsPort. Logs JSON lines, never payloads.
mod agreement;
mod body;
mod budget;
mod buckets;
mod config;
mod conn;
mod contract;
mod distributions;
mod exposition;
mod grpc;
mod metrics;
mod offload;
mod payload;
mod server;
mod shadow;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::body::ProxyBody;
use crate::conn::{ConnInfo, Verdict, Watched};
use crate::server::State;

/// One JSON log line on stdout, in the fields the operator's own logs use.
fn log(level: u8, msg: &str, fields: Value) {
    let mut line = json!({ "level": level, "time": now_ms(), "name": "modelops-proxy", "msg": msg });
    if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    println!("{line}");
}

fn now_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

fn main() {
    let config = match config::parse(std::env::var(contract::CONFIG_ENV).ok().as_deref()) {
        Ok(config) => config,
        Err(err) => {
            log(50, "modelops-proxy failed to start", json!({ "err": err }));
            std::process::exit(1);
        }
    };
    // One thread serves every connection (a sidecar's share of a pod is small); large payloads
    // are parsed on at most two blocking threads, off the answer's path (offload.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()
        .expect("a Tokio runtime");
    let code = runtime.block_on(run(config));
    std::process::exit(code);
}

async fn bind(host: &str, port: u16, what: &str) -> Result<TcpListener, i32> {
    TcpListener::bind((host, port)).await.map_err(|e| {
        log(50, "modelops-proxy failed to start", json!({ "err": format!("cannot listen on {host}:{port} ({what}): {e}") }));
        1
    })
}

async fn run(config: config::Config) -> i32 {
    // The pod's every interface; tests bind loopback.
    let host = std::env::var("MODELOPS_PROXY_HOST").unwrap_or_else(|_| "0.0.0.0".into());
    let drain = Duration::from_millis(config.drain_ms);
    let state = State::new(config);
    let (Ok(listener), Ok(metrics_listener)) = (
        bind(&host, state.config.listen_port, "listenPort").await,
        bind(&host, state.config.metrics_port, "metricsPort").await,
    ) else {
        return 1;
    };
    let port = listener.local_addr().map_or(0, |a| a.port());
    let metrics_port = metrics_listener.local_addr().map_or(0, |a| a.port());
    let c = &state.config;
    log(30, "proxy listening", json!({
        "deployment": c.deployment, "revision": c.revision, "port": port, "metricsPort": metrics_port,
        "upstream": c.upstream, "grpcUpstream": c.grpc_upstream, "shadow": c.shadow.as_ref().map(|s| &s.url),
    }));

    let (stop_tx, stop_rx) = watch::channel(false);
    let connections = Arc::new(());
    let accepting = tokio::spawn(accept(listener, state.clone(), stop_rx.clone(), connections.clone()));
    tokio::spawn(serve_metrics(metrics_listener, state.clone()));

    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        log(50, "cannot handle signals", json!({}));
        return 1;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    // SIGTERM and the pod's removal from the Service's endpoints happen at the same time:
    // kube-proxies may send new connections here for a moment yet. Keep serving (closing each
    // connection after its answer) for drainMs, then stop accepting and finish what is in flight.
    state.draining.store(true, Relaxed);
    log(30, "draining", json!({ "drainMs": drain.as_millis() as u64 }));
    tokio::time::sleep(drain).await;
    let _ = stop_tx.send(true);
    let _ = accepting.await;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(20);
    while Arc::strong_count(&connections) > 1 && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log(30, "stopped", json!({ "unfinished": Arc::strong_count(&connections) - 1 }));
    0
}

async fn accept(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>, connections: Arc<()>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve(stream, peer, state.clone(), stop.clone(), connections.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    log(40, "accept failed", json!({ "err": e.to_string() }));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Serves one client connection until it ends, is closed by its watchdog, or the proxy stops.
async fn serve(stream: TcpStream, _peer: SocketAddr, state: Arc<State>, mut stop: watch::Receiver<bool>, _held: Arc<()>) {
    let _ = stream.set_nodelay(true);
    let info = ConnInfo::new();
    let io = TokioIo::new(Watched::new(stream, info.clone()));
    let svc_state = state.clone();
    let svc_info = info.clone();
    let service = service_fn(move |req: Request<Incoming>| server::handle(svc_state.clone(), svc_info.clone(), req));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The watchdog times request heads; hyper's own header timer would also close idle
    // keep-alive connections after it.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let c = &state.config;
    let headers_timeout = Duration::from_millis(c.headers_timeout_ms.min(c.request_timeout_ms));
    let keep_alive = Duration::from_millis(c.keep_alive_timeout_ms);
    let check_every = (headers_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut closing = *stop.borrow();
    if closing {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(check_every) => match info.verdict(headers_timeout, keep_alive, c.max_connection_age_ms) {
                Verdict::Keep => {}
                Verdict::Close => return,
                Verdict::GoAway => if !closing {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                },
            },
        }
    }
}

async fn serve_metrics(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(metrics_answer(&state, req.uri().path())) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn metrics_answer(state: &State, path: &str) -> Response<ProxyBody> {
    let (status, kind, text) = match path {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", state.render_metrics()),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_string()),
    };
    let mut res = Response::new(body::full(text));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(kind));
    res
}
