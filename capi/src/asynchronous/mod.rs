//! Calls that finish later: every call that makes an RPC or waits for an exit (except connect,
//! version, resize and checkpoint) has an `_async` variant. The call runs on the library's
//! runtime and the caller waits on a descriptor, in its own poller, instead of in a blocking
//! call. The Go binding uses them so no goroutine sits in a cgo call while containerd works:
//! while any goroutine is in a cgo call, Go's monitor thread (`sysmon`) stays awake and polls
//! every 20 µs to 10 ms, and it takes the processor back from a call blocked for more than
//! 10 ms; those wake-ups were the largest source of context switches in the benchmark's
//! profile (BENCHMARKS.md).
//!
//! The folder's layout: `pending` is the pending call itself (state, signalling, the finish
//! functions without output); `container`, `task` and `process` are the 24 `_async` twins of
//! the blocking calls, each building its call from the handle module's types; `finish` turns a
//! finished call's value into the C handle or record its finish function gives. Imports run one
//! way: this folder uses the handle modules, which never use it.

pub mod container;
pub mod finish;
pub mod pending;
pub mod process;
pub mod task;
