//! Tasks: a container's init process, started with its FIFO set in the bundle directory.

use std::ffi::CString;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use containerd_client::services::v1::CreateTaskRequest;
use containerd_client::types::v1::{Process as ProcessRecord, Status};
use containerd_client::types::Descriptor;

use crate::bundle::{FifoSet, Stdio};
use crate::container::{Container, ContainerShared};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{system_time, ExitSlot, ExitStatus};

/// How long cleanup after a failed start waits for the killed task to exit.
const FAILED_START_EXIT_WAIT: Duration = Duration::from_secs(10);

/// A process state as containerd reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    Unknown,
    Created,
    Running,
    Stopped,
    Paused,
    Pausing,
}

/// A task's state, exit status and exit time (exit fields are zero / `None` until it stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskStatus {
    pub state: ProcessState,
    pub exit_code: u32,
    pub exited_at: Option<SystemTime>,
}

impl TaskStatus {
    fn from_record(process: &ProcessRecord) -> Self {
        let state = match Status::try_from(process.status).unwrap_or(Status::Unknown) {
            Status::Unknown => ProcessState::Unknown,
            Status::Created => ProcessState::Created,
            Status::Running => ProcessState::Running,
            Status::Stopped => ProcessState::Stopped,
            Status::Paused => ProcessState::Paused,
            Status::Pausing => ProcessState::Pausing,
        };
        TaskStatus { state, exit_code: process.exit_status, exited_at: system_time(process.exited_at.as_ref()) }
    }
}

/// The stdio FIFO paths of a process, kept as C strings for the life of the handle so the C
/// ABI can lend them out.
#[derive(Debug, Default)]
pub struct StdioPaths {
    pub stdin: Option<CString>,
    pub stdout: Option<CString>,
    pub stderr: Option<CString>,
    pub terminal: bool,
}

impl StdioPaths {
    fn of(fifos: &FifoSet, terminal: bool) -> Self {
        let c = |s: Stdio| fifos.path(s).and_then(|p| CString::new(p.as_os_str().as_encoded_bytes()).ok());
        StdioPaths { stdin: c(Stdio::Stdin), stdout: c(Stdio::Stdout), stderr: c(Stdio::Stderr), terminal }
    }

    pub fn get(&self, stream: Stdio) -> Option<&CString> {
        match stream {
            Stdio::Stdin => self.stdin.as_ref(),
            Stdio::Stdout => self.stdout.as_ref(),
            Stdio::Stderr => self.stderr.as_ref(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct TaskShared {
    pub container: Arc<ContainerShared>,
    pub pid: AtomicU32,
    /// The FIFO files this handle created; removed when the task is deleted or start fails.
    pub fifos: Mutex<Option<FifoSet>>,
    pub stdio: StdioPaths,
    pub exit: Arc<ExitSlot>,
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
        let readers = fifos.open_output_readers()?;
        let created = shared.client.containerd.create_task(request).await?;
        drop(readers);
        Ok(Task {
            shared: Arc::new(TaskShared {
                container: shared.clone(),
                pid: AtomicU32::new(created.pid),
                stdio: StdioPaths::of(&fifos, terminal),
                fifos: Mutex::new(Some(fifos)),
                exit,
            }),
        })
    }

    /// The existing task of a container, with no IO attached. One RPC (Tasks.Get), whose
    /// answer also settles the exit of a task that already stopped.
    pub async fn load(container: &Container) -> Result<Task> {
        let shared = &container.shared;
        let process = shared.client.containerd.get_process(&shared.id, "").await.map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::not_found(format!("no running task found: {}", e.message())),
            _ => e,
        })?;
        let exit = shared.client.events.exit_slot(&shared.id, &shared.id, false);
        let status = TaskStatus::from_record(&process);
        if status.state == ProcessState::Stopped {
            exit.settle(ExitStatus { code: status.exit_code, exited_at: status.exited_at });
        }
        Ok(Task {
            shared: Arc::new(TaskShared {
                container: shared.clone(),
                pid: AtomicU32::new(process.pid),
                fifos: Mutex::new(None),
                stdio: StdioPaths { terminal: process.terminal, ..StdioPaths::default() },
                exit,
            }),
        })
    }

    /// Starts the created task. One RPC (Tasks.Start). When the start fails, the task is killed
    /// and deleted and its FIFOs removed (errors of that cleanup are logged), and the start
    /// error is returned.
    pub async fn start(&self) -> Result<()> {
        let containerd = &self.shared.container.client.containerd;
        let id = &self.shared.container.id;
        match containerd.start_process(id, "").await {
            Ok(pid) => {
                self.shared.pid.store(pid, Ordering::SeqCst);
                Ok(())
            }
            Err(start_error) => {
                if let Err(e) = self.force_delete().await {
                    tracing::warn!(container = %id, error = %e, "cleanup of a task that failed to start");
                }
                Err(start_error)
            }
        }
    }

    /// Kill everything in the task, wait briefly for its exit, delete it.
    async fn force_delete(&self) -> Result<()> {
        let containerd = &self.shared.container.client.containerd;
        let id = &self.shared.container.id;
        match containerd.kill(id, "", libc::SIGKILL as u32, true).await {
            Ok(()) => {
                let _ = tokio::time::timeout(FAILED_START_EXIT_WAIT, self.shared.exit.wait()).await;
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::FailedPrecondition) => {}
            Err(e) => tracing::debug!(container = %id, error = %e, "kill of a task that failed to start"),
        }
        self.delete().await.map(drop)
    }

    pub fn container_id(&self) -> &str {
        &self.shared.container.id
    }

    /// The task's pid: from create, replaced by start's; no RPC.
    pub fn pid(&self) -> u32 {
        self.shared.pid.load(Ordering::SeqCst)
    }

    /// The FIFO paths this handle created (none for a loaded task).
    pub fn stdio(&self) -> &StdioPaths {
        &self.shared.stdio
    }

    /// Sends `signal` to the task's init process. One RPC (Tasks.Kill).
    pub async fn kill(&self, signal: u32) -> Result<()> {
        self.shared.container.client.containerd.kill(&self.shared.container.id, "", signal, false).await
    }

    /// The task's state. One RPC (Tasks.Get).
    pub async fn status(&self) -> Result<TaskStatus> {
        let process = self.shared.container.client.containerd.get_process(&self.shared.container.id, "").await?;
        Ok(TaskStatus::from_record(&process))
    }

    /// Waits for the task to exit, through the client's event stream: no RPC.
    pub async fn wait(&self) -> Result<ExitStatus> {
        self.shared.exit.wait().await
    }

    /// Deletes the stopped task and removes its FIFOs; returns how it exited. One RPC
    /// (Tasks.Delete). A task that is still running is refused (failed precondition).
    pub async fn delete(&self) -> Result<ExitStatus> {
        let response = self.shared.container.client.containerd.delete_task(&self.shared.container.id).await?;
        let exit = ExitStatus { code: response.exit_status, exited_at: system_time(response.exited_at.as_ref()) };
        self.shared.exit.settle(exit);
        self.shared.fifos.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(exit)
    }
}
