//! Containers: the containerd record plus its bundle directory, with the metadata later calls
//! need kept in the handle so that nothing is fetched twice (seeds 000 and 002).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_client::services::v1::{container::Runtime, Container as ContainerRecord};
use prost_types::Any;

use crate::bundle::{self, BUNDLE_PATH_LABEL};
use crate::client::{Client, ClientShared};
use crate::error::{Error, ErrorKind, Result};
use crate::identifiers;
use crate::spec::SpecInfo;

/// The type URL of a runtime-spec `Spec` carried in an `Any`.
pub const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
/// The runc shim's options message (`containerd.runc.v1.Options`).
pub const RUNC_OPTIONS_TYPE: &str = "containerd.runc.v1.Options";

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
}

/// A containerd container this library manages.
#[derive(Debug, Clone)]
pub struct Container {
    pub(crate) shared: Arc<ContainerShared>,
}

impl Container {
    /// Creates the bundle directory and the containerd container record. One RPC
    /// (Containers.Create). On failure, nothing this call created is left behind.
    pub async fn create(client: &Client, id: &str, config: ContainerConfig) -> Result<Container> {
        identifiers::validate("container id", id)?;
        if config.runtime.is_empty() {
            return Err(Error::invalid_argument("runtime name must not be empty"));
        }
        let spec = SpecInfo::from_spec_json(&config.spec_json)?;
        let new_bundle = bundle::create(client.state_dir(), id, &spec)?;
        let bundle_path = new_bundle.path().to_string_lossy().into_owned();
        let mut labels = config.labels;
        labels.insert(BUNDLE_PATH_LABEL.to_owned(), bundle_path);
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
        client.shared.containerd.create_container(record).await.map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => Error::new(ErrorKind::AlreadyExists, format!("id already in use: {}", e.message())),
            _ => e,
        })?;
        Ok(Container::from_parts(client, id.to_owned(), new_bundle.keep(), spec, config.runtime_options))
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
        Ok(Container::from_parts(client, id.to_owned(), bundle, spec, runtime_options))
    }

    fn from_parts(client: &Client, id: String, bundle: PathBuf, spec: SpecInfo, runtime_options: Option<Any>) -> Self {
        Container {
            shared: Arc::new(ContainerShared {
                client: client.shared.clone(),
                id,
                bundle,
                spec,
                runtime_options,
                exec_start_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn id(&self) -> &str {
        &self.shared.id
    }

    pub fn bundle_dir(&self) -> &Path {
        &self.shared.bundle
    }

    pub fn spec_info(&self) -> SpecInfo {
        self.shared.spec
    }

    /// Deletes the container record and its bundle directory (kept when
    /// `LIBCONTAINERD_NOCLEAN=1`). Refused while the container has a task. Two RPCs
    /// (Tasks.Get to check for a task, Containers.Delete).
    pub async fn delete(&self) -> Result<()> {
        let containerd = &self.shared.client.containerd;
        match containerd.get_process(&self.shared.id, "").await {
            Ok(_) => {
                return Err(Error::failed_precondition(format!(
                    "cannot delete running task {}: failed precondition",
                    self.shared.id
                )))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        containerd.delete_container(&self.shared.id).await?;
        bundle::remove(&self.shared.bundle);
        Ok(())
    }
}

impl ContainerShared {
    /// The options for a task of this container: the container's runc options with the IO
    /// owner set to the user-namespace root. Other runtimes' options are not touched.
    pub fn task_options(&self) -> Option<Any> {
        let options = self.runtime_options.as_ref()?;
        if options.type_url.rsplit('/').next() != Some(RUNC_OPTIONS_TYPE) {
            return None;
        }
        let mut options = options.clone();
        if self.spec.host_uid != 0 || self.spec.host_gid != 0 {
            // Protobuf keeps the last value of a repeated scalar field, so appending io_uid (4)
            // and io_gid (5) overrides them without decoding the rest of the message.
            prost::encoding::uint32::encode(4, &self.spec.host_uid, &mut options.value);
            prost::encoding::uint32::encode(5, &self.spec.host_gid, &mut options.value);
        }
        Some(options)
    }
}
