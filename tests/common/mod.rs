//! Shared support for the integration tests: the real containerd test bed (started once by
//! `tests/testbed.sh`, or named by the environment), a client per test in its own namespace,
//! busybox runtime specs (`busybox_spec.rs`); for the outage tests, a relay that loses a call's
//! answer (`hang_up_relay.rs`) and the library's log records (`log_capture.rs`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libcontainerd::{CancelToken, Client, Container, ContainerConfig, Result};

mod busybox_spec;
pub mod hang_up_relay;
pub mod log_capture;
use busybox_spec::busybox_spec;

pub struct Testbed {
    pub socket: PathBuf,
    pub rootfs: PathBuf,
    /// The containerd version the test bed runs, as `tests/testbed.sh` names it ("1.6", "1.7.N",
    /// "2.N.M"); None for a containerd named by LCD_CONTAINERD_ADDRESS.
    pub containerd_version: Option<String>,
}

/// The test bed: from `LCD_CONTAINERD_SOCKET` and `LCD_TEST_ROOTFS` when both are set (the
/// README's test command sets them), otherwise started here through `tests/testbed.sh start`,
/// which reuses a test bed that is already running.
pub fn testbed() -> &'static Testbed {
    static TESTBED: OnceLock<Testbed> = OnceLock::new();
    TESTBED.get_or_init(|| {
        if let (Some(socket), Some(rootfs)) = (std::env::var_os("LCD_CONTAINERD_SOCKET"), std::env::var_os("LCD_TEST_ROOTFS")) {
            let containerd_version = std::env::var("LCD_CONTAINERD_VERSION").ok().filter(|v| !v.is_empty());
            return Testbed { socket: socket.into(), rootfs: rootfs.into(), containerd_version };
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed.sh");
        let output = Command::new("bash").arg(&script).arg("start").output().expect("run tests/testbed.sh");
        assert!(
            output.status.success(),
            "tests/testbed.sh start failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        Testbed {
            socket: env.get("LCD_CONTAINERD_SOCKET").expect("testbed prints LCD_CONTAINERD_SOCKET").into(),
            rootfs: env.get("LCD_TEST_ROOTFS").expect("testbed prints LCD_TEST_ROOTFS").into(),
            containerd_version: env.get("LCD_CONTAINERD_VERSION").filter(|v| !v.is_empty()).cloned(),
        }
    })
}

/// Runs a library future on the calling thread, bounded so a hang fails the test.
pub fn run<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    libcontainerd::runtime::block_on(Some(&CancelToken::with_timeout(Duration::from_secs(60))), fut)
}

/// A namespace unique to this test and process, so tests run in parallel.
pub fn namespace(test: &str) -> String {
    format!("lcdtest-{test}-{}", std::process::id()).replace('_', "-")
}

/// The state directory of a test's client.
pub fn state_dir(namespace: &str) -> PathBuf {
    std::env::temp_dir().join("lcd-test-state").join(namespace)
}

/// A connected client in the test's own namespace.
pub fn client(test: &str) -> Client {
    let ns = namespace(test);
    run(Client::connect(&testbed().socket, &ns, &state_dir(&ns))).expect("connect to the test bed's containerd")
}

/// The busybox spec (`tests/fixtures/busybox_spec.json`) running `args` in the shared busybox
/// root filesystem, with the container's id as hostname and a cgroup of the test's namespace.
pub fn spec_json(namespace: &str, id: &str, args: &[&str], terminal: bool) -> Vec<u8> {
    let rootfs = testbed().rootfs.to_str().expect("the test bed's root filesystem path is UTF-8");
    let spec = busybox_spec(rootfs, args, terminal, id, &format!("/lcd-test/{namespace}-{id}"));
    serde_json::to_vec(&spec).expect("encode spec")
}

pub const RUNC_RUNTIME: &str = "io.containerd.runc.v2";

/// Creates a busybox container running `args`.
pub fn create_container(client: &Client, id: &str, args: &[&str], terminal: bool) -> Result<Container> {
    let config = ContainerConfig {
        spec_json: spec_json(client.namespace(), id, args, terminal),
        runtime: RUNC_RUNTIME.to_owned(),
        ..ContainerConfig::default()
    };
    run(Container::create(client, id, config))
}

/// The names in a directory (none when it does not exist), e.g. what a failed call left in a
/// bundle.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Opens a FIFO's read end now, without waiting for a writer, and reads it to its end (the
/// writer closing) on a thread; join to get the text. Call it before the process starts: a
/// reader that opened later could find that a short-lived process already wrote, exited and had
/// its writer closed (the data gone with the last descriptor), and then wait forever.
pub fn read_fifo(path: &Path) -> std::thread::JoinHandle<String> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;

    let display = path.display().to_string();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap_or_else(|e| panic!("open {display}: {e}"));
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            // Until a writer has opened and closed the FIFO, poll waits rather than report an
            // end that a read would also (falsely) give.
            poll(&mut [PollFd::new(file.as_fd(), PollFlags::POLLIN)], PollTimeout::NONE)
                .unwrap_or_else(|e| panic!("poll {display}: {e}"));
            match file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => text.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {}
                Err(e) => panic!("read {display}: {e}"),
            }
        }
        String::from_utf8(text).unwrap_or_else(|e| panic!("{display}: not UTF-8: {e}"))
    })
}

/// Runs a `tests/testbed.sh` subcommand (e.g. `restart`, `down`, `up`) on the test bed in use.
pub fn testbed_command(command: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed.sh");
    let output = Command::new("bash").arg(&script).arg(command).output().expect("run tests/testbed.sh");
    assert!(
        output.status.success(),
        "tests/testbed.sh {command} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls `done` every 50 ms until it holds; fails loudly, naming `what`, after `limit`.
pub fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The runc shim of a task: the parent of its init process.
pub fn shim_pid(init_pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{init_pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The (major, minor) release of the containerd a client talks to, from its Version call
/// ("1.6.20~ds1" from Debian's package, "v1.7.35" / "v2.4.2" from upstream-style builds): for
/// the tests that pin a behaviour that differs between containerd releases.
pub fn containerd_release(client: &Client) -> (u32, u32) {
    let version = run(client.version()).expect("containerd version").version;
    let mut parts = version.trim_start_matches('v').split(['.', '-', '~', '+']).map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => panic!("cannot read a containerd release from {version:?}"),
    }
}

/// The process JSON of an exec in the busybox container: `args`, as root, on a terminal or not.
pub fn process_spec(args: &[&str], terminal: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "terminal": terminal,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin"],
        "cwd": "/"
    }))
    .unwrap()
}
