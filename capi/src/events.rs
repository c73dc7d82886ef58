//! C ABI of the event stream.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use super::client::lcd_client;
use super::*;
use libcontainerd::events::{Event, EventKind, EventStream};
use libcontainerd::runtime::block_on;

/// A client's stream of task events, in the order containerd published them.
pub struct lcd_event_stream {
    /// Shared with the calls waiting on it, so a free while they wait leaves their stream
    /// valid until they have returned.
    stream: Arc<EventStream>,
}

/// The kind of a task event (moby's event types).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lcd_event_type {
    LCD_EVENT_CREATE = 0,
    LCD_EVENT_START = 1,
    LCD_EVENT_EXIT = 2,
    LCD_EVENT_OOM = 3,
    LCD_EVENT_EXEC_ADDED = 4,
    LCD_EVENT_EXEC_STARTED = 5,
    LCD_EVENT_PAUSED = 6,
    LCD_EVENT_RESUMED = 7,
}

/// One task event. The strings are owned by the event and valid until `lcd_event_free`.
#[repr(C)]
pub struct lcd_event {
    pub kind: lcd_event_type,
    pub container_id: *const c_char,
    /// The container id for the init process, the exec id for an exec; "" when containerd
    /// names no process (oom, paused, resumed).
    pub process_id: *const c_char,
    pub pid: u32,
    /// Exit events only.
    pub exit_code: u32,
    /// Exit events only: nanoseconds since the Unix epoch.
    pub exited_at_unix_nanos: i64,
}

/// An event with the strings it points into; `event` comes first so a pointer to it is a
/// pointer to the whole allocation.
#[repr(C)]
struct OwnedEvent {
    event: lcd_event,
    container_id: CString,
    process_id: CString,
}

fn kind_of(kind: EventKind) -> lcd_event_type {
    match kind {
        EventKind::Create => lcd_event_type::LCD_EVENT_CREATE,
        EventKind::Start => lcd_event_type::LCD_EVENT_START,
        EventKind::Exit => lcd_event_type::LCD_EVENT_EXIT,
        EventKind::Oom => lcd_event_type::LCD_EVENT_OOM,
        EventKind::ExecAdded => lcd_event_type::LCD_EVENT_EXEC_ADDED,
        EventKind::ExecStarted => lcd_event_type::LCD_EVENT_EXEC_STARTED,
        EventKind::Paused => lcd_event_type::LCD_EVENT_PAUSED,
        EventKind::Resumed => lcd_event_type::LCD_EVENT_RESUMED,
    }
}

fn boxed_event(event: Event) -> *mut lcd_event {
    let container_id = CString::new(event.container_id).unwrap_or_default();
    let process_id = CString::new(event.process_id).unwrap_or_default();
    let mut owned = Box::new(OwnedEvent {
        event: lcd_event {
            kind: kind_of(event.kind),
            container_id: ptr::null(),
            process_id: ptr::null(),
            pid: event.pid,
            exit_code: event.exit_code,
            exited_at_unix_nanos: unix_nanos(event.exited_at),
        },
        container_id,
        process_id,
    });
    // CString data lives on the heap, so these pointers stay valid while the box lives.
    owned.event.container_id = owned.container_id.as_ptr();
    owned.event.process_id = owned.process_id.as_ptr();
    Box::into_raw(owned).cast::<lcd_event>()
}

/// Opens the client's event stream: task events of the client's namespace from now on
/// (create, start, exit, oom, exec-added, exec-started, paused, resumed), in containerd's
/// order. The library buffers up to 1024 events; when the caller falls behind further, the
/// library stops reading from containerd until the caller catches up, so nothing is dropped
/// and memory stays bounded. Keep reading: task waits also stall while the stream is full.
///
/// Ownership: on success `*out` receives a stream the caller frees with
/// `lcd_event_stream_free`. One open stream per client.
/// Thread-safe. Errors: `LCD_ALREADY_EXISTS` when the client already has an open stream.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_client_subscribe(
    client: *const lcd_client,
    out: *mut *mut lcd_event_stream,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let client = unsafe { handle_arg("client", client)? };
        let stream = client.client.subscribe()?;
        unsafe { out.write(Box::into_raw(Box::new(lcd_event_stream { stream: Arc::new(stream) }))) };
        Ok(())
    })
}

/// Blocks until the next event arrives. Use a cancel token to bound the wait.
///
/// Ownership: on success `*out` receives an event the caller frees with `lcd_event_free`.
/// Thread-safe: concurrent callers each get different events. The stream may be freed while
/// this call waits (see `lcd_event_stream_free`): it then returns `LCD_CANCELLED`.
/// Errors: `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED` from `cancel`; `LCD_CANCELLED` when the
/// stream is freed meanwhile; `LCD_UNAVAILABLE` once the stream's client is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_event_stream_next(
    stream: *const lcd_event_stream,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_event,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        // Our own reference before waiting: a concurrent free releases only the handle's.
        let stream = unsafe { handle_arg("event stream", stream)? }.stream.clone();
        let event = block_on(unsafe { cancel_arg(cancel) }, stream.next())?;
        unsafe { out.write(boxed_event(event)) };
        Ok(())
    })
}

