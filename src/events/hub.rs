//! The hub: routes a client's decoded events to the exit slots of the processes waited for and
//! to the caller's event stream, and holds what the pump, the catch-up and the deferred
//! cleanups share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

use super::reconcile::ProcessTable;
use super::stream::{stream_closed, EventStream, Subscriber};
use super::{deferred, subscription, DeferredCleanup, Event, EventKind};
use crate::exit::ExitStatus;
use crate::containerd::Containerd;
use crate::error::{Error, ErrorKind, Result};

pub(super) type ProcessKey = (String, String);

/// Where the exit of one process is settled. Shared by every handle of that process; the hub
/// forgets it when the last handle goes.
#[derive(Debug)]
pub struct ExitSlot {
    pub(super) key: ProcessKey,
    status: watch::Sender<Option<ExitStatus>>,
    hub: Weak<HubShared>,
    /// containerd has (or may have) the process: a slot made ahead of a create is not looked
    /// up after an outage until then, so a process not created yet is not taken for one that
    /// vanished.
    created: AtomicBool,
}

impl ExitSlot {
    /// Marks the process as made in containerd (its create succeeded, or was abandoned on the
    /// way and may have).
    pub(crate) fn mark_created(&self) {
        self.created.store(true, Ordering::Release);
    }

    pub(super) fn is_created(&self) -> bool {
        self.created.load(Ordering::Acquire)
    }

    /// Records the exit (the first one wins).
    pub fn settle(&self, exit: ExitStatus) {
        self.status.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(exit);
            true
        });
    }

    pub fn get(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// Waits until the process has exited. Fails (unavailable) once no exit can come: the
    /// client was closed and its event stream ended with containerd gone.
    pub async fn wait(&self) -> Result<ExitStatus> {
        let mut rx = self.status.subscribe();
        let mut ended = match self.hub.upgrade() {
            Some(hub) => hub.ended.subscribe(),
            None => return self.get().ok_or_else(stream_closed),
        };
        tokio::select! {
            exit = rx.wait_for(Option::is_some) => {
                let exit = exit.map_err(|_| Error::internal("exit watch closed"))?;
                Ok(exit.expect("wait_for returned a settled exit"))
            }
            _ = ended.wait_for(|ended| *ended) => self.get().ok_or_else(stream_ended),
        }
    }
}

impl Drop for ExitSlot {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            let mut slots = hub.slots.lock().unwrap_or_else(|p| p.into_inner());
            // Only if the entry is still this slot's: a fresh slot may have replaced it.
            if slots.get(&self.key).is_some_and(|w| std::ptr::eq(w.as_ptr(), self)) {
                slots.remove(&self.key);
            }
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct HubShared {
    pub(super) slots: Mutex<HashMap<ProcessKey, Weak<ExitSlot>>>,
    pub(super) subscriber: Mutex<Option<Subscriber>>,
    /// The namespace's processes as the events told of them: what is running, and which exits
    /// were delivered (so none goes out twice).
    pub(super) processes: Mutex<ProcessTable>,
    /// Whether the pump has a working stream (it does from the client's connect on, until the
    /// stream breaks, and again once it caught up after an outage).
    pub(super) connected: watch::Sender<bool>,
    /// Set when the last client handle is gone: the pump then ends when the stream breaks
    /// instead of resubscribing (handles made from the client keep it serving until then).
    pub(super) client_closed: watch::Sender<bool>,
    /// Set when the pump has ended for good: exit waits fail instead of waiting for ever.
    pub(super) ended: watch::Sender<bool>,
    /// Cleanups that could not reach containerd, run once the stream is back ([`deferred`]).
    pub(super) deferred: Mutex<Vec<deferred::DeferredCleanup>>,
    pub(super) deferred_added: tokio::sync::Notify,
}

impl Drop for HubShared {
    fn drop(&mut self) {
        // The client is gone: close the queue, then wake a poller so it reads the end of the
        // stream (signalling first would let it look before the sender is gone and find nothing).
        if let Some(Subscriber { tx, ready }) = self.subscriber.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            drop(tx);
            ready.signal();
        }
    }
}

