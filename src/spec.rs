//! The few fields the library needs from a runtime-spec document.
//!
//! The spec JSON goes to containerd exactly as the caller gave it (seed 004: no decode and
//! re-encode on the hot path). This module only reads what the library itself acts on, with
//! borrowing serde structs that skip every other field.

use oci_spec::runtime::LinuxIdMapping;
use serde::Deserialize;

use crate::error::{Error, Result};

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

#[derive(Deserialize)]
struct SpecFields<'a> {
    #[serde(default)]
    process: Option<ProcessFields>,
    #[serde(default, borrow)]
    linux: Option<LinuxFields<'a>>,
}

#[derive(Deserialize)]
struct ProcessFields {
    #[serde(default)]
    terminal: bool,
}

#[derive(Deserialize)]
struct LinuxFields<'a> {
    #[serde(default, borrow)]
    namespaces: Vec<NamespaceFields<'a>>,
    #[serde(default, rename = "uidMappings")]
    uid_mappings: Vec<LinuxIdMapping>,
    #[serde(default, rename = "gidMappings")]
    gid_mappings: Vec<LinuxIdMapping>,
}

#[derive(Deserialize)]
struct NamespaceFields<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
}

impl SpecInfo {
    /// Reads a runtime-spec `Spec` JSON document.
    pub fn from_spec_json(json: &[u8]) -> Result<Self> {
        let spec: SpecFields<'_> = serde_json::from_slice(json)
            .map_err(|e| Error::invalid_argument(format!("runtime spec is not a valid OCI spec JSON document: {e}")))?;
        let terminal = spec.process.map(|p| p.terminal).unwrap_or(false);
        let (host_uid, host_gid) = match spec.linux {
            Some(linux) if linux.namespaces.iter().any(|ns| ns.kind == "user") => (
                host_id_of_root(&linux.uid_mappings),
                host_id_of_root(&linux.gid_mappings),
            ),
            _ => (0, 0),
        };
        Ok(SpecInfo { terminal, host_uid, host_gid })
    }
}

/// The host id that container id 0 maps to, or 0 when no mapping covers it (moby's rule).
fn host_id_of_root(mappings: &[LinuxIdMapping]) -> u32 {
    mappings
        .iter()
        .find(|m| m.size() > 0 && m.container_id() == 0)
        .map(|m| m.host_id())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument);
        }
    }
}