/// Takes the next event if one is queued, without waiting: `*out` receives it, or NULL when
/// there is none. Pair it with `lcd_event_stream_fd` to wait in an event loop instead of a
/// thread: poll the descriptor for readability, then call this until `*out` is NULL (which
/// resets the descriptor). While another thread waits in `lcd_event_stream_next`, that thread
/// gets the events and this gives NULL.
///
/// Ownership: a non-NULL `*out` is an event the caller frees with `lcd_event_free`.
/// Thread-safe; no RPC. Errors: `LCD_UNAVAILABLE` once the stream's client is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_event_stream_try_next(
    stream: *const lcd_event_stream,
    out: *mut *mut lcd_event,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let stream = unsafe { handle_arg("event stream", stream)? };
        let event = stream.stream.try_next()?.map_or(ptr::null_mut(), boxed_event);
        unsafe { out.write(event) };
        Ok(())
    })
}

/// The stream's readiness descriptor (a non-blocking eventfd): readable (POLLIN) whenever
/// `lcd_event_stream_try_next` may have an event, or the end of the stream, to report. Made on
/// the first call (a stream watched through `lcd_event_stream_set_ready_callback` needs none).
/// -1 for NULL, or when the descriptor cannot be made (the process is out of descriptors).
///
/// Ownership: owned by the stream and valid until `lcd_event_stream_free`; do not read, write or
/// close it (duplicate it with `dup` to hand it to a poller that closes what it is given).
/// Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_event_stream_fd(stream: *const lcd_event_stream) -> i32 {
    boundary_infallible(-1, || unsafe { stream.as_ref() }.map_or(-1, |s| s.stream.ready_fd().unwrap_or(-1)))
}

/// Tells the caller that the stream may have something to report: called with `user_data`
/// whenever `lcd_event_stream_try_next` may have an event, or the end of the stream, to report
/// (the same moments the readiness descriptor becomes readable).
pub type lcd_event_ready_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Calls `callback(user_data)` whenever the stream may have an event, or its end, to report:
/// after each queued event, and when the stream's client is gone. An event-loop alternative
/// to the readiness descriptor that costs no descriptor (Go's binding uses it). On each call,
/// take events with `lcd_event_stream_try_next` until it gives NULL; a call may find none. A
/// NULL callback removes the current one. Replaces an earlier callback.
///
/// The callback runs on library threads (and, for the end, on the thread that frees the
/// stream's client), concurrently with any library call; no library lock
/// is held while it runs, so it may call non-blocking library functions (including
/// `lcd_event_stream_try_next`, this one and `lcd_event_stream_free`). It must not block for
/// long: events wait meanwhile. Blocking library calls made from it fail with `LCD_INTERNAL`.
///
/// Lifetime: once this function (or `lcd_event_stream_free`) returns, the callback it replaced
/// is not running on any thread and will never be called again, so its `user_data` may be
/// freed; to give that promise it waits for a call still running. Exception: called from
/// inside a library callback (on that callback's thread) it does not wait, since the callback
/// would wait for itself; the old callback is then not called again, but a call already
/// running finishes on its own.
/// Thread-safe; no RPC. Errors: `LCD_INVALID_ARGUMENT` for a NULL stream.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_event_stream_set_ready_callback(
    stream: *const lcd_event_stream,
    callback: lcd_event_ready_fn,
    user_data: *mut c_void,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let stream = unsafe { handle_arg("event stream", stream)? };
        let user_data = UserData(user_data);
        let callback = callback.map(|callback| {
            Arc::new(move || {
                let user_data = user_data;
                // SAFETY: the caller registered a valid function for this user data.
                unsafe { callback(user_data.0) }
            }) as Arc<dyn Fn() + Send + Sync>
        });
        stream.stream.set_ready_callback(callback)
    })
}

/// Closes an event stream; events not yet read are discarded. NULL does nothing.
///
/// Thread-safety and lifetime: another thread may be waiting in `lcd_event_stream_next` on this
/// stream when it is freed; that call then returns `LCD_CANCELLED` promptly, and what it uses
/// stays valid until it has returned. Once this returns the client may open a new stream. As
/// with every handle, no call on the stream may *begin* after its free has begun (a caller
/// that frees while another thread is about to call must order the two itself).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_event_stream_free(stream: *mut lcd_event_stream) {
    boundary_infallible((), || {
        if !stream.is_null() {
            // SAFETY: the pointer came from Box::into_raw in this library and is freed once.
            let stream = unsafe { Box::from_raw(stream) };
            stream.stream.close();
        }
    })
}

/// Frees an event. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_event_free(event: *mut lcd_event) {
    unsafe { free_handle(event.cast::<OwnedEvent>()) }
}
