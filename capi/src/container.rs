//! C ABI of containers: create, load, accessors, delete, free.

use std::ffi::{c_char, CString};

use super::client::lcd_client;
use super::container_config::lcd_container_config;
use super::*;
use libcontainerd::container::Container;
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

/// Creates a container from `config` (see `lcd_container_config_new`; its id, spec and runtime
/// must be set): creates the container's bundle directory under the client's state directory
/// (owned by the user-namespace root when the spec maps one) and the containerd record (one
/// RPC) with the spec JSON sent as it is, the runtime, its options, the labels, image,
/// snapshotter, snapshot key and extensions the configuration holds. The bundle path is
/// recorded in the `com.docker/engine.bundle.path` label.
///
/// Ownership: `config` is only read (copied for the create), never consumed: the caller frees
/// it with `lcd_container_config_free` whenever it likes after this returns, and may reuse it
/// for more creates. On success `*out` receives a container the caller frees with
/// `lcd_container_free`. Thread-safe; several creates may read one configuration at once while
/// no setter runs on it.
/// Errors: `LCD_INVALID_ARGUMENT` (NULL client, configuration or out-parameter; a
/// configuration without id, spec or runtime); `LCD_ALREADY_EXISTS` when the id is in use;
/// containerd's errors; `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`. A failed create removes
/// only what it made: the bundle directory if it made it (never one that was there, e.g.
/// another create's of the same id: creates and deletes of one id in this process take turns).
/// A create cut short by `cancel` goes on in the library; if containerd made the container, it
/// is deleted again with the directory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_create(
    client: *const lcd_client,
    config: *const lcd_container_config,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_container,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let client = unsafe { handle_arg("client", client)? };
        let (id, config) = unsafe { handle_arg("container configuration", config)? }.build()?;
        let container = block_on(unsafe { cancel_arg(cancel) }, Container::create(&client.client, &id, config))?;
        unsafe { out.write(lcd_container::boxed(container)) };
        Ok(())
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

/// Frees a container handle. NULL does nothing. Tasks made from it stay usable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_free(container: *mut lcd_container) {
    unsafe { free_handle(container) }
}
