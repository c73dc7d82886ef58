//! The client's task event stream.
//!
//! Each client runs one pump on the shared runtime: it subscribes to containerd's `/tasks/`
//! topics of the client's namespace, decodes each envelope into an [`Event`], settles the exit
//! of any task or process the library is waiting for, then hands the event to the caller's
//! [`EventStream`] if one is open.
//!
//! Ordering and memory: events go through one FIFO queue in arrival order, so per-container
//! order is preserved. The queue holds at most [`EVENT_QUEUE_CAPACITY`] events. When the caller
//! reads slower than events arrive and the queue is full, the pump stops reading from
//! containerd until the caller catches up: nothing is dropped, the library's memory stays
//! bounded, and the backlog waits in containerd's per-subscriber queue instead. Exits are
//! settled before the event is queued, but while the pump is held back later exits wait too,
//! so a caller that opens a stream must keep reading it.
//!
//! Waiting: [`EventStream::next`] blocks a thread per waiting caller. An event loop (or Go's
//! poller) can instead wait for the stream's readiness descriptor ([`EventStream::ready_fd`],
//! an eventfd) and drain with [`EventStream::try_next`], so no thread sits in the library.
//!
//! Reconnecting: when the stream breaks the pump resubscribes after 100 ms, then backs off
//! (doubling, at most every second) while containerd stays away, logging only while the delay
//! grows; the pump ends when the client's hub is dropped, or when the stream breaks after the
//! last client handle was freed (handles made from it keep it serving until then; moby's client
//! likewise stops when its containerd connection is closed). Events published in the gap are lost
//! (containerd does not replay, and a shim stops retrying its exit event about 15 s after the
//! exit), so once the new subscription is in place the pump catches up on the exits it missed
//! ([`reconcile`]) before it reads the new stream: each exit reaches the caller's stream and the
//! waiters once, in the order the processes exited.

mod deferred;
mod reconcile;

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use containerd_client::events as ev;
use containerd_client::types::Envelope;
use nix::sys::eventfd::{EfdFlags, EventFd};
use prost::Message;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, watch};

use crate::containerd::Containerd;
use crate::error::{Error, ErrorKind, Result};
use reconcile::ProcessTable;

pub(crate) use deferred::DeferredCleanup;

/// How many decoded events wait for a slow caller before the pump holds back.
pub const EVENT_QUEUE_CAPACITY: usize = 1024;
/// Pause between attempts to re-subscribe after the stream broke.
const RESUBSCRIBE_INTERVAL: Duration = Duration::from_millis(100);
/// The longest wait between two resubscriptions while containerd stays away (a host program
/// shutting down after containerd must not log or spin for nothing).
const RESUBSCRIBE_MAX_INTERVAL: Duration = Duration::from_secs(1);

/// The wait after a failed resubscription that followed a wait of `previous`.
fn next_resubscribe_interval(previous: Duration) -> Duration {
    (previous * 2).min(RESUBSCRIBE_MAX_INTERVAL)
}

/// The task events the library reports (moby's `EventType`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Create,
    Start,
    Exit,
    Oom,
    ExecAdded,
    ExecStarted,
    Paused,
    Resumed,
}

/// One task event, with moby's `EventInfo` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub container_id: String,
    /// The container id for the init process, the exec id for an exec; empty where containerd
    /// names no process (oom, paused, resumed).
    pub process_id: String,
    pub pid: u32,
    pub exit_code: u32,
    pub exited_at: Option<SystemTime>,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: u32,
    pub exited_at: Option<SystemTime>,
}

pub fn system_time(ts: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    let ts = ts?;
    if ts.seconds <= 0 && ts.nanos <= 0 {
        return None; // containerd's zero time: the process has not exited
    }
    let since_epoch = Duration::new(ts.seconds.max(0) as u64, ts.nanos.clamp(0, 999_999_999) as u32);
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}

