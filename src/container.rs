//! Containers: the containerd record plus its bundle directory, with the metadata later calls
//! need kept in the handle so that nothing is fetched twice.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use containerd_client::services::v1::{container::Runtime, Container as ContainerRecord};
use prost_types::Any;

use crate::bundle::{self, BundleLock, BUNDLE_PATH_LABEL};
use crate::client::{Client, ClientShared};
use crate::containerd::Containerd;
use crate::error::{Error, ErrorKind, Result};
use crate::events::DeferredCleanup;
use crate::identifiers;
use crate::spec::SpecInfo;

/// The type URL of a runtime-spec `Spec` carried in an `Any`.
pub const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
/// The runc shim's options message (`containerd.runc.v1.Options`).
pub const RUNC_OPTIONS_TYPE: &str = "containerd.runc.v1.Options";
/// How long the undoing of a create cut short by its caller may take.
const CUT_SHORT_CLEANUP_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a new container is made from.
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    /// The runtime-spec JSON document, sent to containerd as it is.
    pub spec_json: Vec<u8>,
    /// The runtime (shim) name, e.g. `io.containerd.runc.v2`.
    pub runtime: String,
    /// The runtime's options, as an `Any` (for runc: `containerd.runc.v1.Options`).
    pub runtime_options: Option<Any>,
    pub labels: HashMap<String, String>,
    /// Record fields some callers set through container options: image name, snapshotter,
    /// snapshot key, extensions (empty for none).
    pub image: String,
    pub snapshotter: String,
    pub snapshot_key: String,
    pub extensions: HashMap<String, Any>,
}

/// What every handle of a container shares.
#[derive(Debug)]
pub(crate) struct ContainerShared {
    pub client: Arc<ClientShared>,
    pub id: String,
    pub bundle: PathBuf,
    pub spec: SpecInfo,
    pub runtime_options: Option<Any>,
    /// Serializes exec starts of this container (containerd#8557 / moby#45595).
    pub exec_start_lock: tokio::sync::Mutex<()>,
    /// What this handle knows of the container's task, so that a delete need not ask.
    pub task_presence: TaskPresence,
    /// When containerd made the record this handle is for: a delete finished after an outage
    /// removes that record only, never one made since under the same id.
    pub record_created_at: Option<prost_types::Timestamp>,
    /// Cleanups of this container's task after a failed start that wait for containerd (or
    /// run): a delete refused because of that task meanwhile follows them.
    pub task_cleanups_deferred: AtomicUsize,
}

/// Whether a container is known to have no task. Absence is known from the container's create
/// until a task create is tried, and again after a task delete succeeds; a task found or a
/// create tried in between makes it unknown, even when the create's answer or a delete's comes
/// back out of order.
#[derive(Debug, Default)]
pub(crate) struct TaskPresence {
    /// Bumped each time a task may have come to exist: a create is tried, a task is found.
    generation: AtomicU64,
    /// `generation + 1` as it was when absence was last established; 0 when it never was.
    absent_at: AtomicU64,
}

impl TaskPresence {
    fn known_absent() -> Self {
        TaskPresence { generation: AtomicU64::new(0), absent_at: AtomicU64::new(1) }
    }

