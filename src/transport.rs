//! The HTTP/2 transport under the gRPC clients: one h2 connection over containerd's socket,
//! dialled again when it is lost.
//!
//! Written here instead of using tonic's `Channel` because of what that costs per RPC: a
//! request went from the caller's task through a buffer task and hyper's dispatch task, and
//! hyper then spawned one more task for the request body, which only got flow-control capacity
//! after the connection had flushed the HEADERS frame, so every unary RPC left as two writes
//! (and woke containerd twice). Here the caller's own task encodes the message and queues
//! HEADERS and DATA together; the connection task writes both at once. Streaming request
//! bodies (content uploads) still get a task that pumps them with flow control.

use std::future::{poll_fn, Future};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{Reason, RecvStream, SendStream};
use http_body::{Body, Frame};
use tonic::Status;

use crate::socket::SocketStream;

/// Receive windows as hyper's HTTP/2 client sets them (tonic's `Channel` used those): large
/// enough that pid lists, metrics and content reads do not stall on window updates.
const STREAM_WINDOW: u32 = 2 << 20;
const CONNECTION_WINDOW: u32 = 5 << 20;

type GrpcRequest = http::Request<tonic::body::Body>;
type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, Status>> + Send>>;

/// A cloneable handle on the connection to one containerd socket.
#[derive(Clone, Debug)]
pub struct Transport {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    socket: PathBuf,
    connect_timeout: Duration,
    /// The connection requests go to; `None` or closed means the next request dials.
    current: Mutex<Option<Connection>>,
    /// Held while dialling, so concurrent requests after a loss dial once.
    dialing: tokio::sync::Mutex<()>,
}

#[derive(Clone, Debug)]
struct Connection {
    sender: SendRequest<Bytes>,
    /// Set by the connection's task when it ends (the socket closed or failed, or a GOAWAY).
    closed: Arc<AtomicBool>,
}

impl Connection {
    fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }
}

impl Transport {
    /// Dials `socket` now, so a wrong path or a containerd that is not there fails the connect
    /// rather than the first request. Must run inside the library's runtime.
    pub async fn connect(socket: &Path, connect_timeout: Duration) -> Result<Self, Status> {
        let inner = Inner {
            socket: socket.to_path_buf(),
            connect_timeout,
            current: Mutex::new(None),
            dialing: tokio::sync::Mutex::new(()),
        };
        let connection = inner.dial().await?;
        *inner.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(connection);
        Ok(Transport { inner: Arc::new(inner) })
    }

    async fn send(inner: Arc<Inner>, request: GrpcRequest) -> Result<http::Response<ResponseBody>, Status> {
        let (parts, mut body) = request.into_parts();
        let head = http::Request::from_parts(parts, ());
        // Nothing has been sent while the connection is not ready, so a connection found
        // closed here is dialled again once.
        let Connection { sender, closed } = inner.connection().await?;
        let mut sender = match sender.ready().await {
            Ok(sender) => sender,
            Err(e) if is_connection_lost(&e) => {
                closed.store(true, Ordering::Release);
                inner.connection().await?.sender.ready().await.map_err(status_of)?
            }
            Err(e) => return Err(status_of(e)),
        };

        let mut next = poll_body(&mut body).await;
        if let Poll::Ready(None) = next {
            let (response, _) = sender.send_request(head, true).map_err(status_of)?;
            return receive(response).await;
        }
        let (response, mut stream) = sender.send_request(head, false).map_err(status_of)?;
        // A unary body is ready at once: its message, then its end. Both are queued before
        // this task yields, so HEADERS and DATA go out in one write.
        loop {
            match next {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let after = poll_body(&mut body).await;
                        let end = matches!(after, Poll::Ready(None));
                        stream.send_data(data, end).map_err(status_of)?;
                        if end {
                            break;
                        }
                        next = after;
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            stream.send_trailers(trailers).map_err(status_of)?;
                        }
                        break;
                    }
                },
                Poll::Ready(Some(Err(status))) => {
                    stream.send_reset(Reason::CANCEL);
                    return Err(status);
                }
                // Not reached: the look-ahead above sees every end; kept so that an end always
                // closes the stream.
                Poll::Ready(None) => {
                    stream.send_data(Bytes::new(), true).map_err(status_of)?;
                    break;
                }
                Poll::Pending => {
                    // A streaming body: the caller produces messages while it reads replies.
                    tokio::spawn(pump(body, stream));
                    break;
                }
            }
        }
        receive(response).await
    }
}

impl tower::Service<GrpcRequest> for Transport {
    type Response = http::Response<ResponseBody>;
    type Error = Status;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        // Readiness is the connection's (its stream limit), awaited inside `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> ResponseFuture {
        Box::pin(Transport::send(self.inner.clone(), request))
    }
}

