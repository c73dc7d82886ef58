//! The `_async` twins of the container calls: create, load, delete.

use super::pending::{self, lcd_pending, Outcome};
use crate::client::lcd_client;
use crate::container::lcd_container;
use crate::container_config::lcd_container_config;
use crate::*;
use libcontainerd::container::Container;

/// `lcd_container_create` that runs on the library's runtime: the configuration is checked and
/// copied now (the same `LCD_INVALID_ARGUMENT` errors), the bundle and the record are made
/// later; wait until `lcd_pending_fd(*out)` is readable, then collect the container with
/// `lcd_pending_finish_container`, which reports the create's other errors.
///
/// Ownership: `config` is only read, as by `lcd_container_create` (free or change it as soon as
/// this returns); `*out` is freed with `lcd_pending_free`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_create_async(
    client: *const lcd_client,
    config: *const lcd_container_config,
    cancel: *const lcd_cancel,
    out: *mut *mut lcd_pending,
    err: *mut *mut lcd_error,
) -> lcd_status {
    pending::start(err, cancel, out, || {
        let client = unsafe { handle_arg("client", client)? }.client.clone();
        let (id, config) = unsafe { handle_arg("container configuration", config)? }.build()?;
        Ok(async move { Container::create(&client, &id, config).await.map(Outcome::Container) })
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
