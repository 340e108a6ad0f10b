//! Where payload parsing runs. It always starts after the client has its
//! answer. A small payload is parsed on the serving thread: handing it to
//! another thread (a wake-up on each side) costs more than parsing a few
//! hundred bytes. A large one goes to a blocking thread, so a 4 MiB body
//! never holds up the other connections.

/// Bodies up to this size (request and response together) are parsed in place.
const INLINE_BYTES: usize = 64 * 1024;

pub async fn parse<T: Send + 'static>(bytes: usize, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    if bytes <= INLINE_BYTES {
        // Let the serving task flush the answer first.
        tokio::task::yield_now().await;
        Some(work())
    } else {
        tokio::task::spawn_blocking(work).await.ok()
    }
}