impl Inner {
    /// The open connection, dialling one if there is none.
    async fn connection(&self) -> Result<Connection, Status> {
        if let Some(open) = self.open_connection() {
            return Ok(open);
        }
        let _dialing = self.dialing.lock().await;
        // Another request may have dialled while this one waited.
        if let Some(open) = self.open_connection() {
            return Ok(open);
        }
        let connection = self.dial().await?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(connection.clone());
        Ok(connection)
    }

    fn open_connection(&self) -> Option<Connection> {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.as_ref().filter(|c| c.is_open()).cloned()
    }

    async fn dial(&self) -> Result<Connection, Status> {
        let unavailable = |what: &dyn std::fmt::Display| {
            Status::unavailable(format!("connect to containerd at {}: {what}", self.socket.display()))
        };
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        let timed_out = || unavailable(&format_args!("no HTTP/2 answer within {:?}", self.connect_timeout));
        let handshake = async {
            let socket = SocketStream::connect(&self.socket).await.map_err(|e| unavailable(&e))?;
            h2::client::Builder::new()
                .enable_push(false)
                .initial_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .handshake::<_, Bytes>(socket)
                .await
                .map_err(|e| unavailable(&e))
        };
        let (sender, mut connection) = tokio::time::timeout_at(deadline, handshake).await.map_err(|_| timed_out())??;
        let pings = connection.ping_pong().expect("a new connection's pings are not taken yet");
        let closed = Arc::new(AtomicBool::new(false));
        let closed_by_task = closed.clone();
        let socket = self.socket.clone();
        let (answered_tx, answered_rx) = tokio::sync::oneshot::channel();
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let ended = tokio::select! {
                done = &mut connection => match done {
                    Ok(()) => "the peer closed the connection".to_owned(),
                    Err(e) => e.to_string(),
                },
                lost = keepalive(pings, answered_tx) => lost,
            };
            tracing::debug!(socket = %socket.display(), error = %ended, "containerd connection ended");
            closed_by_task.store(true, Ordering::Release);
            // Dropping the connection fails the requests still waiting on it.
            drop(connection);
            let _ = ended_tx.send(ended);
        });
        // h2's handshake only sends the client preface; a peer that accepted the socket but is
        // not an HTTP/2 server (silent, HTTP/1.1, garbage) shows itself by not answering a PING.
        let answered = async {
            match answered_rx.await {
                Ok(()) => Ok(()),
                Err(_) => Err(ended_rx.await.unwrap_or_default()),
            }
        };
        match tokio::time::timeout_at(deadline, answered).await {
            Ok(Ok(())) => Ok(Connection { sender, closed }),
            Ok(Err(reason)) => Err(unavailable(&format_args!("the peer does not speak HTTP/2 (is it containerd?): {reason}"))),
            Err(_) => {
                task.abort();
                Err(timed_out())
            }
        }
    }
}

/// How often an open connection checks that containerd still answers, and how long it waits
/// for the answer: a connection whose peer is gone without closing the socket (stopped,
/// hung) fails its requests as unavailable after at most the sum, instead of leaving them
/// waiting forever. One PING frame every 10 s costs nothing measurable.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pings the peer at once (telling `answered` when the first answer comes), then every
/// [`KEEPALIVE_INTERVAL`]; returns why the connection must be given up.
async fn keepalive(mut pings: h2::PingPong, answered: tokio::sync::oneshot::Sender<()>) -> String {
    let mut answered = Some(answered);
    loop {
        match tokio::time::timeout(KEEPALIVE_TIMEOUT, pings.ping(h2::Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(e)) => return format!("keepalive ping failed: {e}"),
            Err(_) => return format!("containerd did not answer a keepalive ping within {KEEPALIVE_TIMEOUT:?}"),
        }
        if let Some(answered) = answered.take() {
            let _ = answered.send(());
        }
        tokio::time::sleep(KEEPALIVE_INTERVAL).await;
    }
}

/// Polls `body` once: a ready frame, its end, or `Pending` when the producer has nothing yet.
async fn poll_body(body: &mut tonic::body::Body) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await
}

/// Sends a streaming request body as its producer makes it, within the stream's flow-control
/// window, until it ends, fails, or containerd resets the stream.
async fn pump(mut body: tonic::body::Body, mut stream: SendStream<Bytes>) {
    loop {
        let frame = tokio::select! {
            frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)) => frame,
            _ = poll_fn(|cx| stream.poll_reset(cx)) => return,
        };
        let sent = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => send_within_window(&mut stream, data).await,
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => return drop(stream.send_trailers(trailers)),
                    Err(_) => Ok(()),
                },
            },
            Some(Err(status)) => {
                tracing::debug!(%status, "request body failed; resetting the stream");
                return stream.send_reset(Reason::CANCEL);
            }
            None => return drop(stream.send_data(Bytes::new(), true)),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Waits until the stream may send at least part of `data`, then queues all of it: at most one
