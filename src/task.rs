//! Tasks: a container's init process, started with its FIFO set in the bundle directory, and
//! the operations on the whole task (pause, resume, pids, update, exec, stats, checkpoint,
//! delete). Every method of [`Task`] is declared here; stats and checkpoints delegate to
//! [`crate::stats`] and [`crate::checkpoint`], which hold that work.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_client::services::v1::CreateTaskRequest;
use containerd_client::types::Descriptor;
use prost_types::Any;

use crate::bundle::{FifoSet, Stdio};
use crate::checkpoint;
use crate::container::Container;
use crate::error::{Error, ErrorKind, Result};
use crate::exit::ExitStatus;
use crate::process::{Creation, PreparedRequest, Process, ProcessShared, ProcessState, ProcessStatus, StdioPaths};
use crate::stats::{self, Stats};

/// The task's init process is a [`ProcessShared`] with an empty exec id.
pub(crate) type TaskShared = ProcessShared;

/// The type URL of a runtime-spec `LinuxResources` carried in an `Any`.
pub const RESOURCES_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

/// One process of a task as `ListPids` reports it: its host pid and, for runc, a
/// `containerd.runc.v1.ProcessDetails` payload naming the exec id.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub info: Option<Any>,
}

/// A container's task (its init process).
#[derive(Debug, Clone)]
pub struct Task {
    pub(crate) shared: Arc<TaskShared>,
}

impl Task {
    /// Makes the task's FIFO set in the bundle directory (stdin only when `with_stdin`, no
    /// stderr with a terminal) and creates the task in containerd. The task is not started yet:
    /// the caller opens the FIFOs, then calls [`Task::start`]. One RPC (Tasks.Create); no
    /// container re-fetch, the handle has what the request needs. On failure the FIFOs are
    /// removed.
    pub async fn create(container: &Container, with_stdin: bool) -> Result<Task> {
        Task::create_with(container, with_stdin, None).await
    }

    /// [`Task::create`], optionally restoring from a checkpoint already in the content store.
    pub(crate) async fn create_with(container: &Container, with_stdin: bool, checkpoint: Option<Descriptor>) -> Result<Task> {
        let task = Task::prepare_with(container, with_stdin, checkpoint)?;
        task.shared.create_if_prepared().await?;
        Ok(task)
    }

    /// Makes the task's FIFO set, as [`Task::create`] does, without asking containerd for
    /// anything: [`Task::start`] then creates and starts the task in one call (two RPCs). For
    /// callers that open the FIFOs before the task exists (moby's order), this saves them a
    /// round trip. The FIFOs are removed if the create fails or the handle is dropped before it.
    pub fn prepare(container: &Container, with_stdin: bool) -> Result<Task> {
        Task::prepare_with(container, with_stdin, None)
    }

    fn prepare_with(container: &Container, with_stdin: bool, checkpoint: Option<Descriptor>) -> Result<Task> {
        let shared = &container.shared;
        let terminal = shared.spec.terminal;
        let fifos = FifoSet::create(&shared.bundle, &shared.id, with_stdin, terminal)?;
        // Registered before the task exists, so its exit event cannot slip past.
        let exit = shared.client.events.exit_slot(&shared.id, &shared.id, true);
        let request = CreateTaskRequest {
            container_id: shared.id.clone(),
            stdin: fifos.request_path(Stdio::Stdin),
            stdout: fifos.request_path(Stdio::Stdout),
            stderr: fifos.request_path(Stdio::Stderr),
            terminal,
            options: shared.task_options(),
            checkpoint,
            ..Default::default()
        };
        let stdio = StdioPaths::of(&fifos, terminal);
        let creation = Creation::Prepared(Box::new(PreparedRequest::Task(request)));
        Ok(Task { shared: Arc::new(ProcessShared::new(shared.clone(), "", 0, Some(fifos), stdio, exit, creation)) })
    }

    /// The existing task of a container, with no IO attached. One RPC (Tasks.Get), whose
    /// answer also settles the exit of a task that already stopped.
    pub async fn load(container: &Container) -> Result<Task> {
        Task::get(container, false).await
    }

    /// The existing task of a container, re-attached to the FIFOs containerd has for it (after
    /// the host program restarted). One RPC (Tasks.Get). Deleting the task removes those FIFOs.
    pub async fn attach(container: &Container) -> Result<Task> {
        Task::get(container, true).await
    }

