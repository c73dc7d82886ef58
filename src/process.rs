//! What a container's init process (its task) and its exec'd processes have in common: pid,
//! FIFO set, exit tracking, and the RPCs addressed to one process (kill, resize, close stdin,
//! status), plus the exec process handle itself.

use std::ffi::CString;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use containerd_client::services::v1::{CreateTaskRequest, ExecProcessRequest};
use containerd_client::types::v1::{Process as ProcessRecord, Status};
use prost_types::Any;
use serde::Deserialize;

use crate::bundle::{FifoSet, Stdio};
use crate::container::ContainerShared;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{system_time, DeferredCleanup, ExitSlot, ExitStatus};
use crate::identifiers;

/// The type URL of a runtime-spec `Process` carried in an `Any`.
pub const PROCESS_SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Process";
/// How long the cleanup of a failed start waits for the killed process to exit.
pub(crate) const FAILED_START_EXIT_WAIT: Duration = Duration::from_secs(10);
/// How long a start whose caller has gone (its cancel token fired, its deadline passed) may
/// still take before its cleanup runs anyway. Its RPC normally ends at once: the start holds
/// read ends of the output FIFOs, so the shim's opens of the write ends do not wait.
const CUT_SHORT_START_LIMIT: Duration = Duration::from_secs(30);

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
pub struct TaskStatus {
    pub state: ProcessState,
    pub exit_code: u32,
    pub exited_at: Option<SystemTime>,
}