    /// A task may exist from now on (call before a create's RPC, or when one is found).
    pub fn may_exist(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Read before a delete's RPC and handed to [`TaskPresence::deleted`] once it succeeds.
    pub fn before_delete(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The delete that began at `generation` succeeded. Absence is known only if no task may
    /// have come to exist since.
    pub fn deleted(&self, generation: u64) {
        self.absent_at.fetch_max(generation + 1, Ordering::SeqCst);
    }

    pub fn is_known_absent(&self) -> bool {
        self.absent_at.load(Ordering::SeqCst) == self.generation.load(Ordering::SeqCst) + 1
    }
}

/// A container create whose answer was lost with the connection (containerd killed after it made
/// the container, before its answer went out): its caller, told that the create failed, will
/// not delete it. Once containerd answers again, the record is deleted if that call made it: it
/// carries that call's bundle label, was made no later than the failure (a container made again
/// since is left alone), and has no task. Under the bundle lock, as creates are.
struct LostCreate {
    client: Arc<ClientShared>,
    id: String,
    bundle: String,
    failed_at: SystemTime,
}

impl LostCreate {
    fn defer(self) {
        let what = format!("delete container {} if the create whose answer was lost made it", self.id);
        let client = self.client.clone();
        client.events.defer_cleanup(DeferredCleanup::new(what, move || self.undo()));
    }

    async fn undo(self) {
        let containerd = &self.client.containerd;
        let bundle_lock = BundleLock::acquire(&self.client.state_dir, &self.id).await;
        let outcome = match containerd.get_container(&self.id).await {
            Ok(record) if !self.made(&record) => {
                tracing::info!(container = %self.id, "container made again since a create of it lost its answer; left alone");
                return;
            }
            Ok(_) => match has_task(containerd, &self.id).await {
                Ok(true) => {
                    tracing::info!(container = %self.id, "a container whose create lost its answer has a task; left alone");
                    return;
                }
                Ok(false) => containerd.delete_container(&self.id).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => tracing::info!(container = %self.id, "deleted a container whose create lost its answer with the connection"),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                drop(bundle_lock);
                self.defer();
            }
            Err(e) => tracing::warn!(container = %self.id, error = %e, "cannot delete a container whose create lost its answer"),
        }
    }

    /// Whether `record` is the one the lost create made: it carries that call's bundle label
    /// and was made no later than the failure.
    fn made(&self, record: &ContainerRecord) -> bool {
        record.labels.get(BUNDLE_PATH_LABEL) == Some(&self.bundle)
            && crate::exit::system_time(record.created_at.as_ref()).is_some_and(|at| at <= self.failed_at)
    }
}

/// Whether containerd has a task for container `id` (one RPC, Tasks.Get).
async fn has_task(containerd: &Containerd, id: &str) -> Result<bool> {
    match containerd.get_process(id, "").await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A containerd container this library manages.
#[derive(Debug, Clone)]
pub struct Container {
    pub(crate) shared: Arc<ContainerShared>,
}

impl Container {
    /// Creates the bundle directory and the containerd container record. One RPC
    /// (Containers.Create). On failure, nothing this call created is left behind: a directory
    /// that was already there (another create's, a container's) stays. The work runs on the
    /// library's runtime to its end: a create cut short by its caller that containerd carried
    /// out is deleted again, with the directory it made.
    pub async fn create(client: &Client, id: &str, config: ContainerConfig) -> Result<Container> {
        identifiers::validate("container id", id)?;
        if config.runtime.is_empty() {
            return Err(Error::invalid_argument("runtime name must not be empty"));
        }
        let spec = SpecInfo::from_spec_json(&config.spec_json)?;
        let (mut answer, answered) = tokio::sync::oneshot::channel();
        let (client, id) = (client.clone(), id.to_owned());
        crate::runtime::handle().spawn(async move {
            let _bundle_lock = BundleLock::acquire(client.state_dir(), &id).await;
            let outcome = Container::create_locked(&client, &id, config, spec, &mut answer).await;
            let _ = answer.send(outcome);
        });
        answered.await.unwrap_or_else(|_| Err(Error::internal("the container create ended without an answer")))
    }

    async fn create_locked(
        client: &Client,
        id: &str,
        config: ContainerConfig,
        spec: SpecInfo,
        answer: &mut tokio::sync::oneshot::Sender<Result<Container>>,
    ) -> Result<Container> {
        let new_bundle = bundle::create(client.state_dir(), id, &spec)?;
        let bundle_path = new_bundle.path().to_string_lossy().into_owned();
        let mut labels = config.labels;
        labels.insert(BUNDLE_PATH_LABEL.to_owned(), bundle_path.clone());
        let record = ContainerRecord {
            id: id.to_owned(),
            labels,
            runtime: Some(Runtime { name: config.runtime, options: config.runtime_options.clone() }),
            spec: Some(Any { type_url: SPEC_TYPE_URL.to_owned(), value: config.spec_json }),
            image: config.image,
            snapshotter: config.snapshotter,
            snapshot_key: config.snapshot_key,
            extensions: config.extensions,
            ..Default::default()
        };
        let containerd = &client.shared.containerd;
        let created = match containerd.create_container(record).await {
            Ok(created) => created,
            Err(e) => {
                if e.kind() == ErrorKind::Unavailable {
                    // The connection went with the call: containerd may have made the container.
                    LostCreate { client: client.shared.clone(), id: id.to_owned(), bundle: bundle_path, failed_at: SystemTime::now() }.defer();
                }
                return Err(e.id_in_use(None));
            }
        };
        if answer.is_closed() {
            // The caller was told the create failed: undo it. The directory goes with the
            // dropped `new_bundle` only once containerd no longer has a container that uses it.
            match tokio::time::timeout(CUT_SHORT_CLEANUP_LIMIT, containerd.delete_container(id)).await {
                Ok(Ok(())) => {}
                outcome => {
                    tracing::warn!(container = %id, ?outcome, "cannot delete a container whose create was cut short by its caller");
                    new_bundle.keep();
                }
            }
            return Err(Error::cancelled());
        }
        let presence = TaskPresence::known_absent();
        let mut container = Container::from_parts(client, id.to_owned(), new_bundle.keep(), spec, config.runtime_options, presence);
        Arc::get_mut(&mut container.shared).expect("a new handle is not shared yet").record_created_at = created.created_at;
        Ok(container)
    }

    /// Loads an existing container by id. One RPC (Containers.Get).
    pub async fn load(client: &Client, id: &str) -> Result<Container> {
        identifiers::validate("container id", id)?;
        let record = client.shared.containerd.get_container(id).await.map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::not_found(format!("no such container: {}", e.message())),
            _ => e,
        })?;
        let spec = match record.spec.as_ref() {
            Some(any) => SpecInfo::from_spec_json(&any.value).map_err(|e| e.context(&format!("container {id}")))?,
            None => SpecInfo::default(),
        };
        let bundle = match record.labels.get(BUNDLE_PATH_LABEL) {
            Some(path) => PathBuf::from(path),
            None => client.state_dir().join(id),
        };
        let runtime_options = record.runtime.and_then(|r| r.options);
        // Another client or an earlier run may have made a task: unknown until asked.
        let mut container = Container::from_parts(client, id.to_owned(), bundle, spec, runtime_options, TaskPresence::default());
        Arc::get_mut(&mut container.shared).expect("a new handle is not shared yet").record_created_at = record.created_at;
        Ok(container)
    }

    fn from_parts(
        client: &Client,
        id: String,
        bundle: PathBuf,
        spec: SpecInfo,
        runtime_options: Option<Any>,
        task_presence: TaskPresence,
    ) -> Self {
        Container {
            shared: Arc::new(ContainerShared {
                client: client.shared.clone(),
                id,
                bundle,
                spec,
                runtime_options,
                exec_start_lock: tokio::sync::Mutex::new(()),
                task_presence,
                record_created_at: None,
                task_cleanups_deferred: AtomicUsize::new(0),
            }),
        }
    }

    pub fn id(&self) -> &str {
        &self.shared.id
    }

    pub fn bundle_dir(&self) -> &Path {
        &self.shared.bundle
    }

    /// Deletes the container record and its bundle directory (kept when
    /// `LIBCONTAINERD_NOCLEAN=1`). Refused while the container has a task. One RPC
    /// (Containers.Delete) when the handle knows there is no task: it created the container
    /// and no task since, or deleted the last one; otherwise two (Tasks.Get to check first).
    /// A delete that cannot reach containerd fails (unavailable) and is also remembered: the
    /// library completes it once containerd is back, if the record is still the one this handle
    /// is for and it has no task by then. So is one refused because of a task whose failed
    /// start the library is still to clean up (containerd was away): it follows that cleanup.
    pub async fn delete(&self) -> Result<()> {
        let task_cleanup_pending = self.shared.task_cleanups_deferred.load(Ordering::Acquire) > 0;
        let deleted = self.delete_now().await;
        match &deleted {
            Err(e) if e.kind() == ErrorKind::Unavailable => self.defer_delete(),
            // The task is there until the library's own cleanup of its failed start, which
            // waited for containerd, removes it: the delete follows that cleanup.
            Err(e) if e.kind() == ErrorKind::FailedPrecondition
                && (task_cleanup_pending || self.shared.task_cleanups_deferred.load(Ordering::Acquire) > 0) =>
            {
                self.defer_delete()
            }
            _ => {}
        }
        deleted
    }

    async fn delete_now(&self) -> Result<()> {
        let containerd = &self.shared.client.containerd;
        if !self.shared.task_presence.is_known_absent() {
            self.refuse_if_task_exists().await?;
        }
        let _bundle_lock = BundleLock::acquire(&self.shared.client.state_dir, &self.shared.id).await;
        containerd.delete_container(&self.shared.id).await?;
        bundle::remove(&self.shared.bundle);
        Ok(())
    }

    fn defer_delete(&self) {
        let what = format!("delete container {} and its bundle", self.shared.id);
        let container = self.clone();
        self.shared.client.events.defer_cleanup(DeferredCleanup::new(what, move || container.deferred_delete()));
    }

    fn deferred_delete(self) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move { self.delete_after_outage().await })
    }

    /// The delete of [`Container::delete`] once containerd is back: only the record this handle
    /// is for (same creation time), only when it has no task; the bundle goes with it, or
    /// alone when the record is gone already (under the bundle lock, no create of this id in
    /// this process is under way).
    async fn delete_after_outage(self) {
        let id = &self.shared.id;
        let containerd = &self.shared.client.containerd;
        let _bundle_lock = BundleLock::acquire(&self.shared.client.state_dir, id).await;
        let outcome = match containerd.get_container(id).await {
            Ok(record) if record.created_at != self.shared.record_created_at => {
                tracing::info!(container = %id, "container made again since the delete failed; left alone");
                return;
            }
            Ok(_) => match self.refuse_if_task_exists().await {
                Ok(()) => containerd.delete_container(id).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                drop(_bundle_lock);
                return self.defer_delete();
            }
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "cannot complete a container delete that failed while containerd was away");
                return;
            }
        }
        bundle::remove(&self.shared.bundle);
        tracing::info!(container = %id, "completed a container delete that failed while containerd was away");
    }

    async fn refuse_if_task_exists(&self) -> Result<()> {
        if has_task(&self.shared.client.containerd, &self.shared.id).await? {
            return Err(Error::failed_precondition(format!(
                "cannot delete running task {}: failed precondition",
                self.shared.id
            )));
        }
        Ok(())
    }
}

