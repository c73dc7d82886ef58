//! The C libraries `libcontainerd_ffi.a` and `libcontainerd_ffi.so`: every `lcd_*` function of
//! the C ABI crate (`capi/src`), optimised together with the crates it calls.
pub use libcontainerd_capi::*;
