//! Many threads doing full lifecycles and execs at once on one client: no failure, and nothing
//! leaked afterwards (FIFOs, bundle directories, file descriptors, threads).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use libcontainerd::bundle::Stdio;
use libcontainerd::Task;

const THREADS: usize = 32;
const LIFECYCLES_PER_THREAD: usize = 8;

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|rd| rd.count()).unwrap_or(0)
}

#[test]
fn thirty_two_threads_run_hundreds_of_lifecycles_with_execs_and_leak_nothing() {
    let client = Arc::new(client("stress"));
    // Warm up the runtime and the connection so the baseline counts include them.
    run(client.version()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let fds_before = count_entries("/proc/self/fd");
    let threads_before = count_entries("/proc/self/task");
    let started = Instant::now();

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..LIFECYCLES_PER_THREAD {
                    let id = format!("s{t}-{i}");
                    let container = create_container(&client, &id, &["sh", "-c", "read line; echo got $line"], false)
                        .unwrap_or_else(|e| panic!("{id}: create: {e}"));
                    let task = run(Task::create(&container, true)).unwrap_or_else(|e| panic!("{id}: task: {e}"));
                    let out = read_fifo(task.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap().as_ref());
                    run(task.start()).unwrap_or_else(|e| panic!("{id}: start: {e}"));

                    let spec = serde_json::to_vec(&serde_json::json!({
                        "args": ["sh", "-c", "echo exec"], "cwd": "/", "env": ["PATH=/bin"],
                        "user": {"uid": 0, "gid": 0}
                    }))
                    .unwrap();
                    let exec = run(task.exec("probe", &spec, false)).unwrap_or_else(|e| panic!("{id}: exec: {e}"));
                    let exec_out = read_fifo(exec.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap().as_ref());
                    run(exec.start()).unwrap_or_else(|e| panic!("{id}: exec start: {e}"));
                    assert_eq!(run(exec.wait()).unwrap().code, 0, "{id}");
                    assert_eq!(exec_out.join().unwrap(), "exec\n");
                    run(exec.delete()).unwrap_or_else(|e| panic!("{id}: exec delete: {e}"));

                    let stdin = task.stdio().get(Stdio::Stdin).unwrap().to_str().unwrap().to_owned();
                    std::fs::write(&stdin, format!("{id}\n")).unwrap();
                    assert_eq!(run(task.wait()).unwrap().code, 0, "{id}");
                    assert_eq!(out.join().unwrap(), format!("got {id}\n"));
                    run(task.delete()).unwrap_or_else(|e| panic!("{id}: task delete: {e}"));
                    run(container.delete()).unwrap_or_else(|e| panic!("{id}: container delete: {e}"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a lifecycle thread failed");
    }
    let lifecycles = THREADS * LIFECYCLES_PER_THREAD;
    eprintln!("{lifecycles} lifecycles with an exec each on {THREADS} threads in {:?}", started.elapsed());

    let state = state_dir(client.namespace());
    assert_eq!(count_entries(state.to_str().unwrap()), 0, "bundle directories or fifos left in {}", state.display());
    // Threads finishing their exit and descriptors closing happen just after the joins.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && (count_entries("/proc/self/fd") > fds_before || count_entries("/proc/self/task") > threads_before)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count_entries("/proc/self/fd"), fds_before, "file descriptors leaked");
    assert_eq!(count_entries("/proc/self/task"), threads_before, "threads leaked");
}
