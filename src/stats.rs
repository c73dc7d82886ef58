//! Task stats (containerd's Tasks.Metrics): the metrics payload exactly as containerd sent it
//! (for the Go side to decode into containerd/cgroups types), plus a few key figures decoded
//! here for C callers.
//!
//! The prost messages below cover only the fields the figures need, with the field numbers of
//! containerd/cgroups `stats/v1/metrics.proto` (package `io.containerd.cgroups.v1`) and
//! `cgroup2/stats/metrics.proto` (`io.containerd.cgroups.v2`); prost skips the rest. Written by
//! hand because no maintained crate ships these protos.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use containerd_client::types::Metric;
use prost::Message;
use tokio::sync::watch;

use crate::containerd::Containerd;
use crate::error::{Error, ErrorKind, Result};
use crate::exit::system_time;
use crate::container::ContainerShared;
#[cfg(doc)]
use crate::task::Task;

pub const CGROUP_V1_METRICS: &str = "io.containerd.cgroups.v1.Metrics";
pub const CGROUP_V2_METRICS: &str = "io.containerd.cgroups.v2.Metrics";

/// One stats sample of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// When containerd read the sample.
    pub read: Option<SystemTime>,
    pub type_url: String,
    /// The metrics message exactly as containerd sent it.
    pub payload: Vec<u8>,
    pub figures: StatsFigures,
}

/// Key figures from a metrics payload; zero where the payload has none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsFigures {
    /// 1 or 2; 0 for a payload type the library does not know.
    pub cgroup_version: u8,
    pub cpu_usage_ns: u64,
    pub memory_usage_bytes: u64,
    pub memory_limit_bytes: u64,
    pub pids_current: u64,
    pub pids_limit: u64,
}

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

/// How old a sample fetched ahead for another task may be when that task asks: about what one
/// request per task spreads a round of 50 over (50 requests took 90 ms on the test bed).
const SAMPLE_MAX_AGE: Duration = Duration::from_millis(100);
/// A task asked for at least this long ago was asked in an earlier round of a poller (moby's
/// stats collector asks once a second) and not yet in this one.
const ROUND_GAP: Duration = Duration::from_millis(500);
/// A task not asked for this long is no longer polled: no more samples are fetched ahead for it.
const POLLED_FOR: Duration = Duration::from_secs(3);

/// Stats rounds of one client. A poller such as moby's stats collector asks for each of its
/// tasks in turn, once a round. The first ask of a round fetches, in the same Tasks.Metrics
/// request (containerd ORs its `id==` filters), the tasks asked in an earlier round but not yet
/// in this one; their asks in this round are answered from those samples, each once and only
/// while younger than [`SAMPLE_MAX_AGE`]. An ask for a task whose sample is being fetched by
/// another ask waits for that request instead of sending its own, so concurrent asks (`docker
/// stats --no-stream` over many containers) share one request too. A change made through this
/// client (start, kill, pause, resume, update, delete) discards a sample taken before it, so it
/// shows in the next. One request per round instead of one per task: containerd reads the same
/// cgroups with about half its CPU and almost none of the client's (BENCHMARKS.md).
#[derive(Debug, Default)]
pub(crate) struct StatsRounds {
    state: Mutex<RoundsState>,
}

#[derive(Debug, Default)]
struct RoundsState {
    /// When each task was last asked for.
    asked: HashMap<String, Instant>,
    /// Samples fetched ahead, with when their request was sent.
    ahead: HashMap<String, (Instant, Metric)>,
    /// Tasks whose sample a request in flight is fetching: its end (the sender's drop) wakes
    /// the asks waiting for it.
    fetching: HashMap<String, (u64, watch::Receiver<()>)>,
    /// When a change was last made to each task, kept for [`SAMPLE_MAX_AGE`].
    changed: HashMap<String, Instant>,
    next_request: u64,
}

/// What an ask for a task's stats does.
enum Ask<'a> {
    /// Its sample, fetched ahead.
    Served(Metric),
    /// Wait for the request in flight that fetches its sample.
    Wait(watch::Receiver<()>),
    /// Send this request, for it and the other tasks of the round.
    Fetch(RoundRequest<'a>),
}

/// A request in flight for several tasks' samples. Dropped (done, failed or cancelled), it
/// stops being in flight, which wakes the asks waiting for it.
struct RoundRequest<'a> {
    rounds: &'a StatsRounds,
    number: u64,
    ids: Vec<String>,
    sent: Instant,
    _done: watch::Sender<()>,
}

impl Drop for RoundRequest<'_> {
    fn drop(&mut self) {
        let mut state = self.rounds.lock();
        for id in &self.ids {
            if state.fetching.get(id).is_some_and(|(number, _)| *number == self.number) {
                state.fetching.remove(id);
            }
        }
    }
}

