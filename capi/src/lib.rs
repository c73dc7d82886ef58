//! libcontainerd-capi: the C ABI over the safe core (`libcontainerd`). This crate only converts
//! arguments and results and delegates to the core; its conventions, which the header repeats:
//!
//! - every fallible function returns `lcd_status` and reports details through an optional
//!   `lcd_error **err` out-parameter (never a thread-local "last error");
//! - every exported function runs inside [`boundary`], so no panic crosses into C;
//! - inputs are `(pointer, length)` byte strings, copied when kept; NULL is allowed with
//!   length 0; outputs are written only on success; what the library allocates, it frees.
//!
//! Safety, the same for every exported function (so they carry no `# Safety` section each): a
//! handle argument is NULL or a live handle of its type from this library, not yet passed to
//! its free function; a `(pointer, length)` input is NULL with length 0 or `length` readable
//! bytes; an out-parameter is NULL where documented as optional, else writable and aligned; a
//! C string passed in is NUL-terminated. The functions check for NULL and report it; they cannot
//! check the rest.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use std::any::Any as PanicPayload;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::time::{Duration, SystemTime};

use libcontainerd::error::{Error, ErrorKind, Result};
use libcontainerd::runtime::CancelToken;

pub mod checkpoint;
pub mod client;
pub mod container;
pub mod events;
pub mod logging;
pub mod pending;
pub mod process;
pub mod stats;
pub mod task;

/// Version of the C ABI described by this header. The library reports its own through
/// `lcd_abi_version()`; a binding built against another version must refuse to run.
pub const LCD_ABI_VERSION: u32 = 1;

/// Result of every fallible call. `LCD_OK` is zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lcd_status {
    LCD_OK = 0,
    LCD_NOT_FOUND = 1,
    LCD_ALREADY_EXISTS = 2,
    LCD_INVALID_ARGUMENT = 3,
    LCD_FAILED_PRECONDITION = 4,
    LCD_UNAVAILABLE = 5,
    LCD_DEADLINE_EXCEEDED = 6,
    LCD_CANCELLED = 7,
    LCD_UNIMPLEMENTED = 8,
    LCD_INTERNAL = 9,
    LCD_UNKNOWN = 10,
}

/// The one mapping from the library's error classes to C status codes.
pub(crate) fn status_of(kind: ErrorKind) -> lcd_status {
    match kind {
        ErrorKind::NotFound => lcd_status::LCD_NOT_FOUND,
        ErrorKind::AlreadyExists => lcd_status::LCD_ALREADY_EXISTS,
        ErrorKind::InvalidArgument => lcd_status::LCD_INVALID_ARGUMENT,
        ErrorKind::FailedPrecondition => lcd_status::LCD_FAILED_PRECONDITION,
        ErrorKind::Unavailable => lcd_status::LCD_UNAVAILABLE,
        ErrorKind::DeadlineExceeded => lcd_status::LCD_DEADLINE_EXCEEDED,
        ErrorKind::Cancelled => lcd_status::LCD_CANCELLED,
        ErrorKind::Unimplemented => lcd_status::LCD_UNIMPLEMENTED,
        ErrorKind::Internal => lcd_status::LCD_INTERNAL,
        ErrorKind::Unknown => lcd_status::LCD_UNKNOWN,
    }
}

/// An error: status code, message and context. Created by the library, freed by
/// `lcd_error_free`.
pub struct lcd_error {
    status: lcd_status,
    message: CString,
    context: CString,
    server_message: Option<CString>,
}

/// A cancellation token for blocking calls, optionally with a deadline.
pub struct lcd_cancel {
    pub(crate) token: CancelToken,
}

