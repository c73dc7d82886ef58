//! The one place that talks to containerd's gRPC services.
//!
//! Every request goes through [`Containerd::request`], which adds the namespace metadata and
//! counts the RPC, and every failure is mapped by [`Error::from_grpc`] with what was being done.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use containerd_client::services::v1 as api;
use containerd_client::services::v1::{
    containers_client::ContainersClient, events_client::EventsClient, tasks_client::TasksClient,
    version_client::VersionClient, content_client::ContentClient, leases_client::LeasesClient,
};
use containerd_client::types::Envelope;
use tonic::metadata::AsciiMetadataValue;
use tonic::Request;

use crate::error::{Error, ErrorKind, Result};
use crate::transport::Transport;

/// containerd's own gRPC message limit; tonic's default of 4 MiB is too small for large specs
/// and pid lists.
const MAX_MESSAGE_BYTES: usize = 16 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Declares the RPCs, each once: its variant and the gRPC method name as containerd's metrics
/// label it.
macro_rules! rpcs {
    ($($rpc:ident => $method:literal,)*) => {
        /// The containerd RPCs this library sends, for counting.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Rpc {
            $($rpc,)*
        }

        impl Rpc {
            /// How many there are.
            const COUNT: usize = [$(Rpc::$rpc),*].len();

            /// The gRPC method name as containerd's metrics label it.
            pub fn method(self) -> &'static str {
                match self {
                    $(Rpc::$rpc => $method,)*
                }
            }
        }
    };
}

rpcs! {
    Version => "containerd.services.version.v1.Version/Version",
    ContainersCreate => "containerd.services.containers.v1.Containers/Create",
    ContainersGet => "containerd.services.containers.v1.Containers/Get",
    ContainersDelete => "containerd.services.containers.v1.Containers/Delete",
    TasksCreate => "containerd.services.tasks.v1.Tasks/Create",
    TasksStart => "containerd.services.tasks.v1.Tasks/Start",
    TasksGet => "containerd.services.tasks.v1.Tasks/Get",
    TasksList => "containerd.services.tasks.v1.Tasks/List",
    TasksKill => "containerd.services.tasks.v1.Tasks/Kill",
    TasksDelete => "containerd.services.tasks.v1.Tasks/Delete",
    TasksExec => "containerd.services.tasks.v1.Tasks/Exec",
    TasksDeleteProcess => "containerd.services.tasks.v1.Tasks/DeleteProcess",
    TasksPause => "containerd.services.tasks.v1.Tasks/Pause",
    TasksResume => "containerd.services.tasks.v1.Tasks/Resume",
    TasksListPids => "containerd.services.tasks.v1.Tasks/ListPids",
    TasksUpdate => "containerd.services.tasks.v1.Tasks/Update",
    TasksResizePty => "containerd.services.tasks.v1.Tasks/ResizePty",
    TasksCloseIo => "containerd.services.tasks.v1.Tasks/CloseIO",
    TasksMetrics => "containerd.services.tasks.v1.Tasks/Metrics",
    TasksCheckpoint => "containerd.services.tasks.v1.Tasks/Checkpoint",
    LeasesCreate => "containerd.services.leases.v1.Leases/Create",
    LeasesDelete => "containerd.services.leases.v1.Leases/Delete",
    ContentWrite => "containerd.services.content.v1.Content/Write",
    ContentRead => "containerd.services.content.v1.Content/Read",
    EventsSubscribe => "containerd.services.events.v1.Events/Subscribe",
}

/// Per-method RPC counters of one client.
#[derive(Debug, Default)]
pub struct RpcCounts([AtomicU64; Rpc::COUNT]);

