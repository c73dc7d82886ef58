//! The container configuration object: what `lcd_container_create` makes a container from,
//! filled one field at a time by setters that check their input at once and report a refusal
//! with its class (a builder, as rustls-ffi's and wasmtime's config objects are). It replaces
//! the create's 18 arguments and the three encodings they carried (NUL-joined labels, a type
//! URL and bytes pair, a protobuf `Container` for the record fields).

use std::collections::HashMap;

use prost_types::Any;

use super::*;
use libcontainerd::container::ContainerConfig;
use libcontainerd::identifiers;
use libcontainerd::spec::SpecInfo;

/// A container configuration: id, runtime-spec JSON, runtime name and options, labels, image,
/// snapshotter, snapshot key and extensions. Made by `lcd_container_config_new`, filled by the
/// `lcd_container_config_set_*` functions, read (never consumed) by `lcd_container_create`,
/// freed by `lcd_container_config_free`.
#[derive(Debug, Default, Clone)]
pub struct lcd_container_config {
    id: Option<String>,
    /// Its `spec_json` is empty until `set_spec_json` accepted a document (an empty one is not
    /// a spec).
    config: ContainerConfig,
}

/// A caller's bytes as UTF-8 text; the error names the field, never repeats the input.
fn text<'a>(what: &str, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| Error::invalid_argument(format!("{what} is not valid UTF-8: {e}")))
}

/// A text that must not be empty.
fn non_empty<'a>(what: &str, bytes: &'a [u8]) -> Result<&'a str> {
    let value = text(what, bytes)?;
    if value.is_empty() {
        return Err(Error::invalid_argument(format!("{what} must not be empty")));
    }
    Ok(value)
}

/// The setters, in Rust: each checks its input and changes the configuration only when the
/// input is accepted. Public for the fuzz targets (fuzz/).
impl lcd_container_config {
    /// The container id, checked against containerd's identifier rules.
    pub fn set_id(&mut self, id: &[u8]) -> Result<()> {
        let id = text("container id", id)?;
        identifiers::validate("container id", id)?;
        self.id = Some(id.to_owned());
        Ok(())
    }

    /// The runtime-spec JSON document, kept as it is once the library's spec reader accepts it.
    pub fn set_spec_json(&mut self, json: &[u8]) -> Result<()> {
        SpecInfo::from_spec_json(json)?;
        self.config.spec_json = json.to_vec();
        Ok(())
    }

    /// The runtime (shim) name; not empty.
    pub fn set_runtime(&mut self, name: &[u8]) -> Result<()> {
        self.config.runtime = non_empty("runtime name", name)?.to_owned();
        Ok(())
    }

    /// The runtime options as a protobuf `Any`; both empty for none.
    pub fn set_runtime_options(&mut self, type_url: &[u8], value: &[u8]) -> Result<()> {
        let type_url = text("runtime options type URL", type_url)?;
        self.config.runtime_options = match (type_url.is_empty(), value.is_empty()) {
            (true, true) => None,
            (true, false) => return Err(Error::invalid_argument("runtime options given without a type URL")),
            (false, _) => Some(Any { type_url: type_url.to_owned(), value: value.to_vec() }),
        };
        Ok(())
    }

