//! The state every handle of one process shares, and the RPCs addressed to one process.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use containerd_client::services::v1::{CreateTaskRequest, ExecProcessRequest};

use super::{ProcessStatus, StdioPaths};
use crate::bundle::FifoSet;
use crate::container::ContainerShared;
use crate::error::{Error, ErrorKind, Result};
use crate::events::ExitSlot;
use crate::exit::{system_time, ExitStatus};

/// One process of a container: the init process (empty `exec_id`) or an exec.
#[derive(Debug)]
pub(crate) struct ProcessShared {
    pub container: Arc<ContainerShared>,
    /// "" for the init process.
    pub exec_id: String,
    pub pid: AtomicU32,
    /// The FIFO files this handle owns; removed when the process is deleted or fails to start.
    pub fifos: Mutex<Option<FifoSet>>,
    pub stdio: StdioPaths,
    pub exit: Arc<ExitSlot>,
    pub stdin_close: Mutex<StdinClose>,
    /// Whether containerd has the process: one made by `Task::prepare` or `Process::prepare` is
    /// created by its start (or by `create_if_prepared` in `Task::create` and `Process::exec`);
    /// a task loaded from containerd is `Created` from the start.
    pub creation: Mutex<Creation>,
    /// Whether this handle made the process in containerd (`prepare`, `Task::create`,
    /// `Process::exec`) rather than finding it there: only then may a failed start remove it.
    pub(super) made_here: bool,
    /// Serializes the starts through this handle; true once one succeeded, so that a second
    /// start (or a retry after one cut short) is OK and sends nothing.
    pub(super) started: tokio::sync::Mutex<bool>,
}

/// How far a process made by `Task::prepare` or `Process::prepare` got with the RPC that makes
/// it in containerd (Tasks.Create, Tasks.Exec).
#[derive(Debug)]
pub(crate) enum Creation {
    /// Made locally (FIFOs, exit slot); the request its start sends first.
    Prepared(Box<PreparedRequest>),
    /// A start is sending the create now.
    Creating,
    /// containerd has it (or may have it: a create that was cancelled on its way).
    Created,
    /// The create failed and the FIFOs were removed; the error is given again.
    Failed(Error),
}

/// The RPC that makes a prepared process in containerd.
#[derive(Debug)]
pub(crate) enum PreparedRequest {
    Task(CreateTaskRequest),
    Exec(ExecProcessRequest),
}

/// Marks a process whose create was abandoned mid-flight (the call was cancelled) as possibly
/// created: containerd may have it, so later calls go to containerd and it answers. Disarmed
/// once the create has an answer.
struct CreationInFlight<'a> {
    shared: &'a ProcessShared,
    armed: bool,
}

impl CreationInFlight<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CreationInFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.set_creation(Creation::Created);
        }
    }
}

/// When a stdin close can go to containerd.
#[derive(Debug, Default)]
pub(crate) struct StdinClose {
    /// containerd knows the process well enough to take a CloseIO: after create for the init
    /// process, after start for an exec (moby's order).
    io_ready: bool,
    /// A close asked for before `io_ready`; sent right after the process starts.
    pending: bool,
}

impl ProcessShared {
    pub fn new(
        container: Arc<ContainerShared>,
        exec_id: &str,
        pid: u32,
        fifos: Option<FifoSet>,
        stdio: StdioPaths,
        exit: Arc<ExitSlot>,
        creation: Creation,
    ) -> Self {
        // containerd takes a CloseIO once it has the process: after create for the init process,
        // after start for an exec (moby's order).
        let io_ready = exec_id.is_empty() && matches!(creation, Creation::Created);
        let made_here = matches!(creation, Creation::Prepared(_));
        ProcessShared {
            container,
            exec_id: exec_id.to_owned(),
            pid: AtomicU32::new(pid),
            fifos: Mutex::new(fifos),
            stdio,
            exit,
            stdin_close: Mutex::new(StdinClose { io_ready, pending: false }),
            creation: Mutex::new(creation),
            made_here,
            started: tokio::sync::Mutex::new(false),
        }
    }

    /// "the task of container x" or "exec y of container x", for messages.
    pub(super) fn describe(&self) -> String {
        match self.exec_id.as_str() {
            "" => format!("the task of container {}", self.container.id),
            exec_id => format!("exec {exec_id} of container {}", self.container.id),
        }
    }

    pub(super) fn set_creation(&self, creation: Creation) {
        if matches!(creation, Creation::Created) {
            // From now on a catch-up after an outage looks for this process's exit.
            self.exit.mark_created();
        }
        *self.creation.lock().unwrap_or_else(|p| p.into_inner()) = creation;
    }

    /// Refuses an operation addressed to containerd's copy of a process that containerd does
    /// not have yet (prepared, or its create failed): the container could have another process
    /// of that id by then, which the call must not touch. No RPC.
    pub fn require_created(&self) -> Result<()> {
        match &*self.creation.lock().unwrap_or_else(|p| p.into_inner()) {
            Creation::Created => Ok(()),
            Creation::Prepared(_) | Creation::Creating => {
                Err(Error::failed_precondition(format!("{} is not created yet: start it first", self.describe())))
            }
            Creation::Failed(e) => Err(e.clone().context(&format!("{} could not be created", self.describe()))),
        }
    }

