//! The C libraries `libcontainerd_ffi.a` and `libcontainerd_ffi.so`: every `lcd_*` function of
//! the core's C ABI module (`src/ffi`), optimised together with the crates it calls.
pub use libcontainerd::ffi;
