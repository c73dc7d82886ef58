//! The library's one error type. Every failure, whether it comes from containerd over gRPC,
//! from the filesystem or from caller input, becomes an [`Error`] with an [`ErrorKind`]; the
//! C ABI maps the kind to `lcd_status` in exactly one place (`ffi::status_of`).

use std::fmt;

/// Error classes. They follow containerd's `errdefs` classes (which moby's error handling
/// branches on) plus the two context classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    InvalidArgument,
    FailedPrecondition,
    Unavailable,
    DeadlineExceeded,
    Cancelled,
    Unimplemented,
    Internal,
    Unknown,
}

impl ErrorKind {
    /// The suffix containerd's Go client appends to server messages (`errdefs.FromGRPC`), so that
    /// text reaching dockerd reads the same as with moby's client.
    fn class_suffix(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::FailedPrecondition => "failed precondition",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::DeadlineExceeded => "context deadline exceeded",
            ErrorKind::Cancelled => "context canceled",
            ErrorKind::Unimplemented => "not implemented",
            ErrorKind::Internal => "internal",
            ErrorKind::Unknown => "unknown",
        }
    }
}

/// An error with its class and a message that says what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::FailedPrecondition, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    pub fn cancelled() -> Self {
        Error::new(ErrorKind::Cancelled, "operation cancelled: context canceled")
    }

    pub fn deadline_exceeded() -> Self {
        Error::new(ErrorKind::DeadlineExceeded, "operation timed out: context deadline exceeded")
    }

    /// A filesystem error, with what was being done and on which path.
    pub fn io(action: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            std::io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, format!("{action} {}: {err}", path.display()))
    }

    /// A failed containerd call: gRPC status mapped to the class, the server's text kept word
    /// for word with containerd's class suffix, prefixed by what was being done.
    pub fn from_grpc(action: &str, status: &tonic::Status) -> Self {
        let kind = kind_of_grpc(status);
        let server_text = status.message();
        let suffix = kind.class_suffix();
        // Like containerd's Go client: the class is appended once, not again when the server's
        // text already ends with it.
        let message = if server_text.is_empty() {
            format!("{action}: {suffix}")
        } else if server_text == suffix || server_text.ends_with(&format!(": {suffix}")) {
            format!("{action}: {server_text}")
        } else {
            format!("{action}: {server_text}: {suffix}")
        };
        Error { kind, message }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Adds what the caller was doing in front of the message; the class stays.
    pub fn context(mut self, action: &str) -> Self {
        self.message = format!("{action}: {}", self.message);
        self
    }
}

fn kind_of_grpc(status: &tonic::Status) -> ErrorKind {
    use tonic::Code;
    match status.code() {
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::InvalidArgument => ErrorKind::InvalidArgument,
        Code::FailedPrecondition => ErrorKind::FailedPrecondition,
        Code::Unavailable => ErrorKind::Unavailable,
        Code::DeadlineExceeded => ErrorKind::DeadlineExceeded,
        Code::Cancelled => ErrorKind::Cancelled,
        Code::Unimplemented => ErrorKind::Unimplemented,
        Code::Internal => ErrorKind::Internal,
        // The runc shim reports "delete a running process" as an unclassified error; it is
        // a precondition failure for the caller.
        Code::Unknown if status.message().contains("cannot delete a running process") => {
            ErrorKind::FailedPrecondition
        }
        _ => ErrorKind::Unknown,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_not_found_keeps_server_text_and_class_suffix() {
        let status = tonic::Status::not_found("container \"x\" in namespace \"n\"");
        let err = Error::from_grpc("load container", &status);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.message(), "load container: container \"x\" in namespace \"n\": not found");
    }

    #[test]
    fn shim_running_delete_is_failed_precondition() {
        let status = tonic::Status::unknown("cannot delete a running process");
        assert_eq!(Error::from_grpc("delete task", &status).kind(), ErrorKind::FailedPrecondition);
    }

    #[test]
    fn unknown_codes_stay_unknown() {
        let status = tonic::Status::unknown("exec: \"nope\": executable file not found in $PATH");
        let err = Error::from_grpc("start task", &status);
        assert_eq!(err.kind(), ErrorKind::Unknown);
        assert!(err.message().ends_with("executable file not found in $PATH: unknown"));
        let already = tonic::Status::unknown("runc create failed: no such file or directory: unknown");
        assert_eq!(
            Error::from_grpc("create task", &already).message(),
            "create task: runc create failed: no such file or directory: unknown"
        );
    }
}
