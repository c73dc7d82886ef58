//! The FIFO sets of processes, in their container's bundle directory.

use std::fs;
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;

use crate::error::{Error, ErrorKind, Result};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::scratch;
    use std::os::unix::fs::FileTypeExt;

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
