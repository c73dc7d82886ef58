//! Bad input and misuse: each gets the right error class and leaves nothing behind.

mod common;

use common::*;
use libcontainerd::{Client, Container, ContainerConfig, ErrorKind, Task};

#[test]
fn unknown_container_is_not_found() {
    let client = client("unknown");
    let err = run(Container::load(&client, "no-such-container")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("no such container"), "{err}");
}

#[test]
fn duplicate_id_is_already_exists_and_keeps_the_first_container_intact() {
    let client = client("duplicate");
    let first = create_container(&client, "twin", &["true"], false).unwrap();
    let err = create_container(&client, "twin", &["true"], false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.message().contains("id already in use"), "{err}");
    assert!(first.bundle_dir().is_dir(), "the existing container's bundle survives");
    run(first.delete()).unwrap();
}

#[test]
fn invalid_ids_are_rejected_before_touching_the_filesystem() {
    let client = client("badid");
    let state = state_dir(client.namespace());
    for id in ["../x", "a/b", "", ".hidden", "x..y", &"y".repeat(77)] {
        let err = create_container(&client, id, &["true"], false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{id:?}: {err}");
    }
    assert!(dir_entries(&state).is_empty(), "nothing created under {}: {:?}", state.display(), dir_entries(&state));
    assert!(!state.parent().unwrap().join("x").exists());
    let err = run(Container::load(&client, "../x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn invalid_spec_json_creates_nothing() {
    let client = client("badjson");
    let config = ContainerConfig {
        spec_json: b"{\"process\": {".to_vec(),
        runtime: RUNC_RUNTIME.to_owned(),
        ..ContainerConfig::default()
    };
    let err = run(Container::create(&client, "broken", config)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(dir_entries(&state_dir(client.namespace())).is_empty());
    let err = run(Container::load(&client, "broken")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "no containerd record was made");
}

#[test]
fn rejected_create_removes_the_bundle_it_made() {
    let client = client("rejected");
    // containerd refuses a container without a runtime name; make it fail on the server side
    // with an invalid label instead (label keys must be valid), after the bundle was created.
    let mut config = ContainerConfig {
        spec_json: spec_json(client.namespace(), "refused", &["true"], false),
        runtime: RUNC_RUNTIME.to_owned(),
        ..ContainerConfig::default()
    };
    config.labels.insert("x".repeat(5000), "too long".into());
    let err = run(Container::create(&client, "refused", config)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(dir_entries(&state_dir(client.namespace())).is_empty(), "bundle removed after containerd refused");
}

#[test]
fn connect_rejects_bad_namespaces_and_reports_an_absent_containerd() {
    let state = std::env::temp_dir().join("lcd-test-state/connect");
    let err = run(Client::connect(&testbed().socket, "bad/ns", &state)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = run(Client::connect(&testbed().socket, "fine", "relative".as_ref())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = run(Client::connect("/nonexistent/containerd.sock".as_ref(), "fine", &state)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("/nonexistent/containerd.sock"), "{err}");
}

#[test]
fn a_second_task_for_the_same_container_is_already_exists() {
    let client = client("twotasks");
    let container = create_container(&client, "one", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    let err = run(Task::create(&container, false)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(container.bundle_dir().join("one-stdout").exists(), "the first task's fifos stay");
    run(task.kill(libc::SIGKILL as u32)).unwrap();
    run(task.wait()).unwrap();
    run(task.delete()).unwrap();
    run(container.delete()).unwrap();
}
