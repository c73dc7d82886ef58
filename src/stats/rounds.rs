//! Stats rounds: one Tasks.Metrics request for a poller's round of asks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use containerd_client::types::Metric;
use tokio::sync::watch;

use crate::containerd::Containerd;
use crate::error::Result;

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

    /// `id`'s sample: one fetched ahead, the one a request in flight brings, or one from a
    /// request this ask sends (with the other tasks of the round); `None` when containerd
    /// returned none.
    pub(super) async fn fetch(&self, containerd: &Containerd, id: &str) -> Result<Option<Metric>> {
        let metric = match self.ask(id, Instant::now()) {
            Ask::Served(metric) => Some(metric),
            Ask::Fetch(request) => request.send(containerd, id).await?,
            Ask::Wait(mut done) => {
                // Err once the request in flight has ended, whichever way.
                let _ = done.changed().await;
                match self.take(id) {
                    Some(metric) => Some(metric),
                    None => containerd.metrics(&[id]).await?.into_iter().next(),
                }
            }
        };
        Ok(metric)
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
