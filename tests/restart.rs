//! containerd dies and comes back while containers run: the client's handles keep working, the
//! event stream resubscribes by itself, and waits still end, even for an exit that happened
//! while containerd was down. (Its own test binary: it restarts the shared test bed.)

mod common;

use std::time::Duration;

use common::*;
use libcontainerd::{CancelToken, Client, Container, ErrorKind, EventKind, EventStream, ProcessState, Task};

fn next_exit_of(events: &EventStream, container_id: &str) -> libcontainerd::Event {
    let deadline = CancelToken::with_timeout(Duration::from_secs(30));
    loop {
        let event = libcontainerd::runtime::block_on(Some(&deadline), events.next())
            .unwrap_or_else(|e| panic!("no exit event of {container_id}: {e}"));
        if event.kind == EventKind::Exit && event.container_id == container_id {
            return event;
        }
    }
}

fn sleeper(client: &Client, id: &str) -> (Container, Task) {
    let container = create_container(client, id, &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    (container, task)
}

/// The tests here restart the shared containerd: one at a time.
static RESTARTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn handles_events_and_waits_survive_containerd_restarts() {
    if std::env::var_os("LCD_CONTAINERD_ADDRESS").is_some() {
        eprintln!("SKIPPED: LCD_CONTAINERD_ADDRESS names a containerd this test must not restart");
        return;
    }
    let _one_at_a_time = RESTARTS.lock().unwrap_or_else(|p| p.into_inner());
    let client = client("restart");
    let events = client.subscribe().unwrap();
    let (a_container, a) = sleeper(&client, "a");
    let (b_container, b) = sleeper(&client, "b");

    for round in 0..3 {
        testbed_command("restart");
        run(client.version()).unwrap_or_else(|e| panic!("round {round}: version after restart: {e}"));
        // Give the pump time to resubscribe, so the events below come through the stream and
        // not through the catch-up listing after it (tests/outage.rs covers that).
        std::thread::sleep(Duration::from_secs(2));
        for task in [&a, &b] {
            assert_eq!(run(task.status()).unwrap().state, ProcessState::Running, "round {round}");
        }
        let id = format!("new{round}");
        let container = create_container(&client, &id, &["sh", "-c", "exit 9"], false).unwrap();
        let task = run(Task::create(&container, false)).unwrap();
        run(task.start()).unwrap();
        assert_eq!(run(task.wait()).unwrap().code, 9, "round {round}: wait through the resubscribed stream");
        assert_eq!(next_exit_of(&events, &id).exit_code, 9, "round {round}: the same event stream goes on");
        run(task.delete()).unwrap();
        run(container.delete()).unwrap();
    }

    // An exit while containerd is down.
    testbed_command("down");
    assert_eq!(unsafe { libc::kill(a.pid() as i32, libc::SIGKILL) }, 0);
    std::thread::sleep(Duration::from_millis(300));
    testbed_command("up");
    let exit = run(a.wait()).expect("the wait ends after containerd is back");
    if containerd_release(&client) >= (1, 7) {
        // From 1.7 containerd cleans up, at boot, the shim of a task whose processes are all
        // gone, and publishes that exit before any client can have resubscribed: the task is
        // gone and its exit code with it. The wait ends with moby's unknown exit.
        assert_eq!(exit.code, 255, "containerd >= 1.7 deleted the task at boot: the exit code is unknown");
        let gone = run(a.delete()).expect_err("containerd >= 1.7 deleted the task at boot");
        assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    } else {
        // 1.6 keeps the shim and the stopped task: the real exit code.
        assert_eq!(exit.code, 137);
        run(a.delete()).unwrap();
    }
    run(a_container.delete()).unwrap();

    run(b.kill(libc::SIGKILL as u32)).unwrap();
    assert_eq!(next_exit_of(&events, "b").exit_code, 137);
    assert_eq!(run(b.wait()).unwrap().code, 137);
    run(b.delete()).unwrap();
    run(b_container.delete()).unwrap();
}

/// The host program and containerd restart while a container's task has exited: the new
/// program deletes the old task, through a handle re-attached to its FIFOs or one without IO,
/// and gives the container a new task. The delete leaves the bundle directory, and FIFOs left
/// on disk by the old task are reused.
#[test]
fn after_a_restart_a_container_whose_task_was_deleted_gets_a_new_task() {
    if std::env::var_os("LCD_CONTAINERD_ADDRESS").is_some() {
        eprintln!("SKIPPED: LCD_CONTAINERD_ADDRESS names a containerd this test must not restart");
        return;
    }
    let _one_at_a_time = RESTARTS.lock().unwrap_or_else(|p| p.into_inner());
    for attach in [true, false] {
        let id = if attach { "phoenix-attached" } else { "phoenix-no-io" };
        let bundle = {
            // The old host program: its task exits, and the program goes away without deleting it.
            let client = client("restartnew");
            let container = create_container(&client, id, &["sh", "-c", "exit 3"], false).unwrap();
            let task = run(Task::create(&container, false)).unwrap();
            run(task.start()).unwrap();
            assert_eq!(run(task.wait()).unwrap().code, 3);
            container.bundle_dir().to_path_buf()
        };
        testbed_command("restart");

        let client = client("restartnew");
        let container = run(Container::load(&client, id)).unwrap();
        let old = run(Task::get(&container, attach));
        if containerd_release(&client) >= (1, 7) {
            // From 1.7 containerd cleans up, at boot, the shim of a task whose processes are all
            // gone: the old task is gone already, its FIFOs are still on disk.
            let gone = old.expect_err("containerd >= 1.7 deleted the stopped task at boot");
            assert_eq!(gone.kind(), ErrorKind::NotFound, "attach={attach}: {gone}");
        } else {
            assert_eq!(run(old.unwrap().delete()).unwrap().code, 3, "attach={attach}");
        }
        assert!(bundle.is_dir(), "attach={attach}: deleting the old task removed the bundle directory");
        let task = run(Task::create(&container, false))
            .unwrap_or_else(|e| panic!("attach={attach}: a new task for the container: {e}"));
        let out = read_fifo(&bundle.join(format!("{id}-stdout")));
        run(task.start()).unwrap();
        assert_eq!(run(task.wait()).unwrap().code, 3, "attach={attach}");
        drop(out.join().unwrap());
        run(task.delete()).unwrap();
        run(container.delete()).unwrap();
        assert!(!bundle.exists(), "attach={attach}: the container delete removes the bundle");
    }
}
