//! Bundle directories and the FIFO sets of processes (seeds 000 and 001).

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::{chown, Gid, Uid};

use crate::error::{Error, ErrorKind, Result};
use crate::spec::SpecInfo;

/// The container label that records where a container's bundle directory is.
pub const BUNDLE_PATH_LABEL: &str = "com.docker/engine.bundle.path";

/// A bundle directory made for a new container, removed again unless [`NewBundle::keep`] is called.
/// This is what makes a failed create leave nothing behind.
#[derive(Debug)]
pub struct NewBundle {
    path: PathBuf,
    /// The directories this call made, outermost first. The last may be the bundle itself,
    /// whose contents are this call's; the others are parents that other containers' bundles
    /// may have come to share, removed only while empty.
    created: Vec<PathBuf>,
}

impl NewBundle {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container now owns the bundle: stop the cleanup.
    pub fn keep(mut self) -> PathBuf {
        self.created.clear();
        std::mem::take(&mut self.path)
    }
}

impl Drop for NewBundle {
    fn drop(&mut self) {
        for dir in self.created.iter().rev() {
            let removed = if *dir == self.path { fs::remove_dir_all(dir) } else { fs::remove_dir(dir) };
            if let Err(e) = removed {
                tracing::warn!(path = %dir.display(), error = %e, "failed to remove a directory made by a failed create");
            }
        }
    }
}

/// Serializes, within this process, the calls that make or remove one container's bundle
/// directory (a container create, from its mkdir to containerd's answer; a container delete):
/// so the loser of two creates of one id removes a directory it made only once no other call
/// can be using it. Keyed by `<state_dir>/<id>`.
pub(crate) struct BundleLock {
    key: PathBuf,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

type BundleLocks = std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Arc<tokio::sync::Mutex<()>>>>;
static BUNDLE_LOCKS: std::sync::LazyLock<BundleLocks> = std::sync::LazyLock::new(Default::default);

impl BundleLock {
    pub(crate) async fn acquire(state_dir: &Path, id: &str) -> BundleLock {
        let key = state_dir.join(id);
        let mutex = BUNDLE_LOCKS.lock().unwrap_or_else(|p| p.into_inner()).entry(key.clone()).or_default().clone();
        BundleLock { key, guard: Some(mutex.lock_owned().await) }
    }
}

impl Drop for BundleLock {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = BUNDLE_LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        // Nobody else holds or waits for it (they clone it under this lock): forget it.
        if locks.get(&self.key).is_some_and(|m| std::sync::Arc::strong_count(m) == 1) {
            locks.remove(&self.key);
        }
    }
}

/// Creates the bundle directory `<state_dir>/<id>` for a container whose spec is `spec`.
///
/// Without a user namespace, missing directories are created 0755 and owned by root. With one,
/// every path component that is missing or not world-executable is replaced by
/// `<name>.<uid>.<gid>`, created 0700 and owned by the remapped root, so the remapped
/// container can reach its bundle (moby's `WithBundle`). The returned path is the one to record.
pub fn create(state_dir: &Path, id: &str, spec: &SpecInfo) -> Result<NewBundle> {
    if !state_dir.is_absolute() {
        return Err(Error::invalid_argument(format!("state directory {} is not an absolute path", crate::identifiers::shorten(&state_dir.to_string_lossy()))));
    }
    let target = state_dir.join(id);
    let (uid, gid) = (spec.host_uid, spec.host_gid);
    if uid == u32::MAX || gid == u32::MAX {
        // chown(2) reads (uid_t)-1 as "leave unchanged": the bundle would stay root's.
        return Err(Error::invalid_argument(format!(
            "the user namespace maps container root to host uid {uid}, gid {gid}: 4294967295 cannot own the bundle directory"
        )));
    }
    let remapped = uid != 0 || gid != 0;
    if !remapped {
        // The common case, the state directory already there: one mkdir instead of a stat of
        // every component on the way.
        match try_make_dir(&target, 0o755, 0, 0)? {
            Some(true) => return Ok(NewBundle { path: target.clone(), created: vec![target] }),
            Some(false) => return Ok(NewBundle { path: target, created: Vec::new() }),
            None => {}
        }
    }
    let mut path = PathBuf::from("/");
    let mut bundle = NewBundle { path: PathBuf::new(), created: Vec::new() };
    for component in target.components() {
        let Component::Normal(name) = component else { continue };
        path.push(name);
        let metadata = match fs::metadata(&path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("inspect bundle path", &path, e)),
        };
        if remapped {
            let world_executable = metadata.as_ref().is_some_and(|m| m.permissions().mode() & 0o001 != 0);
            if world_executable {
                continue;
            }
            let mut renamed: OsString = path.clone().into_os_string();
            renamed.push(format!(".{uid}.{gid}"));
            path = PathBuf::from(renamed);
            if make_dir(&path, 0o700, uid, gid)? {
                bundle.created.push(path.clone());
            }
        } else if metadata.is_none() && make_dir(&path, 0o755, 0, 0)? {
            bundle.created.push(path.clone());
        }
    }
    bundle.path = path;
    Ok(bundle)
}

