//! C ABI of the client: connect, version, free.

use std::ffi::c_char;

use super::*;
use libcontainerd::bundle::path_from_bytes;
use libcontainerd::client::Client;
use libcontainerd::runtime::block_on;

/// A connection to one containerd namespace.
pub struct lcd_client {
    pub(crate) client: Client,
}

/// Connects to the containerd socket `socket` (a filesystem path) for `namespace`, with
/// bundles under the absolute directory `state_dir`, and starts the client's task event
/// subscription.
///
/// Ownership: on success `*out` receives a client the caller frees with `lcd_client_free`.
/// Containers, tasks and event streams made from it keep what they need alive, so they may be
/// freed before or after the client.
/// Thread-safety: the client may be used from any number of threads at once.
/// Errors: `LCD_INVALID_ARGUMENT` for a NULL or malformed argument (namespace not a containerd
/// identifier, relative state directory, a socket path longer than a unix socket address holds
/// (107 bytes)); `LCD_UNAVAILABLE` when containerd cannot be reached;
/// `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED` from `cancel` (may be NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_client_connect(
    socket: *const u8,
    socket_len: usize,
    namespace: *const u8,
    namespace_len: usize,
    state_dir: *const u8,
    state_dir_len: usize,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_client,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let out = out_arg("out", out)?;
        let socket = path_from_bytes("socket path", unsafe { bytes_arg("socket path", socket, socket_len)? })?;
        let namespace = unsafe { str_arg("namespace", namespace, namespace_len)? };
        let state_dir = path_from_bytes("state directory", unsafe { bytes_arg("state directory", state_dir, state_dir_len)? })?;
        let client = block_on(unsafe { cancel_arg(cancel) }, Client::connect(&socket, namespace, &state_dir))?;
        unsafe { out.write(Box::into_raw(Box::new(lcd_client { client }))) };
        Ok(())
    })
}

/// Frees a client handle. NULL does nothing. The connection closes once no container, task or
/// event stream made from it is left; until then its task event subscription serves them, but
/// is not renewed once it breaks (containerd gone): exit waits then fail with
/// `LCD_UNAVAILABLE`, and cleanups still waiting for containerd are given up (logged). Do not
/// use the handle afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_client_free(client: *mut lcd_client) {
    unsafe { free_handle(client) }
}

/// Asks containerd for its version (one RPC).
///
/// Ownership: on success `*version` and `*revision` receive strings the caller frees with
/// `lcd_string_free`; either out-parameter may be NULL when not wanted.
/// Thread-safe. Errors: `LCD_INVALID_ARGUMENT` for a NULL client; containerd's errors
/// (`LCD_UNAVAILABLE` when it is down); `LCD_CANCELLED` / `LCD_DEADLINE_EXCEEDED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_client_version(
    client: *const lcd_client,
    cancel: *const lcd_cancel,
    version: *mut *mut c_char,
    revision: *mut *mut c_char,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || {
        let client = unsafe { handle_arg("client", client)? };
        let v = block_on(unsafe { cancel_arg(cancel) }, client.client.version())?;
        unsafe {
            if !version.is_null() {
                version.write(owned_c_string(&v.version));
            }
            if !revision.is_null() {
                revision.write(owned_c_string(&v.revision));
            }
        }
        Ok(())
    })
}

/// The number of containerd RPCs this client has sent so far (all methods, including the event
/// subscriptions). 0 for a NULL client. Thread-safe; sends nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_client_rpc_total(client: *const lcd_client) -> u64 {
    boundary_infallible(0, || unsafe { client.as_ref() }.map(|c| c.client.rpc_counts().total()).unwrap_or(0))
}
