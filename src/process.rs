//! Processes: what a container's init process (its task) and its exec'd processes have in
//! common, and the exec process handle.
//!
//! Here: a process's status as containerd reports it, its FIFO paths, and the [`Process`]
//! handle of an exec. [`shared`] holds the state one process's handles share (pid, FIFO set,
//! exit slot, whether containerd has it) and the RPCs addressed to one process (kill, resize,
//! close stdin, status, delete); [`start`] the start and the cleanup of a failed one; [`spec`]
//! the reading of an exec's process JSON.

mod shared;
mod spec;
mod start;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use containerd_client::services::v1::ExecProcessRequest;
use containerd_client::types::v1::{Process as ProcessRecord, Status};
use prost_types::Any;

use crate::bundle::{FifoSet, Stdio};
use crate::container::ContainerShared;
use crate::error::Result;
use crate::exit::{system_time, ExitStatus};
use crate::identifiers;

pub(crate) use shared::{Creation, PreparedRequest, ProcessShared};
pub use spec::process_spec_terminal;

/// The type URL of a runtime-spec `Process` carried in an `Any`.
pub const PROCESS_SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Process";

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

/// A process's state, exit status and exit time (exit fields are zero / `None` until it
/// stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStatus {
    pub state: ProcessState,
    pub exit_code: u32,
    pub exited_at: Option<SystemTime>,
}

impl ProcessStatus {
    pub(crate) fn from_record(process: &ProcessRecord) -> Self {
        let state = match Status::try_from(process.status).unwrap_or(Status::Unknown) {
            Status::Unknown => ProcessState::Unknown,
            Status::Created => ProcessState::Created,
            Status::Running => ProcessState::Running,
            Status::Stopped => ProcessState::Stopped,
            Status::Paused => ProcessState::Paused,
            Status::Pausing => ProcessState::Pausing,
        };
        ProcessStatus { state, exit_code: process.exit_status, exited_at: system_time(process.exited_at.as_ref()) }
    }
}

/// The stdio FIFO paths of a process (none for a stream it has no FIFO for).
#[derive(Debug, Default)]
pub struct StdioPaths {
    pub stdin: Option<PathBuf>,
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
    pub terminal: bool,
}

impl StdioPaths {
    pub(crate) fn of(fifos: &FifoSet, terminal: bool) -> Self {
        let path = |s: Stdio| fifos.path(s).map(Path::to_path_buf);
        StdioPaths { stdin: path(Stdio::Stdin), stdout: path(Stdio::Stdout), stderr: path(Stdio::Stderr), terminal }
    }

    pub fn get(&self, stream: Stdio) -> Option<&Path> {
        match stream {
            Stdio::Stdin => self.stdin.as_deref(),
            Stdio::Stdout => self.stdout.as_deref(),
            Stdio::Stderr => self.stderr.as_deref(),
        }
    }
}

/// An exec'd process of a task.
#[derive(Debug, Clone)]
pub struct Process {
    pub(crate) shared: Arc<ProcessShared>,
}

impl Process {
    /// Makes the exec's FIFO set (named after `exec_id`) and adds the process to the task
    /// (one RPC, Tasks.Exec). The process is not started: open the FIFOs, then
    /// [`Process::start`]. On failure the FIFOs are removed.
    pub(crate) async fn exec(container: &Arc<ContainerShared>, exec_id: &str, spec_json: &[u8], with_stdin: bool) -> Result<Process> {
        let process = Process::prepare(container, exec_id, spec_json, with_stdin)?;
        process.shared.create_if_prepared().await?;
        Ok(process)
    }

    /// Makes the exec's FIFO set, as [`Process::exec`] does, without asking containerd for
    /// anything: [`Process::start`] then adds and starts the process in one call (Tasks.Exec,
    /// Tasks.Start). The FIFOs are removed if the exec fails or the handle is dropped before it.
    pub(crate) fn prepare(container: &Arc<ContainerShared>, exec_id: &str, spec_json: &[u8], with_stdin: bool) -> Result<Process> {
        identifiers::validate("exec id", exec_id)?;
        let terminal = process_spec_terminal(spec_json)?;
        let fifos = FifoSet::create(&container.bundle, exec_id, with_stdin, terminal)
            .map_err(|e| e.id_in_use(Some(&format!("exec {exec_id}"))))?;
        let exit = container.client.events.exit_slot(&container.id, exec_id, true);
        let request = ExecProcessRequest {
            container_id: container.id.clone(),
            exec_id: exec_id.to_owned(),
            stdin: fifos.request_path(Stdio::Stdin),
            stdout: fifos.request_path(Stdio::Stdout),
            stderr: fifos.request_path(Stdio::Stderr),
            terminal,
            spec: Some(Any { type_url: PROCESS_SPEC_TYPE_URL.to_owned(), value: spec_json.to_vec() }),
        };
        let stdio = StdioPaths::of(&fifos, terminal);
        let creation = Creation::Prepared(Box::new(PreparedRequest::Exec(request)));
        Ok(Process { shared: Arc::new(ProcessShared::new(container.clone(), exec_id, 0, Some(fifos), stdio, exit, creation)) })
    }

    /// Starts the process (one RPC, Tasks.Start; a prepared process is added first with
    /// Tasks.Exec). Exec starts of one container are serialized (containerd#8557: concurrent
    /// exec starts can take minutes). A stdin close asked for earlier is sent right after.
    /// A second start through this handle is OK once one succeeded. On failure an exec this
    /// handle added and that never ran is deleted and its FIFOs removed; a failed Tasks.Exec
    /// returns its error as [`Process::exec`] does. A start cut short by the caller still
    /// ends, and an exec it added is then killed and deleted: see [`ProcessShared::start`].
    pub async fn start(&self) -> Result<()> {
        self.shared.start().await
    }

    pub fn id(&self) -> &str {
        &self.shared.exec_id
    }

    pub fn container_id(&self) -> &str {
        &self.shared.container.id
    }

    /// The pid, from start; no RPC.
    pub fn pid(&self) -> u32 {
        self.shared.pid()
    }

    pub fn stdio(&self) -> &StdioPaths {
        &self.shared.stdio
    }

    /// Sends `signal` to the process. One RPC (Tasks.Kill).
    pub async fn kill(&self, signal: u32) -> Result<()> {
        self.shared.kill(signal).await
    }

    /// Resizes the process's terminal. One RPC (Tasks.ResizePty).
    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        self.shared.resize(width, height).await
    }

    /// Closes the process's stdin (one RPC, Tasks.CloseIO; deferred to right after the start
    /// when asked before it).
    pub async fn close_stdin(&self) -> Result<()> {
        self.shared.close_stdin().await
    }

    /// The process's state. One RPC (Tasks.Get with the exec id).
    pub async fn status(&self) -> Result<ProcessStatus> {
        self.shared.status().await
    }

    /// Waits for the process to exit, through the client's event stream: no RPC.
    pub async fn wait(&self) -> Result<ExitStatus> {
        self.shared.exit.wait().await
    }

    /// The process's exit if the event stream has reported it: no RPC, no wait.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.shared.exit.get()
    }

    /// Deletes the exited process (one RPC, Tasks.DeleteProcess) and removes its FIFOs;
    /// returns how it exited. A running process is refused (failed precondition).
    pub async fn delete(&self) -> Result<ExitStatus> {
        self.shared.require_created()?;
        self.shared.delete_in_containerd().await
    }
}