    /// [`Task::load`] or, with `attach`, [`Task::attach`].
    pub async fn get(container: &Container, attach: bool) -> Result<Task> {
        let shared = &container.shared;
        let record = shared.client.containerd.get_process(&shared.id, "").await.map_err(|e| match e.kind() {
            // containerd's client says it this way; the library's context stays apart.
            ErrorKind::NotFound => e.with_message_prefix("no running task found"),
            _ => e,
        })?;
        shared.task_presence.may_exist();
        let exit = shared.client.events.exit_slot(&shared.id, &shared.id, false);
        let status = ProcessStatus::from_record(&record);
        if status.state == ProcessState::Stopped {
            exit.settle(ExitStatus { code: status.exit_code, exited_at: status.exited_at });
        }
        let (fifos, stdio) = if attach {
            let paths = [&record.stdin, &record.stdout, &record.stderr]
                .map(|p| (!p.is_empty()).then(|| PathBuf::from(p)));
            let [stdin, stdout, stderr] = paths;
            let fifos = FifoSet::adopt(stdin, stdout, stderr);
            let stdio = fifos.as_ref().map(|f| StdioPaths::of(f, record.terminal));
            (fifos, stdio.unwrap_or_default())
        } else {
            (None, StdioPaths { terminal: record.terminal, ..StdioPaths::default() })
        };
        Ok(Task { shared: Arc::new(ProcessShared::new(shared.clone(), "", record.pid, fifos, stdio, exit, Creation::Created)) })
    }

    /// Starts the task. One RPC (Tasks.Start), after Tasks.Create for a task made by
    /// [`Task::prepare`]. A second start through this handle is OK once one succeeded (also
    /// after a start cut short by the caller whose task containerd did start). When the start
    /// fails, a task this handle made and that never ran is killed and deleted and its FIFOs
    /// removed (errors of that cleanup are logged), and the start error is returned; a running
    /// task is never touched. A failed create returns its error as [`Task::create`] does. A
    /// start cut short by the caller still ends; a task it created is then killed and deleted.
    pub async fn start(&self) -> Result<()> {
        self.changing(self.shared.start()).await
    }

    /// Kills every process of the task, waits for its exit, then deletes it (moby's
    /// ForceDelete). Two RPCs (Tasks.Kill with all, Tasks.Delete); the wait uses the event
    /// stream. Bound it with a cancel token.
    pub async fn force_delete(&self) -> Result<ExitStatus> {
        self.shared.require_created()?;
        self.changing(self.shared.kill_and_delete()).await
    }

    /// Runs `change` to the task; a stats sample fetched ahead before it ends is not served
    /// afterwards (see `StatsRounds`), whether the change succeeded or not.
    async fn changing<T>(&self, change: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let outcome = change.await;
        self.shared.container.client.stats_rounds.changed(&self.shared.container.id);
        outcome
    }

    pub fn container_id(&self) -> &str {
        &self.shared.container.id
    }

    /// The task's pid: from create, replaced by start's; no RPC.
    pub fn pid(&self) -> u32 {
        self.shared.pid()
    }

    /// The FIFO paths of this handle (none for a loaded task).
    pub fn stdio(&self) -> &StdioPaths {
        &self.shared.stdio
    }

    /// Sends `signal` to the task's init process. One RPC (Tasks.Kill).
    pub async fn kill(&self, signal: u32) -> Result<()> {
        self.changing(self.shared.kill(signal)).await
    }

    /// The task's state. One RPC (Tasks.Get).
    pub async fn status(&self) -> Result<ProcessStatus> {
        self.shared.status().await
    }

    /// Waits for the task to exit, through the client's event stream: no RPC.
    pub async fn wait(&self) -> Result<ExitStatus> {
        self.shared.exit.wait().await
    }

