//! A connection to containerd in one namespace, with the state directory where bundles live.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::containerd::{Containerd, RpcCounts};
use crate::error::{Error, Result};
use crate::events::{ClientOpen, EventHub, EventStream};
use crate::identifiers;
use crate::stats::StatsRounds;

/// What every handle made from a client shares.
#[derive(Debug)]
pub(crate) struct ClientShared {
    pub containerd: Arc<Containerd>,
    pub state_dir: PathBuf,
    pub events: EventHub,
    pub stats_rounds: StatsRounds,
}

/// A client of one containerd namespace. Cheap to clone; all clones share one connection and
/// one event subscription. Once every clone is dropped, the event subscription is not renewed
/// after it breaks (the containers, tasks and processes made from the client keep it serving
/// until then).
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) shared: Arc<ClientShared>,
    _open: Arc<ClientOpen>,
}

/// containerd's version, as reported by its Version service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub version: String,
    pub revision: String,
}

impl Client {
    /// Connects to the containerd socket `socket` for `namespace`; bundles go under
    /// `state_dir`. Starts the task event subscription at once (like moby's `NewClient`), so
    /// that no exit of a task started through this client is missed.
    pub async fn connect(socket: &Path, namespace: &str, state_dir: &Path) -> Result<Client> {
        identifiers::validate("namespace", namespace)?;
        if !state_dir.is_absolute() {
            return Err(Error::invalid_argument(format!(
                "state directory {} must be an absolute path",
                identifiers::quote(&state_dir.to_string_lossy())
            )));
        }
        if socket.as_os_str().is_empty() {
            return Err(Error::invalid_argument("containerd socket path must not be empty"));
        }
        // sockaddr_un's sun_path holds 108 bytes, the terminating NUL included.
        const SUN_PATH_MAX: usize = 107;
        if socket.as_os_str().len() > SUN_PATH_MAX {
            return Err(Error::invalid_argument(format!(
                "containerd socket path is {} bytes long, more than a unix socket address holds ({SUN_PATH_MAX})",
                socket.as_os_str().len()
            )));
        }
        let containerd = Arc::new(Containerd::connect(socket, namespace).await?);
        let events = EventHub::start(containerd.clone());
        let open = Arc::new(events.client_open());
        Ok(Client { shared: Arc::new(ClientShared { containerd, state_dir: state_dir.to_path_buf(), events, stats_rounds: StatsRounds::default() }), _open: open })
    }

    pub fn namespace(&self) -> &str {
        self.shared.containerd.namespace()
    }

    pub fn state_dir(&self) -> &Path {
        &self.shared.state_dir
    }

    /// containerd's version and revision. One RPC.
    pub async fn version(&self) -> Result<Version> {
        let v = self.shared.containerd.version().await?;
        Ok(Version { version: v.version, revision: v.revision })
    }

    /// Opens the caller's event stream (one at a time per client).
    pub fn subscribe(&self) -> Result<EventStream> {
        self.shared.events.subscribe()
    }

    /// The client's containerd connection, for the few callers (tests, tools) that need a
    /// request the handle API does not offer.
    pub fn containerd(&self) -> &Containerd {
        &self.shared.containerd
    }

    /// How many containerd RPCs this client has sent, by method.
    pub fn rpc_counts(&self) -> &RpcCounts {
        self.shared.containerd.counts()
    }
}
