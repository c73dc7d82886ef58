//! Starting a process, and removing what a failed or abandoned start made.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{ProcessShared, ProcessState, ProcessStatus};
use crate::error::{Error, ErrorKind, Result};
use crate::events::DeferredCleanup;
use crate::process::shared::Creation;

/// How long the cleanup of a failed start waits for the killed process to exit.
pub(crate) const FAILED_START_EXIT_WAIT: Duration = Duration::from_secs(10);
/// How long a start whose caller has gone (its cancel token fired, its deadline passed) may
/// still take before its cleanup runs anyway. Its RPC normally ends at once: the start holds
/// read ends of the output FIFOs, so the shim's opens of the write ends do not wait.
const CUT_SHORT_START_LIMIT: Duration = Duration::from_secs(30);

/// Where a start failed: making the prepared process, or starting it.
enum StartFailure {
    Create(Error),
    Start(Error),
}

impl ProcessShared {
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
            Ok(record) => ProcessStatus::from_record(&record).state,
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
            self.container.task_cleanups_deferred.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        let shared = self.clone();
        self.container.client.events.defer_cleanup(DeferredCleanup::new(what, move || shared.deferred_failed_start_cleanup()));
    }

    fn deferred_failed_start_cleanup(self: Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            self.clean_up_failed_start().await;
            if self.exec_id.is_empty() {
                self.container.task_cleanups_deferred.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
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
}
