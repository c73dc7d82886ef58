//! The `_async` twins of the task calls (and of `lcd_container_task`, which finds a container's
//! task, and `lcd_task_stats`).

use super::pending::{self, lcd_pending, Outcome};
use crate::container::lcd_container;
use crate::task::lcd_task;
use crate::*;
use libcontainerd::task::Task;

/// `lcd_task_create` without waiting: `*out` receives a pending call; when `lcd_pending_fd`
/// is readable, `lcd_pending_finish_task` gives the task or the error `lcd_task_create` would
/// give.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_create_async(
    container: *const lcd_container,
    with_stdin: bool,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let container = unsafe { handle_arg("container", container)? }.container.clone();
        Ok(async move { Task::create(&container, with_stdin).await.map(Outcome::Task) })
    })
}

/// `lcd_container_task` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_task` gives what `lcd_container_task` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_task_async(
    container: *const lcd_container,
    attach: bool,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let container = unsafe { handle_arg("container", container)? }.container.clone();
        Ok(async move { Task::get(&container, attach).await.map(Outcome::Task) })
    })
}

/// `lcd_task_start` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_task_start` would return.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_start_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.start().await.map(|()| Outcome::Done) })
    })
}

/// `lcd_task_kill` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_task_kill` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_kill_async(
    task: *const lcd_task,
    signal: u32,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.kill(signal).await.map(|()| Outcome::Done) })
    })
}

/// `lcd_task_get_status` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_status` gives what `lcd_task_get_status` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_get_status_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.status().await.map(Outcome::Status) })
    })
}

/// `lcd_task_wait` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_exit` gives what `lcd_task_wait` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_wait_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.wait().await.map(Outcome::Exit) })
    })
}

/// `lcd_task_delete` without waiting: `*out` receives a pending call; when `lcd_pending_fd`
/// is readable, `lcd_pending_finish_exit` gives what `lcd_task_delete` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_delete_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.delete().await.map(Outcome::Exit) })
    })
}

/// `lcd_task_force_delete` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_exit` gives what `lcd_task_force_delete` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_force_delete_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.force_delete().await.map(Outcome::Exit) })
    })
}

/// `lcd_task_pause` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_task_pause` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_pause_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.pause().await.map(|()| Outcome::Done) })
    })
}

/// `lcd_task_resume` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_task_resume` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_resume_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.resume().await.map(|()| Outcome::Done) })
    })
}

/// `lcd_task_close_stdin` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_task_close_stdin` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_close_stdin_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.close_stdin().await.map(|()| Outcome::Done) })
    })
}

/// `lcd_task_update_resources` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish` gives what `lcd_task_update_resources` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter (the JSON is checked when the call runs).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_update_resources_async(
    task: *const lcd_task,
    resources_json: *const u8,
    resources_json_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        let json = unsafe { bytes_arg("resources JSON", resources_json, resources_json_len)? }.to_vec();
        Ok(async move { task.update_resources(&json).await.map(|()| Outcome::Done) })
    })
}

/// `lcd_task_pids` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_pids` gives what `lcd_task_pids` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_pids_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.pids().await.map(Outcome::Pids) })
    })
}

/// `lcd_task_stats` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_stats` gives what `lcd_task_stats` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_stats_async(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let task = unsafe { handle_arg("task", task)? }.task.clone();
        Ok(async move { task.stats().await.map(Outcome::Stats) })
    })
}
