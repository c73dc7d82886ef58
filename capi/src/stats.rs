//! C ABI of task stats.

use std::ffi::{c_char, CString};

use super::task::lcd_task;
use super::*;
use libcontainerd::stats::{Stats, StatsFigures};
use libcontainerd::runtime::block_on;

/// One stats sample of a task.
pub struct lcd_stats {
    stats: Stats,
    type_url: CString,
}

impl lcd_stats {
    pub(crate) fn boxed(stats: Stats) -> *mut lcd_stats {
        let type_url = CString::new(stats.type_url.as_str()).unwrap_or_default();
        Box::into_raw(Box::new(lcd_stats { stats, type_url }))
    }
}

/// Key figures decoded from a stats sample (cgroup v1 or v2); zero where the payload has none.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct lcd_stats_figures {
    /// 1 or 2; 0 when the payload type is not known to the library.
    pub cgroup_version: u8,
    pub cpu_usage_ns: u64,
    pub memory_usage_bytes: u64,
    pub memory_limit_bytes: u64,
    pub pids_current: u64,
    pub pids_limit: u64,
}

impl From<StatsFigures> for lcd_stats_figures {
    fn from(f: StatsFigures) -> Self {
        lcd_stats_figures {
            cgroup_version: f.cgroup_version,
            cpu_usage_ns: f.cpu_usage_ns,
            memory_usage_bytes: f.memory_usage_bytes,
            memory_limit_bytes: f.memory_limit_bytes,
            pids_current: f.pids_current,
            pids_limit: f.pids_limit,
        }
    }
}

/// Reads the task's stats (one RPC; a second only when containerd has no sample, to tell a
/// missing task apart). A poller that asks for each of its tasks in turn, once a round (as
/// dockerd's stats collector does), gets from the second round on one request per round: the
/// first ask of a round also fetches the tasks of the client asked in an earlier round, and
/// their asks are answered from those samples, each once, while younger than 100 ms and when
/// no change (start, kill, pause, resume, update, delete) was made to the task through this
/// client since. `lcd_stats_read_unix_nanos` says when each sample was read.
///
/// Ownership: on success `*out` receives a sample the caller frees with `lcd_stats_free`.
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task is gone; `LCD_UNKNOWN` "no metrics
/// received" when containerd returns none; `LCD_INTERNAL` for a corrupt payload; containerd's
/// errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_stats(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_stats,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let task = unsafe { handle_arg("task", task)? };
        let stats = block_on(unsafe { cancel_arg(cancel) }, task.task.stats())?;
        unsafe { out.write(lcd_stats::boxed(stats)) };
        Ok(())
    })
}

/// The payload's type URL (`io.containerd.cgroups.v1.Metrics` or `...v2.Metrics`). Owned by
/// the sample, valid until `lcd_stats_free`; "" for NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_stats_type_url(stats: *const lcd_stats) -> *const c_char {
    boundary_infallible(c"".as_ptr(), || unsafe { stats.as_ref() }.map(|s| s.type_url.as_ptr()).unwrap_or(c"".as_ptr()))
}

/// The metrics payload exactly as containerd sent it (protobuf); its length goes to `*len`
/// (may be NULL). Owned by the sample, valid until `lcd_stats_free`; NULL for NULL.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_stats_payload(stats: *const lcd_stats, len: *mut usize) -> *const u8 {
    boundary_infallible(ptr::null(), || match unsafe { stats.as_ref() } {
        Some(s) => {
            unsafe { write_opt(len, s.stats.payload.len()) };
            s.stats.payload.as_ptr()
        }
        None => ptr::null(),
    })
}

/// When containerd read the sample, in nanoseconds since the Unix epoch; 0 when unknown or for
/// NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_stats_read_unix_nanos(stats: *const lcd_stats) -> i64 {
    boundary_infallible(0, || unsafe { stats.as_ref() }.map(|s| unix_nanos(s.stats.read)).unwrap_or(0))
}

/// The key figures of the sample; all zero for NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_stats_get_figures(stats: *const lcd_stats) -> lcd_stats_figures {
    boundary_infallible(lcd_stats_figures::default(), || {
        unsafe { stats.as_ref() }.map(|s| s.stats.figures.into()).unwrap_or_default()
    })
}

/// Frees a stats sample. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_stats_free(stats: *mut lcd_stats) {
    unsafe { free_handle(stats) }
}
