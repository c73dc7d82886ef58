//! The finish functions that hand a finished call's value over as a C handle or record: each
//! boxes the core's value with its handle module's constructor (this folder imports the handle
//! modules; they never import it).

use super::pending::{finish_into, take, Outcome};
use crate::container::lcd_container;
use crate::convert::{lcd_task_status, status_record, write_exit};
use crate::pids::lcd_pids;
use crate::process::lcd_process;
use crate::stats::lcd_stats;
use crate::task::lcd_task;
use super::pending::lcd_pending;
use crate::*;

/// The container made by a finished `lcd_container_create_async` or `lcd_container_load_async`.
///
/// Ownership: on success `*out` receives a container the caller frees with
/// `lcd_container_free`. Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_container(
    pending: *const lcd_pending,
    out: *mut *mut lcd_container,
    err: *mut *mut lcd_error,
) -> lcd_status {
    finish_into(err, pending, out, "a container", |o| match o {
        Outcome::Container(container) => Ok(lcd_container::boxed(container)),
        other => Err(other),
    })
}

/// The task made by a finished `lcd_task_create_async`, or found by `lcd_container_task_async`.
///
/// Ownership: on success `*out` receives a task the caller frees with `lcd_task_free`.
/// Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_task(
    pending: *const lcd_pending,
    out: *mut *mut lcd_task,
    err: *mut *mut lcd_error,
) -> lcd_status {
    finish_into(err, pending, out, "a task", |o| match o {
        Outcome::Task(task) => Ok(lcd_task::boxed(task)),
        other => Err(other),
    })
}

/// The process added by a finished `lcd_task_exec_async`.
///
/// Ownership: on success `*out` receives a process the caller frees with `lcd_process_free`.
/// Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_process(
    pending: *const lcd_pending,
    out: *mut *mut lcd_process,
    err: *mut *mut lcd_error,
) -> lcd_status {
    finish_into(err, pending, out, "a process", |o| match o {
        Outcome::Process(process) => Ok(lcd_process::boxed(process)),
        other => Err(other),
    })
}

/// The status read by a finished `lcd_task_get_status_async` or `lcd_process_get_status_async`.
///
/// Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_status(
    pending: *const lcd_pending,
    out: *mut lcd_task_status,
    err: *mut *mut lcd_error,
) -> lcd_status {
    finish_into(err, pending, out, "a status", |o| match o {
        Outcome::Status(status) => Ok(status_record(status)),
        other => Err(other),
    })
}

/// The sample read by a finished `lcd_task_stats_async`.
///
/// Ownership: on success `*out` receives a sample the caller frees with `lcd_stats_free`.
/// Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_stats(
    pending: *const lcd_pending,
    out: *mut *mut lcd_stats,
    err: *mut *mut lcd_error,
) -> lcd_status {
    finish_into(err, pending, out, "a stats sample", |o| match o {
        Outcome::Stats(stats) => Ok(lcd_stats::boxed(stats)),
        other => Err(other),
    })
}

/// The process list read by a finished `lcd_task_pids_async`.
///
/// Ownership: on success `*out` receives a list the caller frees with `lcd_pids_free`.
/// Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_pids(
    pending: *const lcd_pending,
    out: *mut *mut lcd_pids,
    err: *mut *mut lcd_error,
) -> lcd_status {
    finish_into(err, pending, out, "a process list", |o| match o {
        Outcome::Pids(pids) => Ok(lcd_pids::boxed(pids)),
        other => Err(other),
    })
}

/// The exit reported by a finished `lcd_task_delete_async`, `lcd_task_force_delete_async`,
/// `lcd_task_wait_async`, `lcd_process_delete_async` or `lcd_process_wait_async` (either
/// out-parameter may be NULL), as the blocking call reports it.
///
/// Thread-safe; no RPC. Errors: as `lcd_pending_finish`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_pending_finish_exit(
    pending: *const lcd_pending,
    exit_code: *mut u32,
    exited_at_unix_nanos: *mut i64,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let exit = take(pending, "an exit", |o| match o {
            Outcome::Exit(exit) => Ok(exit),
            other => Err(other),
        })?;
        unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) };
        Ok(())
    })
}
