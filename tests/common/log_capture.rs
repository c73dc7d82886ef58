//! The library's log records, captured through its process-wide sink.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use libcontainerd::logging::{set_sink, LogRecord};

/// Every log record at info or above, with when it was logged.
pub fn capture_logs() -> Arc<Mutex<Vec<(Instant, LogRecord)>>> {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink = records.clone();
    set_sink(Some(Arc::new(move |r: &LogRecord| sink.lock().unwrap().push((Instant::now(), r.clone())))), tracing::Level::INFO);
    records
}

/// When each record with `message` and field `namespace` = `namespace` was logged, in order.
pub fn logged(records: &Mutex<Vec<(Instant, LogRecord)>>, message: &str, namespace: &str) -> Vec<Instant> {
    records
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, r)| r.message == message && r.fields.iter().any(|(k, v)| k == "namespace" && v == namespace))
        .map(|(at, _)| *at)
        .collect()
}

/// When the first such record was logged.
pub fn logged_at(records: &Mutex<Vec<(Instant, LogRecord)>>, message: &str, namespace: &str) -> Option<Instant> {
    logged(records, message, namespace).first().copied()
}
