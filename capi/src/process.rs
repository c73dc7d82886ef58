//! C ABI of exec'd processes.

use std::ffi::{c_char, CString};

use super::task::lcd_task;
use super::*;
use libcontainerd::process::Process;
use libcontainerd::runtime::block_on;

/// A process exec'd in a task.
pub struct lcd_process {
    pub(crate) process: Process,
    /// The exec id as a C string, lent out by `lcd_process_id`.
    id: CString,
    stdio: StdioCStrings,
}

impl lcd_process {
    pub(crate) fn boxed(process: Process) -> *mut lcd_process {
        let id = CString::new(process.id()).unwrap_or_default();
        let stdio = StdioCStrings::of(process.stdio());
        Box::into_raw(Box::new(lcd_process { process, id, stdio }))
    }
}

/// The arguments of every exec call: the task, the exec id and the process spec JSON.
pub(crate) unsafe fn exec_args<'a>(
    task: *const lcd_task,
    exec_id: *const u8,
    exec_id_len: usize,
    spec_json: *const u8,
    spec_json_len: usize,
) -> Result<(&'a lcd_task, &'a str, &'a [u8])> {
    unsafe {
        Ok((
            handle_arg("task", task)?,
            str_arg("exec id", exec_id, exec_id_len)?,
            bytes_arg("process spec JSON", spec_json, spec_json_len)?,
        ))
    }
}

/// Adds a process to the task without starting it: validates `exec_id` (containerd identifier
/// rules), makes its FIFO set in the bundle directory (`<exec_id>-stdout` always,
/// `<exec_id>-stdin` only when `with_stdin`, `<exec_id>-stderr` only when the process spec
/// asks for no terminal), then one RPC (Tasks.Exec) with the runtime-spec `Process` JSON
/// `spec_json` sent as it is. Open the FIFOs (`lcd_process_stdio_path`), then call
/// `lcd_process_start`.
///
/// Ownership: on success `*out` receives a process the caller frees with `lcd_process_free`.
/// Thread-safe.
/// Errors: `LCD_INVALID_ARGUMENT` (bad exec id, spec that is not JSON, NULL pointers);
/// `LCD_ALREADY_EXISTS` ("id already in use") for an exec id in use; `LCD_NOT_FOUND` when the
/// task is gone; containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`. On failure
/// the FIFOs are removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_exec(
    task: *const lcd_task,
    exec_id: *const u8,
    exec_id_len: usize,
    spec_json: *const u8,
    spec_json_len: usize,
    with_stdin: bool,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_process,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let (task, exec_id, spec_json) = unsafe { exec_args(task, exec_id, exec_id_len, spec_json, spec_json_len)? };
        let process = block_on(unsafe { cancel_arg(cancel) }, task.task.exec(exec_id, spec_json, with_stdin))?;
        unsafe { out.write(lcd_process::boxed(process)) };
        Ok(())
    })
}

/// Prepares a process of the task without asking containerd for anything: checks `exec_id`
/// and `spec_json` and makes the FIFO set as `lcd_task_exec` does, and `lcd_process_start` then
/// adds and starts the process in one call (Tasks.Exec, Tasks.Start). For a caller that opens
/// the FIFOs before the process exists, this saves a round trip. Until the start has added it,
/// the calls that address containerd's process (kill, status, delete, resize) fail with
/// `LCD_FAILED_PRECONDITION` without an RPC; `lcd_process_close_stdin` is held until the start.
///
/// Ownership: on success `*out` receives a process the caller frees with `lcd_process_free`;
/// freeing one that was never added removes its FIFOs. Thread-safe; no RPC.
/// Errors: `LCD_INVALID_ARGUMENT` (bad exec id, spec that is not JSON, NULL pointers);
/// `LCD_ALREADY_EXISTS` ("id already in use") when the exec id's FIFOs exist;
/// `LCD_FAILED_PRECONDITION` for a prepared task not created yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_prepare_exec(
    task: *const lcd_task,
    exec_id: *const u8,
    exec_id_len: usize,
    spec_json: *const u8,
    spec_json_len: usize,
    with_stdin: bool,
    out: *mut *mut lcd_process,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let (task, exec_id, spec_json) = unsafe { exec_args(task, exec_id, exec_id_len, spec_json, spec_json_len)? };
        let process = task.task.prepare_exec(exec_id, spec_json, with_stdin)?;
        unsafe { out.write(lcd_process::boxed(process)) };
        Ok(())
    })
}

