//! C ABI of a task's process list (`lcd_task_pids`' result).

use std::ffi::{c_char, CString};

use crate::task::lcd_task;
use crate::*;
use libcontainerd::runtime::block_on;
use libcontainerd::task::ProcessInfo;

/// A process's info payload: its protobuf type URL and bytes.
type ProcessInfoPayload = (CString, Vec<u8>);

/// The processes of a task as containerd lists them.
pub struct lcd_pids {
    processes: Vec<(u32, Option<ProcessInfoPayload>)>,
}

impl lcd_pids {
    pub(crate) fn boxed(pids: Vec<ProcessInfo>) -> *mut lcd_pids {
        let processes = pids
            .into_iter()
            .map(|p| (p.pid, p.info.map(|any| (CString::new(any.type_url).unwrap_or_default(), any.value))))
            .collect();
        Box::into_raw(Box::new(lcd_pids { processes }))
    }
}

/// Lists the task's processes (one RPC): host pids, each with the info payload containerd sent
/// (for runc a `containerd.runc.v1.ProcessDetails` protobuf naming the exec id).
///
/// Ownership: on success `*out` receives a list the caller frees with `lcd_pids_free`.
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task is gone; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_pids(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pids,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let task = unsafe { handle_arg("task", task)? };
        let pids = block_on(unsafe { cancel_arg(cancel) }, task.task.pids())?;
        unsafe { out.write(lcd_pids::boxed(pids)) };
        Ok(())
    })
}

/// The number of processes in the list; 0 for NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pids_count(pids: *const lcd_pids) -> usize {
    boundary_infallible(0, || unsafe { pids.as_ref() }.map(|p| p.processes.len()).unwrap_or(0))
}

/// The host pid of process `index`; 0 for NULL or an index out of range. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pids_pid(pids: *const lcd_pids, index: usize) -> u32 {
    boundary_infallible(0, || {
        unsafe { pids.as_ref() }.and_then(|p| p.processes.get(index)).map(|(pid, _)| *pid).unwrap_or(0)
    })
}

/// The info payload of process `index`: writes its type URL and bytes (owned by the list,
/// valid until `lcd_pids_free`) and returns true; false when there is none (NULL list, index
/// out of range, no payload). Any out-parameter may be NULL. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pids_info(
    pids: *const lcd_pids,
    index: usize,
    type_url: *mut *const c_char,
    data: *mut *const u8,
    data_len: *mut usize,
) -> bool {
    boundary_infallible(false, || {
        let Some((_, Some((url, bytes)))) = (unsafe { pids.as_ref() }).and_then(|p| p.processes.get(index)) else {
            return false;
        };
        unsafe {
            write_opt(type_url, url.as_ptr());
            write_opt(data, bytes.as_ptr());
            write_opt(data_len, bytes.len());
        }
        true
    })
}

/// Frees a process list. NULL does nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pids_free(pids: *mut lcd_pids) {
    unsafe { free_handle(pids) }
}