impl TaskStatus {
    pub(crate) fn from_record(process: &ProcessRecord) -> Self {
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
    pub(crate) fn of(fifos: &FifoSet, terminal: bool) -> Self {
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

/// One process of a container: the init process (empty `exec_id`) or an exec.
#[derive(Debug)]
pub(crate) struct ProcessShared {
    pub container: Arc<ContainerShared>,
    /// "" for the init process.
    pub exec_id: String,
    /// The exec id as a C string, for the C ABI to lend out.
    pub exec_id_c: CString,
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
    made_here: bool,
    /// Serializes the starts through this handle; true once one succeeded, so that a second
    /// start (or a retry after one cut short) is OK and sends nothing.
    started: tokio::sync::Mutex<bool>,
}

/// Where a start failed: making the prepared process, or starting it.
enum StartFailure {
    Create(Error),
    Start(Error),
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
            exec_id_c: CString::new(exec_id).unwrap_or_default(),
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
    fn describe(&self) -> String {
        match self.exec_id.as_str() {
            "" => format!("the task of container {}", self.container.id),
            exec_id => format!("exec {exec_id} of container {}", self.container.id),
        }
    }

    fn set_creation(&self, creation: Creation) {
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
            PreparedRequest::Exec(request) => self.containerd().exec(request).await.map(|()| None).map_err(|e| match e.kind() {
                ErrorKind::AlreadyExists => Error::new(ErrorKind::AlreadyExists, format!("id already in use: {}", e.message())),
                _ => e,
            }),
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
    async fn create_task(&self, request: CreateTaskRequest) -> Result<u32> {
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

    fn containerd(&self) -> &crate::containerd::Containerd {
        &self.container.client.containerd
    }

    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    pub async fn kill(&self, signal: u32) -> Result<()> {
        self.require_created()?;
        self.containerd().kill(&self.container.id, &self.exec_id, signal, false).await
    }

    pub async fn status(&self) -> Result<TaskStatus> {
        self.require_created()?;
        let record = self.containerd().get_process(&self.container.id, &self.exec_id).await?;
        Ok(TaskStatus::from_record(&record))
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

    fn is_prepared(&self) -> bool {
        matches!(&*self.creation.lock().unwrap_or_else(|p| p.into_inner()), Creation::Prepared(_))
    }

    /// Starts the process (a prepared one is made in containerd first) on the library's
    /// runtime, so that the start and its cleanup run to their end even when the caller's
    /// future is dropped (its cancel token fired, its deadline passed): the shim is never left
    /// waiting on FIFOs nobody opens, and what the call made does not linger.
    ///
    /// Idempotent for the caller: once a start through this handle succeeded, another one is
    /// OK and sends nothing; concurrent starts through one handle take turns. A failed start
    /// removes the process only when this handle made it and containerd reports it never ran
    /// (created, or stopped); a running process is never killed or deleted by a failed start.
    pub async fn start(self: &Arc<Self>) -> Result<()> {
        let (mut answer, answered) = tokio::sync::oneshot::channel();
        let shared = self.clone();
        crate::runtime::handle().spawn(async move {
            let outcome = shared.start_to_the_end(&mut answer).await;
            let _ = answer.send(outcome);
        });
        answered
            .await
            .unwrap_or_else(|_| Err(Error::internal(format!("the start of {} ended without an answer", self.describe()))))
    }

    async fn start_to_the_end(self: &Arc<Self>, answer: &mut tokio::sync::oneshot::Sender<Result<()>>) -> Result<()> {
        let mut started = self.started.lock().await;
        if *started {
            return Ok(());
        }
        let created_by_this_call = self.is_prepared();
        let attempt = self.create_and_start();
        let caller_gone_long_ago = async {
            answer.closed().await;
            tokio::time::sleep(CUT_SHORT_START_LIMIT).await;
        };
        let outcome = tokio::select! {
            biased;
            outcome = attempt => Some(outcome),
            () = caller_gone_long_ago => None,
        };
        let caller_gone = answer.is_closed();
        match outcome {
            Some(Ok(pid)) if caller_gone && created_by_this_call => {
                // The caller was told the start failed: the process this call made goes again.
                self.pid.store(pid, Ordering::SeqCst);
                self.remove_after_cut_short_start().await;
                Err(Error::cancelled())
            }
            Some(Ok(pid)) => {
                self.pid.store(pid, Ordering::SeqCst);
                *started = true;
                self.mark_io_ready().await;
                Ok(())
            }
            Some(Err(StartFailure::Create(e))) => {
                if self.made_here && e.kind() == ErrorKind::Unavailable {
                    // containerd went away during the create, which it may have carried out:
                    // look once it is back.
                    self.defer_failed_start_cleanup();
                }
                Err(e)
            }
            Some(Err(StartFailure::Start(e))) => {
                self.clean_up_failed_start().await;
                Err(e)
            }
            None => {
                tracing::warn!(process = %self.describe(), "a start whose caller gave up did not end in {CUT_SHORT_START_LIMIT:?}");
                if created_by_this_call {
                    self.remove_after_cut_short_start().await;
                }
                Err(Error::deadline_exceeded())
            }
        }
    }

    async fn create_and_start(&self) -> std::result::Result<u32, StartFailure> {
        self.create_if_prepared().await.map_err(StartFailure::Create)?;
        let container = &self.container;
        if self.exec_id.is_empty() {
            return container.client.containerd.start_process(&container.id, "").await.map_err(StartFailure::Start);
        }
        // The shim opens an exec's FIFOs during the start, with a blocking open of the write
        // ends: hold read ends until it returns (see `open_output_readers`).
        let readers = match self.fifos.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(fifos) => fifos.open_output_readers().map_err(StartFailure::Start)?,
            None => Vec::new(),
        };
        // Exec starts of one container are serialized (containerd#8557: concurrent exec
        // starts can take minutes).
        let _serialized = container.exec_start_lock.lock().await;
        let started = container.client.containerd.start_process(&container.id, &self.exec_id).await;
        drop(readers);
        started.map_err(StartFailure::Start)
    }

    /// After a failed start: removes the process if this handle made it and it never ran
    /// (containerd reports it created, or stopped by the failure); leaves alone a process
    /// that runs (started by an earlier call or another handle) or that it cannot see. When
    /// containerd cannot be reached, the cleanup is remembered and done once it is back.
    async fn clean_up_failed_start(self: &Arc<Self>) {
        if !self.made_here {
            return;
        }
        let state = match self.containerd().get_process(&self.container.id, &self.exec_id).await {
            Ok(record) => TaskStatus::from_record(&record).state,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.remove_fifos();
                return;
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => return self.defer_failed_start_cleanup(),
            Err(e) => {
                tracing::warn!(process = %self.describe(), error = %e, "cannot tell whether a process that failed to start runs; left alone");
                return;
            }
        };
        if !matches!(state, ProcessState::Created | ProcessState::Stopped) {
            tracing::warn!(process = %self.describe(), ?state, "a failed start found the process started; left alone");
            return;
        }
        match tokio::time::timeout(FAILED_START_EXIT_WAIT, self.kill_and_delete()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == ErrorKind::Unavailable => self.defer_failed_start_cleanup(),
            cleanup => tracing::warn!(process = %self.describe(), cleanup = ?cleanup, "cleanup of a process that failed to start"),
        }
    }

    /// Remembers the cleanup of a failed start that could not reach containerd; the client's
    /// event hub runs it once containerd is back (see `events::deferred`).
    fn defer_failed_start_cleanup(self: &Arc<Self>) {
        let what = format!("remove {}, which failed to start", self.describe());
        if self.exec_id.is_empty() {
            // Until it is done, a delete of the container refused because of this task follows it.
            self.container.task_cleanups_deferred.fetch_add(1, Ordering::AcqRel);
        }
        let shared = self.clone();
        self.container.client.events.defer_cleanup(DeferredCleanup::new(what, move || shared.deferred_failed_start_cleanup()));
    }

    fn deferred_failed_start_cleanup(self: Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            self.clean_up_failed_start().await;
            if self.exec_id.is_empty() {
                self.container.task_cleanups_deferred.fetch_sub(1, Ordering::AcqRel);
            }
        })
    }

    /// Kills and deletes a process that this call made and started although its caller had
    /// gone; the handle then refuses further calls.
    async fn remove_after_cut_short_start(&self) {
        let cleanup = tokio::time::timeout(FAILED_START_EXIT_WAIT, self.kill_and_delete()).await;
        if !matches!(cleanup, Ok(Ok(_))) {
            tracing::warn!(process = %self.describe(), cleanup = ?cleanup, "cleanup of a start cut short by its caller");
        }
        let gone = Error::cancelled();
        self.set_creation(Creation::Failed(Error::new(
            gone.kind(),
            "its start was cut short by the caller's cancel token or deadline, and what it made was removed",
        )));
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

/// What the library reads of a runtime-spec `Process` document.
#[derive(Deserialize)]
#[serde(expecting = "a process JSON object")]
struct ProcessSpecFields {
    #[serde(default, deserialize_with = "terminal_flag")]
    terminal: bool,
}

/// `terminal` as a boolean. serde's own refusal of another type repeats a string value whole
/// (a 64 MiB one included); this one names only the type it got.
fn terminal_flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<bool, D::Error> {
    struct Flag;
    impl serde::de::Visitor<'_> for Flag {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: serde::de::Error>(self, value: bool) -> std::result::Result<bool, E> {
            Ok(value)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<bool, E> {
            Err(E::invalid_type(serde::de::Unexpected::Other("a string"), &self))
        }
        fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> std::result::Result<bool, E> {
            Err(E::invalid_type(serde::de::Unexpected::Other("a byte string"), &self))
        }
    }
    deserializer.deserialize_any(Flag)
}

/// Reads an exec's runtime-spec `Process` JSON document: whether it asks for a terminal (the
/// document itself goes to containerd as it is). Public for the fuzz targets (fuzz/).
pub fn process_spec_terminal(spec_json: &[u8]) -> Result<bool> {
    let fields: ProcessSpecFields = serde_json::from_slice(spec_json)
        .map_err(|e| Error::invalid_argument(format!("process spec is not a valid OCI process JSON document: {}", identifiers::json_error(&e))))?;
    Ok(fields.terminal)
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
        let fifos = FifoSet::create(&container.bundle, exec_id, with_stdin, terminal).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => Error::new(ErrorKind::AlreadyExists, format!("id already in use: exec {exec_id}: {e}")),
            _ => e,
        })?;
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
    pub async fn status(&self) -> Result<TaskStatus> {
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