/// Decodes one envelope; `None` for events the library does not report.
pub fn decode(envelope: &Envelope) -> Result<Option<Event>> {
    let Some(any) = envelope.event.as_ref() else {
        return Err(Error::internal(format!("event on topic {} carries no payload", envelope.topic)));
    };
    // containerd writes bare type names; other encoders prefix a host. Accept both.
    let type_name = any.type_url.rsplit('/').next().unwrap_or_default();
    let bytes = any.value.as_slice();
    let bad = |e: prost::DecodeError| Error::internal(format!("decode {type_name} event: {e}"));
    let event = |kind, container_id: String, process_id: String, pid| Event {
        kind,
        container_id,
        process_id,
        pid,
        exit_code: 0,
        exited_at: None,
    };
    Ok(Some(match type_name {
        "containerd.events.TaskCreate" => {
            let e = ev::TaskCreate::decode(bytes).map_err(bad)?;
            event(EventKind::Create, e.container_id.clone(), e.container_id, e.pid)
        }
        "containerd.events.TaskStart" => {
            let e = ev::TaskStart::decode(bytes).map_err(bad)?;
            event(EventKind::Start, e.container_id.clone(), e.container_id, e.pid)
        }
        "containerd.events.TaskExit" => {
            let e = ev::TaskExit::decode(bytes).map_err(bad)?;
            Event {
                exit_code: e.exit_status,
                exited_at: system_time(e.exited_at.as_ref()),
                ..event(EventKind::Exit, e.container_id, e.id, e.pid)
            }
        }
        "containerd.events.TaskOOM" => {
            let e = ev::TaskOom::decode(bytes).map_err(bad)?;
            event(EventKind::Oom, e.container_id, String::new(), 0)
        }
        "containerd.events.TaskExecAdded" => {
            let e = ev::TaskExecAdded::decode(bytes).map_err(bad)?;
            event(EventKind::ExecAdded, e.container_id, e.exec_id, 0)
        }
        "containerd.events.TaskExecStarted" => {
            let e = ev::TaskExecStarted::decode(bytes).map_err(bad)?;
            event(EventKind::ExecStarted, e.container_id, e.exec_id, e.pid)
        }
        "containerd.events.TaskPaused" => {
            let e = ev::TaskPaused::decode(bytes).map_err(bad)?;
            event(EventKind::Paused, e.container_id, String::new(), 0)
        }
        "containerd.events.TaskResumed" => {
            let e = ev::TaskResumed::decode(bytes).map_err(bad)?;
            event(EventKind::Resumed, e.container_id, String::new(), 0)
        }
        _ => return Ok(None),
    }))
}

type ProcessKey = (String, String);

/// Where the exit of one process is settled. Shared by every handle of that process; the hub
/// forgets it when the last handle goes.
#[derive(Debug)]
pub struct ExitSlot {
    key: ProcessKey,
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

    fn is_created(&self) -> bool {
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
struct HubShared {
    slots: Mutex<HashMap<ProcessKey, Weak<ExitSlot>>>,
    subscriber: Mutex<Option<Subscriber>>,
    /// The namespace's processes as the events told of them: what is running, and which exits
    /// were delivered (so none goes out twice).
    processes: Mutex<ProcessTable>,
    /// Whether the pump has a working stream (it does from the client's connect on, until the
    /// stream breaks, and again once it caught up after an outage).
    connected: watch::Sender<bool>,
    /// Set when the last client handle is gone: the pump then ends when the stream breaks
    /// instead of resubscribing (handles made from the client keep it serving until then).
    client_closed: watch::Sender<bool>,
    /// Set when the pump has ended for good: exit waits fail instead of waiting for ever.
    ended: watch::Sender<bool>,
    /// Cleanups that could not reach containerd, run once the stream is back ([`deferred`]).
    deferred: Mutex<Vec<deferred::DeferredCleanup>>,
    deferred_added: tokio::sync::Notify,
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

/// The sending end of the caller's stream.
#[derive(Debug, Clone)]
struct Subscriber {
    tx: mpsc::Sender<Event>,
    ready: Arc<Readiness>,
}

/// Readiness as a file descriptor (a non-blocking eventfd) that C event loops and Go's poller
/// wait on: readable once signalled, until reset. An event stream signals it after each queued
/// event and its reader resets it when it finds the queue empty; a pending call
/// (`ffi::pending`) signals it once, when it finishes.
#[derive(Debug)]
pub(crate) struct Readiness(EventFd);

impl Readiness {
    pub(crate) fn new() -> Result<Self> {
        EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
            .map(Readiness)
            .map_err(|e| Error::internal(format!("create an eventfd: {e}")))
    }

    pub(crate) fn signal(&self) {
        // Fails only when the counter would overflow, and then the descriptor is readable.
        let _ = self.0.write(1);
    }

    fn reset(&self) {
        // EAGAIN when it was not signalled: nothing to reset.
        let _ = self.0.read();
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
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
        let pump = crate::runtime::handle().spawn(pump(containerd, shared.clone()));
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
        let mut subscriber = self.shared.subscriber.lock().unwrap_or_else(|p| p.into_inner());
        if subscriber.as_ref().is_some_and(|s| !s.tx.is_closed()) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "this client already has an open event stream; free it before opening another",
            ));
        }
        let ready = Arc::new(Readiness::new()?);
        let (tx, rx) = mpsc::channel(EVENT_QUEUE_CAPACITY);
        *subscriber = Some(Subscriber { tx, ready: ready.clone() });
        Ok(EventStream {
            rx: tokio::sync::Mutex::new(rx),
            ready,
            closed: crate::runtime::CancelToken::new(),
            hub: Arc::downgrade(&self.shared),
        })
    }
}