/// Routes a client's events to exit waiters and to the caller's stream.
#[derive(Debug)]
pub struct EventHub {
    shared: Arc<HubShared>,
    pump: tokio::task::JoinHandle<()>,
    cleaner: tokio::task::JoinHandle<()>,
}

/// Held by every handle of a client (not by what is made from it): when the last one goes, the
/// pump stops resubscribing once the stream breaks (moby's client stops its event processing
/// when its containerd connection is closed).
#[derive(Debug)]
pub(crate) struct ClientOpen(Arc<HubShared>);

impl Drop for ClientOpen {
    fn drop(&mut self) {
        self.0.client_closed.send_replace(true);
    }
}

impl EventHub {
    /// Starts the pump for `containerd`'s namespace on the shared runtime.
    pub fn start(containerd: Arc<Containerd>) -> Self {
        let shared = Arc::new(HubShared::default());
        shared.connected.send_replace(true);
        let pump = crate::runtime::handle().spawn(subscription::pump(containerd, shared.clone()));
        let cleaner = crate::runtime::handle().spawn(deferred::run(shared.clone()));
        EventHub { shared, pump, cleaner }
    }

    /// The token the client's handles hold (see [`ClientOpen`]).
    pub(crate) fn client_open(&self) -> ClientOpen {
        ClientOpen(self.shared.clone())
    }

    /// Remembers a cleanup that could not reach containerd; it runs once the event stream is
    /// back (containerd answers again), at most once.
    pub(crate) fn defer_cleanup(&self, cleanup: DeferredCleanup) {
        deferred::add(&self.shared, cleanup);
    }

    /// The exit slot of a process, shared with any other live handle of the same process.
    /// `fresh` starts a new one for a process about to be created, whose id may repeat that of
    /// an earlier, deleted process: handles of that one keep their own settled slot.
    pub fn exit_slot(&self, container_id: &str, process_id: &str, fresh: bool) -> Arc<ExitSlot> {
        let key = (container_id.to_owned(), process_id.to_owned());
        let mut slots = self.shared.slots.lock().unwrap_or_else(|p| p.into_inner());
        if !fresh {
            if let Some(slot) = slots.get(&key).and_then(Weak::upgrade) {
                return slot;
            }
        }
        let (status, _) = watch::channel(None);
        // A slot for a loaded process (not fresh) is for one containerd has.
        let created = AtomicBool::new(!fresh);
        let slot = Arc::new(ExitSlot { key: key.clone(), status, hub: Arc::downgrade(&self.shared), created });
        slots.insert(key, Arc::downgrade(&slot));
        slot
    }

    /// Opens the caller's event stream. One at a time per client: a second open while the first
    /// is alive is refused.
    pub fn subscribe(&self) -> Result<EventStream> {
        EventStream::open(&self.shared)
    }
}

impl Drop for EventHub {
    fn drop(&mut self) {
        self.pump.abort();
        self.cleaner.abort();
    }
}

