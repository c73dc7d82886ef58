//! The subscription to containerd's task events: the pump that reads it, resubscribes with
//! backoff when it breaks, and catches up on the exits missed meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use containerd_client::types::Envelope;

use super::decode::{decode, decode_task_delete};
use super::hub::{dispatch, lock, HubShared};
use super::{deferred, reconcile};
use crate::containerd::Containerd;
use crate::error::{ErrorKind, Result};

/// Pause between attempts to re-subscribe after the stream broke.
const RESUBSCRIBE_INTERVAL: Duration = Duration::from_millis(100);
/// The longest wait between two resubscriptions while containerd stays away (a host program
/// shutting down after containerd must not log or spin for nothing).
const RESUBSCRIBE_MAX_INTERVAL: Duration = Duration::from_secs(1);

/// The wait after a failed resubscription that followed a wait of `previous`.
fn next_resubscribe_interval(previous: Duration) -> Duration {
    (previous * 2).min(RESUBSCRIBE_MAX_INTERVAL)
}

/// The subscription's answer: containerd sends nothing, not even the response headers, until
/// the first event, so the stream is in hand only then.
type Subscription<'a> = Pin<Box<dyn Future<Output = Result<tonic::Streaming<Envelope>>> + Send + 'a>>;

pub(super) async fn pump(containerd: Arc<Containerd>, hub: Arc<HubShared>) {
    // Set while the stream is broken: the first failure is a warning, retries are debug.
    let mut outage = false;
    let mut interval = RESUBSCRIBE_INTERVAL;
    loop {
        let mut subscription: Subscription = Box::pin(containerd.subscribe_task_events());
        if outage {
            match catch_up(&containerd, &hub, subscription).await {
                Ok(resumed) => {
                    subscription = resumed;
                    outage = false;
                    interval = RESUBSCRIBE_INTERVAL;
                    hub.connected.send_replace(true);
                }
                Err(e) => {
                    if !resubscribe_failed(&hub, &e.to_string(), &mut interval).await {
                        return end_pump(&containerd, &hub);
                    }
                    continue;
                }
            }
        }
        let failure = match subscription.await {
            Ok(mut stream) => loop {
                match stream.message().await {
                    Ok(Some(envelope)) => deliver(&hub, &envelope).await,
                    Ok(None) => break "containerd closed the event stream".to_owned(),
                    Err(status) => break format!("task event stream failed: {status}"),
                }
            },
            Err(e) => e.to_string(),
        };
        hub.connected.send_replace(false);
        if *hub.client_closed.borrow() {
            return end_pump(&containerd, &hub);
        }
        if !outage {
            tracing::warn!(namespace = %containerd.namespace(), error = %failure, "lost the task event stream; resubscribing");
            outage = true;
            interval = RESUBSCRIBE_INTERVAL;
            if !pause_unless_closed(&hub, interval).await {
                return end_pump(&containerd, &hub);
            }
        } else if !resubscribe_failed(&hub, &failure, &mut interval).await {
            return end_pump(&containerd, &hub);
        }
    }
}

/// The pump stops for good: the client was closed and its stream is broken. Exit waits fail
/// from now on, and cleanups still waiting for containerd are given up (and logged).
fn end_pump(containerd: &Containerd, hub: &HubShared) {
    tracing::info!(namespace = %containerd.namespace(), "task event stream ended after the client was closed; not resubscribing");
    hub.ended.send_replace(true);
    deferred::abandon(hub);
}

/// Sleeps for `interval`; false when the client was closed meanwhile (or before).
async fn pause_unless_closed(hub: &HubShared, interval: Duration) -> bool {
    let mut closed = hub.client_closed.subscribe();
    tokio::select! {
        _ = closed.wait_for(|closed| *closed) => false,
        () = tokio::time::sleep(interval) => true,
    }
}

/// Waits before the next resubscription, backing off; false when the client was closed.
async fn resubscribe_failed(hub: &HubShared, failure: &str, interval: &mut Duration) -> bool {
    let next = next_resubscribe_interval(*interval);
    if next != *interval {
        tracing::debug!(error = %failure, retry_in = ?next, "still resubscribing to task events");
    }
    *interval = next;
    pause_unless_closed(hub, next).await
}

/// How long after sending the subscription the tasks are listed: containerd registers a
/// subscription as soon as its request arrives, and the listing must come after that, or an
/// exit between the two would be missed by both.
const SUBSCRIPTION_SETTLE: Duration = Duration::from_millis(100);

/// After an outage: once containerd answers a listing sent after the new subscription, logs
/// that the stream is back and delivers the exits missed meanwhile ([`reconcile`]); returns the
/// subscription, whose events come after those. Fails when containerd is still away.
async fn catch_up<'a>(containerd: &'a Containerd, hub: &HubShared, mut subscription: Subscription<'a>) -> Result<Subscription<'a>> {
    let listing = async {
        tokio::time::sleep(SUBSCRIPTION_SETTLE).await;
        containerd.list_tasks().await
    };
    tokio::pin!(listing);
    // The subscription answers early when an event comes first; it is read after the catch-up.
    let mut answered = None;
    let listed = loop {
        tokio::select! {
            // The subscription first, so its request is sent before the listing's.
            biased;
            stream = &mut subscription, if answered.is_none() => answered = Some(stream?),
            listed = &mut listing => break listed,
        }
    };
    match listed {
        Ok(tasks) => {
            tracing::info!(namespace = %containerd.namespace(), "task event stream is back");
            reconcile::reconcile(containerd, hub, tasks).await;
        }
        Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::DeadlineExceeded | ErrorKind::Cancelled) => return Err(e),
        Err(e) => {
            tracing::info!(namespace = %containerd.namespace(), "task event stream is back");
            tracing::warn!(error = %e, "cannot catch up on the exits missed while the task event stream was down");
        }
    }
    Ok(match answered {
        Some(stream) => Box::pin(std::future::ready(Ok(stream))),
        None => subscription,
    })
}

pub(super) async fn deliver(hub: &HubShared, envelope: &Envelope) {
    let event = match decode(envelope) {
        Ok(Some(event)) => event,
        Ok(None) => {
            if let Some(deleted) = decode_task_delete(envelope) {
                lock(&hub.processes).forget_task(&deleted.container_id);
            }
            tracing::debug!(topic = %envelope.topic, "ignoring event");
            return;
        }
        Err(e) => {
            tracing::warn!(topic = %envelope.topic, error = %e, "skipping undecodable event");
            return;
        }
    };
    dispatch(hub, event).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resubscription_backs_off_to_a_cap() {
        let mut interval = RESUBSCRIBE_INTERVAL;
        let mut waits = vec![interval];
        for _ in 0..8 {
            interval = next_resubscribe_interval(interval);
            waits.push(interval);
        }
        let ms: Vec<u128> = waits.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000]);
    }

}