    /// Sets one label (a later value of the same key replaces the earlier one).
    pub fn set_label(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let key = non_empty("label key", key)?;
        let value = text("label value", value)?;
        self.config.labels.insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// The record's image name; empty for none.
    pub fn set_image(&mut self, image: &[u8]) -> Result<()> {
        self.config.image = text("image", image)?.to_owned();
        Ok(())
    }

    /// The record's snapshotter; empty for none.
    pub fn set_snapshotter(&mut self, snapshotter: &[u8]) -> Result<()> {
        self.config.snapshotter = text("snapshotter", snapshotter)?.to_owned();
        Ok(())
    }

    /// The record's snapshot key; empty for none.
    pub fn set_snapshot_key(&mut self, key: &[u8]) -> Result<()> {
        self.config.snapshot_key = text("snapshot key", key)?.to_owned();
        Ok(())
    }

    /// Sets one record extension, a protobuf `Any` under a name (a later one of the same name
    /// replaces the earlier one).
    pub fn set_extension(&mut self, name: &[u8], type_url: &[u8], value: &[u8]) -> Result<()> {
        let name = non_empty("extension name", name)?;
        let type_url = non_empty("extension type URL", type_url)?;
        self.config.extensions.insert(name.to_owned(), Any { type_url: type_url.to_owned(), value: value.to_vec() });
        Ok(())
    }

    /// The id and a copy of the configuration for a create; refused while the id, the spec or
    /// the runtime is not set.
    pub fn build(&self) -> Result<(String, ContainerConfig)> {
        let missing = |what: &str, setter: &str| {
            Error::invalid_argument(format!("the container configuration has no {what}: set it with {setter}"))
        };
        let id = self.id.clone().ok_or_else(|| missing("id", "lcd_container_config_set_id"))?;
        if self.config.spec_json.is_empty() {
            return Err(missing("spec", "lcd_container_config_set_spec_json"));
        }
        if self.config.runtime.is_empty() {
            return Err(missing("runtime", "lcd_container_config_set_runtime"));
        }
        Ok((id, self.config.clone()))
    }

    /// The labels set so far (for tests and fuzz targets).
    pub fn labels(&self) -> &HashMap<String, String> {
        &self.config.labels
    }
}

/// Borrows a configuration for a setter; NULL is an invalid-argument error.
unsafe fn config_mut<'a>(config: *mut lcd_container_config) -> Result<&'a mut lcd_container_config> {
    // SAFETY: NULL or a live configuration from `lcd_container_config_new` that no other call
    // uses at the same time (the caller's contract for setters).
    unsafe { config.as_mut() }.ok_or_else(|| Error::invalid_argument("container configuration handle is NULL"))
}

/// Makes an empty container configuration: no id, spec or runtime yet (each must be set before
/// `lcd_container_create`), no runtime options, labels, image, snapshotter, snapshot key or
/// extensions.
///
/// Ownership: the caller owns the configuration and frees it with `lcd_container_config_free`;
/// it lives independently of any client. Thread-safety: setters need the configuration to
/// themselves; creates only read it, so several may use one configuration at once while no
/// setter runs. Never returns NULL.
#[unsafe(no_mangle)]
pub extern "C" fn lcd_container_config_new() -> *mut lcd_container_config {
    boundary_infallible(ptr::null_mut(), || Box::into_raw(Box::new(lcd_container_config::default())))
}

/// Sets the container id (required). Checked now against containerd's identifier rules
/// (`[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`, at most 76 characters).
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, text that is not UTF-8 or not an identifier (the message quotes at most 64 bytes of
/// it); the configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_id(
    config: *mut lcd_container_config,
    id: *const u8,
    id_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe { config_mut(config)?.set_id(bytes_arg("container id", id, id_len)?) })
}

/// Sets the runtime-spec JSON document (required), sent to containerd as it is. Read now as
/// containerd and runc will read it (its process terminal and user-namespace mappings).
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, a document that is not a JSON spec object, or a user namespace that maps root to
/// host uid or gid 4294967295 (the message quotes at most a bounded part of it); the
/// configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_spec_json(
    config: *mut lcd_container_config,
    spec_json: *const u8,
    spec_json_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe { config_mut(config)?.set_spec_json(bytes_arg("spec JSON", spec_json, spec_json_len)?) })
}

/// Sets the runtime (shim) name (required), e.g. `io.containerd.runc.v2`.
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, an empty name or one that is not UTF-8; the configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_runtime(
    config: *mut lcd_container_config,
    runtime: *const u8,
    runtime_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe { config_mut(config)?.set_runtime(bytes_arg("runtime name", runtime, runtime_len)?) })
}

/// Sets the runtime options, a protobuf `Any`: its type URL and encoded message (for runc
/// `containerd.runc.v1.Options`). Both empty removes them (the default).
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, a type URL that is not UTF-8, or options without a type URL; the configuration is
/// then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_runtime_options(
    config: *mut lcd_container_config,
    type_url: *const u8,
    type_url_len: usize,
    options: *const u8,
    options_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe {
        let type_url = bytes_arg("runtime options type URL", type_url, type_url_len)?;
        let options = bytes_arg("runtime options", options, options_len)?;
        config_mut(config)?.set_runtime_options(type_url, options)
    })
}

