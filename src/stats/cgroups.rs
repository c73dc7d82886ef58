//! The key figures of a cgroup metrics payload.
//!
//! The prost messages below cover only the fields the figures need, with the field numbers of
//! containerd/cgroups `stats/v1/metrics.proto` (package `io.containerd.cgroups.v1`) and
//! `cgroup2/stats/metrics.proto` (`io.containerd.cgroups.v2`); prost skips the rest. Written by
//! hand because no maintained crate ships these protos.

use prost::Message;

use super::StatsFigures;
use crate::error::{Error, Result};

pub const CGROUP_V1_METRICS: &str = "io.containerd.cgroups.v1.Metrics";
pub const CGROUP_V2_METRICS: &str = "io.containerd.cgroups.v2.Metrics";

mod v1 {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metrics {
        #[prost(message, optional, tag = "2")]
        pub pids: Option<super::PidsStat>,
        #[prost(message, optional, tag = "3")]
        pub cpu: Option<CpuStat>,
        #[prost(message, optional, tag = "4")]
        pub memory: Option<MemoryStat>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CpuStat {
        #[prost(message, optional, tag = "1")]
        pub usage: Option<CpuUsage>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CpuUsage {
        /// Nanoseconds.
        #[prost(uint64, tag = "1")]
        pub total: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MemoryStat {
        #[prost(message, optional, tag = "33")]
        pub usage: Option<MemoryEntry>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MemoryEntry {
        #[prost(uint64, tag = "1")]
        pub limit: u64,
        #[prost(uint64, tag = "2")]
        pub usage: u64,
    }
}

mod v2 {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metrics {
        #[prost(message, optional, tag = "1")]
        pub pids: Option<super::PidsStat>,
        #[prost(message, optional, tag = "2")]
        pub cpu: Option<CpuStat>,
        #[prost(message, optional, tag = "4")]
        pub memory: Option<MemoryStat>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CpuStat {
        #[prost(uint64, tag = "1")]
        pub usage_usec: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MemoryStat {
        #[prost(uint64, tag = "32")]
        pub usage: u64,
        #[prost(uint64, tag = "33")]
        pub usage_limit: u64,
    }
}

/// Same message in both versions.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PidsStat {
    #[prost(uint64, tag = "1")]
    pub current: u64,
    #[prost(uint64, tag = "2")]
    pub limit: u64,
}

/// Decodes the key figures of a metrics payload. An unknown type gives zero figures with
/// `cgroup_version` 0; a corrupt payload of a known type is an error.
pub fn decode_figures(type_url: &str, payload: &[u8]) -> Result<StatsFigures> {
    let corrupt = |e: prost::DecodeError| Error::internal(format!("decode {type_url} metrics: {e}"));
    let pids = |p: Option<PidsStat>| p.map(|p| (p.current, p.limit)).unwrap_or_default();
    match type_url.rsplit('/').next().unwrap_or_default() {
        CGROUP_V1_METRICS => {
            let m = v1::Metrics::decode(payload).map_err(corrupt)?;
            let (pids_current, pids_limit) = pids(m.pids);
            let memory = m.memory.and_then(|m| m.usage).unwrap_or_default();
            Ok(StatsFigures {
                cgroup_version: 1,
                cpu_usage_ns: m.cpu.and_then(|c| c.usage).map(|u| u.total).unwrap_or(0),
                memory_usage_bytes: memory.usage,
                memory_limit_bytes: memory.limit,
                pids_current,
                pids_limit,
            })
        }
        CGROUP_V2_METRICS => {
            let m = v2::Metrics::decode(payload).map_err(corrupt)?;
            let (pids_current, pids_limit) = pids(m.pids);
            let memory = m.memory.unwrap_or_default();
            Ok(StatsFigures {
                cgroup_version: 2,
                cpu_usage_ns: m.cpu.map(|c| c.usage_usec.saturating_mul(1000)).unwrap_or(0),
                memory_usage_bytes: memory.usage,
                memory_limit_bytes: memory.usage_limit,
                pids_current,
                pids_limit,
            })
        }
        _ => Ok(StatsFigures::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn cgroup_v1_figures_come_from_their_field_numbers() {
        let metrics = v1::Metrics {
            pids: Some(PidsStat { current: 3, limit: 100 }),
            cpu: Some(v1::CpuStat { usage: Some(v1::CpuUsage { total: 123_456 }) }),
            memory: Some(v1::MemoryStat { usage: Some(v1::MemoryEntry { limit: 1 << 30, usage: 4096 }) }),
        };
        let figures = decode_figures(CGROUP_V1_METRICS, &metrics.encode_to_vec()).unwrap();
        assert_eq!(
            figures,
            StatsFigures {
                cgroup_version: 1,
                cpu_usage_ns: 123_456,
                memory_usage_bytes: 4096,
                memory_limit_bytes: 1 << 30,
                pids_current: 3,
                pids_limit: 100
            }
        );
    }

    /// Bytes written by hand from the proto definitions, independent of the structs above:
    /// pids{current 2, limit 9} = field 1; cpu{usage_usec 5} = field 2; memory{usage 7 (32),
    /// usage_limit 8 (33)} = field 4.
    #[test]
    fn cgroup_v2_payload_decodes_with_cpu_in_nanoseconds() {
        let payload = [
            0x0a, 0x04, 0x08, 0x02, 0x10, 0x09, // pids
            0x12, 0x02, 0x08, 0x05, // cpu
            0x22, 0x06, 0x80, 0x02, 0x07, 0x88, 0x02, 0x08, // memory: tags 32 and 33 (varint keys 0x100, 0x108)
        ];
        let figures = decode_figures(&format!("types.googleapis.com/{CGROUP_V2_METRICS}"), &payload).unwrap();
        assert_eq!(
            figures,
            StatsFigures {
                cgroup_version: 2,
                cpu_usage_ns: 5000,
                memory_usage_bytes: 7,
                memory_limit_bytes: 8,
                pids_current: 2,
                pids_limit: 9
            }
        );
    }

    #[test]
    fn unknown_types_give_no_figures_and_corrupt_payloads_fail() {
        assert_eq!(decode_figures("example.Other", b"\xff").unwrap(), StatsFigures::default());
        assert_eq!(decode_figures("", b"").unwrap(), StatsFigures::default());
        for type_url in [CGROUP_V1_METRICS, CGROUP_V2_METRICS] {
            let err = decode_figures(type_url, b"\x1a\xff").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
            assert!(err.to_string().contains(type_url), "{err}");
        }
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    // The two payloads below were produced independently of the structs in this file: by
    // containerd/cgroups v3.0.2's own Go types (the ones moby v24.0.9 decodes into), marshalled
    // with google.golang.org/protobuf (tests/fixtures/cgroups_metrics.go). Every message of
    // Metrics is set, and neighbouring fields hold values distinct from the expected figures, so
    // a wrong field number gives a wrong figure.

    /// v1: pids{current 7, limit 4096}; cpu.usage{total 123456789, kernel 1000, user 2000,
    /// per_cpu [5, 6]}; memory{cache 101, rss 102, total_active_anon 129, total_unevictable 132,
    /// usage{limit 256 MiB, usage 5 MiB, max 6 MiB, failcnt 9}, swap{1, 2}, kernel{3, 4},
    /// kernel_tcp{5, 6}}; plus hugetlb, blkio, network, cgroup_stats, memory_oom_control.
    const GO_CGROUPS_V1_METRICS: &str = "0a0b080b100c180d2203324d42120508071080201a190a0f08959aef3a10e80718d00f220205061206080110021803223608651066e8018101800284018a0212088080808001108080c00218808080032009920204080110029a020408031004a20204080510062a0c0a0a0a04526561641808284d3a080a04657468301001420210014a021801";

    /// v2: pids{current 3, limit 512}; cpu{usage_usec 4321, user_usec 4000, system_usec 321,
    /// nr_periods 1}; memory{anon 1, file 2, pglazyfreed 29, thp_collapse_alloc 31, usage 8 MiB,
    /// usage_limit 128 MiB, swap_usage 34, swap_limit 35}; plus io, hugetlb, memory_events.
    const GO_CGROUPS_V2_METRICS: &str = "0a050803108004120b08e12110a01f18c1022001221c08011002e8011df8011f80028080800488028080804090022298022332060a040808180a3a09080110021a03324d4242022001";

    #[test]
    fn cgroup_v1_payload_marshalled_by_go_cgroups_decodes() {
        let figures = decode_figures(CGROUP_V1_METRICS, &unhex(GO_CGROUPS_V1_METRICS)).unwrap();
        assert_eq!(
            figures,
            StatsFigures {
                cgroup_version: 1,
                cpu_usage_ns: 123_456_789,
                memory_usage_bytes: 5 << 20,
                memory_limit_bytes: 256 << 20,
                pids_current: 7,
                pids_limit: 4096
            }
        );
    }

    #[test]
    fn cgroup_v2_payload_marshalled_by_go_cgroups_decodes() {
        let figures = decode_figures(&format!("/{CGROUP_V2_METRICS}"), &unhex(GO_CGROUPS_V2_METRICS)).unwrap();
        assert_eq!(
            figures,
            StatsFigures {
                cgroup_version: 2,
                cpu_usage_ns: 4_321_000,
                memory_usage_bytes: 8 << 20,
                memory_limit_bytes: 128 << 20,
                pids_current: 3,
                pids_limit: 512
            }
        );
    }
}
