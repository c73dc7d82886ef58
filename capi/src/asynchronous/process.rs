//! The `_async` twins of the exec'd-process calls (and of `lcd_task_exec`, which adds one).

use super::pending::{self, lcd_pending, Outcome};
use crate::process::{exec_args, lcd_process};
use crate::task::lcd_task;
use crate::*;

/// `lcd_task_exec` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_process` gives what `lcd_task_exec` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter or a string that is not UTF-8 (the rest is checked when the call runs).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_exec_async(
    task: *const lcd_task,
    exec_id: *const u8,
    exec_id_len: usize,
    spec_json: *const u8,
    spec_json_len: usize,
    with_stdin: bool,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let (task, exec_id, spec_json) = unsafe { exec_args(task, exec_id, exec_id_len, spec_json, spec_json_len)? };
        let (task, exec_id, spec_json) = (task.task.clone(), exec_id.to_owned(), spec_json.to_vec());
        Ok(async move { task.exec(&exec_id, &spec_json, with_stdin).await.map(Outcome::Process) })
    })
}

/// `lcd_process_start` without waiting: `*out` receives a pending call; when
/// `lcd_pending_fd` is readable, `lcd_pending_finish` gives what `lcd_process_start` would
/// return.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_start_async(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let process = unsafe { handle_arg("process", process)? }.process.clone();
        Ok(async move { process.start().await.map(|()| Outcome::Done) })
    })
}

/// `lcd_process_kill` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_process_kill` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_kill_async(
    process: *const lcd_process,
    signal: u32,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let process = unsafe { handle_arg("process", process)? }.process.clone();
        Ok(async move { process.kill(signal).await.map(|()| Outcome::Done) })
    })
}

/// `lcd_process_close_stdin` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_process_close_stdin` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_close_stdin_async(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let process = unsafe { handle_arg("process", process)? }.process.clone();
        Ok(async move { process.close_stdin().await.map(|()| Outcome::Done) })
    })
}

/// `lcd_process_get_status` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_status` gives what `lcd_process_get_status` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_get_status_async(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let process = unsafe { handle_arg("process", process)? }.process.clone();
        Ok(async move { process.status().await.map(Outcome::Status) })
    })
}

/// `lcd_process_wait` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_exit` gives what `lcd_process_wait` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_wait_async(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let process = unsafe { handle_arg("process", process)? }.process.clone();
        Ok(async move { process.wait().await.map(Outcome::Exit) })
    })
}

/// `lcd_process_delete` without waiting: `*out` receives a pending call; when
/// `lcd_pending_fd` is readable, `lcd_pending_finish_exit` gives what `lcd_process_delete`
/// would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_process_delete_async(
    process: *const lcd_process,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let process = unsafe { handle_arg("process", process)? }.process.clone();
        Ok(async move { process.delete().await.map(Outcome::Exit) })
    })
}
