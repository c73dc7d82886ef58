//! Bundle directories, and in [`fifo`] the FIFO sets of processes inside them.

mod fifo;

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::unistd::{chown, Gid, Uid};

use crate::error::{Error, Result};
use crate::spec::SpecInfo;

pub use fifo::{FifoSet, Stdio};

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

/// Turns a byte path from the caller into a `PathBuf`, rejecting interior NULs.
pub fn path_from_bytes(what: &str, bytes: &[u8]) -> Result<PathBuf> {
    if bytes.contains(&0) {
        return Err(Error::invalid_argument(format!("{what} contains a NUL byte")));
    }
    Ok(PathBuf::from(OsString::from_vec(bytes.to_vec())))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::os::unix::fs::MetadataExt;

    pub(super) fn scratch(name: &str) -> PathBuf {
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
}