impl Drop for EventHub {
    fn drop(&mut self) {
        self.pump.abort();
        self.cleaner.abort();
    }
}

/// The caller's end of a client's event stream.
#[derive(Debug)]
pub struct EventStream {
    rx: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    ready: Arc<Readiness>,
    /// Fired by [`Self::close`]: wakes the callers waiting in [`Self::next`].
    closed: crate::runtime::CancelToken,
    hub: Weak<HubShared>,
}

fn stream_closed() -> Error {
    Error::new(ErrorKind::Unavailable, "event stream closed: its client is gone")
}

fn stream_ended() -> Error {
    Error::new(ErrorKind::Unavailable, "the task event stream ended: the client was closed and containerd is gone")
}

fn stream_freed() -> Error {
    Error::new(ErrorKind::Cancelled, "the event stream was freed while this call waited for an event")
}

impl EventStream {
    /// The next event, waiting for one. Concurrent callers take turns. Ends with a cancelled
    /// error once the stream is closed.
    pub async fn next(&self) -> Result<Event> {
        let receive = async { self.rx.lock().await.recv().await.ok_or_else(stream_closed) };
        self.closed.run(receive).await.map_err(|e| if self.closed.is_cancelled() { stream_freed() } else { e })
    }

    /// Closes the stream for its owner, who is letting go of it while other callers may still
    /// wait in [`Self::next`]: they return a cancelled error, and the client stops feeding this
    /// stream at once, so a new one can be opened right away.
    pub fn close(&self) {
        self.closed.cancel();
        if let Some(hub) = self.hub.upgrade() {
            let mut subscriber = hub.subscriber.lock().unwrap_or_else(|p| p.into_inner());
            if subscriber.as_ref().is_some_and(|s| Arc::ptr_eq(&s.ready, &self.ready)) {
                *subscriber = None;
            }
        }
    }