    /// Sends the RPC that makes a prepared process in containerd (Tasks.Create for a task,
    /// Tasks.Exec for an exec); nothing for a process containerd has. A failed create removes
    /// the FIFOs, and the handle gives its error again from then on.
    pub async fn create_if_prepared(&self) -> Result<()> {
        let request = {
            let mut creation = self.creation.lock().unwrap_or_else(|p| p.into_inner());
            match std::mem::replace(&mut *creation, Creation::Creating) {
                Creation::Prepared(request) => request,
                earlier => {
                    *creation = earlier;
                    drop(creation);
                    return self.require_created();
                }
            }
        };
        let in_flight = CreationInFlight { shared: self, armed: true };
        let created = match *request {
            PreparedRequest::Task(request) => self.create_task(request).await.map(Some),
            PreparedRequest::Exec(request) => self.containerd().exec(request).await.map(|()| None).map_err(|e| e.id_in_use(None)),
        };
        in_flight.disarm();
        match created {
            Ok(pid) => {
                if let Some(pid) = pid {
                    self.pid.store(pid, Ordering::SeqCst);
                }
                if let Some(fifos) = self.fifos.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    fifos.keep();
                }
                self.set_creation(Creation::Created);
                if self.exec_id.is_empty() {
                    // containerd takes the init process's CloseIO from its create on.
                    self.mark_io_ready().await;
                }
                Ok(())
            }
            Err(e) => {
                // Only the FIFO files this handle made go: one it reused may serve the process
                // of that id that containerd has.
                drop(self.fifos.lock().unwrap_or_else(|p| p.into_inner()).take());
                self.set_creation(Creation::Failed(e.clone()));
                Err(e)
            }
        }
    }

    /// Tasks.Create, with read ends of the output FIFOs held open meanwhile (the shim opens
    /// the write ends during the create; see `open_output_readers`). The created pid.
    pub(super) async fn create_task(&self, request: CreateTaskRequest) -> Result<u32> {
        let readers = match self.fifos.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(fifos) => fifos.open_output_readers()?,
            None => Vec::new(),
        };
        // Before the RPC: a create that fails on the way back may still have made the task.
        self.container.task_presence.may_exist();
        let created = self.containerd().create_task(request).await;
        drop(readers);
        Ok(created?.pid)
    }

    pub(super) fn containerd(&self) -> &crate::containerd::Containerd {
        &self.container.client.containerd
    }

    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    pub async fn kill(&self, signal: u32) -> Result<()> {
        self.require_created()?;
        self.containerd().kill(&self.container.id, &self.exec_id, signal, false).await
    }

    pub async fn status(&self) -> Result<ProcessStatus> {
        self.require_created()?;
        let record = self.containerd().get_process(&self.container.id, &self.exec_id).await?;
        Ok(ProcessStatus::from_record(&record))
    }

    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        self.require_created()?;
        self.containerd().resize_pty(&self.container.id, &self.exec_id, width, height).await
    }

    /// Closes the process's stdin (CloseIO). Before containerd can take it (an exec not yet
    /// started), the close is remembered and sent right after the start.
    pub async fn close_stdin(&self) -> Result<()> {
        {
            let mut state = self.stdin_close.lock().unwrap_or_else(|p| p.into_inner());
            if !state.io_ready {
                state.pending = true;
                return Ok(());
            }
        }
        self.containerd().close_stdin(&self.container.id, &self.exec_id).await
    }

    /// Marks the process ready for CloseIO and sends a close asked for earlier.
    pub async fn mark_io_ready(&self) {
        let pending = {
            let mut state = self.stdin_close.lock().unwrap_or_else(|p| p.into_inner());
            state.io_ready = true;
            std::mem::take(&mut state.pending)
        };
        if pending {
            if let Err(e) = self.containerd().close_stdin(&self.container.id, &self.exec_id).await {
                tracing::warn!(container = %self.container.id, exec = %self.exec_id, error = %e, "deferred stdin close failed");
            }
        }
    }

    /// Records how the process ended and removes its FIFOs (after a delete).
    pub fn finish(&self, response: &containerd_client::services::v1::DeleteResponse) -> ExitStatus {
        let exit = ExitStatus { code: response.exit_status, exited_at: system_time(response.exited_at.as_ref()) };
        self.exit.settle(exit);
        self.remove_fifos();
        exit
    }

    /// Removes the FIFO files of this process, if the handle has them.
    pub fn remove_fifos(&self) {
        if let Some(fifos) = self.fifos.lock().unwrap_or_else(|p| p.into_inner()).take() {
            fifos.remove();
        }
    }

    pub(super) fn is_prepared(&self) -> bool {
        matches!(&*self.creation.lock().unwrap_or_else(|p| p.into_inner()), Creation::Prepared(_))
    }

    /// Kills every process of the task (or the exec), waits for the exit, then deletes it
    /// (moby's ForceDelete). Bound it with a timeout or cancel token.
    pub(crate) async fn kill_and_delete(&self) -> Result<ExitStatus> {
        let id = &self.container.id;
        match self.containerd().kill(id, &self.exec_id, libc::SIGKILL as u32, self.exec_id.is_empty()).await {
            Ok(()) => {
                self.exit.wait().await?;
            }
            // Already stopped, or gone: nothing to wait for.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::FailedPrecondition) => {}
            Err(e) => return Err(e),
        }
        self.delete_in_containerd().await
    }

    /// Deletes the stopped process in containerd (Tasks.Delete for the task, Tasks.DeleteProcess
    /// for an exec) and removes its FIFOs; how it exited.
    pub(crate) async fn delete_in_containerd(&self) -> Result<ExitStatus> {
        let container = &self.container;
        let response = if self.exec_id.is_empty() {
            let generation = container.task_presence.before_delete();
            let response = container.client.containerd.delete_task(&container.id).await?;
            container.task_presence.deleted(generation);
            response
        } else {
            container.client.containerd.delete_process(&container.id, &self.exec_id).await?
        };
        Ok(self.finish(&response))
    }
}