/// Makes one directory with `mode` owned by `uid:gid`; false when it already existed.
fn make_dir(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<bool> {
    try_make_dir(path, mode, uid, gid)?
        .ok_or_else(|| Error::io("create bundle directory", path, std::io::ErrorKind::NotFound.into()))
}

/// [`make_dir`], or None when its parent does not exist.
fn try_make_dir(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<Option<bool>> {
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(Some(false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("create bundle directory", path, e)),
    }
    // The umask may have narrowed the mode.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io("set mode of", path, e))?;
    chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| Error::io("change owner of", path, e.into()))?;
    Ok(Some(true))
}

/// Removes a container's bundle directory, unless `LIBCONTAINERD_NOCLEAN=1` asks to keep it
/// for debugging (moby's switch).
pub fn remove(path: &Path) {
    if std::env::var_os("LIBCONTAINERD_NOCLEAN").is_some_and(|v| v == "1") {
        return;
    }
    match fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "failed to remove bundle directory"),
    }
}

/// Which of a process's standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    Stdin,
    Stdout,
    Stderr,
}

/// The FIFOs of one process in its container's bundle directory (moby's `newFIFOSet`):
/// `<process id>-stdout` always, `-stdin` only when asked, `-stderr` only without a terminal.
///
/// A FIFO already on disk is reused, as moby's fifo package does (one left by a task of an
/// earlier run of the host program that was deleted without IO), unless a live set of this
/// library holds that path: then the process id is in use. A new set removes the files it made
/// when dropped, until [`FifoSet::keep`] says the process exists: from then on the files outlive
/// the handle (a restarted host re-attaches to them) and go only with an explicit
/// [`FifoSet::remove`], when the process is deleted.
#[derive(Debug)]
pub struct FifoSet {
    stdin: Option<PathBuf>,
    stdout: PathBuf,
    stderr: Option<PathBuf>,
    /// The files this set made (a failed create removes only these).
    made: Vec<PathBuf>,
    /// The paths this set holds in [`CLAIMED_FIFOS`].
    claimed: Vec<PathBuf>,
    remove_on_drop: bool,
}

