//! The few fields the library needs from a runtime-spec document.
//!
//! The spec JSON goes to containerd exactly as the caller gave it (no decode and re-encode on
//! the hot path). This module only reads what the library itself acts on, and reads it as
//! containerd and runc will: as Go's encoding/json decodes the document into
//! runtime-spec's `specs.Spec` (checked against Go itself by tests/spec_reader.rs). A small
//! hand-written reader rather than serde: serde's derived structs accept arrays as objects
//! positionally, refuse escaped strings where they borrow, match keys case-sensitively and
//! recurse per nesting level, all unlike Go.

mod parser;

use crate::error::{Error, Result};
use parser::{field_is, Parser};

/// What the library needs to know about a container's spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecInfo {
    /// `process.terminal`: the task gets a terminal, so no stderr FIFO.
    pub terminal: bool,
    /// Host uid and gid that container root maps to (0/0 without a user namespace); the bundle
    /// directory and the task's IO are owned by them.
    pub host_uid: u32,
    pub host_gid: u32,
}

impl SpecInfo {
    /// Reads a runtime-spec `Spec` JSON document.
    pub fn from_spec_json(json: &[u8]) -> Result<Self> {
        let spec = SpecFields::read(json)?;
        let terminal = spec.process.map(|p| p.terminal).unwrap_or(false);
        let (host_uid, host_gid) = match spec.linux {
            Some(linux) if linux.namespaces.iter().any(|kind| kind == "user") => (
                host_id_of_root(&linux.uid_mappings),
                host_id_of_root(&linux.gid_mappings),
            ),
            _ => (0, 0),
        };
        Ok(SpecInfo { terminal, host_uid, host_gid })
    }
}

/// The host id that container id 0 maps to, or 0 when no mapping covers it (moby's rule).
fn host_id_of_root(mappings: &[IdMapping]) -> u32 {
    mappings.iter().find(|m| m.size > 0 && m.container_id == 0).map(|m| m.host_id).unwrap_or(0)
}

