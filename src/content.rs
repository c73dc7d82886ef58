//! Moving directories in and out of containerd's content store as tar streams, under a lease
//! so that nothing is collected while in use and everything is collected afterwards.

use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use containerd_client::services::v1::{WriteAction, WriteContentRequest};
use containerd_client::types::Descriptor;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::containerd::Containerd;
use crate::error::{Error, ErrorKind, Result};

/// The media type of a CRIU checkpoint image tar.
pub const CRIU_CHECKPOINT_MEDIA_TYPE: &str = "application/vnd.containerd.container.criu.checkpoint.criu.tar";
/// Size of the chunks streamed to and from containerd.
const CHUNK_BYTES: usize = 1 << 20;
/// A lease outlives a crashed host program by at most this long.
const LEASE_EXPIRY: Duration = Duration::from_secs(24 * 60 * 60);

/// A containerd lease: content written under it stays until [`Lease::release`], which deletes
/// the lease and (synchronously) the content only it held. Dropped unreleased, it is released
/// in the background.
pub struct Lease {
    containerd: Arc<Containerd>,
    id: String,
    released: bool,
}

impl Lease {
    pub async fn create(containerd: &Arc<Containerd>, purpose: &str) -> Result<Lease> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let id = format!("lcd-{purpose}-{}-{nanos}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed));
        containerd.create_lease(&id, SystemTime::now() + LEASE_EXPIRY).await?;
        Ok(Lease { containerd: containerd.clone(), id, released: false })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        self.containerd.delete_lease(&self.id).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            let (containerd, id) = (self.containerd.clone(), std::mem::take(&mut self.id));
            crate::runtime::handle().spawn(async move {
                if let Err(e) = containerd.delete_lease(&id).await {
                    tracing::warn!(lease = %id, error = %e, "failed to delete lease");
                }
            });
        }
    }
}

/// A `Write` that turns bytes into content Write requests, `CHUNK_BYTES` at a time.
struct ContentWriter {
    tx: mpsc::Sender<WriteContentRequest>,
    reference: String,
    offset: i64,
    buffer: Vec<u8>,
    /// The digest is known before the commit, so a blob that already exists is still found.
    digest: Sha256,
}

impl ContentWriter {
    fn send(&mut self, request: WriteContentRequest) -> io::Result<()> {
        self.tx
            .blocking_send(request)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "containerd stopped taking the content"))
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        let len = data.len() as i64;
        self.digest.update(&data);
        let request = WriteContentRequest {
            action: WriteAction::Write as i32,
            r#ref: self.reference.clone(),
            offset: self.offset,
            data,
            ..Default::default()
        };
        self.send(request)?;
        self.offset += len;
        Ok(())
    }

    /// Sends what is left and the commit with the expected size and digest; returns the digest.
    fn commit(mut self) -> io::Result<String> {
        self.send_buffer()?;
        let digest = format!("sha256:{:x}", std::mem::take(&mut self.digest).finalize());
        let request = WriteContentRequest {
            action: WriteAction::Commit as i32,
            r#ref: self.reference.clone(),
            total: self.offset,
            offset: self.offset,
            expected: digest.clone(),
            ..Default::default()
        };
        self.send(request)?;
        Ok(digest)
    }
}

impl Write for ContentWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes a blob produced by `produce` (run on a blocking thread) into the content store under
/// `lease`; returns its descriptor. Nothing is committed when `produce` fails.
pub async fn write_blob(
    containerd: &Containerd,
    lease: &Lease,
    media_type: &str,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
) -> Result<Descriptor> {
    let (tx, rx) = mpsc::channel(4);
    let reference = format!("{}-blob", lease.id());
    let writer = ContentWriter {
        tx,
        reference: reference.clone(),
        offset: 0,
        buffer: Vec::with_capacity(CHUNK_BYTES),
        digest: Sha256::new(),
    };
    let producer = tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        produce(&mut writer)?;
        let size = writer.offset + writer.buffer.len() as i64;
        Ok::<_, io::Error>((writer.commit()?, size))
    });
    let (written, produced) = tokio::join!(containerd.write_content(lease.id(), &reference, rx), producer);
    let (digest, size) = match produced {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(Error::internal(format!("produce content {reference}: {e}"))),
        Err(e) => return Err(Error::internal(format!("produce content {reference}: {e}"))),
    };
    match written {
        Ok(_) => {}
        // The same bytes are already in the store: the descriptor is just as good.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    Ok(Descriptor { media_type: media_type.to_owned(), digest, size, annotations: Default::default() })
}

