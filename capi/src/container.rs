//! C ABI of containers: create, load, accessors, delete, free.

use std::collections::HashMap;
use std::ffi::{c_char, CString};

use containerd_client::services::v1::Container as ContainerRecord;
use prost::Message;
use prost_types::Any;

use super::client::lcd_client;
use super::pending::{self, lcd_pending, Outcome};
use super::*;
use libcontainerd::container::{Container, ContainerConfig};
use libcontainerd::runtime::block_on;

/// A container, with the metadata later calls need.
pub struct lcd_container {
    pub(crate) container: Container,
    id: CString,
    bundle_dir: CString,
}

impl lcd_container {
    pub(crate) fn boxed(container: Container) -> *mut lcd_container {
        let id = CString::new(container.id()).unwrap_or_default();
        let bundle_dir = CString::new(container.bundle_dir().as_os_str().as_encoded_bytes()).unwrap_or_default();
        Box::into_raw(Box::new(lcd_container { container, id, bundle_dir }))
    }
}

/// Parses labels given as NUL-terminated key and value strings one after another:
/// `"key1\0value1\0key2\0value2\0"`. Public for the fuzz targets (fuzz/).
pub fn parse_labels(bytes: &[u8]) -> Result<HashMap<String, String>> {
    if bytes.is_empty() {
        return Ok(HashMap::new());
    }
    let Some(body) = bytes.strip_suffix(&[0]) else {
        return Err(Error::invalid_argument("labels must end with a NUL byte"));
    };
    let parts: Vec<&[u8]> = body.split(|&b| b == 0).collect();
    if !parts.len().is_multiple_of(2) {
        return Err(Error::invalid_argument("labels must be key and value pairs; the last key has no value"));
    }
    let text = |b: &[u8]| {
        std::str::from_utf8(b).map(str::to_owned).map_err(|_| Error::invalid_argument("a label is not valid UTF-8"))
    };
    let mut labels = HashMap::with_capacity(parts.len() / 2);
    for pair in parts.chunks(2) {
        let key = text(pair[0])?;
        if key.is_empty() {
            return Err(Error::invalid_argument("a label key is empty"));
        }
        labels.insert(key, text(pair[1])?);
    }
    Ok(labels)
}

/// Reads the container configuration arguments of `lcd_container_create` and
/// `lcd_container_create_async`. Public for the fuzz targets (fuzz/); each pointer must be
/// valid for its length or NULL with length 0.
#[allow(clippy::too_many_arguments)]
pub unsafe fn container_config_arg(
    spec_json: *const u8,
    spec_json_len: usize,
    runtime: *const u8,
    runtime_len: usize,
    options_type_url: *const u8,
    options_type_url_len: usize,
    options: *const u8,
    options_len: usize,
    labels: *const u8,
    labels_len: usize,
    record_fields: *const u8,
    record_fields_len: usize,
) -> Result<ContainerConfig> {
    let spec_json = unsafe { bytes_arg("spec JSON", spec_json, spec_json_len)? };
    let runtime = unsafe { str_arg("runtime name", runtime, runtime_len)? };
    let options_type_url = unsafe { str_arg("runtime options type URL", options_type_url, options_type_url_len)? };
    let options = unsafe { bytes_arg("runtime options", options, options_len)? };
    let labels = parse_labels(unsafe { bytes_arg("labels", labels, labels_len)? })?;
    let runtime_options = match (options_type_url.is_empty(), options.is_empty()) {
        (true, true) => None,
        (true, false) => return Err(Error::invalid_argument("runtime options given without a type URL")),
        (false, _) => Some(Any { type_url: options_type_url.to_owned(), value: options.to_vec() }),
    };
    let record_fields = unsafe { bytes_arg("record fields", record_fields, record_fields_len)? };
    let fields = ContainerRecord::decode(record_fields)
        .map_err(|e| Error::invalid_argument(format!("record fields are not a protobuf containerd Container: {e}")))?;
    Ok(ContainerConfig {
        spec_json: spec_json.to_vec(),
        runtime: runtime.to_owned(),
        runtime_options,
        labels,
        image: fields.image,
        snapshotter: fields.snapshotter,
        snapshot_key: fields.snapshot_key,
        extensions: fields.extensions,
    })
}