/// FIFO paths held by a live set of this library (a handle that made its process's FIFOs, until
/// the process is deleted or the handle freed): a second set for the same process id in this
/// process is refused at once instead of sharing the files (and asking containerd, whose
/// answer would come after the second handle began to listen for that id's exit).
static CLAIMED_FIFOS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl FifoSet {
    /// Creates the FIFO files, reusing a FIFO that is already there. On failure, the ones this
    /// call made are removed again; files that already existed are left alone. Already-exists
    /// when a live set of this library holds one of the paths, or a path is not a FIFO.
    pub fn create(bundle: &Path, process_id: &str, with_stdin: bool, terminal: bool) -> Result<Self> {
        let fifo_path = |stream: &str| bundle.join(format!("{process_id}-{stream}"));
        let mut set = FifoSet {
            stdin: with_stdin.then(|| fifo_path("stdin")),
            stdout: fifo_path("stdout"),
            stderr: (!terminal).then(|| fifo_path("stderr")),
            made: Vec::with_capacity(3),
            claimed: Vec::with_capacity(3),
            remove_on_drop: true,
        };
        let paths: Vec<PathBuf> = [set.stdin.clone(), Some(set.stdout.clone()), set.stderr.clone()].into_iter().flatten().collect();
        {
            let mut claimed = CLAIMED_FIFOS.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(held) = paths.iter().find(|p| claimed.contains(p)) {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("create fifo {}: in use by another process of this container", crate::identifiers::shorten_path(held)),
                ));
            }
            claimed.extend(paths.iter().cloned());
            set.claimed = paths.clone();
        }
        for path in paths {
            if make_fifo(&path)? {
                set.made.push(path);
            }
        }
        Ok(set)
    }

    /// Takes over FIFOs that already exist (those containerd names for a task being
    /// re-attached): [`FifoSet::remove`] removes them, never their directory. `None` when no
    /// stdout path is given.
    pub fn adopt(stdin: Option<PathBuf>, stdout: Option<PathBuf>, stderr: Option<PathBuf>) -> Option<Self> {
        let stdout = stdout?;
        Some(FifoSet { stdin, stdout, stderr, made: Vec::new(), claimed: Vec::new(), remove_on_drop: false })
    }

    pub fn path(&self, stream: Stdio) -> Option<&Path> {
        match stream {
            Stdio::Stdin => self.stdin.as_deref(),
            Stdio::Stdout => Some(&self.stdout),
            Stdio::Stderr => self.stderr.as_deref(),
        }
    }

    /// Opens the read ends of the output FIFOs without blocking. containerd's shim opens the
    /// write ends with a blocking open while it creates the task, so a reader must exist by
    /// then; holding these until Tasks.Create returns lets the caller open its own readers
    /// afterwards.
    pub fn open_output_readers(&self) -> Result<Vec<fs::File>> {
        use std::os::unix::fs::OpenOptionsExt;
        [Some(self.stdout.as_path()), self.stderr.as_deref()]
            .into_iter()
            .flatten()
            .map(|path| {
                fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                    .open(path)
                    .map_err(|e| Error::io("open fifo", path, e))
            })
            .collect()
    }

    /// The path as containerd expects it in a request ("" for a stream that is not used).
    pub fn request_path(&self, stream: Stdio) -> String {
        self.path(stream).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

impl FifoSet {
    /// The process exists now: keep the files when the set is dropped.
    pub fn keep(&mut self) {
        self.remove_on_drop = false;
    }

    fn release_claims(&mut self) {
        if !self.claimed.is_empty() {
            let released = std::mem::take(&mut self.claimed);
            CLAIMED_FIFOS.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| !released.contains(p));
        }
    }

    /// Removes the FIFO files, reused ones included (the process was deleted).
    pub fn remove(mut self) {
        let all = [self.stdin.clone(), Some(self.stdout.clone()), self.stderr.clone()];
        remove_files(all.iter().flatten());
        self.remove_on_drop = false;
    }
}

fn remove_files<'a>(paths: impl Iterator<Item = &'a PathBuf>) {
    for path in paths {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "failed to remove fifo"),
        }
    }
}

impl Drop for FifoSet {
    fn drop(&mut self) {
        if self.remove_on_drop {
            remove_files(self.made.iter());
        }
        self.release_claims();
    }
}

/// Makes a FIFO; false when one is already there (reused). A path that exists and is not a
/// FIFO is already-exists.
fn make_fifo(path: &Path) -> Result<bool> {
    use std::os::unix::fs::FileTypeExt;
    match nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o700)) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::EEXIST) => match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_fifo() => Ok(false),
            Ok(_) => Err(Error::new(ErrorKind::AlreadyExists, format!("create fifo {}: exists and is not a fifo", crate::identifiers::shorten_path(path)))),
            Err(e) => Err(Error::io("create fifo", path, e)),
        },
        Err(e) => Err(Error::io("create fifo", path, e.into())),
    }
}