/// Tars the directory `dir` into the content store under `lease`.
pub async fn upload_dir_as_tar(containerd: &Containerd, lease: &Lease, dir: &Path, media_type: &str) -> Result<Descriptor> {
    let metadata = std::fs::metadata(dir).map_err(|e| Error::io("read checkpoint directory", dir, e))?;
    if !metadata.is_dir() {
        return Err(Error::invalid_argument(format!("{} is not a directory", crate::identifiers::shorten(&dir.to_string_lossy()))));
    }
    let dir = dir.to_path_buf();
    write_blob(containerd, lease, media_type, move |out| {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        builder.append_dir_all(".", &dir)?;
        builder.finish()
    })
    .await
}

/// A blocking `Read` over chunks arriving from an async task.
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    current: io::Cursor<Vec<u8>>,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(out)?;
            if n > 0 || out.is_empty() {
                return Ok(n);
            }
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = io::Cursor::new(chunk),
                None => return Ok(0),
            }
        }
    }
}

/// Reads the tar blob `digest` from the content store and unpacks it into `dir`, which must be
/// absent or empty. The tar is unpacked into a hidden sibling directory first and moved into
/// place only when complete, so a failure leaves nothing half-written. Entries that would land
/// outside the directory (absolute, or with `..`) are refused.
pub async fn download_tar_into_dir(containerd: &Containerd, digest: &str, dir: &Path) -> Result<()> {
    let staging = staging_dir_for(dir)?;
    let mut stream = containerd.read_content(digest).await?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    let target = staging.clone();
    let unpacker = tokio::task::spawn_blocking(move || unpack_checked(ChunkReader { rx, current: io::Cursor::new(Vec::new()) }, &target));
    let mut feed_error = None;
    loop {
        match stream.message().await {
            Ok(Some(chunk)) => {
                if tx.send(chunk.data).await.is_err() {
                    break; // the unpacker stopped: its error says why
                }
            }
            Ok(None) => break,
            Err(status) => {
                feed_error = Some(Error::from_grpc(&format!("read content {digest}"), &status));
                break;
            }
        }
    }
    drop(tx);
    let unpacked = unpacker.await.map_err(|e| Error::internal(format!("unpack {digest}: {e}")))?;
    let result = match (feed_error, unpacked) {
        (Some(e), _) | (None, Err(e)) => Err(e),
        (None, Ok(())) => move_into_place(&staging, dir),
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// Checks that `dir` can receive an unpacked archive: absolute, and absent or an empty
/// directory. Callers check before costly work, and the unpacking checks again.
pub fn check_target_dir(dir: &Path) -> Result<()> {
    if !dir.is_absolute() {
        return Err(Error::invalid_argument(format!("checkpoint directory {} is not absolute", crate::identifiers::shorten(&dir.to_string_lossy()))));
    }
    if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("checkpoint directory {} is not empty", crate::identifiers::shorten(&dir.to_string_lossy()))));
        }
    } else if dir.exists() {
        return Err(Error::invalid_argument(format!("{} is not a directory", crate::identifiers::shorten(&dir.to_string_lossy()))));
    }
    Ok(())
}

/// `<parent>/.<name>.lcd-partial`, after [`check_target_dir`].
fn staging_dir_for(dir: &Path) -> Result<PathBuf> {
    check_target_dir(dir)?;
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(Error::invalid_argument(format!("checkpoint directory {} has no parent", crate::identifiers::shorten(&dir.to_string_lossy()))));
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    let staging = parent.join(format!(".{}.lcd-partial", name.to_string_lossy()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging).map_err(|e| Error::io("create", &staging, e))?;
    Ok(staging)
}

/// Unpacks a checkpoint tar stream into `target`, refusing entries that would land outside it.
/// Public for the fuzz targets (fuzz/).
pub fn unpack_checked(reader: impl Read, target: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    let bad = |e: io::Error| Error::invalid_argument(format!("checkpoint archive is not a valid tar: {e}"));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        if path.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_))) {
            return Err(Error::invalid_argument(format!(
                "checkpoint archive entry {} would land outside the directory",
                crate::identifiers::shorten_path(&path)
            )));
        }
        entry.unpack_in(target).map_err(|e| Error::io("unpack checkpoint entry into", target, e))?;
    }
    Ok(())
}

fn move_into_place(staging: &Path, dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(|e| Error::io("replace empty directory", dir, e))?;
    }
    std::fs::rename(staging, dir).map_err(|e| Error::io("move checkpoint into", dir, e))
}
