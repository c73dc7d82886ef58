//! The native-Rust side of the benchmark's boundary figures (`make bench` runs it): the cost of
//! a call answered from the handle (a task's pid) and of a `Version` round trip when made from
//! Rust, without the C ABI or cgo. lcdbench makes the same calls from Go through the C ABI.
//!
//! Needs the test bed (LCD_CONTAINERD_SOCKET, LCD_TEST_ROOTFS); prints one JSON object.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use containerd_ffi::runtime::block_on;
use containerd_ffi::{CancelToken, Client, Container, ContainerConfig, Result, Task};

const VERSION_CALLS: u32 = 2000;
const PID_CALLS: u32 = 10_000_000;

fn run<T>(fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    block_on(Some(&CancelToken::with_timeout(Duration::from_secs(60))), fut)
}

fn main() -> Result<()> {
    let socket = PathBuf::from(std::env::var("LCD_CONTAINERD_SOCKET").expect("LCD_CONTAINERD_SOCKET"));
    let rootfs = std::env::var("LCD_TEST_ROOTFS").expect("LCD_TEST_ROOTFS");
    let namespace = format!("lcdbench-native-{}", std::process::id());
    let state_dir = std::env::temp_dir().join("lcd-bench-state").join(&namespace);

    let client = block_on(None, Client::connect(&socket, &namespace, &state_dir))?;
    for _ in 0..100 {
        block_on(None, client.version())?;
    }
    let started = Instant::now();
    for _ in 0..VERSION_CALLS {
        black_box(block_on(None, client.version())?);
    }
    let version_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(VERSION_CALLS);

    let spec = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sleep", "1000"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}},
        "root": {"path": rootfs, "readonly": true},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"cgroupsPath": format!("/lcd-bench/{namespace}"), "namespaces": [{"type": "pid"}, {"type": "mount"}]}
    });
    let config = ContainerConfig {
        spec_json: serde_json::to_vec(&spec).expect("spec JSON"),
        runtime: "io.containerd.runc.v2".into(),
        ..Default::default()
    };
    let container = run(Container::create(&client, "native", config))?;
    let task = run(Task::create(&container, false))?;
    run(task.start())?;
    let started = Instant::now();
    for _ in 0..PID_CALLS {
        black_box(black_box(&task).pid());
    }
    let pid_ns = started.elapsed().as_secs_f64() * 1e9 / f64::from(PID_CALLS);

    run(task.kill(9))?;
    run(task.wait())?;
    run(task.delete())?;
    run(container.delete())?;
    println!("{{\"version_us\": {version_us:.3}, \"pid_ns\": {pid_ns:.3}}}");
    Ok(())
}
