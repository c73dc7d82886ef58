//! Task stats (containerd's Tasks.Metrics): the metrics payload exactly as containerd sent it
//! (for the Go side to decode into containerd/cgroups types), plus a few key figures decoded
//! here for C callers.
//!
//! [`cgroups`] decodes the figures; [`rounds`] lets one Tasks.Metrics request serve a round
//! of asks for many tasks.

mod cgroups;
mod rounds;

use std::time::SystemTime;

use crate::container::ContainerShared;
use crate::error::{Error, ErrorKind, Result};
use crate::exit::system_time;
#[cfg(doc)]
use crate::task::Task;

pub use cgroups::{decode_figures, CGROUP_V1_METRICS, CGROUP_V2_METRICS};
pub(crate) use rounds::StatsRounds;

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

/// [`Task::stats`] of `container`'s task: a sample from this round's request (see
/// [`StatsRounds`]), or a request of its own.
pub(crate) async fn sample(container: &ContainerShared) -> Result<Stats> {
    let client = &container.client;
    let (containerd, rounds) = (&*client.containerd, &client.stats_rounds);
    let id = container.id.as_str();
    let metric = rounds.fetch(containerd, id).await?;
    let Some(metric) = metric else {
        containerd.get_process(id, "").await?;
        return Err(Error::new(ErrorKind::Unknown, format!("get metrics of task of container {id}: no metrics received")));
    };
    let data = metric.data.unwrap_or_default();
    let figures = decode_figures(&data.type_url, &data.value)?;
    Ok(Stats { read: system_time(metric.timestamp.as_ref()), type_url: data.type_url, payload: data.value, figures })
}