    /// The next event if one is queued, without waiting. When the queue is empty this resets
    /// the readiness descriptor, so poll [`Self::ready_fd`] again after a `None`. While another
    /// caller waits in [`Self::next`], that caller gets the events and this returns `None`.
    pub fn try_next(&self) -> Result<Option<Event>> {
        if self.closed.is_cancelled() {
            return Err(stream_freed());
        }
        let Ok(mut rx) = self.rx.try_lock() else {
            self.ready.reset();
            return Ok(None);
        };
        match rx.try_recv() {
            Ok(event) => return Ok(Some(event)),
            Err(TryRecvError::Disconnected) => return Err(stream_closed()),
            Err(TryRecvError::Empty) => {}
        }
        self.ready.reset();
        // An event queued between the first look and the reset signalled before the reset:
        // look once more so it is not left behind an unreadable descriptor.
        match rx.try_recv() {
            Ok(event) => Ok(Some(event)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(stream_closed()),
        }
    }

    /// The readiness descriptor: readable (POLLIN) when [`Self::try_next`] may have an event or
    /// the stream's end to report. Owned by the stream.
    pub fn ready_fd(&self) -> RawFd {
        self.ready.fd()
    }
}

/// The subscription's answer: containerd sends nothing, not even the response headers, until
/// the first event, so the stream is in hand only then.
type Subscription<'a> = Pin<Box<dyn Future<Output = Result<tonic::Streaming<Envelope>>> + Send + 'a>>;

async fn pump(containerd: Arc<Containerd>, hub: Arc<HubShared>) {
    // Set while the stream is broken: the first failure is a warning, retries are debug.
    let mut outage = false;
    let mut interval = RESUBSCRIBE_INTERVAL;
    loop {
        let mut subscription: Subscription = Box::pin(containerd.subscribe_task_events());
        if outage {
            match catch_up(&containerd, &hub, subscription).await {
                Ok(resumed) => {
                    subscription = resumed;
                    outage = false;
                    interval = RESUBSCRIBE_INTERVAL;
                    hub.connected.send_replace(true);
                }
                Err(e) => {
                    if !resubscribe_failed(&hub, &e.to_string(), &mut interval).await {
                        return end_pump(&containerd, &hub);
                    }
                    continue;
                }
            }
        }
        let failure = match subscription.await {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(envelope)) => deliver(&hub, &envelope).await,
                    Ok(None) => break "containerd closed the event stream".to_owned(),
                    Err(status) => break format!("task event stream failed: {status}"),
                }
            },
            Err(e) => e.to_string(),
        };
        hub.connected.send_replace(false);
        if *hub.client_closed.borrow() {
            return end_pump(&containerd, &hub);
        }
        if !outage {
            tracing::warn!(namespace = %containerd.namespace(), error = %failure, "lost the task event stream; resubscribing");
            outage = true;
            interval = RESUBSCRIBE_INTERVAL;
            if !pause_unless_closed(&hub, interval).await {
                return end_pump(&containerd, &hub);
            }
        } else if !resubscribe_failed(&hub, &failure, &mut interval).await {
            return end_pump(&containerd, &hub);
        }
    }
}

/// The pump stops for good: the client was closed and its stream is broken. Exit waits fail
/// from now on, and cleanups still waiting for containerd are given up (and logged).
fn end_pump(containerd: &Containerd, hub: &HubShared) {
    tracing::info!(namespace = %containerd.namespace(), "task event stream ended after the client was closed; not resubscribing");
    hub.ended.send_replace(true);
    deferred::abandon(hub);
}

/// Sleeps for `interval`; false when the client was closed meanwhile (or before).
async fn pause_unless_closed(hub: &HubShared, interval: Duration) -> bool {
    let mut closed = hub.client_closed.subscribe();
    tokio::select! {
        _ = closed.wait_for(|closed| *closed) => false,
        () = tokio::time::sleep(interval) => true,
    }
}

/// Waits before the next resubscription, backing off; false when the client was closed.
async fn resubscribe_failed(hub: &HubShared, failure: &str, interval: &mut Duration) -> bool {
    let next = next_resubscribe_interval(*interval);
    if next != *interval {
        tracing::debug!(error = %failure, retry_in = ?next, "still resubscribing to task events");
    }
    *interval = next;
    pause_unless_closed(hub, next).await
}

/// How long after sending the subscription the tasks are listed: containerd registers a
/// subscription as soon as its request arrives, and the listing must come after that, or an
/// exit between the two would be missed by both.
const SUBSCRIPTION_SETTLE: Duration = Duration::from_millis(100);

/// After an outage: once containerd answers a listing sent after the new subscription, logs
/// that the stream is back and delivers the exits missed meanwhile ([`reconcile`]); returns the
/// subscription, whose events come after those. Fails when containerd is still away.
async fn catch_up<'a>(containerd: &'a Containerd, hub: &HubShared, mut subscription: Subscription<'a>) -> Result<Subscription<'a>> {
    let listing = async {
        tokio::time::sleep(SUBSCRIPTION_SETTLE).await;
        containerd.list_tasks().await
    };
    tokio::pin!(listing);
    // The subscription answers early when an event comes first; it is read after the catch-up.
    let mut answered = None;
    let listed = loop {
        tokio::select! {
            // The subscription first, so its request is sent before the listing's.
            biased;
            stream = &mut subscription, if answered.is_none() => answered = Some(stream?),
            listed = &mut listing => break listed,
        }
    };
    match listed {
        Ok(tasks) => {
            tracing::info!(namespace = %containerd.namespace(), "task event stream is back");
            reconcile::reconcile(containerd, hub, tasks).await;
        }
        Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::DeadlineExceeded | ErrorKind::Cancelled) => return Err(e),
        Err(e) => {
            tracing::info!(namespace = %containerd.namespace(), "task event stream is back");
            tracing::warn!(error = %e, "cannot catch up on the exits missed while the task event stream was down");
        }
    }
    Ok(match answered {
        Some(stream) => Box::pin(std::future::ready(Ok(stream))),
        None => subscription,
    })
}

