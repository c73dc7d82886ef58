//! The process-wide tokio runtime and the way callers' threads block on it.
//!
//! Every blocking library call runs its future with [`block_on`], which honours an optional
//! [`CancelToken`] (fired from another thread, or carrying a deadline). This is what lets the Go
//! side map `context.Context` onto a call.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;
use tokio::sync::Notify;

use crate::error::{Error, Result};

/// Worker threads of the shared runtime. The work is I/O-bound gRPC and the event pumps, and
/// callers poll their own futures on their own threads ([`block_on`]). One worker costs less
/// client CPU than two (no work stealing between workers; measured in BENCHMARKS.md) and was as
/// fast at 1 to 32 concurrent callers.
const WORKER_THREADS: usize = 1;

static RUNTIME: Lazy<tokio::runtime::Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("lcd-worker")
        .enable_io()
        .enable_time()
        .build()
        // Without a runtime nothing in the library can work; this only fails when the process
        // cannot create threads or an epoll instance, and the FFI boundary reports the panic.
        .expect("libcontainerd-ffi: cannot start the tokio runtime")
});

/// The shared runtime, created on first use.
pub fn handle() -> &'static tokio::runtime::Runtime {
    &RUNTIME
}

/// Runs `fut` to completion on the shared runtime, blocking the calling thread, unless `cancel`
/// fires or its deadline passes first. Must not be called from a runtime thread.
pub fn block_on<T>(cancel: Option<&CancelToken>, fut: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::internal(
            "a blocking libcontainerd call was made from inside the library's runtime (for example from a callback); call it from another thread",
        ));
    }
    match cancel {
        None => RUNTIME.block_on(fut),
        Some(token) => RUNTIME.block_on(token.run(fut)),
    }
}

/// A cancellation token that another thread can fire, optionally with a deadline.
/// Cloning shares the token.
#[derive(Clone, Debug, Default)]
pub struct CancelToken {
    inner: Arc<CancelInner>,
}

#[derive(Debug, Default)]
struct CancelInner {
    fired: AtomicBool,
    notify: Notify,
    deadline: Option<Instant>,
}

impl CancelToken {
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// A token whose calls fail with deadline-exceeded once `timeout` has passed from now.
    pub fn with_timeout(timeout: Duration) -> Self {
        CancelToken {
            inner: Arc::new(CancelInner {
                deadline: Instant::now().checked_add(timeout),
                ..CancelInner::default()
            }),
        }
    }

    /// Cancels every call running with this token now and any later call that uses it.
    pub fn cancel(&self) {
        self.inner.fired.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.fired.load(Ordering::SeqCst)
    }

    /// Races `fut` against the token.
    pub async fn run<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let notified = self.inner.notify.notified();
        tokio::pin!(notified);
        // Register for notification before checking the flag so a concurrent cancel is not lost.
        notified.as_mut().enable();
        if self.is_cancelled() {
            return Err(Error::cancelled());
        }
        let deadline = async {
            match self.inner.deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = notified => Err(Error::cancelled()),
            _ = deadline => Err(Error::deadline_exceeded()),
            out = fut => out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn cancel_from_another_thread_ends_a_pending_call() {
        let token = CancelToken::new();
        let firing = token.clone();
        let started = Instant::now();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            firing.cancel();
        });
        let out: Result<()> = block_on(Some(&token), std::future::pending());
        t.join().unwrap();
        assert_eq!(out.unwrap_err().kind(), ErrorKind::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn deadline_turns_into_deadline_exceeded() {
        let token = CancelToken::with_timeout(Duration::from_millis(20));
        let out: Result<()> = block_on(Some(&token), std::future::pending());
        assert_eq!(out.unwrap_err().kind(), ErrorKind::DeadlineExceeded);
    }

    #[test]
    fn an_already_cancelled_token_fails_at_once() {
        let token = CancelToken::new();
        token.cancel();
        let out = block_on(Some(&token), async { Ok(1) });
        assert_eq!(out.unwrap_err().kind(), ErrorKind::Cancelled);
    }
}
