#![no_main]
//! The container configuration's setters (`lcd_container_config_set_*`) as the C ABI runs them:
//! id, spec JSON, runtime name, runtime options and their type URL, labels, image,
//! snapshotter, snapshot key and extensions. The input is split into those byte strings at
//! 0xFF bytes; the labels part is `key\0value\0...` pairs, the extensions part
//! `name\0type\0value` triples, each pair or triple one setter call. A refusal must have the
//! class the header promises and quote a bounded part of the input, and leave the
//! configuration as it was; what is accepted must be what the create would send.
use libcontainerd::ErrorKind;
use libcontainerd_capi::container_config::lcd_container_config;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

/// Runs one setter; on a refusal checks it and that the configuration did not change.
fn set(config: &mut lcd_container_config, input_len: usize, setter: impl FnOnce(&mut lcd_container_config) -> libcontainerd::Result<()>) -> bool {
    let before = format!("{config:?}");
    match setter(config) {
        Ok(()) => true,
        Err(err) => {
            common::assert_refusal(&err, ErrorKind::InvalidArgument, input_len);
            assert_eq!(format!("{config:?}"), before, "a refused setter changed the configuration");
            false
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(10, |&b| b == 0xff);
    let mut next = || parts.next().unwrap_or(&[]);
    let (id, spec, runtime, type_url, options) = (next(), next(), next(), next(), next());
    let (labels, image, snapshotter, snapshot_key, extensions) = (next(), next(), next(), next(), next());
    let n = data.len();
    let mut config = lcd_container_config::default();
    let id_ok = set(&mut config, n, |c| c.set_id(id));
    let spec_ok = set(&mut config, n, |c| c.set_spec_json(spec));
    let runtime_ok = set(&mut config, n, |c| c.set_runtime(runtime));
    set(&mut config, n, |c| c.set_runtime_options(type_url, options));
    let mut fields = labels.split(|&b| b == 0);
    while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
        if set(&mut config, n, |c| c.set_label(key, value)) {
            assert!(!key.is_empty(), "empty label key accepted");
            assert_eq!(config.labels().get(std::str::from_utf8(key).unwrap()).map(|v| v.as_bytes()), Some(value));
        }
    }
    set(&mut config, n, |c| c.set_image(image));
    set(&mut config, n, |c| c.set_snapshotter(snapshotter));
    set(&mut config, n, |c| c.set_snapshot_key(snapshot_key));
    let mut fields = extensions.split(|&b| b == 0);
    while let (Some(name), Some(type_url), Some(value)) = (fields.next(), fields.next(), fields.next()) {
        set(&mut config, n, |c| c.set_extension(name, type_url, value));
    }
    match config.build() {
        Ok((built_id, built)) => {
            assert!(id_ok && spec_ok && runtime_ok, "built without id, spec or runtime");
            assert_eq!(built_id.as_bytes(), id);
            assert_eq!(built.spec_json, spec, "the spec goes on as it was given");
            assert_eq!(built.runtime.as_bytes(), runtime);
        }
        Err(err) => {
            assert!(!(id_ok && spec_ok && runtime_ok), "refused a complete configuration: {err}");
            common::assert_refusal(&err, ErrorKind::InvalidArgument, n);
        }
    }
});