/// The topic type of containerd's task delete events, which the library does not report but
/// uses to forget a deleted task's processes.
const TASK_DELETE_TYPE: &str = "containerd.events.TaskDelete";

async fn deliver(hub: &HubShared, envelope: &Envelope) {
    let event = match decode(envelope) {
        Ok(Some(event)) => event,
        Ok(None) => {
            if let Some(deleted) = decode_task_delete(envelope) {
                lock(&hub.processes).forget_task(&deleted.container_id);
            }
            tracing::debug!(topic = %envelope.topic, "ignoring event");
            return;
        }
        Err(e) => {
            tracing::warn!(topic = %envelope.topic, error = %e, "skipping undecodable event");
            return;
        }
    };
    dispatch(hub, event).await;
}

/// A task delete event of a task's init process (containerd names no exec in them).
fn decode_task_delete(envelope: &Envelope) -> Option<ev::TaskDelete> {
    let any = envelope.event.as_ref()?;
    if any.type_url.rsplit('/').next() != Some(TASK_DELETE_TYPE) {
        return None;
    }
    ev::TaskDelete::decode(any.value.as_slice()).ok().filter(|d| d.id.is_empty() || d.id == d.container_id)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Settles the exit of a process someone waits for and hands the event to the caller's
/// stream; an exit already delivered (a shim's late retry of one the catch-up found) goes
/// nowhere.
async fn dispatch(hub: &HubShared, event: Event) {
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
    use prost_types::Any;

    fn envelope<M: Message>(type_url: &str, message: &M) -> Envelope {
        Envelope {
            topic: "/tasks/test".into(),
            namespace: "ns".into(),
            timestamp: None,
            event: Some(Any { type_url: type_url.into(), value: message.encode_to_vec() }),
        }
    }

    #[test]
    fn exit_event_of_an_exec_names_the_exec_and_its_status() {
        let exit = ev::TaskExit {
            container_id: "c1".into(),
            id: "e1".into(),
            pid: 42,
            exit_status: 3,
            exited_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5 }),
        };
        for url in ["containerd.events.TaskExit", "types.googleapis.com/containerd.events.TaskExit"] {
            let event = decode(&envelope(url, &exit)).unwrap().unwrap();
            assert_eq!(event.kind, EventKind::Exit);
            assert_eq!((event.container_id.as_str(), event.process_id.as_str()), ("c1", "e1"));
            assert_eq!((event.pid, event.exit_code), (42, 3));
            assert_eq!(event.exited_at, Some(SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5)));
        }
    }

    #[test]
    fn create_and_start_use_the_container_id_as_process_id() {
        let start = ev::TaskStart { container_id: "c9".into(), pid: 7 };
        let event = decode(&envelope("containerd.events.TaskStart", &start)).unwrap().unwrap();
        assert_eq!((event.kind, event.process_id.as_str(), event.pid), (EventKind::Start, "c9", 7));
    }

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

    #[test]
    fn task_delete_is_ignored_and_garbage_is_an_error() {
        let delete = ev::TaskDelete { container_id: "c".into(), ..Default::default() };
        assert_eq!(decode(&envelope("containerd.events.TaskDelete", &delete)).unwrap(), None);
        let garbage = Envelope {
            event: Some(Any { type_url: "containerd.events.TaskExit".into(), value: vec![0xff, 0xff] }),
            ..Default::default()
        };
        assert!(decode(&garbage).is_err());
    }

    #[test]
    fn resubscription_backs_off_to_a_cap() {
        let mut interval = RESUBSCRIBE_INTERVAL;
        let mut waits = vec![interval];
        for _ in 0..8 {
            interval = next_resubscribe_interval(interval);
            waits.push(interval);
        }
        let ms: Vec<u128> = waits.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000]);
    }

}