impl RpcCounts {
    fn add(&self, rpc: Rpc) {
        self.0[rpc as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, rpc: Rpc) -> u64 {
        self.0[rpc as usize].load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// A gRPC connection to one containerd, bound to one namespace.
#[derive(Debug)]
pub struct Containerd {
    transport: Transport,
    /// Scheme and authority of every request's URI (HTTP/2 requires both; the socket is what
    /// is dialled).
    origin: http::Uri,
    namespace: String,
    namespace_header: AsciiMetadataValue,
    counts: RpcCounts,
}

impl Containerd {
    /// Connects to the containerd socket at `socket`. The namespace must already be validated.
    pub async fn connect(socket: &Path, namespace: &str) -> Result<Self> {
        let namespace_header = AsciiMetadataValue::try_from(namespace)
            .map_err(|_| Error::invalid_argument(format!("namespace {} is not valid metadata", crate::identifiers::quote(namespace))))?;
        let transport = Transport::connect(socket, CONNECT_TIMEOUT)
            .await
            .map_err(|status| Error::new(ErrorKind::Unavailable, status.message().to_owned()))?;
        Ok(Containerd {
            transport,
            origin: http::Uri::from_static("http://containerd.sock"),
            namespace: namespace.to_owned(),
            namespace_header,
            counts: RpcCounts::default(),
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn counts(&self) -> &RpcCounts {
        &self.counts
    }

    fn request<T>(&self, rpc: Rpc, message: T) -> Request<T> {
        self.counts.add(rpc);
        tracing::trace!(method = rpc.method(), namespace = %self.namespace, "containerd request");
        let mut request = Request::new(message);
        request.metadata_mut().insert("containerd-namespace", self.namespace_header.clone());
        request
    }

    /// A request whose writes to the content store are held by `lease` until it is deleted.
    fn leased_request<T>(&self, rpc: Rpc, message: T, lease: &str) -> Result<Request<T>> {
        let mut request = self.request(rpc, message);
        let value = AsciiMetadataValue::try_from(lease).map_err(|_| Error::internal(format!("lease id {lease:?} is not valid metadata")))?;
        request.metadata_mut().insert("containerd-lease", value);
        Ok(request)
    }

    fn leases(&self) -> LeasesClient<Transport> {
        LeasesClient::with_origin(self.transport.clone(), self.origin.clone())
    }

    fn content(&self) -> ContentClient<Transport> {
        ContentClient::with_origin(self.transport.clone(), self.origin.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn containers(&self) -> ContainersClient<Transport> {
        ContainersClient::with_origin(self.transport.clone(), self.origin.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn tasks(&self) -> TasksClient<Transport> {
        TasksClient::with_origin(self.transport.clone(), self.origin.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub async fn version(&self) -> Result<api::VersionResponse> {
        VersionClient::with_origin(self.transport.clone(), self.origin.clone())
            .version(self.request(Rpc::Version, ()))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::from_grpc("get containerd version", &s))
    }

    pub async fn create_container(&self, container: api::Container) -> Result<api::Container> {
        let id = container.id.clone();
        let request = api::CreateContainerRequest { container: Some(container) };
        self.containers()
            .create(self.request(Rpc::ContainersCreate, request))
            .await
            .map_err(|s| Error::from_grpc(&format!("create container {id}"), &s))?
            .into_inner()
            .container
            .ok_or_else(|| Error::internal(format!("create container {id}: containerd returned no container")))
    }

    pub async fn get_container(&self, id: &str) -> Result<api::Container> {
        let request = api::GetContainerRequest { id: id.to_owned() };
        self.containers()
            .get(self.request(Rpc::ContainersGet, request))
            .await
            .map_err(|s| Error::from_grpc(&format!("load container {id}"), &s))?
            .into_inner()
            .container
            .ok_or_else(|| Error::internal(format!("load container {id}: containerd returned no container")))
    }

    pub async fn delete_container(&self, id: &str) -> Result<()> {
        let request = api::DeleteContainerRequest { id: id.to_owned() };
        self.containers()
            .delete(self.request(Rpc::ContainersDelete, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("delete container {id}"), &s))
    }

    pub async fn create_task(&self, request: api::CreateTaskRequest) -> Result<api::CreateTaskResponse> {
        let id = request.container_id.clone();
        self.tasks()
            .create(self.request(Rpc::TasksCreate, request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::from_grpc(&format!("create task for container {id}"), &s))
    }

    pub async fn start_process(&self, container_id: &str, exec_id: &str) -> Result<u32> {
        let request = api::StartRequest { container_id: container_id.to_owned(), exec_id: exec_id.to_owned() };
        self.tasks()
            .start(self.request(Rpc::TasksStart, request))
            .await
            .map(|r| r.into_inner().pid)
            .map_err(|s| Error::from_grpc(&format!("start {}", process_name(container_id, exec_id)), &s))
    }

    pub async fn get_process(&self, container_id: &str, exec_id: &str) -> Result<containerd_client::types::v1::Process> {
        let request = api::GetRequest { container_id: container_id.to_owned(), exec_id: exec_id.to_owned() };
        let name = process_name(container_id, exec_id);
        self.tasks()
            .get(self.request(Rpc::TasksGet, request))
            .await
            .map_err(|s| Error::from_grpc(&format!("get {name}"), &s))?
            .into_inner()
            .process
            .ok_or_else(|| Error::internal(format!("get {name}: containerd returned no process")))
    }

    /// The init process of every task in the namespace, with its status and, once stopped,
    /// its exit (containerd lists no execs here).
    pub async fn list_tasks(&self) -> Result<Vec<containerd_client::types::v1::Process>> {
        let request = api::ListTasksRequest { filter: String::new() };
        self.tasks()
            .list(self.request(Rpc::TasksList, request))
            .await
            .map(|r| r.into_inner().tasks)
            .map_err(|s| Error::from_grpc("list tasks", &s))
    }

    pub async fn kill(&self, container_id: &str, exec_id: &str, signal: u32, all: bool) -> Result<()> {
        let request = api::KillRequest {
            container_id: container_id.to_owned(),
            exec_id: exec_id.to_owned(),
            signal,
            all,
        };
        self.tasks()
            .kill(self.request(Rpc::TasksKill, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("kill {} with signal {signal}", process_name(container_id, exec_id)), &s))
    }

    pub async fn delete_task(&self, container_id: &str) -> Result<api::DeleteResponse> {
        let request = api::DeleteTaskRequest { container_id: container_id.to_owned() };
        self.tasks()
            .delete(self.request(Rpc::TasksDelete, request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::from_grpc(&format!("delete task of container {container_id}"), &s))
    }

    pub async fn exec(&self, request: api::ExecProcessRequest) -> Result<()> {
        let name = process_name(&request.container_id, &request.exec_id);
        self.tasks()
            .exec(self.request(Rpc::TasksExec, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("exec {name}"), &s))
    }

    pub async fn delete_process(&self, container_id: &str, exec_id: &str) -> Result<api::DeleteResponse> {
        let request = api::DeleteProcessRequest { container_id: container_id.to_owned(), exec_id: exec_id.to_owned() };
        self.tasks()
            .delete_process(self.request(Rpc::TasksDeleteProcess, request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::from_grpc(&format!("delete {}", process_name(container_id, exec_id)), &s))
    }

    pub async fn pause(&self, container_id: &str) -> Result<()> {
        let request = api::PauseTaskRequest { container_id: container_id.to_owned() };
        self.tasks()
            .pause(self.request(Rpc::TasksPause, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("pause {}", process_name(container_id, "")), &s))
    }

    pub async fn resume(&self, container_id: &str) -> Result<()> {
        let request = api::ResumeTaskRequest { container_id: container_id.to_owned() };
        self.tasks()
            .resume(self.request(Rpc::TasksResume, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("resume {}", process_name(container_id, "")), &s))
    }

    pub async fn list_pids(&self, container_id: &str) -> Result<Vec<containerd_client::types::v1::ProcessInfo>> {
        let request = api::ListPidsRequest { container_id: container_id.to_owned() };
        self.tasks()
            .list_pids(self.request(Rpc::TasksListPids, request))
            .await
            .map(|r| r.into_inner().processes)
            .map_err(|s| Error::from_grpc(&format!("list pids of {}", process_name(container_id, "")), &s))
    }

    pub async fn update_task(&self, container_id: &str, resources: prost_types::Any) -> Result<()> {
        let request = api::UpdateTaskRequest {
            container_id: container_id.to_owned(),
            resources: Some(resources),
            annotations: Default::default(),
        };
        self.tasks()
            .update(self.request(Rpc::TasksUpdate, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("update resources of {}", process_name(container_id, "")), &s))
    }

    pub async fn resize_pty(&self, container_id: &str, exec_id: &str, width: u32, height: u32) -> Result<()> {
        let request = api::ResizePtyRequest { container_id: container_id.to_owned(), exec_id: exec_id.to_owned(), width, height };
        self.tasks()
            .resize_pty(self.request(Rpc::TasksResizePty, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("resize terminal of {}", process_name(container_id, exec_id)), &s))
    }

    pub async fn close_stdin(&self, container_id: &str, exec_id: &str) -> Result<()> {
        let request = api::CloseIoRequest { container_id: container_id.to_owned(), exec_id: exec_id.to_owned(), stdin: true };
        self.tasks()
            .close_io(self.request(Rpc::TasksCloseIo, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("close stdin of {}", process_name(container_id, exec_id)), &s))
    }

    /// The metrics of the tasks of `container_ids` (one `id==` filter each, which containerd
    /// ORs); errors name the first, the one asked for.
    pub async fn metrics(&self, container_ids: &[&str]) -> Result<Vec<containerd_client::types::Metric>> {
        let container_id = container_ids.first().copied().unwrap_or_default();
        let request = api::MetricsRequest { filters: container_ids.iter().map(|id| format!("id=={id}")).collect() };
        self.tasks()
            .metrics(self.request(Rpc::TasksMetrics, request))
            .await
            .map(|r| r.into_inner().metrics)
            .map_err(|s| Error::from_grpc(&format!("get metrics of {}", process_name(container_id, "")), &s))
    }

    /// A lease that keeps what is written under it from garbage collection until deleted; it
    /// expires by itself after `expire` in case the library never gets to delete it.
    pub async fn create_lease(&self, id: &str, expire: std::time::SystemTime) -> Result<()> {
        let expire = humantime::format_rfc3339_seconds(expire).to_string();
        let labels = [("containerd.io/gc.expire".to_owned(), expire)].into_iter().collect();
        let request = api::CreateRequest { id: id.to_owned(), labels };
        self.leases()
            .create(self.request(Rpc::LeasesCreate, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("create lease {id}"), &s))
    }

    /// Deletes a lease and, synchronously, the content only it held.
    pub async fn delete_lease(&self, id: &str) -> Result<()> {
        let request = api::DeleteRequest { id: id.to_owned(), sync: true };
        self.leases()
            .delete(self.request(Rpc::LeasesDelete, request))
            .await
            .map(drop)
            .map_err(|s| Error::from_grpc(&format!("delete lease {id}"), &s))
    }

    /// Streams `requests` (Write actions ending with a Commit) into the content store under
    /// `lease`; returns the committed digest and size.
    pub async fn write_content(
        &self,
        lease: &str,
        reference: &str,
        requests: tokio::sync::mpsc::Receiver<api::WriteContentRequest>,
    ) -> Result<(String, i64)> {
        let action = format!("write content {reference}");
        let request = self.leased_request(Rpc::ContentWrite, tokio_stream::wrappers::ReceiverStream::new(requests), lease)?;
        let mut responses = self.content().write(request).await.map_err(|s| Error::from_grpc(&action, &s))?.into_inner();
        while let Some(response) = responses.message().await.map_err(|s| Error::from_grpc(&action, &s))? {
            if response.action == api::WriteAction::Commit as i32 {
                return Ok((response.digest, response.offset.max(response.total)));
            }
        }
        Err(Error::internal(format!("{action}: the stream ended before the commit was confirmed")))
    }

    /// Reads a blob from the content store, chunk by chunk.
    pub async fn read_content(&self, digest: &str) -> Result<tonic::Streaming<api::ReadContentResponse>> {
        let request = api::ReadContentRequest { digest: digest.to_owned(), offset: 0, size: 0 };
        self.content()
            .read(self.request(Rpc::ContentRead, request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::from_grpc(&format!("read content {digest}"), &s))
    }

    /// Tasks.Checkpoint, with the checkpoint's content written under `lease`.
    pub async fn checkpoint_task_leased(
        &self,
        container_id: &str,
        options: Option<prost_types::Any>,
        lease: &str,
    ) -> Result<Vec<containerd_client::types::Descriptor>> {
        let request = api::CheckpointTaskRequest { container_id: container_id.to_owned(), parent_checkpoint: String::new(), options };
        self.tasks()
            .checkpoint(self.leased_request(Rpc::TasksCheckpoint, request, lease)?)
            .await
            .map(|r| r.into_inner().descriptors)
            .map_err(|s| Error::from_grpc(&format!("checkpoint {}", process_name(container_id, "")), &s))
    }

    /// Opens the task event stream of this namespace.
    pub async fn subscribe_task_events(&self) -> Result<tonic::Streaming<Envelope>> {
        // One filter string: its two conditions are ANDed by containerd.
        let filter = format!("namespace=={},topic~=|^/tasks/|", self.namespace);
        let request = api::SubscribeRequest { filters: vec![filter] };
        EventsClient::with_origin(self.transport.clone(), self.origin.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .subscribe(self.request(Rpc::EventsSubscribe, request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| Error::from_grpc("subscribe to task events", &s))
    }
}

fn process_name(container_id: &str, exec_id: &str) -> String {
    if exec_id.is_empty() {
        format!("task of container {container_id}")
    } else {
        format!("process {exec_id} of container {container_id}")
    }
}
