#![no_main]
//! `lcd_task_update_resources`' LinuxResources JSON, checked before it goes to containerd.
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Err(err) = libcontainerd::task::check_resources_json(data) {
        common::assert_refusal(&err, ErrorKind::InvalidArgument, data.len());
    }
});
