#![no_main]
//! Task events from containerd's event stream as the library decodes them. The first byte picks
//! the envelope's type URL (every task event type the library reads, a host-prefixed one, an
//! unknown one) and the rest is the payload; with the first byte 0xff the rest is a whole
//! protobuf `Envelope` as it arrives on the stream.
use containerd_client::types::Envelope;
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;
use prost::Message;

#[path = "../common.rs"]
mod common;

const TYPE_URLS: &[&str] = &[
    "containerd.events.TaskCreate",
    "containerd.events.TaskStart",
    "containerd.events.TaskExit",
    "containerd.events.TaskOOM",
    "containerd.events.TaskExecAdded",
    "containerd.events.TaskExecStarted",
    "containerd.events.TaskPaused",
    "containerd.events.TaskResumed",
    "containerd.events.TaskDelete",
    "types.containerd.io/containerd.events.TaskExit",
    "containerd.events.ContainerCreate",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let envelope = if selector == 0xff {
        match Envelope::decode(payload) {
            Ok(envelope) => envelope,
            Err(_) => return, // tonic refuses it before the library sees it
        }
    } else {
        Envelope {
            timestamp: None,
            namespace: "fuzz".into(),
            topic: "/tasks/fuzz".into(),
            event: Some(prost_types::Any {
                type_url: TYPE_URLS[selector as usize % TYPE_URLS.len()].into(),
                value: payload.to_vec(),
            }),
        }
    };
    if let Err(err) = libcontainerd::events::decode(&envelope) {
        if selector == 0xff {
            // containerd's own topic and type names are quoted as they came (containerd is trusted
            // for those); only the class is checked.
            assert_eq!(err.kind(), ErrorKind::Internal, "{}", &err.to_string()[..err.to_string().len().min(600)]);
        } else {
            common::assert_refusal(&err, ErrorKind::Internal, data.len());
        }
    }
});
