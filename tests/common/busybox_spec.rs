//! The busybox runtime spec of every test, example and benchmark: `tests/fixtures/busybox_spec.json`
//! (compiled in), with its variable fields filled. The C example and harness
//! (`capi/examples/busybox_spec.h`) and the Go tests and benchmark (`go/internal/busybox`) load
//! the same file.
//!
//! Shared as a file of its own (`#[path]`) by the integration tests (through `common`), the
//! benchmark's native side (`examples/native_calls.rs`) and the fuzz targets; it needs only
//! serde_json.

/// The fixture as committed: a complete runtime spec whose variable fields hold markers.
pub const BUSYBOX_SPEC_FIXTURE: &str = include_str!("../fixtures/busybox_spec.json");

/// The busybox spec running `args` in the root filesystem `rootfs` (read-only, so any number of
/// containers can share it), on a terminal or not, with hostname `hostname` and cgroups path
/// `cgroups_path`. Panics if the fixture lacks one of its markers.
pub fn busybox_spec(rootfs: &str, args: &[&str], terminal: bool, hostname: &str, cgroups_path: &str) -> serde_json::Value {
    let mut spec: serde_json::Value = serde_json::from_str(BUSYBOX_SPEC_FIXTURE).expect("tests/fixtures/busybox_spec.json is JSON");
    let mut fill = |pointer: &str, marker: serde_json::Value, value: serde_json::Value| {
        let field = spec.pointer_mut(pointer).unwrap_or_else(|| panic!("busybox_spec.json has no {pointer}"));
        assert_eq!(*field, marker, "busybox_spec.json: {pointer} is not the marker");
        *field = value;
    };
    fill("/process/args", serde_json::json!(["@ARGS@"]), serde_json::json!(args));
    fill("/process/terminal", serde_json::json!(false), serde_json::json!(terminal));
    fill("/root/path", serde_json::json!("@ROOTFS@"), serde_json::json!(rootfs));
    fill("/hostname", serde_json::json!("@HOSTNAME@"), serde_json::json!(hostname));
    fill("/linux/cgroupsPath", serde_json::json!("@CGROUPS_PATH@"), serde_json::json!(cgroups_path));
    spec
}
