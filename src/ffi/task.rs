//! C ABI of tasks: create, start, stdio paths, pid, kill, status, wait, delete, free.

use std::ffi::c_char;

use super::container::lcd_container;
use super::*;
use crate::bundle::Stdio;
use crate::events::ExitStatus;
use crate::runtime::block_on;
use crate::task::{ProcessState, Task};

/// A container's task (its init process).
pub struct lcd_task {
    pub(crate) task: Task,
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

fn state_of(state: ProcessState) -> lcd_process_state {
    match state {
        ProcessState::Unknown => lcd_process_state::LCD_STATE_UNKNOWN,
        ProcessState::Created => lcd_process_state::LCD_STATE_CREATED,
        ProcessState::Running => lcd_process_state::LCD_STATE_RUNNING,
        ProcessState::Stopped => lcd_process_state::LCD_STATE_STOPPED,
        ProcessState::Paused => lcd_process_state::LCD_STATE_PAUSED,
        ProcessState::Pausing => lcd_process_state::LCD_STATE_PAUSING,
    }
}

unsafe fn write_exit(exit: ExitStatus, exit_code: *mut u32, exited_at_unix_nanos: *mut i64) {
    unsafe {
        write_opt(exit_code, exit.code);
        write_opt(exited_at_unix_nanos, unix_nanos(exit.exited_at));
    }
}

/// Creates the container's task without starting it: makes the FIFO set in the bundle
/// directory (`<id>-stdout` always, `<id>-stdin` only when `with_stdin`, `<id>-stderr` only
/// when the spec asks for no terminal), then one RPC (Tasks.Create). Open the FIFOs (see
/// `lcd_task_stdio_path`) and then call `lcd_task_start`.
///
/// Ownership: on success `*out` receives a task the caller frees with `lcd_task_free`.
/// Thread-safe.
/// Errors: `LCD_INVALID_ARGUMENT` for NULL arguments; `LCD_ALREADY_EXISTS` when the container
/// already has a task; containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`. On
/// failure the FIFOs are removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_create(
    container: *const lcd_container,
    with_stdin: bool,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_task,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let container = unsafe { handle_arg("container", container)? };
        let task = block_on(unsafe { cancel_arg(cancel) }, Task::create(&container.container, with_stdin))?;
        unsafe { out.write(Box::into_raw(Box::new(lcd_task { task }))) };
        Ok(())
    })
}

/// Gets the container's existing task with no IO attached (one RPC), for example after the
/// host program restarted.
///
/// Ownership: on success `*out` receives a task the caller frees with `lcd_task_free`.
/// Thread-safe. Errors: `LCD_NOT_FOUND` ("no running task found") when the container has no
/// task; containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_task(
    container: *const lcd_container,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_task,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let container = unsafe { handle_arg("container", container)? };
        let task = block_on(unsafe { cancel_arg(cancel) }, Task::load(&container.container))?;
        unsafe { out.write(Box::into_raw(Box::new(lcd_task { task }))) };
        Ok(())
    })
}

/// The path of one of the task's FIFOs, or NULL when the task has no such FIFO (no stdin
/// asked for, stderr with a terminal, a task loaded without IO, or a NULL task). Owned by the
/// handle, valid until `lcd_task_free`. Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_stdio_path(task: *const lcd_task, stream: lcd_stdio) -> *const c_char {
    boundary_infallible(ptr::null(), || {
        let Some(task) = (unsafe { task.as_ref() }) else { return ptr::null() };
        let stream = match stream {
            lcd_stdio::LCD_STDIN => Stdio::Stdin,
            lcd_stdio::LCD_STDOUT => Stdio::Stdout,
            lcd_stdio::LCD_STDERR => Stdio::Stderr,
        };
        task.task.stdio().get(stream).map(|p| p.as_ptr()).unwrap_or(ptr::null())
    })
}

/// Whether the task has a terminal (from the spec's `process.terminal`). Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_terminal(task: *const lcd_task) -> bool {
    boundary_infallible(false, || unsafe { task.as_ref() }.is_some_and(|t| t.task.stdio().terminal))
}

/// Starts a created task (one RPC). If the start fails, the task is killed and deleted and its
/// FIFOs removed before the start error is returned (with containerd's text, e.g.
/// "executable file not found in $PATH").
///
/// Thread-safe. Errors: containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_start(task: *const lcd_task, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.start())
    })
}

/// The task's pid (from create, then from start). 0 for NULL. Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_pid(task: *const lcd_task) -> u32 {
    boundary_infallible(0, || unsafe { task.as_ref() }.map(|t| t.task.pid()).unwrap_or(0))
}

/// Sends `signal` to the task's init process (one RPC).
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task is gone or has exited ("process already
/// finished"); containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_kill(
    task: *const lcd_task,
    signal: u32,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.kill(signal))
    })
}

/// The task's state, exit code and exit time (one RPC). `*out` is written on success.
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task was deleted; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_get_status(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    out: *mut lcd_task_status,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let task = unsafe { handle_arg("task", task)? };
        let status = block_on(unsafe { cancel_arg(cancel) }, task.task.status())?;
        let status = lcd_task_status {
            state: state_of(status.state),
            exit_code: status.exit_code,
            exited_at_unix_nanos: unix_nanos(status.exited_at),
        };
        unsafe { out.write(status) };
        Ok(())
    })
}

/// Blocks until the task exits, and reports its exit code and exit time (nanoseconds since the
/// Unix epoch); either out-parameter may be NULL. Uses the client's event stream: no RPC.
/// Returns at once for a task that already exited. Use a cancel token to bound the wait.
///
/// Thread-safe: any number of threads may wait on one task.
/// Errors: `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED` from `cancel`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_wait(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    exit_code: *mut u32,
    exited_at_unix_nanos: *mut i64,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        let exit = block_on(unsafe { cancel_arg(cancel) }, task.task.wait())?;
        unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) };
        Ok(())
    })
}

/// Deletes the stopped task (one RPC), removes its FIFOs, and reports its exit code and exit
/// time; either out-parameter may be NULL.
///
/// The handle stays valid (free it with `lcd_task_free`). Thread-safe.
/// Errors: `LCD_FAILED_PRECONDITION` while the task still runs; `LCD_NOT_FOUND` when it was
/// already deleted; containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_delete(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    exit_code: *mut u32,
    exited_at_unix_nanos: *mut i64,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        let exit = block_on(unsafe { cancel_arg(cancel) }, task.task.delete())?;
        unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) };
        Ok(())
    })
}

/// Frees a task handle. NULL does nothing. The containerd task itself is not touched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_free(task: *mut lcd_task) {
    unsafe { free_handle(task) }
}
