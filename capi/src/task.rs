//! C ABI of tasks: create, start, stdio paths, pid, kill, status, wait, delete, free.

use std::ffi::c_char;

use super::container::lcd_container;
use super::*;
use libcontainerd::runtime::block_on;
use libcontainerd::task::Task;

pub use super::convert::{lcd_process_state, lcd_stdio, lcd_task_status};

/// A container's task (its init process).
pub struct lcd_task {
    pub(crate) task: Task,
    stdio: StdioCStrings,
}

impl lcd_task {
    pub(crate) fn boxed(task: Task) -> *mut lcd_task {
        let stdio = StdioCStrings::of(task.stdio());
        Box::into_raw(Box::new(lcd_task { task, stdio }))
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
/// already has a task (or a live handle of this library holds its FIFOs); containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`. FIFO files already on disk (left by a task
/// deleted through a handle without IO) are reused, as moby does; a non-FIFO file at one of
/// the paths is `LCD_ALREADY_EXISTS`. On failure the FIFO files this call made are removed.
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
        unsafe { out.write(lcd_task::boxed(task)) };
        Ok(())
    })
}

/// Prepares the container's task without asking containerd for anything: makes the FIFO set
/// as `lcd_task_create` does, and `lcd_task_start` then creates and starts the task in one call
/// (Tasks.Create, Tasks.Start). For a caller that opens the FIFOs before the task exists, this
/// saves a round trip. Until the start has created it, `lcd_task_pid` is 0 and the calls that
/// address containerd's task (kill, status, delete, pause, ...) fail with
/// `LCD_FAILED_PRECONDITION` without an RPC; `lcd_task_close_stdin` is held until the create.
///
/// Ownership: on success `*out` receives a task the caller frees with `lcd_task_free`; freeing
/// a task that was never created removes its FIFOs. Thread-safe; no RPC.
/// Errors: `LCD_INVALID_ARGUMENT` for NULL arguments; `LCD_ALREADY_EXISTS` when the FIFOs
/// exist already (another task handle of the container has them); filesystem errors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_prepare(
    container: *const lcd_container,
    with_stdin: bool,
    out: *mut *mut lcd_task,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let container = unsafe { handle_arg("container", container)? };
        let task = Task::prepare(&container.container, with_stdin)?;
        unsafe { out.write(lcd_task::boxed(task)) };
        Ok(())
    })
}

/// Gets the container's existing task (one RPC), for example after the host program
/// restarted. With `attach` false the task has no IO; with `attach` true the handle takes over
/// the FIFOs containerd names for the task (`lcd_task_stdio_path` gives them; open them to
/// read its output again), and deleting the task removes them (never the bundle directory).
/// Through a handle without IO a delete leaves the FIFO files, and the container's next task
/// reuses them.
///
/// Ownership: on success `*out` receives a task the caller frees with `lcd_task_free`.
/// Thread-safe. Errors: `LCD_NOT_FOUND` ("no running task found") when the container has no
/// task; containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_task(
    container: *const lcd_container,
    attach: bool,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_task,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let container = unsafe { handle_arg("container", container)? };
        let task = block_on(unsafe { cancel_arg(cancel) }, Task::get(&container.container, attach))?;
        unsafe { out.write(lcd_task::boxed(task)) };
        Ok(())
    })
}

/// The path of one of the task's FIFOs (`stream` is an `lcd_stdio`), or NULL when the task has
/// no such FIFO (no stdin asked for, stderr with a terminal, a task loaded without IO, a NULL
/// task or an unknown stream). Owned by the
/// handle, valid until `lcd_task_free`. Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_stdio_path(task: *const lcd_task, stream: i32) -> *const c_char {
    boundary_infallible(ptr::null(), || match unsafe { task.as_ref() } {
        Some(task) => task.stdio.get(stream),
        None => ptr::null(),
    })
}

/// Whether the task has a terminal (from the spec's `process.terminal`). Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_terminal(task: *const lcd_task) -> bool {
    boundary_infallible(false, || unsafe { task.as_ref() }.is_some_and(|t| t.task.stdio().terminal))
}

