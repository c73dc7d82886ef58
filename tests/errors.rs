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

#[test]
fn a_socket_path_longer_than_a_unix_address_holds_is_invalid_argument() {
    let state = std::env::temp_dir().join("lcd-test-state/longsocket");
    let long = format!("/tmp/{}/containerd.sock", "s".repeat(120));
    let err = run(Client::connect(long.as_ref(), "fine", &state)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("unix socket address"), "{err}");
}

#[test]
fn a_relative_checkpoint_directory_is_refused_for_a_restore_as_for_a_checkpoint() {
    let client = client("relrestore");
    let container = create_container(&client, "restored", &["true"], false).unwrap();
    let rpcs = client.rpc_counts().total();
    let err = run(Task::create_from_checkpoint(&container, false, "relative/checkpoint".as_ref())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(client.rpc_counts().total(), rpcs, "refused before any RPC");
    assert_eq!(dir_entries(container.bundle_dir()), Vec::<String>::new(), "no fifo made");
    run(container.delete()).unwrap();
}

#[test]
fn a_user_namespace_mapping_root_to_uid_4294967295_is_invalid_argument_and_makes_nothing() {
    let client = client("maxuid");
    let mut spec: serde_json::Value = serde_json::from_slice(&spec_json(client.namespace(), "maxuid", &["true"], false)).unwrap();
    spec["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "user"}));
    spec["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 4294967295u32, "size": 1}]);
    spec["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let config = ContainerConfig { spec_json: serde_json::to_vec(&spec).unwrap(), runtime: RUNC_RUNTIME.to_owned(), ..ContainerConfig::default() };
    let err = run(Container::create(&client, "maxuid", config)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(dir_entries(&state_dir(client.namespace())).is_empty(), "no bundle made");
    assert_eq!(run(Container::load(&client, "maxuid")).unwrap_err().kind(), ErrorKind::NotFound, "no containerd record");
}

/// A path is caller input too (the state directory, a checkpoint directory): an error about
/// one quotes at most a bounded part of it, however long the caller made it.
#[test]
fn errors_about_a_huge_path_quote_a_bounded_part_of_it() {
    fn assert_bounded(err: &libcontainerd::Error, input_len: usize, what: &str) {
        let message = err.to_string();
        assert!(
            message.len() <= 4096 + 256,
            "{what}: a {input_len}-byte path gave a {}-byte message: {}…",
            message.len(),
            &message[..200.min(message.len())]
        );
        assert!(message.contains(&format!("({input_len} bytes)")), "{what}: the message says how long the path was: {}…", &message[..300.min(message.len())]);
    }
    let huge_name = "x".repeat(8 << 20);

    let ns = namespace("hugestate");
    let huge_state = format!("/tmp/{huge_name}");
    let huge_client = run(Client::connect(&testbed().socket, &ns, huge_state.as_ref())).expect("connect only stores the state directory");
    let err = create_container(&huge_client, "bundle", &["true"], false).unwrap_err();
    assert_bounded(&err, huge_state.len() + "/bundle".len(), "bundle directory under a huge state directory");
    assert_eq!(run(Container::load(&huge_client, "bundle")).unwrap_err().kind(), ErrorKind::NotFound, "no containerd record");

    let client = client("hugecheckpoint");
    let container = create_container(&client, "restored", &["true"], false).unwrap();
    for dir in [format!("relative/{huge_name}"), format!("/tmp/{huge_name}")] {
        let err = run(Task::create_from_checkpoint(&container, false, dir.as_ref())).unwrap_err();
        assert_bounded(&err, dir.len(), "restore from a huge checkpoint directory");
    }
    run(container.delete()).unwrap();
}

/// A process spec whose `terminal` is a huge string, or that is one huge string: the refusal
/// names the problem without repeating the whole string.
#[test]
fn a_refused_process_spec_quotes_a_bounded_part_of_it() {
    let client = client("hugeprocess");
    let container = create_container(&client, "execs", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    let huge_terminal = format!(r#"{{"args":["true"],"cwd":"/","terminal":"{}"}}"#, "t".repeat(8 << 20));
    // Found by the process_json fuzz target: a document that is one string, not an object.
    let huge_string = format!(r#""{}""#, "s".repeat(8 << 20));
    for (huge, what) in [(huge_terminal, "boolean"), (huge_string, "object")] {
        let err = run(task.exec("huge", huge.as_bytes(), false)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{}", &err.to_string()[..300.min(err.to_string().len())]);
        let message = err.to_string();
        assert!(message.len() <= 512, "a {}-byte process spec gave a {}-byte message: {}…", huge.len(), message.len(), &message[..300]);
        assert!(message.contains(what), "the message says what is wrong: {message}");
    }
    assert_eq!(dir_entries(container.bundle_dir()).iter().filter(|e| e.starts_with("huge")).count(), 0, "no fifo of the refused exec");
    run(task.kill(libc::SIGKILL as u32)).unwrap();
    run(task.wait()).unwrap();
    run(task.delete()).unwrap();
    run(container.delete()).unwrap();
}