fn stream_ended() -> Error {
    Error::new(ErrorKind::Unavailable, "the task event stream ended: the client was closed and containerd is gone")
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Settles the exit of a process someone waits for and hands the event to the caller's
/// stream; an exit already delivered (a shim's late retry of one the catch-up found) goes
/// nowhere.
pub(super) async fn dispatch(hub: &HubShared, event: Event) {
    let key = (event.container_id.clone(), event.process_id.clone());
    match event.kind {
        EventKind::Create | EventKind::Start | EventKind::ExecStarted => lock(&hub.processes).started(key, event.pid),
        EventKind::Exit => {
            if !lock(&hub.processes).exited(key.clone(), event.pid) {
                tracing::debug!(container = %event.container_id, process = %event.process_id, "dropping an exit delivered already");
                return;
            }
            let slot = lock(&hub.slots).get(&key).and_then(Weak::upgrade);
            if let Some(slot) = slot {
                slot.settle(ExitStatus { code: event.exit_code, exited_at: event.exited_at });
            }
        }
        _ => {}
    }
    let subscriber = lock(&hub.subscriber).clone();
    if let Some(subscriber) = subscriber {
        // Waits while the caller's queue is full: this is the backpressure described above.
        if subscriber.tx.send(event).await.is_err() {
            tracing::debug!("caller's event stream is gone");
        } else {
            subscriber.ready.signal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::decode::tests::envelope;
    use crate::events::decode::TASK_DELETE_TYPE;
    use crate::events::subscription::deliver;
    use crate::events::EVENT_QUEUE_CAPACITY;
    use containerd_client::events as ev;
    use std::time::Duration;

    /// A slow reader holds the pump back instead of losing events or growing memory; exits are
    /// still settled for waiters before the pump blocks.
    #[test]
    fn a_full_queue_applies_backpressure_without_dropping_events() {
        crate::runtime::block_on(None, async {
            // A hub without a pump: the test feeds envelopes in place of containerd.
            let hub = EventHub { shared: Arc::new(HubShared::default()), pump: tokio::spawn(async {}), cleaner: tokio::spawn(async {}) };
            let stream = hub.subscribe()?;
            let slot = hub.exit_slot("c", "last", true);
            let exit = |id: &str, code| {
                envelope(
                    "containerd.events.TaskExit",
                    &ev::TaskExit { container_id: "c".into(), id: id.into(), pid: 1, exit_status: code, exited_at: None },
                )
            };
            for i in 0..EVENT_QUEUE_CAPACITY {
                deliver(&hub.shared, &exit(&format!("p{i}"), 0)).await;
            }
            let shared = hub.shared.clone();
            let blocked = tokio::spawn(async move { deliver(&shared, &exit("last", 42)).await });
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(!blocked.is_finished(), "the pump waits while the caller's queue is full");
            assert_eq!(slot.get().map(|e| e.code), Some(42), "the exit was settled before waiting");
            assert_eq!(stream.next().await?.process_id, "p0", "oldest first");
            blocked.await.expect("the held-back delivery completes once the caller reads");
            for i in 1..EVENT_QUEUE_CAPACITY {
                assert_eq!(stream.next().await?.process_id, format!("p{i}"), "nothing dropped, order kept");
            }
            assert_eq!(stream.next().await?.exit_code, 42);
            Ok(())
        })
        .unwrap();
    }

    /// A shim retries an exit event whose delivery it could not confirm, and the catch-up after
    /// an outage may have delivered it already: the stream reports each exit once, until the
    /// process id starts again (a new task of the same container after a TaskDelete).
    #[test]
    fn a_repeated_exit_reaches_the_stream_once() {
        crate::runtime::block_on(None, async {
            let hub = EventHub { shared: Arc::new(HubShared::default()), pump: tokio::spawn(async {}), cleaner: tokio::spawn(async {}) };
            let stream = hub.subscribe()?;
            let exit = |code| {
                envelope(
                    "containerd.events.TaskExit",
                    &ev::TaskExit { container_id: "c".into(), id: "c".into(), pid: 7, exit_status: code, exited_at: None },
                )
            };
            deliver(&hub.shared, &envelope("containerd.events.TaskStart", &ev::TaskStart { container_id: "c".into(), pid: 7 })).await;
            deliver(&hub.shared, &exit(3)).await;
            deliver(&hub.shared, &exit(3)).await;
            deliver(&hub.shared, &envelope(TASK_DELETE_TYPE, &ev::TaskDelete { container_id: "c".into(), ..Default::default() })).await;
            deliver(&hub.shared, &exit(4)).await;
            let mut seen = Vec::new();
            while let Some(event) = stream.try_next()? {
                seen.push((event.kind, event.exit_code));
            }
            assert_eq!(seen, [(EventKind::Start, 0), (EventKind::Exit, 3), (EventKind::Exit, 4)]);
            Ok(())
        })
        .unwrap();
    }

}
