//! The caller's end of a client's event stream: a bounded queue the hub fills, with a
//! readiness descriptor for event loops.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Weak};

use nix::sys::eventfd::{EfdFlags, EventFd};
use once_cell::sync::OnceCell;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::hub::HubShared;
use crate::callback::CallbackSlot;
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

/// How the caller learns that the stream may have something to report: an eventfd (made only
/// when the caller asks for one, so a stream watched through its callback costs no descriptor)
/// and a callback. The stream signals both after each queued event and at its end; its reader
/// resets the descriptor when it finds the queue empty.
pub(crate) struct Readiness {
    fd: OnceCell<EventFd>,
    callback: CallbackSlot<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness").field("fd", &self.fd.get().map(AsRawFd::as_raw_fd)).finish_non_exhaustive()
    }
}

impl Readiness {
    pub(crate) fn new() -> Self {
        Readiness { fd: OnceCell::new(), callback: CallbackSlot::new() }
    }

    pub(crate) fn signal(&self) {
        self.signal_fd();
        self.callback.call(|callback| callback());
    }

    fn signal_fd(&self) {
        if let Some(fd) = self.fd.get() {
            // Fails only when the counter would overflow, and then the descriptor is readable.
            let _ = fd.write(1);
        }
    }

    fn reset(&self) {
        if let Some(fd) = self.fd.get() {
            // EAGAIN when it was not signalled: nothing to reset.
            let _ = fd.read();
        }
    }

    /// The descriptor, and whether this call made it (unsignalled).
    fn fd(&self) -> Result<(RawFd, bool)> {
        let mut made = false;
        let fd = self.fd.get_or_try_init(|| {
            made = true;
            EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                .map_err(|e| Error::internal(format!("create the event stream's readiness eventfd: {e}")))
        })?;
        Ok((fd.as_raw_fd(), made))
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
        let ready = Arc::new(Readiness::new());
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
        self.ready.callback.replace(None);
    }

    /// Calls `callback` (on a library thread, or on the thread of a call that ends the
    /// stream) whenever [`Self::try_next`] may have an event or the stream's end to report:
    /// after each queued event, and at the end. Replaces an earlier callback, with the promise
    /// of [`crate::logging::set_sink`]: once this (or [`Self::close`]) returns, the replaced
    /// callback is not running and will not be called again, except when called from inside a
    /// callback, where it cannot wait.
    pub fn set_ready_callback(&self, callback: Option<Arc<dyn Fn() + Send + Sync>>) -> Result<()> {
        if self.closed.is_cancelled() && callback.is_some() {
            return Err(stream_freed());
        }
        self.ready.callback.replace(callback);
        Ok(())
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
    /// the stream's end to report. Owned by the stream, and made on the first call (a stream
    /// watched through [`Self::set_ready_callback`] never makes one).
    pub fn ready_fd(&self) -> Result<RawFd> {
        let (fd, made) = self.ready.fd()?;
        // Events queued, or the end reached, before the descriptor existed signalled nothing. A
        // reader holding the queue may be taking them; then a signal too many only costs it one
        // empty look.
        if made && self.rx.try_lock().map_or(true, |rx| !rx.is_empty() || rx.is_closed()) {
            self.ready.signal_fd();
        }
        Ok(fd)
    }
}

impl Drop for EventStream {
    /// A stream dropped without [`Self::close`] stops the callback too: nothing the library
    /// calls outlives it.
    fn drop(&mut self) {
        self.close();
    }
}
