//! `lcd_container_create` from an `lcd_container_config`, through the exported functions as a C
//! host calls them, on the test bed's containerd: every field a setter took reaches the
//! containerd record, the configuration is only read (the same one serves two creates, and may
//! be freed while an `_async` create runs), and a refused configuration makes nothing.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::ptr;

use common::*;
use libcontainerd_capi::client::{lcd_client, lcd_client_connect, lcd_client_free};
use libcontainerd_capi::asynchronous::container::lcd_container_create_async;
use libcontainerd_capi::container::{lcd_container, lcd_container_create, lcd_container_delete, lcd_container_free};
use libcontainerd_capi::container_config::*;
use libcontainerd_capi::asynchronous::finish::lcd_pending_finish_container;
use libcontainerd_capi::asynchronous::pending::{lcd_pending, lcd_pending_fd, lcd_pending_free};
use libcontainerd_capi::{lcd_error, lcd_error_free, lcd_status};

fn connect(ns: &str) -> *mut lcd_client {
    let socket = testbed().socket.to_str().unwrap().to_owned();
    let state = state_dir(ns).to_str().unwrap().to_owned();
    let mut client = ptr::null_mut();
    let status = unsafe {
        lcd_client_connect(socket.as_ptr(), socket.len(), ns.as_ptr(), ns.len(), state.as_ptr(), state.len(), ptr::null(), &mut client, ptr::null_mut())
    };
    assert_eq!(status, lcd_status::LCD_OK, "connect to the test bed");
    client
}

fn ok(status: lcd_status, what: &str) {
    assert_eq!(status, lcd_status::LCD_OK, "{what}");
}

#[test]
fn every_field_of_the_configuration_reaches_the_record_and_the_configuration_is_reused() {
    let ns = namespace("capi-config");
    let client = connect(&ns);
    let core = common::client("capi-config");
    let spec = spec_json(&ns, "cfg1", &["true"], false);
    let config = lcd_container_config_new();
    let text = |s: &str| (s.as_ptr(), s.len());
    unsafe {
        let (p, l) = text("cfg1");
        ok(lcd_container_config_set_id(config, p, l, ptr::null_mut()), "id");
        ok(lcd_container_config_set_spec_json(config, spec.as_ptr(), spec.len(), ptr::null_mut()), "spec");
        let (p, l) = text("io.containerd.runc.v2");
        ok(lcd_container_config_set_runtime(config, p, l, ptr::null_mut()), "runtime");
        let (p, l) = text("containerd.runc.v1.Options");
        ok(lcd_container_config_set_runtime_options(config, p, l, ptr::null(), 0, ptr::null_mut()), "options");
        for (key, value) in [("a", "one"), ("b", ""), ("a", "two")] {
            ok(lcd_container_config_set_label(config, key.as_ptr(), key.len(), value.as_ptr(), value.len(), ptr::null_mut()), "label");
        }
        let (p, l) = text("example.test/busybox:latest");
        ok(lcd_container_config_set_image(config, p, l, ptr::null_mut()), "image");
        let (p, l) = text("overlayfs");
        ok(lcd_container_config_set_snapshotter(config, p, l, ptr::null_mut()), "snapshotter");
        let (p, l) = text("cfg-snapshot");
        ok(lcd_container_config_set_snapshot_key(config, p, l, ptr::null_mut()), "snapshot key");
        let (name, type_url, value) = ("lcd.test/ext", "lcd.test.Ext", [1u8, 2, 3]);
        ok(lcd_container_config_set_extension(config, name.as_ptr(), name.len(), type_url.as_ptr(), type_url.len(), value.as_ptr(), value.len(), ptr::null_mut()), "extension");
    }
    let mut first: *mut lcd_container = ptr::null_mut();
    ok(unsafe { lcd_container_create(client, config, ptr::null(), &mut first, ptr::null_mut()) }, "create");
    let record = run(core.containerd().get_container("cfg1")).unwrap();
    assert_eq!(record.labels.get("a").map(String::as_str), Some("two"));
    // ("b" with an empty value goes too; containerd drops a label whose value is empty.)
    assert!(record.labels.contains_key("com.docker/engine.bundle.path"));
    let runtime = record.runtime.unwrap();
    assert_eq!((runtime.name.as_str(), runtime.options.map(|o| o.type_url)), ("io.containerd.runc.v2", Some("containerd.runc.v1.Options".to_owned())));
    assert_eq!(record.image, "example.test/busybox:latest");
    assert_eq!((record.snapshotter.as_str(), record.snapshot_key.as_str()), ("overlayfs", "cfg-snapshot"));
    assert_eq!(record.extensions.get("lcd.test/ext").map(|a| (a.type_url.clone(), a.value.clone())), Some(("lcd.test.Ext".to_owned(), vec![1, 2, 3])));
    assert_eq!(record.spec.unwrap().value, spec, "the spec is sent as it was given");

    // The same configuration again, with another id, through the _async twin; freed at once.
    unsafe { ok(lcd_container_config_set_id(config, "cfg2".as_ptr(), 4, ptr::null_mut()), "second id") };
    let mut pending: *mut lcd_pending = ptr::null_mut();
    ok(unsafe { lcd_container_create_async(client, config, ptr::null(), &mut pending, ptr::null_mut()) }, "create async");
    unsafe { lcd_container_config_free(config) };
    let mut poll = [nix::poll::PollFd::new(unsafe { std::os::fd::BorrowedFd::borrow_raw(lcd_pending_fd(pending)) }, nix::poll::PollFlags::POLLIN)];
    assert_eq!(nix::poll::poll(&mut poll, nix::poll::PollTimeout::from(30_000u16)).unwrap(), 1, "the async create finishes");
    let mut second: *mut lcd_container = ptr::null_mut();
    ok(unsafe { lcd_pending_finish_container(pending, &mut second, ptr::null_mut()) }, "finish async create");
    unsafe { lcd_pending_free(pending) };
    let record = run(core.containerd().get_container("cfg2")).unwrap();
    assert_eq!((record.image.as_str(), record.labels.get("a").map(String::as_str)), ("example.test/busybox:latest", Some("two")));

    for container in [first, second] {
        ok(unsafe { lcd_container_delete(container, ptr::null(), ptr::null_mut()) }, "delete");
        unsafe { lcd_container_free(container) };
    }
    unsafe { lcd_client_free(client) };
}

#[test]
fn a_configuration_without_its_required_fields_makes_nothing() {
    let ns = namespace("capi-config-missing");
    let client = connect(&ns);
    let config = lcd_container_config_new();
    unsafe { ok(lcd_container_config_set_id(config, "missing".as_ptr(), 7, ptr::null_mut()), "id") };
    let mut container: *mut lcd_container = ptr::null_mut();
    let mut err: *mut lcd_error = ptr::null_mut();
    let status = unsafe { lcd_container_create(client, config, ptr::null(), &mut container, &mut err) };
    assert_eq!(status, lcd_status::LCD_INVALID_ARGUMENT);
    assert!(container.is_null(), "no container on a refusal");
    unsafe { lcd_error_free(err) };
    assert!(!state_dir(&ns).join("missing").exists(), "no bundle directory for a refused create");
    unsafe { lcd_container_config_free(config) };
    unsafe { lcd_client_free(client) };
}
