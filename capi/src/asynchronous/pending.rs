//! The pending call: its state, how its end is signalled, and the finish functions that have no
//! handle to make (`lcd_pending_fd`, `lcd_pending_notify`, `lcd_pending_finish`,
//! `lcd_pending_free`). Imports no handle module.

use std::future::Future;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::*;
use libcontainerd::exit::ExitStatus;
use libcontainerd::process::{Process, ProcessStatus};
use libcontainerd::stats::Stats;
use libcontainerd::task::{ProcessInfo, Task};
use libcontainerd::Container;

/// A call in progress. Opaque; created by an `_async` function, freed with `lcd_pending_free`.
pub struct lcd_pending {
    shared: Arc<PendingShared>,
}

impl Drop for lcd_pending {
    fn drop(&mut self) {
        // The caller may close or reuse its notification descriptor once the handle is freed.
        self.shared.lock().notify = None;
    }
}

struct PendingShared {
    state: Mutex<PendingState>,
}

impl PendingShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, PendingState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How the end of a call is told, and what it produced. The descriptors are made or set only
/// when the caller asks, so a caller that brings its own (the Go binding reuses one per
/// concurrent call) costs no pipe, registration or close per call.
#[derive(Default)]
struct PendingState {
    /// None until the call finishes; then its result, and after a finish function took it, a
    /// marker that says so. So `Some` means finished.
    outcome: Option<Result<Outcome>>,
    /// Made by `lcd_pending_fd`.
    own_pipe: Option<FinishedSignal>,
    /// The caller's descriptor given to `lcd_pending_notify`; borrowed, and forgotten when the
    /// handle is freed.
    notify: Option<RawFd>,
}

impl PendingState {
    /// Records the outcome and signals the descriptors. Returns a failed notification, which
    /// the caller reports once it has let go of the lock (a log sink may call back into this
    /// very pending call).
    #[must_use]
    fn finish(&mut self, outcome: Result<Outcome>) -> Option<FailedNotification> {
        self.outcome = Some(outcome);
        if let Some(pipe) = &self.own_pipe {
            pipe.signal();
        }
        self.notify.and_then(notify_caller)
    }
}

/// The read end of a pipe that becomes readable when the call finishes. Not an eventfd: an
/// eventfd is always writable, so a poller that watches both directions (Go's does) was woken
/// for nothing each time it registered one (BENCHMARKS.md); a pipe's read end never is.
struct FinishedSignal {
    read: OwnedFd,
    write: OwnedFd,
}

impl FinishedSignal {
    fn new() -> nix::Result<Self> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC)?;
        Ok(FinishedSignal { read, write })
    }

    fn signal(&self) {
        // Written once per call into an empty pipe, so it cannot fail for lack of room.
        let _ = nix::unistd::write(&self.write, &[1]);
    }

    fn fd(&self) -> i32 {
        self.read.as_raw_fd()
    }
}

/// A notification byte that could not be written to the caller's descriptor.
struct FailedNotification {
    fd: RawFd,
    error: nix::errno::Errno,
}

impl FailedNotification {
    /// Logs the failure. Call with no lock held: the log sink is the host's code.
    fn report(self) {
        tracing::warn!(fd = self.fd, error = %self.error, "cannot notify the caller's descriptor that a call finished");
    }
}

/// Writes the one byte that tells a caller's descriptor the call has finished: sent without
/// blocking and without SIGPIPE when it is a socket, written otherwise. A failure is the
/// caller's broken descriptor, returned for reporting; the result still waits for a finish
/// function.
fn notify_caller(fd: RawFd) -> Option<FailedNotification> {
    use nix::sys::socket::{send, MsgFlags};
    let sent = send(fd, &[1], MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL);
    let outcome = match sent {
        Err(nix::errno::Errno::ENOTSOCK) => {
            nix::unistd::write(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, &[1]).map(|_| ())
        }
        other => other.map(|_| ()),
    };
    outcome.err().map(|error| FailedNotification { fd, error })
}