/// Sets one label of the record; a label of the same key set before is replaced. The library
/// adds `com.docker/engine.bundle.path` itself at create (over a label of that key).
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, an empty key, or a key or value that is not UTF-8; the configuration is then
/// unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_label(
    config: *mut lcd_container_config,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe {
        let key = bytes_arg("label key", key, key_len)?;
        let value = bytes_arg("label value", value, value_len)?;
        config_mut(config)?.set_label(key, value)
    })
}

/// Sets the record's image name (what containerd's `WithImageName` sets); empty for none (the
/// default).
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, or text that is not UTF-8; the configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_image(
    config: *mut lcd_container_config,
    image: *const u8,
    image_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe { config_mut(config)?.set_image(bytes_arg("image", image, image_len)?) })
}

/// Sets the record's snapshotter name; empty for none (the default).
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, or text that is not UTF-8; the configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_snapshotter(
    config: *mut lcd_container_config,
    snapshotter: *const u8,
    snapshotter_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe { config_mut(config)?.set_snapshotter(bytes_arg("snapshotter", snapshotter, snapshotter_len)?) })
}

/// Sets the record's snapshot key; empty for none (the default). The library does not make
/// the snapshot.
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, or text that is not UTF-8; the configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_snapshot_key(
    config: *mut lcd_container_config,
    snapshot_key: *const u8,
    snapshot_key_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe { config_mut(config)?.set_snapshot_key(bytes_arg("snapshot key", snapshot_key, snapshot_key_len)?) })
}

/// Sets one extension of the record: a protobuf `Any` (type URL and encoded message) under
/// `name`; one of the same name set before is replaced.
///
/// Ownership: the bytes are copied. Thread-safety: not with any other call on this
/// configuration. Errors: `LCD_INVALID_ARGUMENT` for a NULL configuration, NULL bytes with a
/// length, an empty name or type URL, or a name or type URL that is not UTF-8; the
/// configuration is then unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_set_extension(
    config: *mut lcd_container_config,
    name: *const u8,
    name_len: usize,
    type_url: *const u8,
    type_url_len: usize,
    value: *const u8,
    value_len: usize,
    err: *mut *mut lcd_error,
) -> lcd_status {
    boundary(err, || unsafe {
        let name = bytes_arg("extension name", name, name_len)?;
        let type_url = bytes_arg("extension type URL", type_url, type_url_len)?;
        let value = bytes_arg("extension value", value, value_len)?;
        config_mut(config)?.set_extension(name, type_url, value)
    })
}

