//! Generates the C header from the C ABI in src/ with cbindgen.
//!
//! The fresh header goes to `$OUT_DIR/libcontainerd_ffi.h`, where the header test compares it
//! with the committed `include/libcontainerd_ffi.h`. `LCD_WRITE_HEADER=1` (`make header`)
//! also writes it to `include/`.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=LCD_WRITE_HEADER");
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the C header");
    bindings.write_to_file(out_dir.join("libcontainerd_ffi.h"));
    if env::var_os("LCD_WRITE_HEADER").is_some_and(|v| v == "1") {
        bindings.write_to_file(crate_dir.join("include/libcontainerd_ffi.h"));
    }
}