/// What a finished call produced: the core's value, which the finish function of its kind
/// turns into the C handle or record (`finish.rs`).
pub(crate) enum Outcome {
    Done,
    Container(Container),
    Task(Task),
    Process(Process),
    Exit(ExitStatus),
    Status(ProcessStatus),
    Stats(Stats),
    Pids(Vec<ProcessInfo>),
}

/// Runs `call` on the shared runtime, racing `cancel` like a blocking call would, and returns
/// the pending handle for the caller.
pub(crate) fn spawn(
    cancel: Option<&CancelToken>,
    call: impl Future<Output = Result<Outcome>> + Send + 'static,
) -> *mut lcd_pending {
    // Boxed once here: the calls' futures are 1.5 to 5.5 KB, and a task stores its future
    // inline, so the runtime copied all of it again when it wrote the task's result over it.
    let call = Box::pin(call);
    let shared = Arc::new(PendingShared { state: Mutex::new(PendingState::default()) });
    let finishing = shared.clone();
    let cancel = cancel.cloned();
    libcontainerd::runtime::handle().spawn(async move {
        let outcome = match cancel {
            Some(token) => token.run(call).await,
            None => call.await,
        };
        let failed = finishing.lock().finish(outcome);
        if let Some(failed) = failed {
            failed.report();
        }
    });
    Box::into_raw(Box::new(lcd_pending { shared }))
}

/// The body of every `_async` export: checks `out`, lets `make` build the call from its
/// arguments on the caller's thread (cloning what it works on), spawns it and hands back the
/// pending handle. Runs `make` inside the FFI boundary.
pub(crate) fn start<F>(
    err: *mut *mut lcd_error,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    make: impl FnOnce() -> Result<F>,
) -> lcd_status
where
    F: Future<Output = Result<Outcome>> + Send + 'static,
{
    boundary(err, || {
        let out = out_arg("out", out)?;
        let call = make()?;
        let pending = spawn(unsafe { cancel_arg(cancel) }, call);
        unsafe { out.write(pending) };
        Ok(())
    })
}

/// Takes the finished call's outcome (once) if `pick` accepts its kind (an error is an outcome
/// of any kind). A result of another kind goes back for the right finish function.
pub(super) fn take<T>(pending: *const lcd_pending, wanted: &str, pick: impl FnOnce(Outcome) -> std::result::Result<T, Outcome>) -> Result<T> {
    let pending = unsafe { handle_arg("pending call", pending)? };
    let mut state = pending.shared.lock();
    let slot = &mut state.outcome;
    let Some(outcome) = slot.take() else {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            "the call has not finished yet: wait until lcd_pending_fd (or the lcd_pending_notify descriptor) is readable",
        ));
    };
    let taken = match outcome {
        Ok(result) => match pick(result) {
            Ok(value) => Ok(value),
            Err(result) => {
                *slot = Some(Ok(result));
                return Err(Error::invalid_argument(format!(
                    "this call's result is not {wanted}: use the matching lcd_pending_finish function"
                )));
            }
        },
        Err(error) => Err(error),
    };
    // Leave a marker so a second take says "already taken", not "not finished".
    *slot = Some(Err(Error::new(ErrorKind::FailedPrecondition, "the call's result was already taken")));
    taken
}

