//! Cleanups that outlive the outage that caused them.
//!
//! A failed create or start removes what it made (the task or exec, its FIFOs; the caller then
//! deletes the container). When containerd is away at that moment the removal cannot be done,
//! and nobody would do it later: the caller has given up on the object, and a shim with a
//! `runc init` stays behind that neither the caller nor the library knows. So such a cleanup is
//! remembered here and run once the event stream is back (containerd answers again), in the
//! order the cleanups were deferred (a task's before its container's), each at most once. A
//! cleanup that finds containerd away again is deferred again by its own code. They are given
//! up (and logged) only when the client is closed and its stream ends.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::hub::{lock, HubShared};

/// How long after the stream is back the deferred cleanups start: containerd has just
/// answered a listing, and its shims reconnect meanwhile.
const AFTER_RECONNECT: Duration = Duration::from_millis(200);

/// One remembered cleanup: what it removes (for the logs) and the work.
pub(crate) struct DeferredCleanup {
    pub what: String,
    pub work: Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>,
}

impl DeferredCleanup {
    pub(crate) fn new<F>(what: String, work: impl FnOnce() -> F + Send + 'static) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        DeferredCleanup { what, work: Box::new(move || Box::pin(work())) }
    }
}

impl fmt::Debug for DeferredCleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredCleanup").field("what", &self.what).finish_non_exhaustive()
    }
}

pub(super) fn add(hub: &HubShared, cleanup: DeferredCleanup) {
    tracing::warn!(cleanup = %cleanup.what, "containerd is away: the cleanup waits until it is back");
    lock(&hub.deferred).push(cleanup);
    hub.deferred_added.notify_one();
}

/// The client is closed and its stream ended: nothing will run the cleanups.
pub(super) fn abandon(hub: &HubShared) {
    for cleanup in std::mem::take(&mut *lock(&hub.deferred)) {
        tracing::warn!(cleanup = %cleanup.what, "client closed while containerd was away: cleanup given up");
    }
}

/// Runs the deferred cleanups whenever some are waiting and the stream is up; ends with the hub.
pub(super) async fn run(hub: Arc<HubShared>) {
    let mut connected = hub.connected.subscribe();
    loop {
        hub.deferred_added.notified().await;
        loop {
            if connected.wait_for(|up| *up).await.is_err() {
                return;
            }
            tokio::time::sleep(AFTER_RECONNECT).await;
            if !*connected.borrow() {
                continue;
            }
            let batch = std::mem::take(&mut *lock(&hub.deferred));
            if batch.is_empty() {
                break;
            }
            for cleanup in batch {
                tracing::info!(cleanup = %cleanup.what, "containerd is back: running a cleanup left by the outage");
                (cleanup.work)().await;
            }
        }
    }
}
