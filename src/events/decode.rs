//! Decoding: containerd's task event envelopes into the library's [`Event`]s.

use containerd_client::events as ev;
use containerd_client::types::Envelope;
use prost::Message;

use super::{Event, EventKind};
use crate::exit::system_time;
use crate::error::{Error, Result};

/// Decodes one envelope; `None` for events the library does not report.
pub fn decode(envelope: &Envelope) -> Result<Option<Event>> {
    let Some(any) = envelope.event.as_ref() else {
        return Err(Error::internal(format!("event on topic {} carries no payload", envelope.topic)));
    };
    // containerd writes bare type names; other encoders prefix a host. Accept both.
    let type_name = any.type_url.rsplit('/').next().unwrap_or_default();
    let bytes = any.value.as_slice();
    let bad = |e: prost::DecodeError| Error::internal(format!("decode {type_name} event: {e}"));
    let event = |kind, container_id: String, process_id: String, pid| Event {
        kind,
        container_id,
        process_id,
        pid,
        exit_code: 0,
        exited_at: None,
    };
    Ok(Some(match type_name {
        "containerd.events.TaskCreate" => {
            let e = ev::TaskCreate::decode(bytes).map_err(bad)?;
            event(EventKind::Create, e.container_id.clone(), e.container_id, e.pid)
        }
        "containerd.events.TaskStart" => {
            let e = ev::TaskStart::decode(bytes).map_err(bad)?;
            event(EventKind::Start, e.container_id.clone(), e.container_id, e.pid)
        }
        "containerd.events.TaskExit" => {
            let e = ev::TaskExit::decode(bytes).map_err(bad)?;
            Event {
                exit_code: e.exit_status,
                exited_at: system_time(e.exited_at.as_ref()),
                ..event(EventKind::Exit, e.container_id, e.id, e.pid)
            }
        }
        "containerd.events.TaskOOM" => {
            let e = ev::TaskOom::decode(bytes).map_err(bad)?;
            event(EventKind::Oom, e.container_id, String::new(), 0)
        }
        "containerd.events.TaskExecAdded" => {
            let e = ev::TaskExecAdded::decode(bytes).map_err(bad)?;
            event(EventKind::ExecAdded, e.container_id, e.exec_id, 0)
        }
        "containerd.events.TaskExecStarted" => {
            let e = ev::TaskExecStarted::decode(bytes).map_err(bad)?;
            event(EventKind::ExecStarted, e.container_id, e.exec_id, e.pid)
        }
        "containerd.events.TaskPaused" => {
            let e = ev::TaskPaused::decode(bytes).map_err(bad)?;
            event(EventKind::Paused, e.container_id, String::new(), 0)
        }
        "containerd.events.TaskResumed" => {
            let e = ev::TaskResumed::decode(bytes).map_err(bad)?;
            event(EventKind::Resumed, e.container_id, String::new(), 0)
        }
        _ => return Ok(None),
    }))
}

/// The topic type of containerd's task delete events, which the library does not report but
/// uses to forget a deleted task's processes.
pub(super) const TASK_DELETE_TYPE: &str = "containerd.events.TaskDelete";

/// A task delete event of a task's init process (containerd names no exec in them).
pub(super) fn decode_task_delete(envelope: &Envelope) -> Option<ev::TaskDelete> {
    let any = envelope.event.as_ref()?;
    if any.type_url.rsplit('/').next() != Some(TASK_DELETE_TYPE) {
        return None;
    }
    ev::TaskDelete::decode(any.value.as_slice()).ok().filter(|d| d.id.is_empty() || d.id == d.container_id)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use prost_types::Any;
    use std::time::{Duration, SystemTime};

    pub(in crate::events) fn envelope<M: Message>(type_url: &str, message: &M) -> Envelope {
        Envelope {
            topic: "/tasks/test".into(),
            namespace: "ns".into(),
            timestamp: None,
            event: Some(Any { type_url: type_url.into(), value: message.encode_to_vec() }),
        }
    }

    #[test]
    fn exit_event_of_an_exec_names_the_exec_and_its_status() {
        let exit = ev::TaskExit {
            container_id: "c1".into(),
            id: "e1".into(),
            pid: 42,
            exit_status: 3,
            exited_at: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5 }),
        };
        for url in ["containerd.events.TaskExit", "types.googleapis.com/containerd.events.TaskExit"] {
            let event = decode(&envelope(url, &exit)).unwrap().unwrap();
            assert_eq!(event.kind, EventKind::Exit);
            assert_eq!((event.container_id.as_str(), event.process_id.as_str()), ("c1", "e1"));
            assert_eq!((event.pid, event.exit_code), (42, 3));
            assert_eq!(event.exited_at, Some(SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5)));
        }
    }

    #[test]
    fn create_and_start_use_the_container_id_as_process_id() {
        let start = ev::TaskStart { container_id: "c9".into(), pid: 7 };
        let event = decode(&envelope("containerd.events.TaskStart", &start)).unwrap().unwrap();
        assert_eq!((event.kind, event.process_id.as_str(), event.pid), (EventKind::Start, "c9", 7));
    }

    #[test]
    fn task_delete_is_ignored_and_garbage_is_an_error() {
        let delete = ev::TaskDelete { container_id: "c".into(), ..Default::default() };
        assert_eq!(decode(&envelope("containerd.events.TaskDelete", &delete)).unwrap(), None);
        let garbage = Envelope {
            event: Some(Any { type_url: "containerd.events.TaskExit".into(), value: vec![0xff, 0xff] }),
            ..Default::default()
        };
        assert!(decode(&garbage).is_err());
    }

}
