#![no_main]
//! The metrics payload containerd returns for `lcd_task_stats`, decoded into figures. The first
//! byte picks the type URL (cgroups v1, v2, host-prefixed, unknown), the rest is the payload.
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

const TYPE_URLS: &[&str] = &[
    "io.containerd.cgroups.v1.Metrics",
    "io.containerd.cgroups.v2.Metrics",
    "types.containerd.io/io.containerd.cgroups.v2.Metrics",
    "example.com/unknown",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let type_url = TYPE_URLS[selector as usize % TYPE_URLS.len()];
    if let Err(err) = libcontainerd::stats::decode_figures(type_url, payload) {
        assert!(matches!(err.kind(), ErrorKind::Internal | ErrorKind::Unknown | ErrorKind::InvalidArgument), "{err}");
        common::assert_refusal(&err, err.kind(), data.len());
    }
});
