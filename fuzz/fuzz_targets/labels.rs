#![no_main]
//! `lcd_container_config_set_label`, one call per key and value: the input is split at NUL
//! bytes into `key\0value\0...` pairs (a last key without a value is left out).
use libcontainerd::ErrorKind;
use libcontainerd_capi::container_config::lcd_container_config;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut config = lcd_container_config::default();
    let mut accepted = 0;
    let mut fields = data.split(|&b| b == 0);
    while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
        let before = config.labels().clone();
        match config.set_label(key, value) {
            Ok(()) => {
                accepted += 1;
                let key = std::str::from_utf8(key).expect("an accepted key is UTF-8");
                assert!(!key.is_empty(), "empty key accepted");
                assert_eq!(config.labels().get(key).map(|v| v.as_bytes()), Some(value), "the label is what was given");
            }
            Err(err) => {
                common::assert_refusal(&err, ErrorKind::InvalidArgument, data.len());
                assert_eq!(config.labels(), &before, "a refused label changed the labels");
            }
        }
    }
    // Every label came from one key and one value of the input, NUL-free.
    assert!(config.labels().len() <= accepted);
    for (key, value) in config.labels() {
        assert!(!key.contains('\0') && !value.contains('\0'), "NUL inside a label: {key:?}={value:?}");
    }
});
