//! C ABI of checkpoints.

use super::container::lcd_container;
use super::task::lcd_task;
use super::*;
use libcontainerd::bundle::path_from_bytes;
use libcontainerd::runtime::block_on;
use libcontainerd::task::Task;

/// Checkpoints the task with CRIU into the directory `dir` (absolute; absent or empty),
/// leaving the task running, or stopping it when `exit` (runc only). A task that is not paused
/// is paused for the dump and resumed after it (also after a failed dump), as containerd's Go
/// client does, so its Paused and Resumed events show; a paused task stays paused. Up to seven
/// RPCs; the checkpoint content is removed from containerd afterwards.
///
/// Thread-safe. Errors: `LCD_INVALID_ARGUMENT` for a relative or non-directory path;
/// `LCD_ALREADY_EXISTS` when `dir` is not empty; containerd's and CRIU's errors with their
/// text; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`. On failure nothing is written in `dir` and
/// nothing is left in containerd's content store.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_create_checkpoint(
    task: *const lcd_task,
    dir: *const u8,
    dir_len: usize,
    exit: bool,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let task = unsafe { handle_arg("task", task)? };
        let dir = path_from_bytes("checkpoint directory", unsafe { bytes_arg("checkpoint directory", dir, dir_len)? })?;
        block_on(unsafe { cancel_arg(cancel) }, task.task.create_checkpoint(&dir, exit))
    })
}

/// Creates the container's task restored from the checkpoint directory `dir`, with a FIFO set
/// like `lcd_task_create`; start it with `lcd_task_start`. The directory is streamed into
/// containerd's content store as a tar under a lease, which is removed afterwards whatever
/// happens. Four RPCs.
///
/// Ownership: on success `*out` receives a task the caller frees with `lcd_task_free`.
/// Thread-safe. Errors: `LCD_NOT_FOUND` for a missing directory; `LCD_INVALID_ARGUMENT` for a
/// relative path (refused before any RPC, as `lcd_task_create_checkpoint` does) or one that is
/// not a directory; containerd's and CRIU's errors; `LCD_CANCELLED` /
/// `LCD_DEADLINE_EXCEEDED`. On failure no task, FIFO, content or lease is left.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_task_create_from_checkpoint(
    container: *const lcd_container,
    with_stdin: bool,
    dir: *const u8,
    dir_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_task,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let container = unsafe { handle_arg("container", container)? };
        let dir = path_from_bytes("checkpoint directory", unsafe { bytes_arg("checkpoint directory", dir, dir_len)? })?;
        let task = block_on(unsafe { cancel_arg(cancel) }, Task::create_from_checkpoint(&container.container, with_stdin, &dir))?;
        unsafe { out.write(lcd_task::boxed(task)) };
        Ok(())
    })
}