/// Creates a container: validates `id` against containerd's identifier rules, creates its
/// bundle directory under the client's state directory (owned by the user-namespace root when
/// the spec maps one), and creates the containerd record (one RPC) with the runtime-spec JSON
/// `spec_json` sent as it is, the runtime (shim) name `runtime` (e.g. `io.containerd.runc.v2`),
/// optional runtime options given as a protobuf `Any` (`options_type_url`, `options`; both
/// empty for none; for runc `containerd.runc.v1.Options`), and `labels` encoded as
/// `"key\0value\0key\0value\0"` (empty for none). `record_fields` (empty for none) is a
/// protobuf-encoded containerd `containerd.services.containers.v1.Container` from which the
/// image, snapshotter, snapshot key and extensions are taken (what Go container options set);
/// its other fields are ignored. The bundle path is recorded in the
/// `com.docker/engine.bundle.path` label.
///
/// Ownership: inputs are copied; on success `*out` receives a container the caller frees with
/// `lcd_container_free`. Thread-safe.
/// Errors: `LCD_INVALID_ARGUMENT` (bad id, spec that is not JSON, a user namespace that maps
/// root to host uid or gid 4294967295, bad labels, record fields that are not a protobuf
/// `Container`, NULL pointers);
/// `LCD_ALREADY_EXISTS` when the id is in use; containerd's errors; `LCD_CANCELLED` /
/// `LCD_DEADLINE_EXCEEDED`. A failed create removes only what it made: the bundle directory if
/// it made it (never one that was there, e.g. another create's of the same id: creates and
/// deletes of one id in this process take turns). A create cut short by `cancel` goes on in
/// the library; if containerd made the container, it is deleted again with the directory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_create(
    client: *const lcd_client,
    id: *const u8,
    id_len: usize,
    spec_json: *const u8,
    spec_json_len: usize,
    runtime: *const u8,
    runtime_len: usize,
    options_type_url: *const u8,
    options_type_url_len: usize,
    options: *const u8,
    options_len: usize,
    labels: *const u8,
    labels_len: usize,
    record_fields: *const u8,
    record_fields_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_container,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let client = unsafe { handle_arg("client", client)? };
        let id = unsafe { str_arg("container id", id, id_len)? };
        let config = unsafe {
            container_config_arg(
                spec_json,
                spec_json_len,
                runtime,
                runtime_len,
                options_type_url,
                options_type_url_len,
                options,
                options_len,
                labels,
                labels_len,
                record_fields,
                record_fields_len,
            )?
        };
        let container = block_on(unsafe { cancel_arg(cancel) }, Container::create(&client.client, id, config))?;
        unsafe { out.write(lcd_container::boxed(container)) };
        Ok(())
    })
}

/// `lcd_container_create` that runs on the library's runtime: the arguments are checked and
/// copied now (the same `LCD_INVALID_ARGUMENT` errors), the bundle and the record are made
/// later; wait until `lcd_pending_fd(*out)` is readable, then collect the container with
/// `lcd_pending_finish_container`, which reports the create's other errors.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_create_async(
    client: *const lcd_client,
    id: *const u8,
    id_len: usize,
    spec_json: *const u8,
    spec_json_len: usize,
    runtime: *const u8,
    runtime_len: usize,
    options_type_url: *const u8,
    options_type_url_len: usize,
    options: *const u8,
    options_len: usize,
    labels: *const u8,
    labels_len: usize,
    record_fields: *const u8,
    record_fields_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let client = unsafe { handle_arg("client", client)? }.client.clone();
        let id = unsafe { str_arg("container id", id, id_len)? }.to_owned();
        let config = unsafe {
            container_config_arg(
                spec_json,
                spec_json_len,
                runtime,
                runtime_len,
                options_type_url,
                options_type_url_len,
                options,
                options_len,
                labels,
                labels_len,
                record_fields,
                record_fields_len,
            )?
        };
        Ok(async move { Container::create(&client, &id, config).await.map(Outcome::Container) })
    })
}

