#![no_main]
//! An exec's process JSON (`lcd_task_exec`, `lcd_task_prepare_exec`), read before any FIFO is made.
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Err(err) = libcontainerd::process::process_spec_terminal(data) {
        common::assert_refusal(&err, ErrorKind::InvalidArgument, data.len());
    }
});