/// Starts the task (one RPC, Tasks.Start); a task from `lcd_task_prepare` is created first
/// (Tasks.Create, then Tasks.Start). If the create fails, its error is returned as
/// `lcd_task_create` gives it, the FIFO files this handle made are removed and `lcd_task_pid`
/// stays 0 (which tells the two failures apart); starting that handle again gives the same
/// error class.
///
/// Idempotent for the caller: once a start through this handle succeeded, starting it again
/// returns `LCD_OK` and sends nothing; concurrent starts through one handle take turns (the
/// later ones return `LCD_OK` once the first succeeded). A failed start never kills or deletes
/// a task that runs: if the start fails, the task is killed and deleted and its FIFOs removed
/// only when this handle made it (`lcd_task_create`, `lcd_task_prepare`) and containerd reports
/// that it never ran (created, or stopped); the start error (containerd's text, e.g. "cannot
/// start a running process" through a handle from `lcd_container_task`) is returned. When
/// containerd cannot be reached for that cleanup (it went away during the call), the cleanup
/// is remembered and done, by the same rules and at most once, when the client's event stream
/// is back (logged both times).
///
/// When `cancel` fires or its deadline passes, the call returns `LCD_CANCELLED` /
/// `LCD_DEADLINE_EXCEEDED` at once, and the start goes on in the library to its end: a task
/// this call created (from `lcd_task_prepare`) is then killed and deleted and its FIFOs
/// removed (within about 10 s), and the handle refuses later calls; a task created before
/// (`lcd_task_create`) that containerd starts stays running, and a retried start returns
/// `LCD_OK`.
///
/// Thread-safe. Errors: containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_start(task: *const lcd_task, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.start())
    })
}

/// Whether the client's event stream has reported the task's exit; if so, writes its exit code
/// and time (either out-parameter may be NULL). Lets a caller skip a status RPC before
/// `lcd_task_delete`. false for NULL. Thread-safe; no RPC, no wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_exited(task: *const lcd_task, exit_code: *mut u32, exited_at_unix_nanos: *mut i64) -> bool {
    boundary_infallible(false, || unsafe {
        write_known_exit(task.as_ref().and_then(|t| t.task.exited()), exit_code, exited_at_unix_nanos)
    })
}

/// The task's pid (from create, then from start). 0 for NULL and for a prepared task that is
/// not created yet. Thread-safe; no RPC.
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
        unsafe { out.write(status_record(status)) };
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

/// Kills every process of the task with SIGKILL, waits for the exit (event stream), then
/// deletes the task and removes its FIFOs (two RPCs); reports the exit like `lcd_task_delete`.
/// A task that already exited is just deleted. Bound the wait with a cancel token.
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task is gone; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_force_delete(
    task: *const lcd_task,
    cancel: *const lcd_cancel,
    exit_code: *mut u32,
    exited_at_unix_nanos: *mut i64,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        let exit = block_on(unsafe { cancel_arg(cancel) }, task.task.force_delete())?;
        unsafe { write_exit(exit, exit_code, exited_at_unix_nanos) };
        Ok(())
    })
}

/// Freezes every process of the task (one RPC).
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task is gone; `LCD_FAILED_PRECONDITION` or
/// containerd's errors when it cannot be paused; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_pause(task: *const lcd_task, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.pause())
    })
}

/// Thaws a paused task (one RPC).
///
/// Thread-safe. Errors: as `lcd_task_pause`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_resume(task: *const lcd_task, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.resume())
    })
}

/// Resizes the task's terminal to `width` x `height` characters (one RPC).
///
/// Thread-safe. Errors: containerd's errors (e.g. for a task without a terminal);
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_resize(
    task: *const lcd_task,
    width: u32,
    height: u32,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.resize(width, height))
    })
}

/// Closes the init process's stdin (one RPC, CloseIO): close your write end of the stdin FIFO
/// first; the process then reads end-of-file.
///
/// Thread-safe. Errors: `LCD_NOT_FOUND` when the task is gone; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_close_stdin(task: *const lcd_task, cancel: *const lcd_cancel, err: *mut *mut lcd_error) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.close_stdin())
    })
}

/// Updates the task's resources from a runtime-spec `LinuxResources` JSON document (sent to
/// containerd as it is after a syntax check; one RPC).
///
/// Thread-safe. Errors: `LCD_INVALID_ARGUMENT` for JSON that does not parse; containerd's
/// errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_update_resources(
    task: *const lcd_task,
    resources_json: *const u8,
    resources_json_len: usize,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        let json = unsafe { bytes_arg("resources JSON", resources_json, resources_json_len)? };
        block_on(unsafe { cancel_arg(cancel) }, task.task.update_resources(json))
    })
}

/// Frees a task handle. NULL does nothing. The containerd task itself is not touched; the
/// FIFOs of a prepared task that was never created are removed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_free(task: *mut lcd_task) {
    unsafe { free_handle(task) }
}
