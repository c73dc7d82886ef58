//! Exec'd processes, stdin closing, pause/resume, pids, force delete, resize, resource updates
//! and re-attaching, against the real containerd of the test bed.

mod common;

use std::io::Write;

use common::*;
use libcontainerd::bundle::Stdio;
use libcontainerd::containerd::Rpc;
use libcontainerd::{Container, ErrorKind, EventKind, Process, ProcessState, Task};

fn running(client: &libcontainerd::Client, id: &str, args: &[&str]) -> (Container, Task) {
    let container = create_container(client, id, args, false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    (container, task)
}

fn cleanup(container: Container, task: Task) {
    run(task.force_delete()).unwrap();
    run(container.delete()).unwrap();
}

fn path(p: &Process, stream: Stdio) -> std::path::PathBuf {
    p.stdio().get(stream).unwrap().to_str().unwrap().into()
}

#[test]
fn exec_runs_reports_its_exit_and_cleans_its_fifos_with_three_rpcs() {
    let client = client("exec");
    let events = client.subscribe().unwrap();
    let (container, task) = running(&client, "host", &["sleep", "1000"]);
    let before = |rpc| client.rpc_counts().get(rpc);
    let (exec0, start0, del0) = (before(Rpc::TasksExec), before(Rpc::TasksStart), before(Rpc::TasksDeleteProcess));

    let process = run(task.exec("e1", &process_spec(&["sh", "-c", "echo exec says hi; exit 4"], false), false)).unwrap();
    assert_eq!(process.id(), "e1");
    let out = read_fifo(&path(&process, Stdio::Stdout));
    assert!(container.bundle_dir().join("e1-stderr").exists());
    run(process.start()).unwrap();
    assert!(process.pid() > 0);
    let exit = run(process.wait()).unwrap();
    assert_eq!(exit.code, 4);
    assert_eq!(out.join().unwrap(), "exec says hi\n");
    assert_eq!(run(process.status()).unwrap().state, ProcessState::Stopped);
    let deleted = run(process.delete()).unwrap();
    assert_eq!(deleted.code, 4);
    assert!(!container.bundle_dir().join("e1-stdout").exists(), "exec fifos removed");
    assert_eq!(before(Rpc::TasksExec) - exec0, 1);
    assert_eq!(before(Rpc::TasksStart) - start0, 1);
    assert_eq!(before(Rpc::TasksDeleteProcess) - del0, 1);

    let mut kinds = Vec::new();
    loop {
        let event = run(events.next()).unwrap();
        if event.process_id == "e1" {
            kinds.push(event.kind);
            if event.kind == EventKind::Exit {
                assert_eq!((event.exit_code, event.pid), (4, process.pid()));
                break;
            }
        }
    }
    assert_eq!(kinds, [EventKind::ExecAdded, EventKind::ExecStarted, EventKind::Exit]);
    cleanup(container, task);
}

#[test]
fn duplicate_exec_id_is_already_exists_and_bad_input_is_invalid() {
    let client = client("execdup");
    let (container, task) = running(&client, "host", &["sleep", "1000"]);
    let first = run(task.exec("same", &process_spec(&["sleep", "1000"], false), false)).unwrap();
    run(first.start()).unwrap();
    let err = run(task.exec("same", &process_spec(&["true"], false), false)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.message().contains("id already in use"), "{err}");
    assert!(container.bundle_dir().join("same-stdout").exists(), "the first exec keeps its fifos");
    for bad_id in ["../x", "", "a b"] {
        let err = run(task.exec(bad_id, &process_spec(&["true"], false), false)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad_id:?}: {err}");
    }
    let err = run(task.exec("badjson", b"{\"args\":", false)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(!container.bundle_dir().join("badjson-stdout").exists());
    let err = run(first.delete()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "delete of a running exec: {err}");
    run(first.kill(libc::SIGKILL as u32)).unwrap();
    assert_eq!(run(first.wait()).unwrap().code, 137);
    run(first.delete()).unwrap();
    cleanup(container, task);
}

#[test]
fn exec_of_a_missing_binary_fails_with_containerds_text_and_leaves_nothing() {
    let client = client("execmissing");
    let (container, task) = running(&client, "host", &["sleep", "1000"]);
    let process = run(task.exec("ghost", &process_spec(&["/bin/not-there"], false), false)).unwrap();
    let err = run(process.start()).unwrap_err();
    assert!(err.message().contains("no such file or directory") || err.message().contains("not found"), "{err}");
    let leftovers: Vec<_> = dir_entries(container.bundle_dir()).into_iter().filter(|n| n.starts_with("ghost")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(run(process.status()).unwrap_err().kind(), ErrorKind::NotFound, "the failed exec was deleted");
    cleanup(container, task);
}

#[test]
fn closing_stdin_ends_cat_for_tasks_and_execs_even_when_asked_before_start() {
    let client = client("stdin");
    let container = create_container(&client, "cat", &["cat"], false).unwrap();
    let task = run(Task::create(&container, true)).unwrap();
    let out = read_fifo(task.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap().as_ref());
    run(task.start()).unwrap();
    let mut stdin = std::fs::OpenOptions::new().write(true).open(task.stdio().get(Stdio::Stdin).unwrap().to_str().unwrap()).unwrap();
    stdin.write_all(b"task input\n").unwrap();
    drop(stdin);
    run(task.close_stdin()).unwrap();
    assert_eq!(run(task.wait()).unwrap().code, 0, "cat saw end of file");
    assert_eq!(out.join().unwrap(), "task input\n");
    run(task.delete()).unwrap();

    run(container.delete()).unwrap();

    // An exec whose stdin close is requested before it starts.
    let (container, task) = running(&client, "host", &["sleep", "1000"]);
    let process = run(task.exec("cat2", &process_spec(&["cat"], false), true)).unwrap();
    let out = read_fifo(&path(&process, Stdio::Stdout));
    let stdin_path = path(&process, Stdio::Stdin);
    let writer = std::thread::spawn(move || {
        let mut stdin = std::fs::OpenOptions::new().write(true).open(stdin_path).unwrap();
        stdin.write_all(b"exec input\n").unwrap();
    });
    run(process.close_stdin()).unwrap();
    run(process.start()).unwrap();
    writer.join().unwrap();
    assert_eq!(run(process.wait()).unwrap().code, 0, "the deferred close reached containerd");
    assert_eq!(out.join().unwrap(), "exec input\n");
    run(process.delete()).unwrap();
    cleanup(container, task);
}

#[test]
fn pause_resume_pids_and_force_delete() {
    let client = client("pause");
    let events = client.subscribe().unwrap();
    let (container, task) = running(&client, "p", &["sleep", "1000"]);
    run(task.pause()).unwrap();
    assert_eq!(run(task.status()).unwrap().state, ProcessState::Paused);
    run(task.resume()).unwrap();
    assert_eq!(run(task.status()).unwrap().state, ProcessState::Running);
    let mut seen = Vec::new();
    while seen.last() != Some(&EventKind::Resumed) {
        let event = run(events.next()).unwrap();
        if matches!(event.kind, EventKind::Paused | EventKind::Resumed) {
            assert_eq!(event.container_id, "p");
            seen.push(event.kind);
        }
    }
    assert_eq!(seen, [EventKind::Paused, EventKind::Resumed]);

    let process = run(task.exec("x", &process_spec(&["sleep", "1000"], false), false)).unwrap();
    run(process.start()).unwrap();
    let pids = run(task.pids()).unwrap();
    let listed: Vec<u32> = pids.iter().map(|p| p.pid).collect();
    assert!(listed.contains(&task.pid()) && listed.contains(&process.pid()), "{listed:?}");
    let exec_info = pids.iter().find(|p| p.pid == process.pid()).and_then(|p| p.info.as_ref()).expect("runc names the exec");
    assert!(exec_info.type_url.ends_with("ProcessDetails"), "{}", exec_info.type_url);
    assert!(exec_info.value.windows(1).any(|w| w == b"x"));

    let exit = run(task.force_delete()).unwrap();
    assert_eq!(exit.code, 137);
    assert_eq!(run(task.status()).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(!container.bundle_dir().join("p-stdout").exists());
    run(container.delete()).unwrap();
}

#[test]
fn resize_and_update_resources_reach_the_container() {
    let client = client("update");
    let container = create_container(&client, "tty", &["sleep", "1000"], true).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    let _out = read_fifo(task.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap().as_ref());
    run(task.start()).unwrap();
    run(task.resize(120, 40)).unwrap();
    run(task.update_resources(br#"{"pids":{"limit":77}}"#)).unwrap();
    let pids_max = format!("/sys/fs/cgroup/pids/lcd-test/{}-tty/pids.max", client.namespace());
    if std::path::Path::new("/sys/fs/cgroup/pids").is_dir() {
        assert_eq!(std::fs::read_to_string(&pids_max).unwrap().trim(), "77", "{pids_max}");
    }
    let err = run(task.update_resources(b"{\"pids\":")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let exec = run(task.exec("tty-exec", &process_spec(&["sleep", "1000"], true), false)).unwrap();
    assert!(exec.stdio().get(Stdio::Stderr).is_none(), "a terminal exec has no stderr fifo");
    let _exec_out = read_fifo(&path(&exec, Stdio::Stdout));
    run(exec.start()).unwrap();
    run(exec.resize(80, 25)).unwrap();
    run(exec.kill(libc::SIGKILL as u32)).unwrap();
    run(exec.wait()).unwrap();
    run(exec.delete()).unwrap();
    cleanup(container, task);
}

#[test]
fn a_restarted_host_reattaches_to_the_running_tasks_fifos() {
    let client = client("attach");
    let container = create_container(&client, "talker", &["sh", "-c", "while true; do echo tick; sleep 0.1; done"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    let stdout = task.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap().to_owned();
    run(task.start()).unwrap();
    // The "old" host program goes away without deleting anything.
    drop(task);
    drop(container);
    drop(client);

    let client = common::client("attach");
    let container = run(Container::load(&client, "talker")).unwrap();
    let task = run(Task::attach(&container)).unwrap();
    assert_eq!(task.stdio().get(Stdio::Stdout).unwrap().to_str().unwrap(), stdout);
    let mut reader = std::fs::File::open(&stdout).unwrap();
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(&mut reader, &mut buf).unwrap();
    assert_eq!(&buf, b"tick\n");
    drop(reader);
    run(task.kill(libc::SIGKILL as u32)).unwrap();
    assert_eq!(run(task.wait()).unwrap().code, 137);
    run(task.delete()).unwrap();
    assert!(!std::path::Path::new(&stdout).exists(), "deleting an attached task removes the fifos containerd named");
    run(container.delete()).unwrap();
}

#[test]
fn a_prepared_exec_is_added_and_started_by_one_start_and_refuses_calls_before_it() {
    let client = client("prepareexec");
    let (container, task) = running(&client, "host", &["sleep", "1000"]);
    let counts = client.rpc_counts();
    let before = counts.total();
    let rpcs = [Rpc::TasksExec, Rpc::TasksStart, Rpc::TasksCloseIo, Rpc::TasksDeleteProcess];
    let before_each = rpcs.map(|rpc| counts.get(rpc));

    let process = task.prepare_exec("p1", &process_spec(&["sh", "-c", "cat; echo stdin closed"], false), true).unwrap();
    assert!(container.bundle_dir().join("p1-stdin").exists(), "prepare makes the fifos");
    let err = run(process.kill(libc::SIGKILL as u32)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(err.message().contains("exec p1 of container host is not created yet"), "{err}");
    assert_eq!(run(process.delete()).unwrap_err().kind(), ErrorKind::FailedPrecondition);
    run(process.close_stdin()).unwrap(); // held until the start
    let duplicate = task.prepare_exec("p1", &process_spec(&["true"], false), false).unwrap_err();
    assert_eq!(duplicate.kind(), ErrorKind::AlreadyExists, "{duplicate}");
    assert_eq!(counts.total(), before, "prepare and the refused calls make no RPC");

    let out = read_fifo(&path(&process, Stdio::Stdout));
    run(process.start()).unwrap();
    assert!(process.pid() > 0);
    assert_eq!(run(process.wait()).unwrap().code, 0, "cat ended: the held CloseIO went after the start");
    assert_eq!(out.join().unwrap(), "stdin closed\n");
    run(process.delete()).unwrap();
    for (rpc, was) in rpcs.into_iter().zip(before_each) {
        assert_eq!(counts.get(rpc) - was, 1, "one {} for the prepared exec", rpc.method());
    }
    assert_eq!(counts.total(), before + 4, "nothing else");

    // A prepared exec freed unstarted leaves no FIFO; one whose Tasks.Exec fails removes them.
    drop(task.prepare_exec("p2", &process_spec(&["true"], false), true).unwrap());
    let failing = task.prepare_exec("p3", &process_spec(&["true"], false), false).unwrap();
    run(task.kill(libc::SIGKILL as u32)).unwrap();
    run(task.wait()).unwrap();
    let err = run(failing.start()).unwrap_err();
    assert!(!err.message().contains("not created yet"), "containerd's refusal of an exec in a stopped task: {err}");
    let leftovers: Vec<_> = dir_entries(container.bundle_dir()).into_iter().filter(|n| n.starts_with('p')).collect();
    assert!(leftovers.is_empty(), "no fifo of p2 or p3 left: {leftovers:?}");
    cleanup(container, task);
}