/// Frees a container configuration. NULL does nothing. Containers created from it are not
/// affected; no call may still be using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lcd_container_config_free(config: *mut lcd_container_config) {
    unsafe { free_handle(config) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &[u8] = br#"{"process":{"terminal":false}}"#;

    fn full() -> lcd_container_config {
        let mut config = lcd_container_config::default();
        config.set_id(b"c1").unwrap();
        config.set_spec_json(SPEC).unwrap();
        config.set_runtime(b"io.containerd.runc.v2").unwrap();
        config
    }

    #[test]
    fn a_configuration_needs_id_spec_and_runtime() {
        let mut config = lcd_container_config::default();
        for (setter, missing) in [("id", "no id"), ("spec", "no spec"), ("runtime", "no runtime"), ("", "")] {
            let built = config.build();
            if setter.is_empty() {
                assert_eq!(built.unwrap().0, "c1");
                break;
            }
            let err = built.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains(missing), "{err}");
            match setter {
                "id" => config.set_id(b"c1").unwrap(),
                "spec" => config.set_spec_json(SPEC).unwrap(),
                _ => config.set_runtime(b"r").unwrap(),
            }
        }
    }

    #[test]
    fn refused_input_leaves_the_configuration_unchanged() {
        let mut config = full();
        config.set_label(b"a", b"one").unwrap();
        let before = format!("{:?}", config.build().unwrap());
        let bad_utf8 = &[0xffu8, 0xfe][..];
        let refusals: Vec<(&str, Result<()>)> = vec![
            ("bad id", config.set_id(b"../x")),
            ("empty id", config.set_id(b"")),
            ("id not UTF-8", config.set_id(bad_utf8)),
            ("spec not JSON", config.set_spec_json(b"{\"process\":")),
            ("empty spec", config.set_spec_json(b"")),
            ("empty runtime", config.set_runtime(b"")),
            ("options without a type", config.set_runtime_options(b"", b"x")),
            ("options type not UTF-8", config.set_runtime_options(bad_utf8, b"x")),
            ("empty label key", config.set_label(b"", b"v")),
            ("label key not UTF-8", config.set_label(bad_utf8, b"v")),
            ("label value not UTF-8", config.set_label(b"k", bad_utf8)),
            ("image not UTF-8", config.set_image(bad_utf8)),
            ("snapshotter not UTF-8", config.set_snapshotter(bad_utf8)),
            ("snapshot key not UTF-8", config.set_snapshot_key(bad_utf8)),
            ("empty extension name", config.set_extension(b"", b"t", b"v")),
            ("empty extension type", config.set_extension(b"n", b"", b"v")),
            ("extension name not UTF-8", config.set_extension(bad_utf8, b"t", b"v")),
        ];
        for (what, outcome) in refusals {
            assert_eq!(outcome.unwrap_err().kind(), ErrorKind::InvalidArgument, "{what}");
        }
        assert_eq!(format!("{:?}", config.build().unwrap()), before);
    }

    #[test]
    fn setters_fill_every_field_and_later_values_replace_earlier_ones() {
        let mut config = full();
        config.set_label(b"a", b"one").unwrap();
        config.set_label(b"a", b"two").unwrap();
        config.set_label(b"b", b"").unwrap();
        config.set_runtime_options(b"containerd.runc.v1.Options", b"").unwrap();
        config.set_image(b"busybox").unwrap();
        config.set_snapshotter(b"overlayfs").unwrap();
        config.set_snapshot_key(b"k").unwrap();
        config.set_extension(b"e", b"t", &[1, 2]).unwrap();
        let (id, built) = config.build().unwrap();
        assert_eq!(id, "c1");
        assert_eq!(built.spec_json, SPEC);
        assert_eq!(built.labels.get("a").map(String::as_str), Some("two"));
        assert_eq!(built.labels.get("b").map(String::as_str), Some(""));
        assert_eq!(built.runtime_options.map(|a| a.type_url), Some("containerd.runc.v1.Options".to_owned()));
        assert_eq!((built.image.as_str(), built.snapshotter.as_str(), built.snapshot_key.as_str()), ("busybox", "overlayfs", "k"));
        assert_eq!(built.extensions.get("e").map(|a| a.value.clone()), Some(vec![1, 2]));
        config.set_runtime_options(b"", b"").unwrap();
        assert!(config.build().unwrap().1.runtime_options.is_none(), "both empty removes the options");
    }

    #[test]
    fn refusals_quote_a_bounded_part_of_a_huge_input() {
        let mut config = lcd_container_config::default();
        let huge = "x/".repeat(1 << 20);
        let err = config.set_id(huge.as_bytes()).unwrap_err();
        assert!(err.to_string().len() < 300, "{} bytes", err.to_string().len());
        let mut huge_spec = b"{\"process\":\"".to_vec();
        huge_spec.extend(std::iter::repeat_n(b'a', 1 << 20));
        let err = config.set_spec_json(&huge_spec).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().len() < 512, "{} bytes", err.to_string().len());
    }

    #[test]
    fn the_c_setters_check_their_handle_and_pointers() {
        let mut err: *mut lcd_error = ptr::null_mut();
        let status = unsafe { lcd_container_config_set_id(ptr::null_mut(), b"x".as_ptr(), 1, &mut err) };
        assert_eq!(status, lcd_status::LCD_INVALID_ARGUMENT);
        unsafe { lcd_error_free(err) };
        let config = lcd_container_config_new();
        let status = unsafe { lcd_container_config_set_label(config, ptr::null(), 3, b"v".as_ptr(), 1, ptr::null_mut()) };
        assert_eq!(status, lcd_status::LCD_INVALID_ARGUMENT, "NULL key with a length");
        let status = unsafe { lcd_container_config_set_label(config, b"k".as_ptr(), 1, ptr::null(), 0, ptr::null_mut()) };
        assert_eq!(status, lcd_status::LCD_OK, "NULL empty value");
        assert_eq!(unsafe { &*config }.labels().get("k").map(String::as_str), Some(""));
        unsafe { lcd_container_config_free(config) };
        unsafe { lcd_container_config_free(ptr::null_mut()) };
    }
}
