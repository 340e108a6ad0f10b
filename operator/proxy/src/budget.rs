//! Bounds on what the proxy holds in memory. Bodies are always streamed
//! through; the copies kept for parsing and shadow comparison are the only
//! buffers, and each is drawn from one shared byte budget. A copy that would
//! overrun its own limit (maxParseBytes) or the shared budget
//! (maxBufferedBytes) is dropped at once and its payload counted as
//! unparsed: the client's answer never depends on it.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};


/// Bytes held by body copies across all requests, at most `limit`.
pub struct ByteBudget {
    held: AtomicUsize,
    limit: usize,
}

impl ByteBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(ByteBudget { held: AtomicUsize::new(0), limit })
    }

    fn take(&self, n: usize) -> bool {
        self.held
            .fetch_update(Relaxed, Relaxed, |held| (held + n <= self.limit).then_some(held + n))
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.held.fetch_sub(n, Relaxed);
    }

    pub fn held(&self) -> usize {
        self.held.load(Relaxed)
    }
}

/// A body copy for parsing. Stops copying (and gives up parsing) past
/// `limit` bytes or when the budget is spent. Its bytes go back to the
/// budget when it is dropped. Without a budget it never copies: the request
/// is beyond the in-flight parse cap and is only forwarded.
pub struct BodyCopy {
    /// One contiguous copy: the chunks hyper hands over may share larger
    /// read buffers, which a reference would keep alive beyond the budget.
    buf: Vec<u8>,
    /// The copy once the body is through (see `freeze`).
    frozen: Option<bytes::Bytes>,
    held: usize,
    /// Bytes seen, copied or not (for the size histograms).
    pub size: usize,
    dropped: bool,
    limit: usize,
    budget: Option<Arc<ByteBudget>>,
}

impl BodyCopy {
    pub fn new(limit: usize, budget: Option<Arc<ByteBudget>>) -> Self {
        let dropped = budget.is_none();
        BodyCopy { buf: Vec::new(), frozen: None, held: 0, size: 0, dropped, limit, budget }
    }

    /// Copies the chunk, within the limits.
    pub fn add(&mut self, chunk: &[u8]) {
        self.size += chunk.len();
        if self.dropped || self.frozen.is_some() {
            return;
        }
        let fits = self.size <= self.limit && self.budget.as_ref().is_some_and(|b| b.take(chunk.len()));
        if !fits {
            self.dropped = true;
            self.release();
            return;
        }
        self.buf.extend_from_slice(chunk);
        self.held += chunk.len();
    }

    /// Whether the whole body was copied.
    pub fn complete(&self) -> bool {
        !self.dropped
    }

    /// Ends copying: the copy becomes shareable bytes (no copy made), still
    /// counted in the budget until this BodyCopy is dropped.
    pub fn freeze(&mut self) {
        if self.frozen.is_none() {
            self.frozen = Some(bytes::Bytes::from(std::mem::take(&mut self.buf)));
        }
    }

    /// The whole copy (after `freeze`, the frozen one).
    pub fn bytes(&self) -> bytes::Bytes {
        match &self.frozen {
            Some(b) => b.clone(),
            None => bytes::Bytes::copy_from_slice(&self.buf),
        }
    }

    /// Returns the copy's bytes to the budget.
    pub fn release(&mut self) {
        self.buf = Vec::new();
        self.frozen = None;
        if self.held > 0 {
            if let Some(b) = &self.budget {
                b.give(self.held);
            }
        }
        self.held = 0;
    }
}

impl Drop for BodyCopy {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_over_its_limit_or_the_budget_is_dropped_and_gives_its_bytes_back() {
        let budget = ByteBudget::new(10);
        let mut a = BodyCopy::new(100, Some(budget.clone()));
        a.add(b"123456");
        let mut b = BodyCopy::new(100, Some(budget.clone()));
        b.add(b"123456");
        assert!(a.complete() && !b.complete());
        assert_eq!(budget.held(), 6);
        let mut c = BodyCopy::new(3, Some(budget.clone()));
        c.add(b"1234");
        assert!(!c.complete());
        assert_eq!(c.size, 4);
        drop(a);
        assert_eq!(budget.held(), 0);
        let none = BodyCopy::new(100, None);
        assert!(!none.complete());
    }
}
