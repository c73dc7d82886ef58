//! Reading an exec's runtime-spec `Process` JSON document.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::identifiers;

/// What the library reads of a runtime-spec `Process` document.
#[derive(Deserialize)]
#[serde(expecting = "a process JSON object")]
struct ProcessSpecFields {
    #[serde(default, deserialize_with = "terminal_flag")]
    terminal: bool,
}

/// `terminal` as a boolean. serde's own refusal of another type repeats a string value whole
/// (a 64 MiB one included); this one names only the type it got.
fn terminal_flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<bool, D::Error> {
    struct Flag;
    impl serde::de::Visitor<'_> for Flag {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: serde::de::Error>(self, value: bool) -> std::result::Result<bool, E> {
            Ok(value)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<bool, E> {
            Err(E::invalid_type(serde::de::Unexpected::Other("a string"), &self))
        }
        fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> std::result::Result<bool, E> {
            Err(E::invalid_type(serde::de::Unexpected::Other("a byte string"), &self))
        }
    }
    deserializer.deserialize_any(Flag)
}

/// Reads an exec's runtime-spec `Process` JSON document: whether it asks for a terminal (the
/// document itself goes to containerd as it is). Public for the fuzz targets (fuzz/).
pub fn process_spec_terminal(spec_json: &[u8]) -> Result<bool> {
    let fields: ProcessSpecFields = serde_json::from_slice(spec_json)
        .map_err(|e| Error::invalid_argument(format!("process spec is not a valid OCI process JSON document: {}", identifiers::json_error(&e))))?;
    Ok(fields.terminal)
}
