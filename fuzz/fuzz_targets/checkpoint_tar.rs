#![no_main]
//! The checkpoint archive containerd hands back (CRIU image tar), unpacked as
//! `lcd_task_create_checkpoint` unpacks it: nothing may land outside the target directory.
//!
//! Run as root, the target first drops to uid/gid 65534 (nobody) in a sandbox directory of its
//! own, so that an escape could not damage the host; the corpus directory libFuzzer writes to
//! must then be writable by that user (`make fuzz` arranges it).
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

const NOBODY: u32 = 65534;

fn sandbox() -> &'static Path {
    static SANDBOX: OnceLock<PathBuf> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lcd-fuzz-tar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("make the sandbox");
        if unsafe { libc::geteuid() } == 0 {
            let c_dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
            unsafe {
                assert_eq!(libc::chown(c_dir.as_ptr(), NOBODY, NOBODY), 0, "chown the sandbox");
                assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "drop supplementary groups");
                assert_eq!(libc::setgid(NOBODY), 0, "setgid nobody");
                assert_eq!(libc::setuid(NOBODY), 0, "setuid nobody");
            }
        }
        dir
    })
}

/// Makes every directory under `dir` writable again (an archive may make one read-only) and
/// removes it; what cannot be removed stays in the sandbox.
fn remove(dir: &Path) {
    fn open_up(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    open_up(&entry.path());
                }
            }
        }
    }
    open_up(dir);
    let _ = std::fs::remove_dir_all(dir);
}

fuzz_target!(|data: &[u8]| {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    let round = sandbox().join(ROUND.fetch_add(1, Ordering::Relaxed).to_string());
    std::fs::create_dir(&round).expect("make the round's directory");
    let target = round.join("target");
    std::fs::create_dir(&target).expect("make the target directory");
    if let Err(err) = libcontainerd::content::unpack_checked(data, &target) {
        assert!(
            matches!(err.kind(), ErrorKind::InvalidArgument | ErrorKind::Internal | ErrorKind::NotFound | ErrorKind::AlreadyExists),
            "{err}"
        );
        common::assert_refusal(&err, err.kind(), data.len());
    }
    let beside: Vec<_> = std::fs::read_dir(&round).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(beside, [std::ffi::OsString::from("target")], "an archive entry landed beside the target directory");
    let sandbox_entries = std::fs::read_dir(sandbox()).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_err()).count();
    assert_eq!(sandbox_entries, 0, "an archive entry landed in the sandbox");
    remove(&round);
});