/// Loads an existing container by id (one RPC) and keeps its metadata in the handle.
///
/// Ownership: on success `*out` receives a container the caller frees with
/// `lcd_container_free`. Thread-safe.
/// Errors: `LCD_INVALID_ARGUMENT` for a malformed id; `LCD_NOT_FOUND` ("no such container");
/// containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_load(
    client: *const lcd_client,
    id: *const u8,
    id_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_container,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let client = unsafe { handle_arg("client", client)? };
        let id = unsafe { str_arg("container id", id, id_len)? };
        let container = block_on(unsafe { cancel_arg(cancel) }, Container::load(&client.client, id))?;
        unsafe { out.write(lcd_container::boxed(container)) };
        Ok(())
    })
}

/// `lcd_container_load` without waiting: `*out` receives a pending call; when `lcd_pending_fd` is
/// readable, `lcd_pending_finish_container` gives what `lcd_container_load` would report.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter or an id that is not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_load_async(
    client: *const lcd_client,
    id: *const u8,
    id_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let client = unsafe { handle_arg("client", client)? }.client.clone();
        let id = unsafe { str_arg("container id", id, id_len)? }.to_owned();
        Ok(async move { Container::load(&client, &id).await.map(Outcome::Container) })
    })
}

/// The container's id. Owned by the handle, valid until `lcd_container_free`; "" for NULL.
/// Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_id(container: *const lcd_container) -> *const c_char {
    boundary_infallible(c"".as_ptr(), || unsafe { container.as_ref() }.map(|c| c.id.as_ptr()).unwrap_or(c"".as_ptr()))
}

/// The container's bundle directory (where its FIFOs live). Owned by the handle, valid until
/// `lcd_container_free`; "" for NULL. Thread-safe; no RPC.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_bundle_dir(container: *const lcd_container) -> *const c_char {
    boundary_infallible(c"".as_ptr(), || {
        unsafe { container.as_ref() }.map(|c| c.bundle_dir.as_ptr()).unwrap_or(c"".as_ptr())
    })
}

/// Deletes the container record and then its bundle directory (kept when the environment has
/// `LIBCONTAINERD_NOCLEAN=1`). One RPC when the handle knows the container has no task (it
/// created the container and no task since, or a task made from it was deleted); otherwise a
/// task check (Tasks.Get) first. A delete that cannot reach containerd fails with
/// `LCD_UNAVAILABLE` and is remembered: once the client's event stream is back the library
/// deletes the record and the bundle, only if the record is still the one this handle is for
/// (same creation time) and has no task by then.
///
/// The handle stays valid (free it with `lcd_container_free`). Thread-safe.
/// Errors: `LCD_FAILED_PRECONDITION` while the container still has a task (delete the task
/// first); `LCD_NOT_FOUND` when the container is already gone; containerd's errors;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_delete(
    container: *const lcd_container,
    cancel: *const lcd_cancel,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let container = unsafe { handle_arg("container", container)? };
        block_on(unsafe { cancel_arg(cancel) }, container.container.delete())
    })
}

/// `lcd_container_delete` that runs on the library's runtime: wait until
/// `lcd_pending_fd(*out)` is readable, then collect the result with `lcd_pending_finish`.
///
/// Ownership: `*out` is freed with `lcd_pending_free`. Thread-safe.
/// Errors here: `LCD_INVALID_ARGUMENT` for a NULL handle or out-parameter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_delete_async(
    container: *const lcd_container,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let container = unsafe { handle_arg("container", container)? }.container.clone();
        Ok(async move { container.delete().await.map(|()| Outcome::Done) })
    })
}

/// Frees a container handle. NULL does nothing. Tasks made from it stay usable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_free(container: *mut lcd_container) {
    unsafe { free_handle(container) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_nul_separated_pairs() {
        let labels = parse_labels(b"a\0one\0b\0\0").unwrap();
        assert_eq!(labels.get("a").map(String::as_str), Some("one"));
        assert_eq!(labels.get("b").map(String::as_str), Some(""));
        for bad in [&b"a\0"[..], b"a\0b", b"\0v\0"] {
            assert_eq!(parse_labels(bad).unwrap_err().kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }
}
