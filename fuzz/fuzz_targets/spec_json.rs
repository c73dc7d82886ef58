#![no_main]
//! The runtime-spec reader (`lcd_container_create`'s spec JSON, read before anything is made).
use libcontainerd::spec::{SpecFields, SpecInfo};
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    match SpecInfo::from_spec_json(data) {
        Ok(info) => {
            let fields = SpecFields::read(data).expect("the same document reads the same way twice");
            assert_eq!(info.terminal, fields.process.map(|p| p.terminal).unwrap_or(false));
        }
        Err(err) => common::assert_refusal(&err, ErrorKind::InvalidArgument, data.len()),
    }
});