/// message beyond the window is ever buffered.
async fn send_within_window(stream: &mut SendStream<Bytes>, data: Bytes) -> Result<(), h2::Error> {
    if data.is_empty() {
        return Ok(());
    }
    stream.reserve_capacity(data.len());
    while stream.capacity() == 0 {
        match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => return Err(h2::Error::from(Reason::CANCEL)),
        }
    }
    stream.send_data(data, false)
}

async fn receive(response: h2::client::ResponseFuture) -> Result<http::Response<ResponseBody>, Status> {
    let response = response.await.map_err(status_of)?;
    let (parts, stream) = response.into_parts();
    Ok(http::Response::from_parts(parts, ResponseBody { stream, state: BodyState::Data }))
}

/// A response body read from the h2 stream, giving its receive window back as it is read.
#[derive(Debug)]
pub struct ResponseBody {
    stream: RecvStream,
    state: BodyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Data,
    Trailers,
    Done,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if this.state == BodyState::Data {
            match ready!(this.stream.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Failing only when the stream is already gone, which the next poll reports.
                    let _ = this.stream.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => {
                    this.state = BodyState::Done;
                    return Poll::Ready(Some(Err(status_of(e))));
                }
                None => this.state = BodyState::Trailers,
            }
        }
        if this.state == BodyState::Trailers {
            let trailers = ready!(this.stream.poll_trailers(cx));
            this.state = BodyState::Done;
            return Poll::Ready(match trailers {
                Ok(Some(trailers)) => Some(Ok(Frame::trailers(trailers))),
                Ok(None) => None,
                Err(e) => Some(Err(status_of(e))),
            });
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.state == BodyState::Done
    }
}

/// Whether `e` means the connection itself is gone (so a new one is needed), not one stream.
fn is_connection_lost(e: &h2::Error) -> bool {
    e.is_io() || e.is_go_away()
}

/// The gRPC status for a transport failure, as the gRPC HTTP/2 mapping gives it; a lost
/// connection is `Unavailable`, which callers may retry.
fn status_of(e: h2::Error) -> Status {
    if is_connection_lost(&e) {
        return Status::unavailable(format!("connection to containerd lost: {e}"));
    }
    let code = match e.reason() {
        Some(Reason::REFUSED_STREAM) => tonic::Code::Unavailable,
        Some(Reason::CANCEL) => tonic::Code::Cancelled,
        Some(Reason::ENHANCE_YOUR_CALM) => tonic::Code::ResourceExhausted,
        Some(Reason::INADEQUATE_SECURITY) => tonic::Code::PermissionDenied,
        Some(_) => tonic::Code::Internal,
        None => tonic::Code::Unknown,
    };
    Status::new(code, format!("HTTP/2 stream error: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_client::services::v1::version_client::VersionClient;
    use tonic::Code;

    #[test]
    fn a_peer_that_hangs_up_makes_requests_fail_as_unavailable() {
        let dir = std::env::temp_dir().join(format!("lcd-transport-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hangs-up.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        // The first connection speaks HTTP/2 until the first request arrives, then closes;
        // every redial is closed at once.
        crate::runtime::handle().spawn(async move {
            let listener = tokio::net::UnixListener::from_std(listener).unwrap();
            if let Ok((first, _)) = listener.accept().await {
                if let Ok(mut connection) = h2::server::handshake(first).await {
                    let _ = connection.accept().await;
                    // Hangs up once the request is in, not while it is still being sent.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            while let Ok(redial) = listener.accept().await {
                drop(redial);
            }
        });
        let status = crate::runtime::block_on(None, async {
            let transport = Transport::connect(&path, Duration::from_secs(5)).await.expect("the first dial");
            let origin = http::Uri::from_static("http://containerd.sock");
            Ok(VersionClient::with_origin(transport, origin).version(()).await.unwrap_err())
        })
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }

    #[test]
    fn stream_resets_follow_the_grpc_mapping() {
        for (reason, code) in [
            (Reason::REFUSED_STREAM, Code::Unavailable),
            (Reason::CANCEL, Code::Cancelled),
            (Reason::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
            (Reason::PROTOCOL_ERROR, Code::Internal),
        ] {
            let reset = h2::Error::from(reason);
            assert!(!is_connection_lost(&reset), "{reason:?}");
            assert_eq!(status_of(reset).code(), code, "{reason:?}");
        }
    }
}
