//! The conversions every handle module shares, in one place: reading the caller's arguments
//! (byte strings, handles, out-parameters, cancel tokens), writing results (optional
//! out-parameters, exits, statuses, owned strings, times), freeing handles, and the C value
//! types of a process's status and standard streams.

use std::ffi::{c_char, CString};
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::time::SystemTime;

use crate::lcd_cancel;
use libcontainerd::bundle::Stdio;
use libcontainerd::error::{Error, Result};
use libcontainerd::exit::ExitStatus;
use libcontainerd::process::{ProcessState, ProcessStatus, StdioPaths};
use libcontainerd::runtime::CancelToken;

/// A caller's user data pointer for a callback, passed back as it is.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut std::ffi::c_void);
// SAFETY: the library never dereferences it; the caller promised it may be used from any thread.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// Borrows a caller's `(pointer, length)` byte string. NULL is allowed only with length 0.
pub(crate) unsafe fn bytes_arg<'a>(what: &str, ptr: *const u8, len: usize) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(Error::invalid_argument(format!("{what} is NULL with length {len}"))) };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid_argument(format!("{what} length {len} is too large")));
    }
    // SAFETY: the caller guarantees `ptr` points to `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows a caller's `(pointer, length)` string, which must be UTF-8.
pub(crate) unsafe fn str_arg<'a>(what: &str, ptr: *const u8, len: usize) -> Result<&'a str> {
    let bytes = unsafe { bytes_arg(what, ptr, len)? };
    std::str::from_utf8(bytes).map_err(|e| Error::invalid_argument(format!("{what} is not valid UTF-8: {e}")))
}

/// Borrows a handle; NULL is an invalid-argument error.
pub(crate) unsafe fn handle_arg<'a, T>(what: &str, ptr: *const T) -> Result<&'a T> {
    // SAFETY: a non-NULL handle was returned by this library and not yet freed (caller's contract).
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid_argument(format!("{what} handle is NULL")))
}

/// Checks an out-parameter is non-NULL before any work is done.
pub(crate) fn out_arg<T>(what: &str, ptr: *mut T) -> Result<*mut T> {
    if ptr.is_null() {
        Err(Error::invalid_argument(format!("out-parameter {what} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// Writes an optional out-parameter (NULL means the caller does not want it).
pub(crate) unsafe fn write_opt<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: non-NULL out-parameters point to writable memory (caller's contract).
        unsafe { ptr.write(value) };
    }
}

/// The optional cancel token of a call.
pub(crate) unsafe fn cancel_arg<'a>(cancel: *const lcd_cancel) -> Option<&'a CancelToken> {
    // SAFETY: NULL or a live token from `lcd_cancel_new`.
    unsafe { cancel.as_ref() }.map(|c| &c.token)
}

/// A library-owned C string for the caller, freed with `lcd_string_free`.
pub(crate) fn owned_c_string(text: &str) -> *mut c_char {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default().into_raw()
}

/// Nanoseconds since the Unix epoch; 0 for "no time".
pub(crate) fn unix_nanos(time: Option<SystemTime>) -> i64 {
    time.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Frees a handle made by `Box::into_raw`; NULL does nothing.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    crate::boundary_infallible((), || {
        if !ptr.is_null() {
            // SAFETY: the pointer came from Box::into_raw in this library and is freed once.
            drop(unsafe { Box::from_raw(ptr) });
        }
    })
}

/// A process's FIFO paths as C strings, made once with its handle, which lends them out until
/// it is freed.
pub(crate) struct StdioCStrings([Option<CString>; 3]);

impl StdioCStrings {
    pub(crate) fn of(paths: &StdioPaths) -> Self {
        let c = |stream| paths.get(stream).and_then(|p| CString::new(p.as_os_str().as_bytes()).ok());
        StdioCStrings([c(Stdio::Stdin), c(Stdio::Stdout), c(Stdio::Stderr)])
    }

    /// The C string of one FIFO path, or NULL. `stream` comes from C as an integer, so a
    /// value that is no `lcd_stdio` gives NULL.
    pub(crate) fn get(&self, stream: i32) -> *const c_char {
        let index = match stream {
            x if x == lcd_stdio::LCD_STDIN as i32 => 0,
            x if x == lcd_stdio::LCD_STDOUT as i32 => 1,
            x if x == lcd_stdio::LCD_STDERR as i32 => 2,
            _ => return ptr::null(),
        };
        self.0[index].as_ref().map_or(ptr::null(), |p| p.as_ptr())
    }
}

/// A standard stream of a process.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lcd_stdio {
    LCD_STDIN = 0,
    LCD_STDOUT = 1,
    LCD_STDERR = 2,
}

/// A process state as containerd reports it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lcd_process_state {
    LCD_STATE_UNKNOWN = 0,
    LCD_STATE_CREATED = 1,
    LCD_STATE_RUNNING = 2,
    LCD_STATE_STOPPED = 3,
    LCD_STATE_PAUSED = 4,
    LCD_STATE_PAUSING = 5,
}

/// A task's state; `exit_code` and `exited_at_unix_nanos` are 0 until it stopped.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct lcd_task_status {
    pub state: lcd_process_state,
    pub exit_code: u32,
    pub exited_at_unix_nanos: i64,
}

pub(crate) fn state_of(state: ProcessState) -> lcd_process_state {
    match state {
        ProcessState::Unknown => lcd_process_state::LCD_STATE_UNKNOWN,
        ProcessState::Created => lcd_process_state::LCD_STATE_CREATED,
        ProcessState::Running => lcd_process_state::LCD_STATE_RUNNING,
        ProcessState::Stopped => lcd_process_state::LCD_STATE_STOPPED,
        ProcessState::Paused => lcd_process_state::LCD_STATE_PAUSED,
        ProcessState::Pausing => lcd_process_state::LCD_STATE_PAUSING,
    }
}

pub(crate) unsafe fn write_exit(exit: ExitStatus, exit_code: *mut u32, exited_at_unix_nanos: *mut i64) {
    unsafe {
        write_opt(exit_code, exit.code);
        write_opt(exited_at_unix_nanos, unix_nanos(exit.exited_at));
    }
}

/// Writes an exit the event stream reported, if any, to the optional out-parameters; whether
/// there was one.
pub(crate) unsafe fn write_known_exit(exit: Option<ExitStatus>, exit_code: *mut u32, exited_at_unix_nanos: *mut i64) -> bool {
    exit.map(|exit| unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) }).is_some()
}

/// The C form of a status.
pub(crate) fn status_record(status: ProcessStatus) -> lcd_task_status {
    lcd_task_status {
        state: state_of(status.state),
        exit_code: status.exit_code,
        exited_at_unix_nanos: unix_nanos(status.exited_at),
    }
}
