#![no_main]
//! `lcd_container_create`'s labels, `"key\0value\0..."`.
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    match libcontainerd_capi::container::parse_labels(data) {
        Ok(labels) => {
            // Every label came from one key and one value of the input, NUL-free, key non-empty.
            let nuls = data.iter().filter(|&&b| b == 0).count();
            assert!(labels.len() * 2 <= nuls, "{} labels from {nuls} NUL-terminated strings", labels.len());
            for (key, value) in &labels {
                assert!(!key.is_empty(), "empty key accepted");
                assert!(!key.contains('\0') && !value.contains('\0'), "NUL inside a label: {key:?}={value:?}");
            }
        }
        Err(err) => common::assert_refusal(&err, ErrorKind::InvalidArgument, data.len()),
    }
});