/// Runs the body of an exported function: catches panics and turns errors into a status code,
/// writing the error object to `err` when the caller asked for it.
pub(crate) fn boundary(err: *mut *mut lcd_error, body: impl FnOnce() -> Result<()>) -> lcd_status {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return lcd_status::LCD_OK,
        Ok(Err(error)) => error,
        Err(payload) => Error::internal(format!("libcontainerd-ffi panicked: {}", panic_message(&*payload))),
    };
    let status = status_of(error.kind());
    if !err.is_null() {
        let message = CString::new(error.message().replace('\0', "\\0")).unwrap_or_default();
        let context = CString::new(error.context_text().replace('\0', "\\0")).unwrap_or_default();
        let server_message = error.server_message().map(|text| CString::new(text.replace('\0', "\\0")).unwrap_or_default());
        // SAFETY: the caller passed a writable `lcd_error **` (checked non-NULL).
        unsafe { *err = Box::into_raw(Box::new(lcd_error { status, message, context, server_message })) };
    }
    status
}

/// The boundary for functions that cannot fail (accessors, frees): a panic yields `fallback`.
pub(crate) fn boundary_infallible<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_message(payload: &dyn PanicPayload) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

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
    boundary_infallible((), || {
        if !ptr.is_null() {
            // SAFETY: the pointer came from Box::into_raw in this library and is freed once.
            drop(unsafe { Box::from_raw(ptr) });
        }
    })
}

/// The ABI version of this library; compare with `LCD_ABI_VERSION`.
///
/// Thread-safe; cannot fail.
#[unsafe(no_mangle)]
pub extern "C" fn lcd_abi_version() -> u32 {
    boundary_infallible(0, || LCD_ABI_VERSION)
}

/// The status code of an error. `LCD_INVALID_ARGUMENT` for a NULL error.
///
/// Thread-safe; the error is only read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_error_status(err: *const lcd_error) -> lcd_status {
    boundary_infallible(lcd_status::LCD_INTERNAL, || {
        // SAFETY: NULL or an error from this library.
        unsafe { err.as_ref() }.map(|e| e.status).unwrap_or(lcd_status::LCD_INVALID_ARGUMENT)
    })
}

/// The message of an error: what went wrong, without the library's context. For a failed
/// containerd call it is containerd's own text exactly as containerd's Go client presents it
/// (the server's message and its class suffix, e.g. `task x not found: not found`), so a
/// caller can build the text moby's client would show; for a cancelled call it is Go's
/// `context canceled` / `context deadline exceeded`. The string is owned by the error and
/// valid until `lcd_error_free`; "" for a NULL error.
///
/// Thread-safe; the error is only read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_error_message(err: *const lcd_error) -> *const c_char {
    boundary_infallible(c"".as_ptr(), || {
        // SAFETY: NULL or an error from this library.
        unsafe { err.as_ref() }.map(|e| e.message.as_ptr()).unwrap_or(c"".as_ptr())
    })
}

/// The context of an error: what the library was doing when it failed, outermost first (e.g.
/// `start process e1 of container c1`), kept apart from the message; "" when there is none
/// and for a NULL error. For a log line, print `context: message`. The string is owned by the
/// error and valid until `lcd_error_free`.
///
/// Thread-safe; the error is only read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_error_context(err: *const lcd_error) -> *const c_char {
    boundary_infallible(c"".as_ptr(), || {
        // SAFETY: NULL or an error from this library.
        unsafe { err.as_ref() }.map(|e| e.context.as_ptr()).unwrap_or(c"".as_ptr())
    })
}

/// The containerd server's own text of a failed containerd call, as its reply carried it (with
/// the prefixes the library adds where containerd's client wraps, e.g. `no running task found:
/// task x not found`): containerd 2's Go client presents this text without the class suffix
/// that `lcd_error_message` has when the server's text lacked it. NULL when the error did not
/// come from a containerd reply, and for a NULL error. The string is owned by the error and
/// valid until `lcd_error_free`.
///
/// Thread-safe; the error is only read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_error_server_message(err: *const lcd_error) -> *const c_char {
    boundary_infallible(ptr::null(), || {
        // SAFETY: NULL or an error from this library.
        unsafe { err.as_ref() }.and_then(|e| e.server_message.as_ref()).map_or(ptr::null(), |text| text.as_ptr())
    })
}