/// Starts an exec'd process (one RPC); a process from `lcd_task_prepare_exec` is added first
/// (Tasks.Exec, then Tasks.Start). Exec starts within one container are serialized
/// (containerd#8557). A stdin close requested before the start is sent right after it.
///
/// Idempotent for the caller: once a start through this handle succeeded, starting it again
/// returns `LCD_OK` and sends nothing; concurrent starts through one handle take turns (each
/// returns what the first one's outcome makes true). A failed start never kills, deletes or
/// unlinks the FIFOs of a process that runs: if the start fails, the process is deleted and
/// its FIFOs removed only when this handle added it and containerd reports it never ran, and
/// the start error (containerd's text) is returned. If the Tasks.Exec fails, its error is
/// returned as `lcd_task_exec` gives it and the FIFO files this handle made are removed. When
/// containerd cannot be reached for that cleanup (it went away during the call), the cleanup
/// is remembered and done, by the same rules and at most once, when the client's event stream
/// is back (logged both times).
///
/// When `cancel` fires or its deadline passes, the call returns `LCD_CANCELLED` /
/// `LCD_DEADLINE_EXCEEDED` at once, and the start goes on in the library to its end (the
/// library keeps the FIFOs' read ends open meanwhile, so the shim does not wait on them): if it
/// added the process in this call, the process is then killed and deleted and its FIFOs removed
/// (within about 10 s), and the handle refuses later calls; if the process was added before
/// (`lcd_task_exec`) and starts, it stays running and a retried start returns `LCD_OK`.
///
/// Thread-safe. Errors: containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_start(process: *const lcd_process, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let process = unsafe { handle_arg("process", process)? };
        block_on(unsafe { cancel_arg(cancel) }, process.process.start())
    })
}

/// `lcd_task_exited` for an exec: whether its exit has been reported, and how it exited.
/// false for NULL. Thread-safe; no RPC, no wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_exited(process: *const lcd_process, exit_code: *mut u32, exited_at_unix_nanos: *mut i64) -> bool {
    boundary_infallible(false, || unsafe {
        write_known_exit(process.as_ref().and_then(|p| p.process.exited()), exit_code, exited_at_unix_nanos)
    })
}

/// The exec id. Owned by the handle, valid until `lcd_process_free`; "" for NULL.
/// Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_id(process: *const lcd_process) -> *const c_char {
    boundary_infallible(c"".as_ptr(), || match unsafe { process.as_ref() } {
        Some(p) => p.id.as_ptr(),
        None => c"".as_ptr(),
    })
}

/// The path of one of the process's FIFOs (`stream` is an `lcd_stdio`), or NULL when it has
/// none (see `lcd_task_exec`) or for an unknown stream.
/// Owned by the handle, valid until `lcd_process_free`. Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_stdio_path(process: *const lcd_process, stream: i32) -> *const c_char {
    boundary_infallible(ptr::null(), || match unsafe { process.as_ref() } {
        Some(p) => p.stdio.get(stream),
        None => ptr::null(),
    })
}

/// The process's pid (0 before it started, or for NULL). Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_pid(process: *const lcd_process) -> u32 {
    boundary_infallible(0, || unsafe { process.as_ref() }.map(|p| p.process.pid()).unwrap_or(0))
}

/// Sends `signal` to the process (one RPC).
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the process is gone or has exited; containerd's
/// errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_kill(
    process: *const lcd_process,
    signal: u32,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let process = unsafe { handle_arg("process", process)? };
        block_on(unsafe { cancel_arg(cancel) }, process.process.kill(signal))
    })
}

/// Resizes the process's terminal (one RPC).
///
/// Thread-safe. Errors: containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_resize(
    process: *const lcd_process,
    width: u32,
    height: u32,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let process = unsafe { handle_arg("process", process)? };
        block_on(unsafe { cancel_arg(cancel) }, process.process.resize(width, height))
    })
}

/// Closes the process's stdin (one RPC, CloseIO): close your write end of the stdin FIFO
/// first. Asked before `lcd_process_start`, the close is sent right after the start.
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the process is gone; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_close_stdin(process: *const lcd_process, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let process = unsafe { handle_arg("process", process)? };
        block_on(unsafe { cancel_arg(cancel) }, process.process.close_stdin())
    })
}

/// The process's state, exit code and exit time (one RPC). `*out` is written on success.
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the process was deleted; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_get_status(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    out: *mut lcd_task_status,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let process = unsafe { handle_arg("process", process)? };
        let status = block_on(unsafe { cancel_arg(cancel) }, process.process.status())?;
        unsafe { out.write(status_record(status)) };
        Ok(())
    })
}

/// Blocks until the process exits; reports its exit code and time (either may be NULL). Uses
/// the event stream: no RPC. Bound it with a cancel token.
///
/// Thread-safe. Errors: `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED` from `cancel`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_wait(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    exit_code: *mut u32,
    exited_at_unix_nanos: *mut i64,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let process = unsafe { handle_arg("process", process)? };
        let exit = block_on(unsafe { cancel_arg(cancel) }, process.process.wait())?;
        unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) };
        Ok(())
    })
}

/// Deletes the exited process (one RPC) and removes its FIFOs; reports its exit code and time
/// (either may be NULL). The handle stays valid (free it with `lcd_process_free`).
///
/// Thread-safe. Errors: `LCD_FAILED_PRECONDITION` while it runs; `LCD_NOT_FOUND` when already
/// deleted; containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_delete(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    exit_code: *mut u32,
    exited_at_unix_nanos: *mut i64,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let process = unsafe { handle_arg("process", process)? };
        let exit = block_on(unsafe { cancel_arg(cancel) }, process.process.delete())?;
        unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) };
        Ok(())
    })
}

/// Frees a process handle. NULL does nothing. The containerd process is not touched; the FIFOs
/// of a prepared process that was never added are removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_free(process: *mut lcd_process) {
    unsafe { free_handle(process) }
}
