//! The model server, on the pod's loopback: pooled keep-alive HTTP/1.1
//! connections for REST, one multiplexed HTTP/2 connection for gRPC. An
//! idle connection is closed by the proxy after upstreamIdleTimeoutMs,
//! before the model server closes it (uvicorn after 5 s, gunicorn after 2 s):
//! a request sent on a connection the server is closing at that moment
//! would be lost.
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, Version, header};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::body::ProxyBody;

pub type HttpClient = Client<HttpConnector, ProxyBody>;

/// Hop-by-hop headers (RFC 9110 7.6.1): they describe one connection, not the message.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The end-to-end headers of a message; gRPC keeps `te: trailers`, which it requires.
pub fn end_to_end(headers: &HeaderMap, grpc: bool) -> HeaderMap {
    let mut out = headers.clone();
    for h in HOP_BY_HOP {
        out.remove(h);
    }
    if grpc {
        out.remove(header::HOST); // HTTP/2 names the server in :authority
        out.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    out
}

pub fn client(idle: Duration, max_idle: usize, http2: bool) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(idle)
        .pool_max_idle_per_host(max_idle)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .http2_only(http2)
        .build(connector)
}

/// Where a request goes: a client and the server's address.
#[derive(Clone)]
pub struct Target {
    pub client: HttpClient,
    pub authority: Authority,
    pub http2: bool,
}

#[derive(Debug)]
pub enum Failure {
    /// No answer within the time allowed.
    Timeout,
    /// Could not connect: nothing was sent.
    Connect(String),
    /// The connection failed after the request went out (or while it did).
    Lost(String),
}

impl Failure {
    pub fn message(&self) -> String {
        match self {
            Failure::Timeout => "did not answer in time".into(),
            Failure::Connect(e) => format!("unreachable: {e}"),
            Failure::Lost(e) => format!("connection lost: {e}"),
        }
    }
}

impl Target {
    pub fn parse(url: &str, client: HttpClient, http2: bool) -> Target {
        let uri: Uri = url.parse().expect("validated by config::parse");
        Target { client, authority: uri.authority().expect("validated").clone(), http2 }
    }

    pub fn request(&self, method: Method, path: Option<&PathAndQuery>, headers: HeaderMap, body: ProxyBody) -> Request<ProxyBody> {
        let uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path.cloned().unwrap_or_else(|| PathAndQuery::from_static("/")))
            .build()
            .expect("scheme, authority and path are valid");
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.version_mut() = if self.http2 { Version::HTTP_2 } else { Version::HTTP_11 };
        *req.headers_mut() = headers;
        req
    }

    /// Sends and waits for the answer's head, at most `timeout`.
    pub async fn send(&self, req: Request<ProxyBody>, timeout: Duration) -> Result<Response<Incoming>, Failure> {
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(res)) => Ok(res),
            Ok(Err(e)) if e.is_connect() => Err(Failure::Connect(error_chain(&e))),
            Ok(Err(e)) => Err(Failure::Lost(error_chain(&e))),
        }
    }
}

/// An error and its causes, for messages.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
