//! Catching up on the exits the event stream missed while containerd was away.
//!
//! A shim forwards its exit event at once and retries for about 15 s; after a longer outage the
//! exit never reaches containerd's event stream, and events published before the library's new
//! subscription are not replayed either. So the hub keeps a table of the namespace's processes
//! as the events told of them, and after an outage looks up every one it knows to be running,
//! and every process a handle waits on: one Tasks.List for all tasks (it carries each init
//! process's status and exit, but no execs), and one Tasks.Get per such exec and per such task
//! the listing left out (containerd omits a task whose shim is slow to answer, or whose create
//! is under way: only Tasks.Get's "not found" says that a process vanished).
//! The exits found go out in the order the processes exited, through the same path as the
//! stream's, and the table drops an exit that was delivered already, so a shim's late retry of
//! one of them is not reported twice.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use containerd_client::types::v1::{Process as ProcessRecord, Status};

use super::hub::{dispatch, lock, HubShared, ProcessKey};
use super::{Event, EventKind};
use crate::exit::{system_time, ExitStatus};
use crate::containerd::Containerd;
use crate::error::ErrorKind;

/// The exit code reported for a process that vanished while the stream was down, with no exit
/// to be had (moby's restore records 255 and no exit time for a task that died so).
const UNKNOWN_EXIT_CODE: u32 = 255;
/// How long a delivered exit is remembered to drop a repeat of it; a repeat comes from a shim
/// retrying within ~15 s of the exit, so this is ample.
const EXIT_MEMORY: Duration = Duration::from_secs(600);
/// How often forgotten exits are swept out of the table.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum ProcessEntry {
    Running { pid: u32 },
    /// Its exit was delivered at this time.
    Exited { at: Instant },
}

/// The processes of the client's namespace as the events told of them. Bounded by the
/// namespace's live processes plus the exits of the last [`EXIT_MEMORY`].
#[derive(Debug)]
pub(super) struct ProcessTable {
    entries: HashMap<ProcessKey, ProcessEntry>,
    last_sweep: Instant,
}

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable { entries: HashMap::new(), last_sweep: Instant::now() }
    }
}

impl ProcessTable {
    /// A task was created or started, or an exec started.
    pub(super) fn started(&mut self, key: ProcessKey, pid: u32) {
        self.entries.insert(key, ProcessEntry::Running { pid });
    }

    /// Records an exit about to be delivered; false when this process's exit was delivered
    /// already (it has not started again since).
    pub(super) fn exited(&mut self, key: ProcessKey, _pid: u32) -> bool {
        let now = Instant::now();
        if now.duration_since(self.last_sweep) >= SWEEP_INTERVAL {
            self.entries.retain(|_, entry| !matches!(entry, ProcessEntry::Exited { at } if now.duration_since(*at) >= EXIT_MEMORY));
            self.last_sweep = now;
        }
        let previous = self.entries.insert(key, ProcessEntry::Exited { at: now });
        !matches!(previous, Some(ProcessEntry::Exited { .. }))
    }

    /// A task was deleted: its processes are gone, and their ids may be used again.
    pub(super) fn forget_task(&mut self, container_id: &str) {
        self.entries.retain(|(container, _), _| container != container_id);
    }

    fn running(&self) -> impl Iterator<Item = (&ProcessKey, u32)> {
        self.entries.iter().filter_map(|(key, entry)| match entry {
            ProcessEntry::Running { pid } => Some((key, *pid)),
            ProcessEntry::Exited { .. } => None,
        })
    }
}

/// A process whose exit may have been missed.
#[derive(Debug, Default)]
struct Candidate {
    /// From its start event; 0 when only a handle knows it.
    pid: u32,
    /// The exit a handle already has (from a delete), reported if containerd no longer knows it.
    settled: Option<ExitStatus>,
}

/// Delivers the exit of each process the hub knew running, or a handle waits on, that stopped
/// while the stream was down. `tasks` is Tasks.List's answer, asked after the new subscription
/// was sent.
pub(super) async fn reconcile(containerd: &Containerd, hub: &HubShared, tasks: Vec<ProcessRecord>) {
    let listed: HashMap<String, ProcessRecord> = tasks.into_iter().map(|p| (p.id.clone(), p)).collect();
    let mut candidates: BTreeMap<ProcessKey, Candidate> =
        lock(&hub.processes).running().map(|(key, pid)| (key.clone(), Candidate { pid, settled: None })).collect();
    let slots: Vec<_> = lock(&hub.slots).values().filter_map(std::sync::Weak::upgrade).collect();
    for slot in slots.iter().filter(|slot| slot.is_created()) {
        match slot.get() {
            None => drop(candidates.entry(slot.key.clone()).or_default()),
            Some(exit) => {
                if let Some(candidate) = candidates.get_mut(&slot.key) {
                    candidate.settled = Some(exit);
                }
            }
        }
    }

    let now = SystemTime::now();
    let mut exits = Vec::new();
    for ((container_id, process_id), candidate) in candidates {
        let is_init = process_id == container_id;
        // A task the listing left out is asked for: containerd's listing omits a task whose shim
        // did not answer in time (2 s) and one whose create was still under way, so only a
        // Tasks.Get's "not found" says that it vanished.
        let record = match listed.get(&container_id).filter(|_| is_init) {
            Some(record) => Some(record.clone()),
            None => match containerd.get_process(&container_id, if is_init { "" } else { &process_id }).await {
                Ok(record) => Some(record),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => {
                    tracing::warn!(container = %container_id, process = %process_id, error = %e, "cannot look up a process after the task event stream came back");
                    continue;
                }
            },
        };
        let (pid, exit) = match record {
            Some(record) if record.status == Status::Stopped as i32 => {
                (record.pid, ExitStatus { code: record.exit_status, exited_at: system_time(record.exited_at.as_ref()) })
            }
            Some(_) => continue,
            None => {
                tracing::warn!(container = %container_id, process = %process_id, "a process vanished while the task event stream was down");
                // No exit time, as moby's restore records a task that died without one.
                (candidate.pid, candidate.settled.unwrap_or(ExitStatus { code: UNKNOWN_EXIT_CODE, exited_at: None }))
            }
        };
        tracing::info!(container = %container_id, process = %process_id, exit_code = exit.code, "delivering an exit missed while the task event stream was down");
        exits.push(Event {
            kind: EventKind::Exit,
            container_id,
            process_id,
            pid,
            exit_code: exit.code,
            exited_at: exit.exited_at,
        });
    }
    // Vanished processes, with no exit time, go last.
    exits.sort_by_key(|e| e.exited_at.unwrap_or(now));
    for exit in exits {
        dispatch(hub, exit).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str, p: &str) -> ProcessKey {
        (c.to_owned(), p.to_owned())
    }

    #[test]
    fn an_exit_goes_out_once_until_the_process_starts_again() {
        let mut table = ProcessTable::default();
        table.started(key("c", "c"), 10);
        assert!(table.exited(key("c", "c"), 10), "first exit");
        assert!(!table.exited(key("c", "c"), 10), "a repeat is dropped");
        table.started(key("c", "e"), 11);
        assert!(table.exited(key("c", "e"), 11));
        assert!(table.exited(key("x", "x"), 12), "an exit of a process never seen start still goes out once");
        assert!(!table.exited(key("x", "x"), 12));
        table.forget_task("c");
        table.started(key("c", "c"), 13);
        assert_eq!(table.running().map(|(k, pid)| (k.clone(), pid)).collect::<Vec<_>>(), [(key("c", "c"), 13)]);
        assert!(table.exited(key("c", "c"), 13), "a new task of a reused id");
    }
}
