//! The committed C header must be exactly what cbindgen generates from the current C ABI.

#[test]
fn committed_header_matches_a_fresh_generation() {
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/libcontainerd_ffi.h"));
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/libcontainerd_ffi.h");
    let committed = std::fs::read_to_string(committed_path).expect("include/libcontainerd_ffi.h is committed");
    assert!(
        committed == fresh,
        "include/libcontainerd_ffi.h is stale: run `make header` and commit it"
    );
}