/// Turns a byte path from the caller into a `PathBuf`, rejecting interior NULs.
pub fn path_from_bytes(what: &str, bytes: &[u8]) -> Result<PathBuf> {
    if bytes.contains(&0) {
        return Err(Error::invalid_argument(format!("{what} contains a NUL byte")));
    }
    Ok(PathBuf::from(OsString::from_vec(bytes.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lcd-bundle-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn plain_bundle_is_created_0755_and_removed_when_not_kept() {
        let state = scratch("plain");
        let bundle = create(&state, "c1", &SpecInfo::default()).unwrap();
        assert_eq!(bundle.path(), state.join("c1"));
        assert_eq!(fs::metadata(bundle.path()).unwrap().permissions().mode() & 0o777, 0o755);
        drop(bundle);
        assert!(!state.exists(), "a dropped new bundle removes what it created");
    }

    #[test]
    fn bundle_in_an_existing_state_directory_is_created_and_removed_alone() {
        let state = scratch("fast");
        fs::create_dir_all(&state).unwrap();
        let bundle = create(&state, "c1", &SpecInfo::default()).unwrap();
        assert_eq!(bundle.path(), state.join("c1"));
        assert_eq!(fs::metadata(bundle.path()).unwrap().permissions().mode() & 0o777, 0o755);
        drop(bundle);
        assert!(state.is_dir() && !state.join("c1").exists(), "only the bundle goes with a dropped new bundle");
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn existing_bundle_is_not_removed_by_a_failed_create() {
        let state = scratch("existing");
        let kept = create(&state, "c1", &SpecInfo::default()).unwrap().keep();
        drop(create(&state, "c1", &SpecInfo::default()).unwrap());
        assert!(kept.is_dir());
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn remapped_bundle_renames_components_that_are_not_world_executable() {
        let state = scratch("remapped");
        fs::create_dir_all(&state).unwrap();
        fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
        let spec = SpecInfo { terminal: false, host_uid: 100000, host_gid: 100001 };
        let bundle = create(&state, "c1", &spec).unwrap().keep();
        let parent = PathBuf::from(format!("{}.100000.100001", state.display()));
        assert_eq!(bundle, parent.join("c1.100000.100001"));
        let meta = fs::metadata(&bundle).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.permissions().mode() & 0o777), (100000, 100001, 0o700));
        fs::remove_dir_all(&parent).unwrap();
        fs::remove_dir_all(&state).unwrap();
    }

    #[test]
    fn a_root_mapped_to_uid_4294967295_is_refused_and_makes_nothing() {
        let state = scratch("maxuid");
        for (uid, gid) in [(u32::MAX, 1000), (1000, u32::MAX)] {
            let spec = SpecInfo { terminal: false, host_uid: uid, host_gid: gid };
            let err = create(&state, "c1", &spec).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            assert!(err.message().contains("4294967295"), "{err}");
        }
        assert!(!state.exists());
    }

    #[test]
    fn fifo_set_follows_stdin_and_terminal_flags_and_cleans_up() {
        let dir = scratch("fifos");
        fs::create_dir_all(&dir).unwrap();
        let set = FifoSet::create(&dir, "p1", true, false).unwrap();
        for stream in [Stdio::Stdin, Stdio::Stdout, Stdio::Stderr] {
            let path = set.path(stream).unwrap();
            assert!(fs::metadata(path).unwrap().file_type().is_fifo());
        }
        drop(set);
        let tty = FifoSet::create(&dir, "p2", false, true).unwrap();
        assert!(tty.path(Stdio::Stdin).is_none() && tty.path(Stdio::Stderr).is_none());
        assert_eq!(tty.request_path(Stdio::Stderr), "");
        drop(tty);
        let first = FifoSet::create(&dir, "p3", false, false).unwrap();
        assert!(FifoSet::create(&dir, "p3", false, false).is_err());
        assert!(first.path(Stdio::Stdout).unwrap().exists(), "a failed set leaves another set's fifos alone");
        drop(first);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "every fifo removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_left_on_disk_is_reused_and_only_what_a_set_made_goes_with_a_failed_set() {
        let dir = scratch("reuse");
        fs::create_dir_all(&dir).unwrap();
        let stale = dir.join("old-stdout");
        nix::unistd::mkfifo(&stale, Mode::from_bits_truncate(0o700)).unwrap();
        let set = FifoSet::create(&dir, "old", false, false).expect("an existing fifo is reused");
        assert_eq!(set.path(Stdio::Stdout).unwrap(), stale);
        drop(set);
        assert!(stale.exists(), "a failed set leaves the fifo it did not make");
        assert!(!dir.join("old-stderr").exists(), "and removes the one it made");

        let mut kept = FifoSet::create(&dir, "old", false, false).unwrap();
        kept.keep();
        let err = FifoSet::create(&dir, "old", false, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "a live set holds the paths: {err}");
        drop(kept);
        assert!(stale.exists(), "a kept set leaves its files when dropped");
        let reused = FifoSet::create(&dir, "old", false, false).expect("the claim ended with the set");
        reused.remove();
        assert!(!stale.exists(), "deleting the process removes reused fifos too");

        fs::write(dir.join("file-stdout"), b"not a fifo").unwrap();
        let err = FifoSet::create(&dir, "file", false, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        assert!(!dir.join("file-stderr").exists(), "nothing made is left");
        fs::remove_dir_all(&dir).unwrap();
    }
}
