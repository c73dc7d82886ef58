//! The caller's end of a client's event stream: a bounded queue the hub fills, with a
//! readiness descriptor for event loops.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Weak};

use nix::sys::eventfd::{EfdFlags, EventFd};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::hub::HubShared;
use super::Event;
use crate::error::{Error, ErrorKind, Result};

/// How many decoded events wait for a slow caller before the pump holds back.
pub const EVENT_QUEUE_CAPACITY: usize = 1024;

/// The sending end of the caller's stream.
#[derive(Debug, Clone)]
pub(super) struct Subscriber {
    pub(super) tx: mpsc::Sender<Event>,
    pub(super) ready: Arc<Readiness>,
}

/// Readiness as a file descriptor (a non-blocking eventfd) that C event loops and Go's poller
/// wait on: readable once signalled, until reset. An event stream signals it after each queued
/// event and its reader resets it when it finds the queue empty.
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

/// The caller's end of a client's event stream.
#[derive(Debug)]
pub struct EventStream {
    rx: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    ready: Arc<Readiness>,
    /// Fired by [`Self::close`]: wakes the callers waiting in [`Self::next`].
    closed: crate::runtime::CancelToken,
    hub: Weak<HubShared>,
}

pub(super) fn stream_closed() -> Error {
    Error::new(ErrorKind::Unavailable, "event stream closed: its client is gone")
}

fn stream_freed() -> Error {
    Error::new(ErrorKind::Cancelled, "the event stream was freed while this call waited for an event")
}

impl EventStream {
    /// Opens the caller's stream on `hub`. One at a time per client: a second open while the
    /// first is alive is refused.
    pub(super) fn open(hub: &Arc<HubShared>) -> Result<EventStream> {
        let mut subscriber = hub.subscriber.lock().unwrap_or_else(|p| p.into_inner());
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
            hub: Arc::downgrade(hub),
        })
    }

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
