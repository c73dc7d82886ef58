//! Checkpoint and restore against the real containerd. CRIU cannot checkpoint on this kernel,
//! so what is tested for real is: the transfer of a directory into the content store and back,
//! refusal of hostile archives, and clean failure paths (clear error, no content, lease, image
//! or half-written directory left behind).

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use libcontainerd::containerd::Rpc;
use libcontainerd::content::{self, Lease, CRIU_CHECKPOINT_MEDIA_TYPE};
use libcontainerd::{CancelToken, Client, ErrorKind, EventKind, EventStream, ProcessState, Task};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lcd-ckpt-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push((rel, format!("-> {}", std::fs::read_link(&path).unwrap().display())));
            } else if meta.is_dir() {
                out.push((rel.clone(), "dir".into()));
                walk(base, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((rel, format!("{} bytes, sum {}", bytes.len(), bytes.iter().map(|&b| b as u64).sum::<u64>())));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// What the test's namespace holds in containerd's lease, content and image stores: the ids of
/// its leases, the digests of its blobs and the names of its images. The library never lists
/// these, so the test asks on a connection of its own.
struct Stores {
    leases: Vec<String>,
    content: Vec<String>,
    images: Vec<String>,
}

fn stores(client: &Client) -> Stores {
    use containerd_client::services::v1 as api;
    use containerd_client::services::v1::{content_client::ContentClient, images_client::ImagesClient, leases_client::LeasesClient};
    use libcontainerd::transport::Transport;

    fn in_namespace<T>(namespace: &tonic::metadata::AsciiMetadataValue, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("containerd-namespace", namespace.clone());
        request
    }
    let namespace: tonic::metadata::AsciiMetadataValue = client.namespace().parse().unwrap();
    run(async {
        let transport = Transport::connect(&testbed().socket, Duration::from_secs(10)).await.unwrap();
        let origin = http::Uri::from_static("http://containerd.sock");
        let leases = LeasesClient::with_origin(transport.clone(), origin.clone())
            .list(in_namespace(&namespace, api::ListRequest { filters: Vec::new() }))
            .await
            .unwrap()
            .into_inner()
            .leases;
        let mut pages = ContentClient::with_origin(transport.clone(), origin.clone())
            .list(in_namespace(&namespace, api::ListContentRequest { filters: Vec::new() }))
            .await
            .unwrap()
            .into_inner();
        let mut content = Vec::new();
        while let Some(page) = pages.message().await.unwrap() {
            content.extend(page.info.into_iter().map(|i| i.digest));
        }
        let images = ImagesClient::with_origin(transport, origin)
            .list(in_namespace(&namespace, api::ListImagesRequest { filters: Vec::new() }))
            .await
            .unwrap()
            .into_inner()
            .images;
        Ok(Stores {
            leases: leases.into_iter().map(|l| l.id).collect(),
            content,
            images: images.into_iter().map(|i| i.name).collect(),
        })
    })
    .unwrap()
}

fn nothing_left(client: &Client) {
    let left = stores(client);
    assert_eq!(left.leases, Vec::<String>::new(), "leases left");
    assert_eq!(left.content, Vec::<String>::new(), "content left");
    assert_eq!(left.images, Vec::<String>::new(), "images left");
}

#[test]
fn a_directory_goes_into_the_content_store_and_back_unchanged_then_is_collected() {
    let client = client("ckpt-transfer");
    let source = scratch("source");
    std::fs::create_dir_all(source.join("nested/deeper")).unwrap();
    std::fs::create_dir_all(source.join("empty")).unwrap();
    std::fs::write(source.join("nested/deeper/small.img"), b"criu image bytes").unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    std::fs::write(source.join("pages-1.img"), &big).unwrap();
    symlink("nested/deeper/small.img", source.join("link")).unwrap();

    // The handle owns an Arc of the connection; the lease needs one too.
    let shared = std::sync::Arc::new(run(libcontainerd::containerd::Containerd::connect(&testbed().socket, client.namespace())).unwrap());
    let lease = run(Lease::create(&shared, "test")).unwrap();
    let descriptor = run(content::upload_dir_as_tar(&shared, &lease, &source, CRIU_CHECKPOINT_MEDIA_TYPE)).unwrap();
    assert!(descriptor.digest.starts_with("sha256:") && descriptor.size > big.len() as i64);
    let held = stores(&client);
    assert_eq!(held.content, vec![descriptor.digest.clone()]);
    assert_eq!(held.leases, vec![lease.id().to_owned()]);

    let target = scratch("target");
    run(content::download_tar_into_dir(&shared, &descriptor.digest, &target)).unwrap();
    assert_eq!(tree(&target), tree(&source));
    run(lease.release()).unwrap();
    nothing_left(&client);

    let err = run(content::download_tar_into_dir(&shared, &descriptor.digest, &scratch("gone"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(!scratch("gone").exists());
    for dir in [source, target] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn an_archive_that_escapes_its_directory_is_refused_and_writes_nothing() {
    let client = client("ckpt-hostile");
    let shared = std::sync::Arc::new(run(libcontainerd::containerd::Containerd::connect(&testbed().socket, client.namespace())).unwrap());
    let lease = run(Lease::create(&shared, "test")).unwrap();
    let descriptor = run(content::write_blob(&shared, &lease, CRIU_CHECKPOINT_MEDIA_TYPE, |out| {
        let mut header = tar::Header::new_gnu();
        let payload = b"escaped";
        header.set_size(payload.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw: the tar crate refuses to build such a path itself.
        header.as_old_mut().name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        let mut builder = tar::Builder::new(out);
        builder.append(&header, &payload[..])?;
        builder.finish()
    }))
    .unwrap();
    let parent = scratch("hostile");
    std::fs::create_dir_all(&parent).unwrap();
    let target = parent.join("checkpoint");
    let err = run(content::download_tar_into_dir(&shared, &descriptor.digest, &target)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("outside"), "{err}");
    assert!(std::fs::read_dir(&parent).unwrap().next().is_none(), "nothing written next to or inside the target");
    assert!(!std::env::temp_dir().join("escape").exists());
    run(lease.release()).unwrap();
    nothing_left(&client);
    std::fs::remove_dir_all(parent).unwrap();
}

#[test]
fn checkpointing_without_criu_fails_cleanly_and_the_container_keeps_running() {
    let client = client("ckpt-create");
    let container = create_container(&client, "c", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    let dir = scratch("create");
    let before = client.rpc_counts().total();
    let err = run(task.create_checkpoint(&dir, false)).unwrap_err();
    assert!(err.to_string().contains("checkpoint"), "the context names the call: {err}");
    assert_eq!(
        client.rpc_counts().total() - before,
        6,
        "Tasks.Get, Tasks.Pause, Leases.Create, Tasks.Checkpoint, Leases.Delete, Tasks.Resume"
    );
    assert!(err.message().contains("criu"), "CRIU's own text reaches the caller: {err}");
    assert!(!dir.exists(), "nothing written");
    assert_eq!(run(task.status()).unwrap().state, ProcessState::Running, "not left paused or stopped");
    nothing_left(&client);

    let err = run(task.create_checkpoint(Path::new("relative/dir"), false)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    nothing_left(&client);
    run(task.force_delete()).unwrap();
    run(container.delete()).unwrap();
}

#[test]
fn restoring_from_a_bogus_checkpoint_fails_cleanly() {
    let client = client("ckpt-restore");
    let container = create_container(&client, "r", &["sleep", "1000"], false).unwrap();
    let dir = scratch("bogus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inventory.img"), b"not a criu image").unwrap();
    let before = (client.rpc_counts().get(Rpc::ContentWrite), client.rpc_counts().get(Rpc::TasksCreate));
    // runc restores at start: create takes the upload, start fails on the bogus image.
    let task = run(Task::create_from_checkpoint(&container, false, &dir)).unwrap();
    assert_eq!(before, (client.rpc_counts().get(Rpc::ContentWrite) - 1, client.rpc_counts().get(Rpc::TasksCreate) - 1));
    nothing_left(&client); // the uploaded checkpoint is gone once the task holds what it needs
    let err = run(task.start()).unwrap_err();
    assert!(err.message().contains("restore") || err.message().contains("criu"), "CRIU's text: {err}");
    assert_eq!(run(Task::load(&container)).unwrap_err().kind(), ErrorKind::NotFound, "no task left: {err}");
    let leftovers: Vec<_> = std::fs::read_dir(container.bundle_dir()).unwrap().collect();
    assert!(leftovers.is_empty(), "no fifos left");
    nothing_left(&client);

    let err = run(Task::create_from_checkpoint(&container, false, &scratch("missing"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    nothing_left(&client);
    run(container.delete()).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

/// The Paused and Resumed events of `container` the stream reports until (and including) the
/// first Resumed one.
fn pause_events_until_resumed(events: &EventStream, container: &str) -> Vec<EventKind> {
    let mut seen = Vec::new();
    while seen.last() != Some(&EventKind::Resumed) {
        let event = libcontainerd::runtime::block_on(Some(&CancelToken::with_timeout(Duration::from_secs(10))), events.next())
            .unwrap_or_else(|e| panic!("no Resumed event of {container} within 10 s after {seen:?}: {e}"));
        if event.container_id == container && matches!(event.kind, EventKind::Paused | EventKind::Resumed) {
            seen.push(event.kind);
        }
    }
    seen
}

// containerd's Go client (task.Checkpoint, which moby's CreateCheckpoint calls) pauses a task
// that is not paused yet, dumps it, and resumes it afterwards whatever happened (with exit too:
// after a successful dump the resume finds no task). dockerd turns the task's Paused and
// Resumed events into its "pause" and "unpause" events, so its users see them around a
// checkpoint; the task runs again after a failed dump.
#[test]
fn a_checkpoint_pauses_the_task_around_the_dump_and_resumes_it_after_a_failure() {
    let client = client("ckpt-pause");
    let events = client.subscribe().unwrap();
    let container = create_container(&client, "c", &["sleep", "1000"], false).unwrap();
    let task = run(Task::create(&container, false)).unwrap();
    run(task.start()).unwrap();
    for exit in [false, true] {
        let err = run(task.create_checkpoint(&scratch("pause"), exit)).unwrap_err();
        assert!(err.message().contains("criu"), "CRIU's own text reaches the caller: {err}");
        assert_eq!(
            pause_events_until_resumed(&events, "c"),
            [EventKind::Paused, EventKind::Resumed],
            "checkpoint with exit={exit}: paused for the dump, resumed after it failed"
        );
        assert_eq!(run(task.status()).unwrap().state, ProcessState::Running, "running again after exit={exit}");
    }

    // A task that was paused already stays paused, and no event shows: only this test's own
    // pause and resume are seen.
    run(task.pause()).unwrap();
    run(task.create_checkpoint(&scratch("paused"), false)).unwrap_err();
    assert_eq!(run(task.status()).unwrap().state, ProcessState::Paused, "a paused task stays paused");
    run(task.resume()).unwrap();
    assert_eq!(pause_events_until_resumed(&events, "c"), [EventKind::Paused, EventKind::Resumed]);
    nothing_left(&client);
    run(task.force_delete()).unwrap();
    run(container.delete()).unwrap();
}
