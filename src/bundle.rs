//! Bundle directories and the FIFO sets of processes (seeds 000 and 001).

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::Mode;
use nix::unistd::{chown, Gid, Uid};

use crate::error::{Error, Result};
use crate::spec::SpecInfo;

/// The container label that records where a container's bundle directory is.
pub const BUNDLE_PATH_LABEL: &str = "com.docker/engine.bundle.path";

/// A bundle directory made for a new container, removed again unless [`NewBundle::keep`] is called.
/// This is what makes a failed create leave nothing behind.
#[derive(Debug)]
pub struct NewBundle {
    path: PathBuf,
    /// The first directory this call created (everything under it is ours to remove).
    created_root: Option<PathBuf>,
}

impl NewBundle {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container now owns the bundle: stop the cleanup.
    pub fn keep(mut self) -> PathBuf {
        self.created_root = None;
        std::mem::take(&mut self.path)
    }
}

impl Drop for NewBundle {
    fn drop(&mut self) {
        if let Some(root) = self.created_root.take() {
            if let Err(e) = fs::remove_dir_all(&root) {
                tracing::warn!(path = %root.display(), error = %e, "failed to remove bundle directory of a failed create");
            }
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
    let remapped = uid != 0 || gid != 0;
    if !remapped {
        // The common case, the state directory already there: one mkdir instead of a stat of
        // every component on the way.
        match try_make_dir(&target, 0o755, 0, 0)? {
            Some(true) => return Ok(NewBundle { path: target.clone(), created_root: Some(target) }),
            Some(false) => return Ok(NewBundle { path: target, created_root: None }),
            None => {}
        }
    }
    let mut path = PathBuf::from("/");
    let mut created_root = None;
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
                created_root.get_or_insert_with(|| path.clone());
            }
        } else if metadata.is_none() && make_dir(&path, 0o755, 0, 0)? {
            created_root.get_or_insert_with(|| path.clone());
        }
    }
    Ok(NewBundle { path, created_root })
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
/// A new set removes the files it created when dropped, until [`FifoSet::keep`] says the
/// process exists: from then on the files outlive the handle (a restarted host re-attaches to
/// them) and go only with an explicit [`FifoSet::remove`], when the process is deleted.
#[derive(Debug)]
pub struct FifoSet {
    stdin: Option<PathBuf>,
    stdout: PathBuf,
    stderr: Option<PathBuf>,
    created: Vec<PathBuf>,
    remove_empty_dir: bool,
    remove_on_drop: bool,
}

impl FifoSet {
    /// Creates the FIFO files. On failure, the ones this call made are removed again; files
    /// that already existed (another live process's FIFOs) are left alone.
    pub fn create(bundle: &Path, process_id: &str, with_stdin: bool, terminal: bool) -> Result<Self> {
        let fifo_path = |stream: &str| bundle.join(format!("{process_id}-{stream}"));
        let mut set = FifoSet {
            stdin: with_stdin.then(|| fifo_path("stdin")),
            stdout: fifo_path("stdout"),
            stderr: (!terminal).then(|| fifo_path("stderr")),
            created: Vec::with_capacity(3),
            remove_empty_dir: false,
            remove_on_drop: true,
        };
        for path in [set.stdin.clone(), Some(set.stdout.clone()), set.stderr.clone()].into_iter().flatten() {
            make_fifo(&path)?;
            set.created.push(path);
        }
        Ok(set)
    }

    /// Takes over FIFOs that already exist (those containerd names for a task being
    /// re-attached): dropping the set removes them, then their directory if it is empty.
    /// `None` when no stdout path is given.
    pub fn adopt(stdin: Option<PathBuf>, stdout: Option<PathBuf>, stderr: Option<PathBuf>) -> Option<Self> {
        let stdout = stdout?;
        let created = [stdin.clone(), Some(stdout.clone()), stderr.clone()].into_iter().flatten().collect();
        Some(FifoSet { stdin, stdout, stderr, created, remove_empty_dir: true, remove_on_drop: false })
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

    /// Removes the FIFO files (the process was deleted, or never came to be).
    pub fn remove(mut self) {
        self.remove_files();
        self.remove_on_drop = false;
    }

    fn remove_files(&mut self) {
        for path in &self.created {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "failed to remove fifo"),
            }
        }
        if self.remove_empty_dir {
            if let Some(dir) = self.stdout.parent() {
                // Fails, as intended, while the directory still holds anything.
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

impl Drop for FifoSet {
    fn drop(&mut self) {
        if self.remove_on_drop {
            self.remove_files();
        }
    }
}

fn make_fifo(path: &Path) -> Result<()> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o700)).map_err(|e| Error::io("create fifo", path, e.into()))
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
}