impl ContainerShared {
    /// The container's runtime options when they are runc's ([`RUNC_OPTIONS_TYPE`]).
    pub(crate) fn runc_options(&self) -> Option<&Any> {
        self.runtime_options.as_ref().filter(|o| o.type_url.rsplit('/').next() == Some(RUNC_OPTIONS_TYPE))
    }

    /// The options for a task of this container: the container's runc options with the IO
    /// owner set to the user-namespace root. Other runtimes' options are not touched.
    pub fn task_options(&self) -> Option<Any> {
        let mut options = self.runc_options()?.clone();
        if self.spec.host_uid != 0 || self.spec.host_gid != 0 {
            // Protobuf keeps the last value of a repeated scalar field, so appending io_uid (4)
            // and io_gid (5) overrides them without decoding the rest of the message.
            prost::encoding::uint32::encode(4, &self.spec.host_uid, &mut options.value);
            prost::encoding::uint32::encode(5, &self.spec.host_gid, &mut options.value);
        }
        Some(options)
    }
}

#[cfg(test)]
mod tests {
    use super::TaskPresence;

    #[test]
    fn a_new_container_has_no_task_until_a_create_is_tried() {
        let presence = TaskPresence::known_absent();
        assert!(presence.is_known_absent());
        presence.may_exist();
        assert!(!presence.is_known_absent());
        let generation = presence.before_delete();
        presence.deleted(generation);
        assert!(presence.is_known_absent(), "a delete that succeeded settles it");
    }

    #[test]
    fn a_delete_answered_after_a_later_create_began_does_not_claim_absence() {
        let presence = TaskPresence::known_absent();
        presence.may_exist();
        let generation = presence.before_delete();
        presence.may_exist(); // a new create starts while the delete is on its way
        presence.deleted(generation);
        assert!(!presence.is_known_absent());
    }

    #[test]
    fn a_loaded_container_does_not_know() {
        assert!(!TaskPresence::default().is_known_absent());
    }
}
