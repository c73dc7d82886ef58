//! C ABI of the log sink.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use tracing::Level;

use super::*;
use libcontainerd::logging::{self, LogRecord};

/// Severity of a log record.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lcd_log_level {
    LCD_LOG_ERROR = 1,
    LCD_LOG_WARN = 2,
    LCD_LOG_INFO = 3,
    LCD_LOG_DEBUG = 4,
    LCD_LOG_TRACE = 5,
}

/// One key-value field of a log record; the strings are valid only during the callback.
#[repr(C)]
pub struct lcd_log_field {
    pub key: *const c_char,
    pub value: *const c_char,
}

/// Receives log records. `target` names the library module, `message` the event, `fields` its
/// key-value pairs (`n_fields` of them). All strings are valid only during the call.
pub type lcd_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: lcd_log_level,
        target: *const c_char,
        message: *const c_char,
        fields: *const lcd_log_field,
        n_fields: usize,
    ),
>;

/// A level from C, where any integer can arrive: below ERROR counts as ERROR, above TRACE as
/// TRACE.
fn level_of(level: i32) -> Level {
    match level {
        i32::MIN..=1 => Level::ERROR,
        2 => Level::WARN,
        3 => Level::INFO,
        4 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

fn c_level(level: Level) -> lcd_log_level {
    match level {
        Level::ERROR => lcd_log_level::LCD_LOG_ERROR,
        Level::WARN => lcd_log_level::LCD_LOG_WARN,
        Level::INFO => lcd_log_level::LCD_LOG_INFO,
        Level::DEBUG => lcd_log_level::LCD_LOG_DEBUG,
        Level::TRACE => lcd_log_level::LCD_LOG_TRACE,
    }
}

fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// Sends the library's log records at `min_level` (an `lcd_log_level`) or more severe to
/// `callback`, with
/// `user_data` passed back as it is (Go passes a `cgo.Handle`). A NULL callback silences the
/// library again (the default). Replaces any earlier sink.
///
/// The callback may run on library threads (named `lcd-worker`) and on the threads calling
/// library functions, concurrently; no library lock is held while it runs, so it may call
/// non-blocking library functions (including this one). It must not block for long and must
/// not call blocking library functions (from a library thread they fail with `LCD_INTERNAL`).
///
/// Lifetime: once this function returns, the callback it replaced (or removed) is not running
/// on any thread and will never be called again, so its `user_data` may be freed; to give
/// that promise it waits for callbacks still running. Exception: called from inside a callback
/// (on the callback's own thread) it does not wait, since the callback would wait for itself;
/// the old callback is then not called again, but callbacks already running, that one and any
/// on other threads, finish on their own.
/// Thread-safe; cannot fail.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_set_log_sink(callback: lcd_log_fn, user_data: *mut c_void, min_level: i32) {
    boundary_infallible((), || {
        let Some(callback) = callback else {
            logging::set_sink(None, Level::ERROR);
            return;
        };
        let user_data = UserData(user_data);
        let sink = move |record: &LogRecord| {
            let target = c_text(&record.target);
            let message = c_text(&record.message);
            let owned: Vec<(CString, CString)> = record.fields.iter().map(|(k, v)| (c_text(k), c_text(v))).collect();
            let fields: Vec<lcd_log_field> =
                owned.iter().map(|(k, v)| lcd_log_field { key: k.as_ptr(), value: v.as_ptr() }).collect();
            let user_data = user_data;
            // SAFETY: the caller registered a valid function; the pointers live until it returns.
            unsafe {
                callback(user_data.0, c_level(record.level), target.as_ptr(), message.as_ptr(), fields.as_ptr(), fields.len())
            };
        };
        logging::set_sink(Some(Arc::new(sink)), level_of(min_level));
    })
}
