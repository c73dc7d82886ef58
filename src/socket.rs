//! The client end of containerd's socket, watched by the runtime for readability only.
//!
//! tokio's `UnixStream` registers with epoll for both directions, edge-triggered, and a unix
//! socket reports "writable" each time the peer consumes something we sent. So every request
//! (its HEADERS and DATA frames) and every PING acknowledgement woke the library's worker once
//! more when containerd read it, only for the worker to find nothing to do and park again:
//! about half of its `epoll_wait` returns in the benchmark (BENCHMARKS.md). Here writes go
//! straight to the socket, and only when its buffer is full does a second registration (of a
//! duplicate descriptor) wait for room; it is dropped as soon as the write went through.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// A connected, non-blocking unix stream socket for the HTTP/2 connection (`crate::transport`).
#[derive(Debug)]
pub struct SocketStream {
    /// The socket, registered for readability.
    socket: AsyncFd<OwnedFd>,
    /// While a write waits for room in the socket buffer: a duplicate registered for
    /// writability.
    write_wait: Option<AsyncFd<OwnedFd>>,
}

impl SocketStream {
    /// Connects to the socket at `path`. Must run inside the library's runtime.
    pub async fn connect(path: &Path) -> io::Result<Self> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        // `into_std` deregisters tokio's two-way registration and keeps the socket non-blocking.
        Self::from_std(stream.into_std()?)
    }

    /// Wraps a connected socket, which is made non-blocking. Must run inside a runtime.
    pub fn from_std(stream: StdUnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(SocketStream { socket: register(OwnedFd::from(stream), Interest::READABLE)?, write_wait: None })
    }
}

/// Registers `fd`, which this module owns, with the runtime for `interest`.
fn register(fd: OwnedFd, interest: Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is an open descriptor that only closes when dropped, and its
    // `as_raw_fd` always gives that descriptor; the `AsyncFd` owns it until it is dropped.
    Ok(unsafe { AsyncFd::register_with_interest(fd, interest) }?)
}

/// `sendmsg` with `MSG_NOSIGNAL`, not `writev`: a write to a socket containerd has closed must
/// fail with EPIPE rather than raise SIGPIPE on the library's thread, which a host that does not
/// ignore SIGPIPE (a C program, or Go, which passes it on for threads it did not create) dies of.
fn send_vectored(fd: &OwnedFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    use nix::sys::socket::{sendmsg, MsgFlags};
    sendmsg::<()>(fd.as_raw_fd(), bufs, &[], MsgFlags::MSG_NOSIGNAL, None).map_err(io::Error::from)
}

impl AsyncRead for SocketStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.socket.poll_read_ready(cx))?;
            // SAFETY: `read` writes at most `wanted` bytes into the buffer and the
            // bytes it reports are marked initialised below; none are read before that.
            let unfilled = unsafe { buf.unfilled_mut() };
            let wanted = unfilled.len();
            let read = guard.try_io(|fd| {
                let n = unsafe { libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), wanted) };
                if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
            });
            match read {
                Ok(Ok(n)) => {
                    if n > 0 && n < wanted {
                        // A short read emptied the socket: wait for the next edge instead of
                        // finding out with one more read (as tokio's own streams do).
                        guard.clear_ready();
                    }
                    // SAFETY: the kernel initialised the first `n` bytes of the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Readiness was cleared; wait for the next edge.
                Err(_would_block) => {}
            }
        }
    }
}

impl AsyncWrite for SocketStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        loop {
            let this = &mut *self;
            let written = match &this.write_wait {
                None => match send_vectored(this.socket.get_ref(), bufs) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Registering reports the current state too: room freed since the
                        // failed write is not missed.
                        let duplicate = this.socket.get_ref().try_clone()?;
                        this.write_wait = Some(register(duplicate, Interest::WRITABLE)?);
                        continue;
                    }
                    other => other,
                },
                Some(waiting) => {
                    let mut guard = ready!(waiting.poll_write_ready(cx))?;
                    match guard.try_io(|fd| send_vectored(fd.get_ref(), bufs)) {
                        Ok(result) => result,
                        // Still full; readiness was cleared, wait for the next edge.
                        Err(_would_block) => continue,
                    }
                }
            };
            match written {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => {
                    this.write_wait = None;
                    return Poll::Ready(result);
                }
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = unsafe { libc::shutdown(self.socket.get_ref().as_raw_fd(), libc::SHUT_WR) };
        Poll::Ready(if done < 0 { Err(io::Error::last_os_error()) } else { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_write_larger_than_the_socket_buffer_waits_for_the_reader_and_arrives_whole() {
        let (ours, mut peer) = StdUnixStream::pair().unwrap();
        let mut stream = SocketStream::from_std(ours).unwrap();
        let sent: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
        let expected = sent.clone();
        // A slow reader on another thread, so the writer meets a full buffer many times.
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                std::thread::sleep(std::time::Duration::from_micros(200));
                match peer.read(&mut chunk).unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&chunk[..n]),
                }
            }
        });
        stream.write_all(&sent).await.unwrap();
        assert!(stream.write_wait.is_none(), "the writability registration outlived the wait");
        stream.shutdown().await.unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes arrived changed or out of order");
    }

    /// SIGPIPE is thread-directed: the handler notes which thread got it.
    static SIGPIPE_THREAD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

    extern "C" fn note_sigpipe(_: libc::c_int) {
        SIGPIPE_THREAD.store(unsafe { libc::gettid() }, std::sync::atomic::Ordering::SeqCst);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_after_containerd_closed_fails_with_epipe_and_raises_no_sigpipe() {
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
        // Rust programs ignore SIGPIPE; a Go or C host does not, so catch it here to see it.
        let catch = SigAction::new(SigHandler::Handler(note_sigpipe), SaFlags::empty(), SigSet::empty());
        let previous = unsafe { sigaction(Signal::SIGPIPE, &catch) }.unwrap();
        let (ours, peer) = StdUnixStream::pair().unwrap();
        drop(peer);
        let mut stream = SocketStream::from_std(ours).unwrap();
        let written = stream.write_all(b"frame").await;
        unsafe { sigaction(Signal::SIGPIPE, &previous) }.unwrap();
        assert_eq!(written.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert_ne!(
            SIGPIPE_THREAD.load(std::sync::atomic::Ordering::SeqCst),
            unsafe { libc::gettid() },
            "the write raised SIGPIPE, which ends a host process that does not ignore it"
        );
    }

    #[tokio::test]
    async fn reads_wait_for_data_and_see_the_end_of_the_stream() {
        let (ours, mut peer) = StdUnixStream::pair().unwrap();
        let mut stream = SocketStream::from_std(ours).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            peer.write_all(b"frame").unwrap();
        });
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        writer.join().unwrap();
        assert_eq!(got, b"frame");
    }
}
