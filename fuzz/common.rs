// Checks shared by the fuzz targets: a refusal has the class the header promises and quotes
// at most a bounded part of the input (the library's rule for error text).
use libcontainerd::{Error, ErrorKind};

/// Longest error message a refusal may give, whatever the input's size: the fixed text plus at
/// most QUOTED_INPUT_MAX bytes of the input, or QUOTED_PATH_MAX of a path.
pub const MESSAGE_MAX: usize = 512;

pub fn assert_refusal(err: &Error, kind: ErrorKind, input_len: usize) {
    assert_eq!(err.kind(), kind, "refusal of a {input_len}-byte input has the wrong class: {err}");
    let text = err.to_string();
    assert!(
        text.len() <= MESSAGE_MAX,
        "a {input_len}-byte input gave a {}-byte error message: {}",
        text.len(),
        &text[..text.len().min(600)]
    );
}