/// What Go's encoding/json, decoding into runtime-spec's `specs.Spec`, gives for the fields the
/// library reads: one value of the decoded Go structures, so the library's reading and Go's can
/// be compared field by field (tests/spec_reader.rs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecFields {
    pub process: Option<ProcessFields>,
    pub linux: Option<LinuxFields>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFields {
    pub terminal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinuxFields {
    /// The namespaces' `type`s.
    pub namespaces: Vec<String>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

impl SpecFields {
    /// Reads a runtime-spec document as Go's `json.Unmarshal` into `specs.Spec` does, for the
    /// fields above: keys match field names exactly or case-insensitively (Go's folding), a
    /// repeated key decodes again into what the earlier one left (so the last value wins, and
    /// objects and array elements merge), `null` clears a pointer or slice and leaves anything
    /// else as it was, numbers for ids must be plain unsigned integers that fit in 32 bits,
    /// strings may hold invalid UTF-8 or lone surrogates (read as U+FFFD), nesting deeper than
    /// 10,000 is refused. Fields the library does not read are only checked to be valid JSON.
    pub fn read(json: &[u8]) -> Result<SpecFields> {
        let mut parser = Parser::new(json);
        let mut spec = None;
        parser.skip_space();
        match parser.peek() {
            Some(b'n') => parser.literal("null")?,
            Some(b'{') => {
                let mut fields = SpecFields::default();
                parser.object("the spec", |parser, key| {
                    if field_is(key, "process") {
                        parser.optional(&mut fields.process, "process", |parser, process| {
                            parser.object("process", |parser, key| {
                                if field_is(key, "terminal") {
                                    parser.boolean(&mut process.terminal, "process.terminal")
                                } else {
                                    parser.skip_value()
                                }
                            })
                        })
                    } else if field_is(key, "linux") {
                        parser.optional(&mut fields.linux, "linux", Parser::linux)
                    } else {
                        parser.skip_value()
                    }
                })?;
                spec = Some(fields);
            }
            Some(_) => {
                parser.skip_value()?;
                return Err(Error::invalid_argument("runtime spec JSON: the document must be an object"));
            }
            None => return Err(parser.syntax("an empty document")),
        }
        parser.skip_space();
        if !parser.at_end() {
            return Err(parser.syntax("data after the document"));
        }
        Ok(spec.unwrap_or_default())
    }
}

/// The spec's own fields, read with the generic reader of [`parser`].
impl Parser<'_> {
    fn linux(&mut self, linux: &mut LinuxFields) -> Result<()> {
        self.object("linux", |parser, key| {
            if field_is(key, "namespaces") {
                parser.array(&mut linux.namespaces, "linux.namespaces", |parser, kind| {
                    parser.object("linux.namespaces[]", |parser, key| {
                        if field_is(key, "type") {
                            parser.string_field(kind, "linux.namespaces[].type")
                        } else {
                            parser.skip_value()
                        }
                    })
                })
            } else if field_is(key, "uidMappings") {
                parser.array(&mut linux.uid_mappings, "linux.uidMappings", |parser, m| parser.mapping(m, "linux.uidMappings[]"))
            } else if field_is(key, "gidMappings") {
                parser.array(&mut linux.gid_mappings, "linux.gidMappings", |parser, m| parser.mapping(m, "linux.gidMappings[]"))
            } else {
                parser.skip_value()
            }
        })
    }

    fn mapping(&mut self, mapping: &mut IdMapping, field: &str) -> Result<()> {
        self.object(field, |parser, key| {
            if field_is(key, "containerID") {
                parser.unsigned(&mut mapping.container_id, "containerID")
            } else if field_is(key, "hostID") {
                parser.unsigned(&mut mapping.host_id, "hostID")
            } else if field_is(key, "size") {
                parser.unsigned(&mut mapping.size, "size")
            } else {
                parser.skip_value()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn plain_spec_has_root_ids_and_terminal_flag() {
        let info = SpecInfo::from_spec_json(br#"{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"]}}"#).unwrap();
        assert_eq!(info, SpecInfo { terminal: true, host_uid: 0, host_gid: 0 });
    }

    #[test]
    fn user_namespace_maps_root_to_host_ids() {
        let json = br#"{"process":{},"linux":{"namespaces":[{"type":"pid"},{"type":"user"}],
            "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
            "gidMappings":[{"containerID":0,"hostID":200000,"size":65536}]}}"#;
        let info = SpecInfo::from_spec_json(json).unwrap();
        assert_eq!((info.host_uid, info.host_gid), (100000, 200000));
    }

    #[test]
    fn mappings_without_user_namespace_are_ignored() {
        let json = br#"{"linux":{"uidMappings":[{"containerID":0,"hostID":5,"size":1}]}}"#;
        assert_eq!(SpecInfo::from_spec_json(json).unwrap().host_uid, 0);
    }

    #[test]
    fn invalid_json_is_invalid_argument() {
        for bad in [&b"{"[..], b"", b"[1,2]", b"{\"process\":{\"terminal\":\"yes\"}}"] {
            let err = SpecInfo::from_spec_json(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
    }

    /// An array is not an object, an escaped string is a string, and deep nesting is
    /// reported as such (without exhausting the stack).
    #[test]
    fn arrays_escapes_and_deep_nesting_are_read_as_go_reads_them() {
        let err = SpecInfo::from_spec_json(br#"{"process":[true]}"#).unwrap_err();
        assert!(err.to_string().contains("field process must be an object, not an array"), "{err}");
        let truncated = SpecInfo::from_spec_json(br#"{"process":"#).unwrap_err();
        assert!(truncated.to_string().contains("not valid JSON: expected a value"), "{truncated}");
        let escaped = br#"{"linux":{"namespaces":[{"type":"us\u0065r"}],"uidMappings":[{"containerID":0,"hostID":7,"size":1}]}}"#;
        assert_eq!(SpecInfo::from_spec_json(escaped).unwrap().host_uid, 7);
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200_000), "]".repeat(200_000));
        let err = SpecInfo::from_spec_json(deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("nested more than 10000 levels deep"), "{err}");
        let unterminated = "[".repeat(200_000);
        assert_eq!(SpecInfo::from_spec_json(format!("{{\"x\":{unterminated}").as_bytes()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
