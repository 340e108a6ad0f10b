//! Body wrappers on the proxy's path. `Tapped` streams a body through
//! unchanged while it copies the data for parsing (within the byte budget),
//! notes the gRPC status in trailers, and enforces a time limit: a fixed
//! deadline for a client's request (slowloris) or an inactivity limit for the
//! model server's answer (a stalled answer is cut). How the stream ended is
//! reported to its `Exchange` (server.rs) exactly once.
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::budget::BodyCopy;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// A body that is all here.
pub fn full(data: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(data.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> ProxyBody {
    http_body_util::Empty::new().map_err(|never| match never {}).boxed()
}

#[derive(Debug)]
pub struct TimedOut(pub &'static str);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TimedOut {}

/// What a tapped body tells its owner.
pub trait Observer: Send + Sync + 'static {
    /// The whole body went through.
    fn ended(&self);
    /// The body failed or ran out of time (`timed_out`).
    fn failed(&self, timed_out: bool);
    /// Trailers went through (gRPC carries its status there).
    fn trailers(&self, _trailers: &http::HeaderMap) {}
}

pub enum Limit {
    /// The whole body must be through by then.
    Deadline(Instant),
    /// No frame for this long fails the body.
    Idle(Duration),
}

pub struct Tapped<B> {
    inner: B,
    copy: Option<Arc<Mutex<BodyCopy>>>,
    limit: Limit,
    timer: Pin<Box<Sleep>>,
    observer: Arc<dyn Observer>,
    done: bool,
}

impl<B: Body> Tapped<B> {
    pub fn new(inner: B, copy: Option<Arc<Mutex<BodyCopy>>>, limit: Limit, observer: Arc<dyn Observer>) -> Self {
        let at = match limit {
            Limit::Deadline(at) => at,
            Limit::Idle(d) => Instant::now() + d,
        };
        let empty = inner.is_end_stream();
        let mut tapped =
            Tapped { inner, copy, limit, timer: Box::pin(tokio::time::sleep_until(at)), observer, done: false };
        // An empty body may never be polled: it is through already.
        if empty {
            tapped.finish(Ok(()));
        }
        tapped
    }

    fn finish(&mut self, outcome: Result<(), bool>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        match outcome {
            Ok(()) => self.observer.ended(),
            Err(timed_out) => self.observer.failed(timed_out),
        }
    }
}

impl<B> Body for Tapped<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(copy)) = (frame.data_ref(), &this.copy) {
                    copy.lock().unwrap_or_else(|e| e.into_inner()).add(data);
                }
                if let Some(trailers) = frame.trailers_ref() {
                    this.observer.trailers(trailers);
                }
                if let Limit::Idle(d) = this.limit {
                    this.timer.as_mut().reset(Instant::now() + d);
                }
                if this.inner.is_end_stream() {
                    this.finish(Ok(()));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(Err(false));
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.finish(Ok(()));
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.timer.as_mut().poll(cx).is_ready() {
                    this.finish(Err(true));
                    let what = match this.limit {
                        Limit::Deadline(_) => "request not received in time",
                        Limit::Idle(_) => "model server silent",
                    };
                    return Poll::Ready(Some(Err(Box::new(TimedOut(what)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
