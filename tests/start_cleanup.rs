//! A start is idempotent for its caller, and every cleanup removes only what the failing call
//! itself made: a second, concurrent or retried start never kills or deletes a running task or
//! exec; a start cut short by its cancel token still finishes its cleanup, so the container's
//! next exec is not stalled; two creates of one id do not remove the winner's bundle.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use libcontainerd::bundle::Stdio;
use libcontainerd::runtime::block_on;
use libcontainerd::{CancelToken, Container, ErrorKind, Process, ProcessState, Task};

fn fifo_paths(process: &Process) -> Vec<PathBuf> {
    [Stdio::Stdout, Stdio::Stderr].iter().filter_map(|s| process.stdio().get(*s)).map(|c| PathBuf::from(c.to_str().unwrap())).collect()
}

/// Freezes the container's shim until dropped, so a start sent now stays in flight.
struct FrozenShim(i32);

impl FrozenShim {
    fn of(task: &Task) -> Self {
        let shim = shim_pid(task.pid()) as i32;
        assert_eq!(unsafe { libc::kill(shim, libc::SIGSTOP) }, 0);
        FrozenShim(shim)
    }
}

impl Drop for FrozenShim {
    fn drop(&mut self) {
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

/// Runs a start with a deadline that ends it while the frozen shim holds it in flight.
fn start_cut_short<T>(start: impl std::future::Future<Output = libcontainerd::Result<T>>) -> libcontainerd::Error {
    let err = block_on(Some(&CancelToken::with_timeout(Duration::from_millis(300))), start).err().expect("the start is cut short");
    assert_eq!(err.kind(), ErrorKind::DeadlineExceeded, "{err}");
    err
}

fn cleanup(container: Container, task: Task) {
    run(task.force_delete()).unwrap();
    run(container.delete()).unwrap();
}

#[test]
fn a_second_start_on_one_handle_leaves_the_running_task_running() {
    let client = client("startstwice");
    let container = create_container(&client, "twice", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    let pid = task.pid();
    run(task.start()).expect("a second start of a started handle is OK");
    assert_eq!(task.pid(), pid);
    assert_eq!(run(task.status()).unwrap().state, ProcessState::Running, "the task was not killed");
    assert!(container.bundle_dir().join("twice-stdout").exists(), "its fifos stay");
    cleanup(container, task);
}

#[test]
fn two_threads_starting_one_created_task_both_succeed_and_it_keeps_running() {
    let client = client("startsrace");
    for round in 0..3 {
        let id = format!("race{round}");
        let container = create_container(&client, &id, &["sleep", "1000"], false).unwrap();
        let task = run(Task::create(&container, false)).unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let starts: Vec<_> = (0..2).map(|_| s.spawn(|| run(task.start()))).collect();
            starts.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for result in results {
            result.unwrap_or_else(|e| panic!("round {round}: a concurrent start of one handle: {e}"));
        }
        assert_eq!(run(task.status()).unwrap().state, ProcessState::Running, "round {round}: the loser did not kill it");
        cleanup(container, task);
    }
}

#[test]
fn a_retry_after_a_start_cut_short_finds_the_task_running() {
    let client = client("startretry");
    let container = create_container(&client, "retried", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    {
        let _frozen = FrozenShim::of(&task);
        start_cut_short(task.start());
    }
    run(task.start()).expect("the retry of a start that containerd carried out is OK");
    assert_eq!(run(task.status()).unwrap().state, ProcessState::Running, "the retry did not kill it");
    assert!(task.pid() > 0);
    cleanup(container, task);
}

#[test]
fn a_second_or_concurrent_exec_start_leaves_the_running_exec_and_its_fifos_alone() {
    let client = client("execstartstwice");
    let container = create_container(&client, "host", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    let exec = run(task.exec("e1", &process_spec(&["sleep", "1000"], false), false)).unwrap();
    let results: Vec<_> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..2).map(|_| s.spawn(|| run(exec.start()))).collect();
        starts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for result in results {
        result.expect("a concurrent start of one exec handle");
    }
    run(exec.start()).expect("a second start of a started exec handle is OK");
    assert_eq!(run(exec.status()).unwrap().state, ProcessState::Running);
    for fifo in fifo_paths(&exec) {
        assert!(fifo.exists(), "{} of the running exec was removed", fifo.display());
    }
    run(exec.kill(libc::SIGKILL as u32)).unwrap();
    run(exec.wait()).unwrap();
    run(exec.delete()).unwrap();
    cleanup(container, task);
}

#[test]
fn an_exec_start_cut_short_cleans_up_and_does_not_stall_the_next_exec() {
    let client = client("execcutshort");
    let container = create_container(&client, "host", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    // Nobody reads this exec's output: its caller gave up on it, as dockerd does when a
    // health-check probe times out.
    let abandoned = task.prepare_exec("abandoned", &process_spec(&["sleep", "1000"], false), false).unwrap();
    let abandoned_fifos = fifo_paths(&abandoned);
    {
        let _frozen = FrozenShim::of(&task);
        start_cut_short(abandoned.start());
    }
    let began = Instant::now();
    let next = task.prepare_exec("next", &process_spec(&["sh", "-c", "echo next ran"], false), false).unwrap();
    let out = read_fifo(Path::new(next.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap()));
    run(next.start()).unwrap();
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "the next exec started after {took:?}");
    assert_eq!(out.join().unwrap(), "next ran\n");
    assert_eq!(run(next.wait()).unwrap().code, 0);
    run(next.delete()).unwrap();

    until("containerd no longer has the cut-short exec", Duration::from_secs(10), || {
        matches!(run(client.containerd().get_process("host", "abandoned")), Err(e) if e.kind() == ErrorKind::NotFound)
    });
    until("its fifos are removed", Duration::from_secs(5), || abandoned_fifos.iter().all(|f| !f.exists()));
    cleanup(container, task);
}

#[test]
fn concurrent_creates_of_one_id_leave_the_winner_its_bundle() {
    let client = client("createrace");
    // Each round starts a shim (the winner's task), so a few rounds: the loser removed the
    // winner's bundle in about two rounds of three.
    for round in 0..8 {
        let id = format!("c{round}");
        let results: Vec<_> = std::thread::scope(|s| {
            let creates: Vec<_> = (0..2).map(|_| s.spawn(|| create_container(&client, &id, &["true"], false))).collect();
            creates.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let (winners, losers): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
        assert_eq!(winners.len(), 1, "round {round}: exactly one create wins");
        let loser = losers.into_iter().next().unwrap().unwrap_err();
        assert_eq!(loser.kind(), ErrorKind::AlreadyExists, "round {round}: {loser}");
        let winner = winners.into_iter().next().unwrap().unwrap();
        assert!(winner.bundle_dir().is_dir(), "round {round}: the loser removed the winner's bundle");
        let task = run(Task::create(&winner, false)).unwrap_or_else(|e| panic!("round {round}: {e}"));
        run(task.delete()).unwrap();
        run(winner.delete()).unwrap();
    }
}
