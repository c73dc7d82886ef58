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
//! Waiting: [`EventStream::next`] blocks a thread per waiting caller. An event loop can instead
//! wait for the stream's readiness descriptor ([`EventStream::ready_fd`], an eventfd made on
//! first use) or be called back ([`EventStream::set_ready_callback`], what the Go binding does:
//! no descriptor at all), and drain with [`EventStream::try_next`], so no thread sits in the
//! library.
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
//!
//! The parts: [`decode`] turns containerd's envelopes into [`Event`]s; [`hub`] routes them to
//! the exit slots of the processes waited for and to the caller's [`EventStream`] ([`stream`]);
//! [`subscription`] keeps the subscription to containerd alive (resubscribing with backoff and
//! catching up on missed exits through [`reconcile`]); [`deferred`] holds the cleanups that
//! wait for containerd to come back.

mod decode;
mod deferred;
mod hub;
mod reconcile;
mod stream;
mod subscription;

use std::time::SystemTime;

pub use decode::decode;
pub(crate) use deferred::DeferredCleanup;
pub(crate) use hub::ClientOpen;
pub use hub::{EventHub, ExitSlot};
pub use stream::{EventStream, EVENT_QUEUE_CAPACITY};

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
