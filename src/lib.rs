//! libcontainerd: moby's libcontainerd client layer (the part of dockerd that drives
//! containerd) in Rust, the safe core. Its C ABI is the `libcontainerd-capi` crate (`capi/`),
//! which only converts and delegates; nothing here knows about C.
//!
//! The core lives in [`client`], [`container`], [`task`], [`events`], [`bundle`] and
//! [`error`]; [`containerd`] is the one place that sends containerd RPCs, over the socket in
//! [`socket`].

pub mod bundle;
mod callback;
pub mod checkpoint;
pub mod client;
pub mod container;
pub mod containerd;
pub mod content;
pub mod error;
pub mod events;
pub mod exit;
pub mod identifiers;
pub mod logging;
pub mod process;
pub mod runtime;
pub mod socket;
pub mod spec;
pub mod stats;
pub mod task;
pub mod transport;

pub use client::{Client, Version};
pub use container::{Container, ContainerConfig};
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, EventKind, EventStream};
pub use exit::ExitStatus;
pub use runtime::CancelToken;
pub use process::{Process, ProcessState, ProcessStatus};
pub use task::{ProcessInfo, Task};
