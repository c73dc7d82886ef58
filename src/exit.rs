//! How a process ended, and the timestamps containerd reports (exits, stats samples).
//!
//! Shared by the event stream (exits it reports), the process handles (their status and
//! waits) and stats (when a sample was read); it imports nothing of the library.

use std::time::{Duration, SystemTime};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: u32,
    pub exited_at: Option<SystemTime>,
}

/// A containerd timestamp as a time; `None` for none and for containerd's zero time.
pub fn system_time(ts: Option<&prost_types::Timestamp>) -> Option<SystemTime> {
    let ts = ts?;
    if ts.seconds <= 0 && ts.nanos <= 0 {
        return None; // containerd's zero time: the process has not exited
    }
    let since_epoch = Duration::new(ts.seconds.max(0) as u64, ts.nanos.clamp(0, 999_999_999) as u32);
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}
