//! How long a client connection lives. A client must send a request's head
//! within headersTimeoutMs of its first byte (slowloris), an idle keep-alive
//! connection closes after keepAliveTimeoutMs, and a connection older than
//! maxConnectionAgeMs is recycled: HTTP/1 by `Connection: close` on its next
//! answer (server.rs), HTTP/2 by GOAWAY, so clients follow rollouts and
//! scale-ups instead of staying on the pods they first reached.
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::body::{BoxError, ProxyBody};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

enum Phase {
    /// No request under way since then.
    Idle(Instant),
    /// Bytes of a request head arrived since then, the head is not complete yet.
    ReadingHead(Instant),
    /// Requests under way.
    Busy,
}

pub struct ConnInfo {
    connected_at: Instant,
    active: AtomicUsize,
    phase: Mutex<Phase>,
    http2: AtomicBool,
    first_read: AtomicBool,
}

/// What the connection's watchdog does next.
pub enum Verdict {
    Keep,
    /// Drop the connection now (slowloris, idle keep-alive).
    Close,
    /// Ask an HTTP/2 client to go elsewhere (GOAWAY), finishing its streams.
    GoAway,
}

impl ConnInfo {
    pub fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(ConnInfo {
            connected_at: now,
            active: AtomicUsize::new(0),
            phase: Mutex::new(Phase::Idle(now)),
            http2: AtomicBool::new(false),
            first_read: AtomicBool::new(true),
        })
    }

    fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    pub fn older_than(&self, ms: u64) -> bool {
        self.connected_at.elapsed() > Duration::from_millis(ms)
    }

    /// A request's head is in: the connection is busy until its answer has gone out.
    pub fn begin_request(self: &Arc<Self>) -> ActiveRequest {
        self.active.fetch_add(1, Relaxed);
        self.set(Phase::Busy);
        ActiveRequest(self.clone())
    }

    fn read(&self, bytes: &[u8]) {
        if self.first_read.swap(false, Relaxed) && bytes.starts_with(H2_PREFACE) {
            self.http2.store(true, Relaxed);
        }
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*phase, Phase::Idle(_)) && !self.http2.load(Relaxed) {
            *phase = Phase::ReadingHead(Instant::now());
        }
    }

    pub fn verdict(&self, headers_timeout: Duration, keep_alive: Duration, max_age_ms: u64) -> Verdict {
        let http2 = self.http2.load(Relaxed);
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::ReadingHead(since) if since.elapsed() > headers_timeout => return Verdict::Close,
            Phase::Idle(since) if since.elapsed() > keep_alive => {
                return if http2 { Verdict::GoAway } else { Verdict::Close };
            }
            _ => {}
        }
        if http2 && self.older_than(max_age_ms) { Verdict::GoAway } else { Verdict::Keep }
    }
}

/// Keeps its connection busy; dropped with the answer's body.
pub struct ActiveRequest(Arc<ConnInfo>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Relaxed) == 1 {
            self.0.set(Phase::Idle(Instant::now()));
        }
    }
}

/// An answer's body that holds its connection busy until it is done.
pub struct Holding {
    inner: ProxyBody,
    _active: ActiveRequest,
}

impl Holding {
    pub fn new(inner: ProxyBody, active: ActiveRequest) -> ProxyBody {
        Holding { inner, _active: active }.boxed()
    }
}

impl Body for Holding {
    type Data = Bytes;
    type Error = BoxError;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A client's socket, telling its ConnInfo when bytes arrive.
pub struct Watched<S> {
    inner: S,
    info: Arc<ConnInfo>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, info: Arc<ConnInfo>) -> Self {
        Watched { inner, info }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.info.read(&buf.filled()[before..]);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