    /// The task's exit if the event stream has reported it: no RPC, no wait.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.shared.exit.get()
    }

    /// Resizes the task's terminal. One RPC (Tasks.ResizePty).
    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        self.shared.resize(width, height).await
    }

    /// Closes the init process's stdin. One RPC (Tasks.CloseIO).
    pub async fn close_stdin(&self) -> Result<()> {
        self.shared.close_stdin().await
    }

    /// Freezes every process of the task. One RPC (Tasks.Pause).
    pub async fn pause(&self) -> Result<()> {
        self.shared.require_created()?;
        self.changing(self.shared.container.client.containerd.pause(&self.shared.container.id)).await
    }

    /// Thaws the task. One RPC (Tasks.Resume).
    pub async fn resume(&self) -> Result<()> {
        self.shared.require_created()?;
        self.changing(self.shared.container.client.containerd.resume(&self.shared.container.id)).await
    }

    /// The task's processes with their info payloads, exactly as containerd sent them. One RPC
    /// (Tasks.ListPids).
    pub async fn pids(&self) -> Result<Vec<ProcessInfo>> {
        self.shared.require_created()?;
        let processes = self.shared.container.client.containerd.list_pids(&self.shared.container.id).await?;
        Ok(processes.into_iter().map(|p| ProcessInfo { pid: p.pid, info: p.info }).collect())
    }

    /// Updates the task's resources from a runtime-spec `LinuxResources` JSON document, sent
    /// as it is after a syntax check. One RPC (Tasks.Update).
    pub async fn update_resources(&self, resources_json: &[u8]) -> Result<()> {
        self.shared.require_created()?;
        check_resources_json(resources_json)?;
        let resources = Any { type_url: RESOURCES_TYPE_URL.to_owned(), value: resources_json.to_vec() };
        self.changing(self.shared.container.client.containerd.update_task(&self.shared.container.id, resources)).await
    }

    /// Adds a process to the task from a runtime-spec `Process` JSON document (sent as it is),
    /// with its FIFO set named after `exec_id`. One RPC (Tasks.Exec); start it with
    /// [`Process::start`]. A used exec id is already-exists.
    pub async fn exec(&self, exec_id: &str, spec_json: &[u8], with_stdin: bool) -> Result<Process> {
        self.shared.require_created()?;
        Process::exec(&self.shared.container, exec_id, spec_json, with_stdin).await
    }

    /// [`Task::exec`] without the RPC: makes the FIFO set, and [`Process::start`] then adds
    /// and starts the process in one call (Tasks.Exec, Tasks.Start). For callers that open the
    /// FIFOs before the process exists (moby's order), this saves them a round trip.
    pub fn prepare_exec(&self, exec_id: &str, spec_json: &[u8], with_stdin: bool) -> Result<Process> {
        self.shared.require_created()?;
        Process::prepare(&self.shared.container, exec_id, spec_json, with_stdin)
    }

    /// The task's current stats. One RPC (Tasks.Metrics filtered on the container id), or
    /// none when a sample of it came with another task's request of this round (see
    /// `StatsRounds`); when containerd returns no sample, a second RPC (Tasks.Get) tells a
    /// missing task (not found) from an empty answer, as moby's client does.
    pub async fn stats(&self) -> Result<Stats> {
        stats::sample(&self.shared.container).await
    }

    /// Checkpoints the task with CRIU into `dir` (absolute; absent or empty), leaving the task
    /// running, or stopping it when `exit`. `exit` reaches the runtime only for runc (it is
    /// carried in runc's checkpoint options). A task that is not paused is paused for the dump
    /// and resumed after it, also when the dump failed (with `exit` too: then the task runs on);
    /// one that was paused stays paused. RPCs: Tasks.Get, Tasks.Pause, Leases.Create,
    /// Tasks.Checkpoint, Content.Read of the CRIU image, Leases.Delete (which removes the
    /// checkpoint content), Tasks.Resume (not after a successful dump with `exit`: no task is
    /// left to resume). On failure nothing is left in the content store and nothing is written
    /// in `dir`.
    pub async fn create_checkpoint(&self, dir: &Path, exit: bool) -> Result<()> {
        checkpoint::create(self, dir, exit).await
    }

    /// Creates the container's task restored from the checkpoint directory `dir` (as written
    /// by [`Task::create_checkpoint`]), with a FIFO set like [`Task::create`]. RPCs:
    /// Leases.Create, Content.Write, Tasks.Create, Leases.Delete (which removes the uploaded
    /// checkpoint whatever happened). runc restores the processes when the task is started, so
    /// a bad checkpoint shows at [`Task::start`], which then deletes the task as usual.
    pub async fn create_from_checkpoint(container: &Container, with_stdin: bool, dir: &Path) -> Result<Task> {
        checkpoint::restore(container, with_stdin, dir).await
    }

    /// Deletes the stopped task and removes its FIFOs; returns how it exited. One RPC
    /// (Tasks.Delete). A task that is still running is refused (failed precondition).
    pub async fn delete(&self) -> Result<ExitStatus> {
        self.shared.require_created()?;
        self.changing(self.shared.delete_in_containerd()).await
    }
}

/// The syntax check of a `LinuxResources` JSON document before it goes to containerd as it is.
/// Public for the fuzz targets (fuzz/).
pub fn check_resources_json(resources_json: &[u8]) -> Result<()> {
    serde_json::from_slice::<serde::de::IgnoredAny>(resources_json)
        .map_err(|e| Error::invalid_argument(format!("resources are not a valid LinuxResources JSON document: {}", crate::identifiers::json_error(&e))))?;
    Ok(())
}
