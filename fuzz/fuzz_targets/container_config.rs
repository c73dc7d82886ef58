#![no_main]
//! `lcd_container_create`'s arguments as the C ABI reads them: runtime name, runtime options and
//! their type URL, labels, and the protobuf `Container` record fields (image, snapshotter,
//! snapshot key, extensions). The input is split into the six byte strings at 0xFF bytes.
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(6, |&b| b == 0xff);
    let mut next = || parts.next().unwrap_or(&[]);
    let (spec, runtime, type_url, options, labels, record) = (next(), next(), next(), next(), next(), next());
    let arg = |bytes: &[u8]| (if bytes.is_empty() { std::ptr::null() } else { bytes.as_ptr() }, bytes.len());
    let (spec_ptr, spec_len) = arg(spec);
    let (runtime_ptr, runtime_len) = arg(runtime);
    let (type_url_ptr, type_url_len) = arg(type_url);
    let (options_ptr, options_len) = arg(options);
    let (labels_ptr, labels_len) = arg(labels);
    let (record_ptr, record_len) = arg(record);
    let config = unsafe {
        libcontainerd_capi::container::container_config_arg(
            spec_ptr, spec_len, runtime_ptr, runtime_len, type_url_ptr, type_url_len, options_ptr, options_len,
            labels_ptr, labels_len, record_ptr, record_len,
        )
    };
    match config {
        Ok(config) => {
            assert_eq!(config.spec_json, spec, "the spec goes on as it was given");
            assert_eq!(config.runtime.as_bytes(), runtime);
        }
        Err(err) => common::assert_refusal(&err, ErrorKind::InvalidArgument, data.len()),
    }
});