/// Frees an error. NULL does nothing. Do not use the error afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_error_free(err: *mut lcd_error) {
    unsafe { free_handle(err) }
}

/// Frees a string the library returned. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_string_free(s: *mut c_char) {
    boundary_infallible((), || {
        if !s.is_null() {
            // SAFETY: the string came from CString::into_raw in this library.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// Makes a cancellation token. Pass it to blocking calls; `lcd_cancel_fire` from any thread
/// makes them return `LCD_CANCELLED` promptly. With `timeout_ms` > 0 the token also carries a
/// deadline that many milliseconds from now, after which calls return `LCD_DEADLINE_EXCEEDED`.
///
/// Ownership: the caller owns the token and frees it with `lcd_cancel_free` once no call uses
/// it. Thread-safe. Never returns NULL.
#[unsafe(no_mangle)]
pub extern "C" fn lcd_cancel_new(timeout_ms: u64) -> *mut lcd_cancel {
    boundary_infallible(ptr::null_mut(), || {
        let token = if timeout_ms == 0 {
            CancelToken::new()
        } else {
            CancelToken::with_timeout(Duration::from_millis(timeout_ms))
        };
        Box::into_raw(Box::new(lcd_cancel { token }))
    })
}

/// Cancels every call running with this token and every later call given it. NULL does
/// nothing. Thread-safe: may be called while other threads use the token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_cancel_fire(cancel: *const lcd_cancel) {
    boundary_infallible((), || {
        if let Some(token) = unsafe { cancel_arg(cancel) } {
            token.cancel();
        }
    })
}

/// Frees a cancellation token. NULL does nothing. No call may still be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_cancel_free(cancel: *mut lcd_cancel) {
    unsafe { free_handle(cancel) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_with_its_message() {
        let mut err: *mut lcd_error = ptr::null_mut();
        let status = boundary(&mut err, || panic!("boom"));
        assert_eq!(status, lcd_status::LCD_INTERNAL);
        let message = unsafe { std::ffi::CStr::from_ptr(lcd_error_message(err)) }.to_str().unwrap().to_owned();
        assert!(message.contains("boom"), "{message}");
        unsafe { lcd_error_free(err) };
    }

    #[test]
    fn errors_are_only_written_when_asked_for() {
        let status = boundary(ptr::null_mut(), || Err(Error::not_found("x")));
        assert_eq!(status, lcd_status::LCD_NOT_FOUND);
    }

    #[test]
    fn null_with_length_is_invalid_but_empty_null_is_fine() {
        assert!(unsafe { bytes_arg("x", ptr::null(), 0) }.unwrap().is_empty());
        assert_eq!(unsafe { bytes_arg("x", ptr::null(), 3) }.unwrap_err().kind(), ErrorKind::InvalidArgument);
        let bad = [0xffu8, 0xfe];
        assert_eq!(unsafe { str_arg("x", bad.as_ptr(), 2) }.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }

    /// Every `extern "C"` function in the C ABI modules runs inside the panic boundary.
    #[test]
    fn every_export_goes_through_the_boundary() {
        let mut files = vec![];
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() { dirs.push(path) } else { files.push(path) }
            }
        }
        let mut checked = 0;
        for path in files {
            let source = std::fs::read_to_string(&path).unwrap();
            for (i, chunk) in source.split("extern \"C\" fn ").enumerate().skip(1) {
                let body_start = chunk.find('{').unwrap();
                let body: String = chunk[body_start + 1..].trim_start().chars().take(120).collect();
                // pending::start and finish_into run the whole body inside boundary().
                let ok = ["boundary(", "boundary_infallible(", "unsafe { free_handle(", "pending::start(", "finish_into("]
                    .iter()
                    .any(|p| body.starts_with(p));
                assert!(ok, "{}: export #{i} does not start with the boundary: {}", path.display(), &chunk[..body_start]);
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} exports found");
    }
}