impl StatsRounds {
    fn lock(&self) -> std::sync::MutexGuard<'_, RoundsState> {
        // The state is only maps of samples: after a panic elsewhere it is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records an ask for `id` and says how to answer it.
    fn ask(&self, id: &str, now: Instant) -> Ask<'_> {
        let mut state = self.lock();
        state.asked.insert(id.to_owned(), now);
        if let Some(metric) = state.take_ahead(id, now) {
            return Ask::Served(metric);
        }
        if let Some((_, done)) = state.fetching.get(id) {
            return Ask::Wait(done.clone());
        }
        let young = |at: &Instant| now.saturating_duration_since(*at) <= SAMPLE_MAX_AGE;
        state.asked.retain(|_, at| now.saturating_duration_since(*at) <= POLLED_FOR);
        state.ahead.retain(|_, (sent, _)| young(sent));
        state.changed.retain(|_, at| young(at));
        let mut ids = vec![id.to_owned()];
        ids.extend(
            state
                .asked
                .iter()
                .filter(|(other, at)| {
                    other.as_str() != id
                        && now.saturating_duration_since(**at) >= ROUND_GAP
                        && !state.ahead.contains_key(*other)
                        && !state.fetching.contains_key(*other)
                })
                .map(|(other, _)| other.clone()),
        );
        let (done, waiting) = watch::channel(());
        let number = state.next_request;
        state.next_request += 1;
        for id in &ids {
            state.fetching.insert(id.clone(), (number, waiting.clone()));
        }
        Ask::Fetch(RoundRequest { rounds: self, number, ids, sent: now, _done: done })
    }

    /// After a wait: the sample the awaited request fetched, if it did.
    fn take(&self, id: &str) -> Option<Metric> {
        self.lock().take_ahead(id, Instant::now())
    }

    /// A change is being made to task `id`: a sample taken before it must not be served.
    /// Only tasks asked for are remembered (only their samples are fetched ahead), and only
    /// for [`SAMPLE_MAX_AGE`]: a client that never asks for stats keeps nothing.
    pub(crate) fn changed(&self, id: &str) {
        let mut state = self.lock();
        let now = Instant::now();
        state.changed.retain(|_, at| now.saturating_duration_since(*at) <= SAMPLE_MAX_AGE);
        if state.asked.contains_key(id) {
            state.ahead.remove(id);
            state.changed.insert(id.to_owned(), now);
        }
    }
}

impl RoundsState {
    /// Takes `id`'s sample fetched ahead if it is young enough and no change was made to the
    /// task since its request was sent.
    fn take_ahead(&mut self, id: &str, now: Instant) -> Option<Metric> {
        let (sent, metric) = self.ahead.remove(id)?;
        let changed_since = self.changed.get(id).is_some_and(|&changed| changed >= sent);
        (now.saturating_duration_since(sent) <= SAMPLE_MAX_AGE && !changed_since).then_some(metric)
    }
}

impl RoundRequest<'_> {
    /// Sends the request; keeps the other tasks' samples for their asks and returns `id`'s.
    async fn send(self, containerd: &Containerd, id: &str) -> Result<Option<Metric>> {
        let ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        let metrics = containerd.metrics(&ids).await?;
        let mut mine = None;
        let mut state = self.rounds.lock();
        for metric in metrics {
            if metric.id == id && mine.is_none() {
                mine = Some(metric);
            } else {
                state.ahead.insert(metric.id.clone(), (self.sent, metric));
            }
        }
        Ok(mine)
        // Dropping `self` (after the lock) ends the request and wakes its waiters.
    }
}

/// [`Task::stats`] of `container`'s task: a sample from this round's request (see
/// [`StatsRounds`]), or a request of its own.
pub(crate) async fn sample(container: &ContainerShared) -> Result<Stats> {
    let client = &container.client;
    let (containerd, rounds) = (&*client.containerd, &client.stats_rounds);
    let id = container.id.as_str();
    let metric = match rounds.ask(id, Instant::now()) {
        Ask::Served(metric) => Some(metric),
        Ask::Fetch(request) => request.send(containerd, id).await?,
        Ask::Wait(mut done) => {
            // Err once the request in flight has ended, whichever way.
            let _ = done.changed().await;
            match rounds.take(id) {
                Some(metric) => Some(metric),
                None => containerd.metrics(&[id]).await?.into_iter().next(),
            }
        }
    };
    let Some(metric) = metric else {
        containerd.get_process(id, "").await?;
        return Err(Error::new(ErrorKind::Unknown, format!("get metrics of task of container {id}: no metrics received")));
    };
    let data = metric.data.unwrap_or_default();
    let figures = decode_figures(&data.type_url, &data.value)?;
    Ok(Stats { read: system_time(metric.timestamp.as_ref()), type_url: data.type_url, payload: data.value, figures })
}

#[cfg(test)]
mod tests {
    use super::*;

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
