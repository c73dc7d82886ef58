//! The native-Rust side of the benchmark's boundary figures (`make bench` runs it through
//! lcdbench): the cost of a call answered from the handle (a task's pid) and of a `Version`
//! round trip when made from Rust, without the C ABI or cgo. lcdbench makes the same calls
//! from Go through the C ABI and asks this program for blocks of native calls in between its
//! own, so both are measured in the same moments on a noisy machine.
//!
//! Needs the test bed (LCD_CONTAINERD_SOCKET, LCD_TEST_ROOTFS). Reads one request per line on
//! standard input and answers each with one JSON line:
//! - `version N`: N `Version` calls, `{"version_ns": [each call's nanoseconds], "cpu_ns": the
//!   process's CPU time over them, "context_switches": the process's context switches}`;
//! - `pid N`: N pid calls, `{"pid_ns": mean nanoseconds per call}`.
//!
//! It cleans up and exits at the end of its input.

use std::hint::black_box;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use libcontainerd::runtime::block_on;
use libcontainerd::{CancelToken, Client, Container, ContainerConfig, Result, Task};

#[path = "../tests/common/busybox_spec.rs"]
mod busybox_spec;
use busybox_spec::busybox_spec;

fn run<T>(fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    block_on(Some(&CancelToken::with_timeout(Duration::from_secs(60))), fut)
}

fn main() -> Result<()> {
    let socket = PathBuf::from(std::env::var("LCD_CONTAINERD_SOCKET").expect("LCD_CONTAINERD_SOCKET"));
    let rootfs = std::env::var("LCD_TEST_ROOTFS").expect("LCD_TEST_ROOTFS");
    let namespace = format!("lcdbench-native-{}", std::process::id());
    let state_dir = std::env::temp_dir().join("lcd-bench-state").join(&namespace);

    let client = block_on(None, Client::connect(&socket, &namespace, &state_dir))?;
    // The busybox spec of every test and of lcdbench's containers (tests/fixtures/busybox_spec.json).
    let spec = busybox_spec(&rootfs, &["sleep", "1000"], false, "native", &format!("/lcd-bench/{namespace}"));
    let config = ContainerConfig {
        spec_json: serde_json::to_vec(&spec).expect("spec JSON"),
        runtime: "io.containerd.runc.v2".into(),
        ..Default::default()
    };
    let container = run(Container::create(&client, "native", config))?;
    let task = run(Task::create(&container, false))?;
    run(task.start())?;

    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("read a request");
        let (what, count) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let count: u32 = count.trim().parse().unwrap_or_else(|_| panic!("bad request {line:?}"));
        let answer = match what {
            "version" => {
                let mut each = Vec::with_capacity(count as usize);
                let before = ProcessCost::now();
                for _ in 0..count {
                    let started = Instant::now();
                    black_box(block_on(None, client.version())?);
                    each.push(started.elapsed().as_nanos() as u64);
                }
                let after = ProcessCost::now();
                serde_json::json!({
                    "version_ns": each,
                    "cpu_ns": after.cpu_ns - before.cpu_ns,
                    "context_switches": after.context_switches - before.context_switches,
                })
            }
            "pid" => {
                let started = Instant::now();
                for _ in 0..count {
                    black_box(black_box(&task).pid());
                }
                serde_json::json!({ "pid_ns": started.elapsed().as_secs_f64() * 1e9 / f64::from(count.max(1)) })
            }
            _ => panic!("unknown request {line:?}"),
        };
        writeln!(out, "{answer}").and_then(|()| out.flush()).expect("answer");
    }

    run(task.kill(9))?;
    run(task.wait())?;
    run(task.delete())?;
    run(container.delete())?;
    // The namespace's state directory is this run's alone, and empty once the container is gone.
    if let Err(e) = std::fs::remove_dir(&state_dir) {
        eprintln!("native_calls: cannot remove {}: {e}", state_dir.display());
    }
    Ok(())
}

/// What the whole process (all its threads) has spent so far, as lcdbench measures its own side.
struct ProcessCost {
    cpu_ns: i64,
    context_switches: i64,
}

impl ProcessCost {
    fn now() -> ProcessCost {
        // SAFETY: rusage is plain data, valid when all zero; getrusage only writes into it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let nanos = |t: libc::timeval| t.tv_sec * 1_000_000_000 + t.tv_usec * 1_000;
        ProcessCost {
            cpu_ns: nanos(usage.ru_utime) + nanos(usage.ru_stime),
            context_switches: usage.ru_nvcsw + usage.ru_nivcsw,
        }
    }
}
