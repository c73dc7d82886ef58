//! Behaviours that differ between containerd releases, pinned per release (the test bed runs
//! 1.6, 1.7 or 2.x: `LCD_CONTAINERD_VERSION`). The restart case is in `tests/restart.rs`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use libcontainerd::Task;

/// From 1.7 the runc shim's delete of an init process waits up to 10 s for its IO copy to drain
/// (containerd 1.6 does not wait). A task that was created but never started, whose FIFOs nobody
/// opened, never drains: its delete takes those 10 s on 1.7 and 2.x, and succeeds. (moby's
/// daemon always opens the FIFOs before the start, so dockerd never waits.)
#[test]
fn deleting_a_never_started_task_with_unopened_fifos_waits_for_the_shims_io_drain_from_1_7() {
    let client = client("drain");
    let container = create_container(&client, "drain", &["true"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    let started = Instant::now();
    run(task.delete()).expect("the delete succeeds on every version");
    let took = started.elapsed();
    run(container.delete()).unwrap();
    if containerd_release(&client) >= (1, 7) {
        assert!(took >= Duration::from_secs(9), "containerd >= 1.7: the shim waits 10 s for the IO drain, took {took:?}");
    } else {
        assert!(took < Duration::from_secs(5), "containerd 1.6 deletes at once, took {took:?}");
    }
}