/// The call's readiness descriptor (the non-blocking read end of a pipe, never writable):
/// readable (POLLIN) once the call has finished; then collect its result with the
/// `lcd_pending_finish*` function that matches the call. The pipe is made by the first call of
/// this function (a caller that uses `lcd_pending_notify` never pays for it). -1 for NULL, or
/// when no pipe can be made (the process is out of descriptors; `errno` says why).
///
/// Ownership: owned by the pending handle and valid until `lcd_pending_free`; do not close it
/// (duplicate it with `dup` for a poller that closes what it is given). Reading it is allowed.
/// Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_fd(pending: *const lcd_pending) -> i32 {
    boundary_infallible(-1, || {
        let Some(pending) = (unsafe { pending.as_ref() }) else { return -1 };
        let mut state = pending.shared.lock();
        if state.own_pipe.is_none() {
            let Ok(pipe) = FinishedSignal::new() else { return -1 };
            if state.outcome.is_some() {
                pipe.signal();
            }
            state.own_pipe = Some(pipe);
        }
        state.own_pipe.as_ref().map_or(-1, FinishedSignal::fd)
    })
}

/// Tells the call to signal the caller's own descriptor `fd` when it finishes, by sending (or,
/// when `fd` is not a socket, writing) one byte to it, at once if it has already finished. For
/// a caller that waits for many calls in its own poller: it can keep one descriptor per
/// concurrent call (one end of a socket pair, say) registered there and reuse it, instead of
/// a new pipe per call from `lcd_pending_fd`.
///
/// `fd` must accept the byte without blocking: a socket (sent with `MSG_DONTWAIT` and
/// `MSG_NOSIGNAL`), or a non-blocking pipe whose read end stays open (a write to a pipe without
/// a reader raises `SIGPIPE`). The library writes to it once, when the call finishes, unless
/// `lcd_pending_free` has returned for this handle before that (then never), so once the byte
/// is read, or the handle freed, the descriptor may be reused for the next call.
///
/// Ownership: `fd` stays the caller's. Thread-safe; no RPC. Errors: `LCD_INVALID_ARGUMENT` for
/// a NULL handle or a negative `fd`; `LCD_FAILED_PRECONDITION` when the call already has a
/// notification descriptor. A failed write (a closed descriptor) is logged; the result still
/// waits for its finish function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_notify(pending: *const lcd_pending, fd: i32, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let pending = unsafe { handle_arg("pending call", pending)? };
        if fd < 0 {
            return Err(Error::invalid_argument(format!("notification descriptor {fd} is negative")));
        }
        let mut state = pending.shared.lock();
        if let Some(existing) = state.notify {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!("the call already notifies descriptor {existing}"),
            ));
        }
        state.notify = Some(fd);
        let failed = if state.outcome.is_some() { notify_caller(fd) } else { None };
        drop(state);
        if let Some(failed) = failed {
            failed.report();
        }
        Ok(())
    })
}

/// The result of a finished call without output (the `_async` twins of task and process start,
/// kill and close_stdin, task pause, resume and update_resources, and container delete):
/// `LCD_OK` or the call's error, as the blocking call would give it.
///
/// Thread-safe; no RPC. Errors: the call's errors; `LCD_FAILED_PRECONDITION` when the call has
/// not finished or its result was already taken; `LCD_INVALID_ARGUMENT` when the call has an
/// output (use the matching `lcd_pending_finish_*`; the result stays for it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish(pending: *const lcd_pending, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        take(pending, "without output", |o| match o {
            Outcome::Done => Ok(()),
            other => Err(other),
        })
    })
}

/// Collects a finished call's output, of the kind `pick` accepts, into `*out`.
pub(super) fn finish_into<T>(
    err: *mut *mut lcd_error,
    pending: *const lcd_pending,
    out: *mut T,
    wanted: &str,
    pick: impl FnOnce(Outcome) -> std::result::Result<T, Outcome>,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let value = take(pending, wanted, pick)?;
        unsafe { out.write(value) };
        Ok(())
    })
}

/// Frees a pending handle. A call still running is not cancelled (fire its cancel token for
/// that): it runs to its end and its result is dropped (a task it made is not deleted), and
/// once this returns it no longer writes to a descriptor given to `lcd_pending_notify`. NULL
/// does nothing. A call keeps what it works on, so the handles it was started on may be freed
/// while it runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_free(pending: *mut lcd_pending) {
    unsafe { free_handle(pending) }
}
