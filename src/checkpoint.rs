//! Checkpoint a task into a directory, and create a task from such a directory: the work
//! behind [`Task::create_checkpoint`] and [`Task::create_from_checkpoint`].
//!
//! The task is paused around the dump and resumed afterwards, as containerd's Go client does
//! (dockerd shows the task's Paused and Resumed events to its users as "pause" and "unpause").
//! Fewer RPCs than moby's client otherwise: no container re-fetch (the handle has the record),
//! no OCI index or image (the checkpoint's descriptors come back from Tasks.Checkpoint and the
//! CRIU tar is read directly), and one lease whose synchronous deletion removes every blob
//! written under it.

use std::path::Path;

use prost_types::Any;

use crate::container::Container;
use crate::content::{self, Lease, CRIU_CHECKPOINT_MEDIA_TYPE};
use crate::error::{Error, Result};
use crate::process::ProcessState;
use crate::task::Task;

/// The runc shim's checkpoint options (`containerd.runc.v1.CheckpointOptions`).
pub const RUNC_CHECKPOINT_OPTIONS_TYPE: &str = "containerd.runc.v1.CheckpointOptions";

/// [`Task::create_checkpoint`].
pub(crate) async fn create(task: &Task, dir: &Path, exit: bool) -> Result<()> {
    task.shared.require_created()?;
    content::check_target_dir(dir)?;
    let container = &task.shared.container;
    let containerd = &container.client.containerd;
    let paused_here = task.status().await?.state != ProcessState::Paused;
    if paused_here {
        task.pause().await?;
    }
    let result = dump_into(task, dir, exit).await;
    if paused_here && !(exit && result.is_ok()) {
        // containerd's client ignores a failed resume too: the dump's result is the answer.
        if let Err(e) = containerd.resume(&container.id).await {
            tracing::warn!(container = %container.id, error = %e, "failed to resume the task after its checkpoint");
        }
    }
    result
}

/// Tasks.Checkpoint under a lease, and the CRIU image read into `dir`.
async fn dump_into(task: &Task, dir: &Path, exit: bool) -> Result<()> {
    let container = &task.shared.container;
    let containerd = &container.client.containerd;
    let options = container.runc_options().map(|_| {
        let mut value = Vec::new();
        if exit {
            prost::encoding::bool::encode(1, &true, &mut value);
        }
        Any { type_url: RUNC_CHECKPOINT_OPTIONS_TYPE.to_owned(), value }
    });
    let lease = Lease::create(containerd, "checkpoint").await?;
    let result = async {
        let descriptors = containerd.checkpoint_task_leased(&container.id, options, lease.id()).await?;
        let image = descriptors.iter().find(|d| d.media_type == CRIU_CHECKPOINT_MEDIA_TYPE).ok_or_else(|| {
            Error::internal(format!("checkpoint of container {} produced no CRIU image", container.id))
        })?;
        content::download_tar_into_dir(containerd, &image.digest, dir).await
    }
    .await;
    let released = lease.release().await;
    result.and(released)
}

/// [`Task::create_from_checkpoint`].
pub(crate) async fn restore(container: &Container, with_stdin: bool, dir: &Path) -> Result<Task> {
    if !dir.is_absolute() {
        return Err(Error::invalid_argument(format!("checkpoint directory {} is not absolute", crate::identifiers::shorten(&dir.to_string_lossy()))));
    }
    let containerd = &container.shared.client.containerd;
    let lease = Lease::create(containerd, "restore").await?;
    let result = async {
        let image = content::upload_dir_as_tar(containerd, &lease, dir, CRIU_CHECKPOINT_MEDIA_TYPE).await?;
        Task::create_with(container, with_stdin, Some(image)).await
    }
    .await;
    let released = lease.release().await;
    match (result, released) {
        (Ok(task), Ok(())) => Ok(task),
        (Ok(task), Err(e)) => {
            tracing::warn!(container = %container.id(), error = %e, "failed to release the checkpoint lease");
            Ok(task)
        }
        (Err(e), _) => Err(e),
    }
}
