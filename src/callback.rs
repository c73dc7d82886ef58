//! A slot for a callback the host program registers (the log sink, an event stream's ready
//! callback), with the promise the C ABI documents for each: once the callback is replaced,
//! it is not running on any thread and will never be called again, so the host may free what
//! it uses.

use std::cell::Cell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

thread_local! {
    /// How many host callbacks, of any slot, this thread is inside.
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

/// Holds at most one callback. Calls run without the slot's lock, so a callback may take its
/// time, log, or call the library (even replace itself).
pub(crate) struct CallbackSlot<F: ?Sized> {
    callback: Mutex<Option<Arc<F>>>,
    /// Woken whenever a call returns, for a `replace` waiting for the old callback's calls.
    returned: Condvar,
}

impl<F: ?Sized> CallbackSlot<F> {
    pub(crate) const fn new() -> Self {
        CallbackSlot { callback: Mutex::new(None), returned: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<F>>> {
        self.callback.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `callback` in the slot. When this returns, the callback it replaced is not running
    /// on any thread and will not be called again. Called from inside a host callback it does
    /// not wait (the callback would wait for itself, or two callbacks for each other): the old
    /// callback is then not called again, but calls already running finish on their own.
    pub(crate) fn replace(&self, callback: Option<Arc<F>>) {
        let mut slot = self.lock();
        let Some(old) = std::mem::replace(&mut *slot, callback) else { return };
        if IN_CALLBACK.with(Cell::get) > 0 {
            return;
        }
        // Each running call holds a clone of its callback: wait until only ours is left.
        while Arc::strong_count(&old) > 1 {
            slot = self.returned.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Whether a callback is registered.
    #[cfg(test)]
    pub(crate) fn is_set(&self) -> bool {
        self.lock().is_some()
    }

    /// Runs `call` with the registered callback, if there is one.
    pub(crate) fn call(&self, call: impl FnOnce(&F)) {
        let Some(callback) = self.lock().clone() else { return };
        IN_CALLBACK.with(|depth| depth.set(depth.get() + 1));
        let running = Running { slot: self, callback: Some(callback) };
        if let Some(callback) = &running.callback {
            call(callback);
        }
    }
}

/// A call in progress: holds the callback (which `replace` counts) and tells a waiting
/// `replace` when it is over, also when the callback unwinds.
struct Running<'a, F: ?Sized> {
    slot: &'a CallbackSlot<F>,
    callback: Option<Arc<F>>,
}

impl<F: ?Sized> Drop for Running<'_, F> {
    fn drop(&mut self) {
        IN_CALLBACK.with(|depth| depth.set(depth.get() - 1));
        // Under the lock, so a `replace` between its count check and its wait cannot miss it.
        let slot = self.slot.lock();
        drop(self.callback.take());
        drop(slot);
        self.slot.returned.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    type Hook = dyn Fn() + Send + Sync;

    #[test]
    fn replace_waits_for_a_running_call_and_the_old_callback_is_never_called_again() {
        let slot: Arc<CallbackSlot<Hook>> = Arc::new(CallbackSlot::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let (entered_tx, entered) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let counted = calls.clone();
        slot.replace(Some(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = entered_tx.send(());
            let _ = release_rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
        })));
        let caller = {
            let slot = slot.clone();
            std::thread::spawn(move || slot.call(|f| f()))
        };
        entered.recv_timeout(Duration::from_secs(10)).expect("the callback runs");
        let replacer = {
            let slot = slot.clone();
            std::thread::spawn(move || slot.replace(None))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(!replacer.is_finished(), "replace returned while the old callback was still running");
        release.send(()).unwrap();
        replacer.join().unwrap();
        caller.join().unwrap();
        slot.call(|f| f());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the replaced callback was called again");
        assert!(!slot.is_set());
    }

    #[test]
    fn a_callback_may_replace_itself_without_waiting_for_itself() {
        let slot: Arc<CallbackSlot<Hook>> = Arc::new(CallbackSlot::new());
        let inner = Arc::downgrade(&slot);
        slot.replace(Some(Arc::new(move || {
            if let Some(slot) = inner.upgrade() {
                slot.replace(None);
            }
        })));
        let (done_tx, done) = mpsc::channel();
        let caller = slot.clone();
        std::thread::spawn(move || {
            caller.call(|f| f());
            let _ = done_tx.send(());
        });
        done.recv_timeout(Duration::from_secs(10)).expect("a callback replacing itself deadlocked");
        assert!(!slot.is_set());
    }
}
