//! The library's one error type. Every failure, whether it comes from containerd over gRPC,
//! from the filesystem or from caller input, becomes an [`Error`] with an [`ErrorKind`]; the
//! C ABI maps the kind to `lcd_status` in exactly one place (`status_of` in the
//! `libcontainerd-capi` crate).

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

/// An error with its class, a message that says what went wrong and the context the library
/// was working in. For a failed containerd call the message is exactly what containerd's Go
/// client would present (the server's text with its class suffix), so a caller can build
/// moby's error text from it; what the library was doing stays apart, in the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// What the library was doing, outermost first ("" when nothing was added).
    context: String,
    /// For a failed containerd call, the server's own text as its reply carried it (with the
    /// prefixes the library adds, as containerd's client wraps): containerd 2's Go client
    /// presents this text without appending the class.
    server_message: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), context: String::new(), server_message: None }
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

    /// The caller cancelled the call: Go's context.Canceled text, as containerd's client gives it.
    pub fn cancelled() -> Self {
        Error::new(ErrorKind::Cancelled, "context canceled").context("operation cancelled")
    }

    /// The call's deadline passed: Go's context.DeadlineExceeded text.
    pub fn deadline_exceeded() -> Self {
        Error::new(ErrorKind::DeadlineExceeded, "context deadline exceeded").context("operation timed out")
    }

    /// A filesystem error, with what was being done and on which path (at most
    /// [`QUOTED_PATH_MAX`](crate::identifiers::QUOTED_PATH_MAX) bytes of it: paths come from
    /// callers too).
    pub fn io(action: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            std::io::ErrorKind::InvalidInput => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        };
        Error::new(kind, format!("{action} {}: {err}", crate::identifiers::shorten_path(path)))
    }

    /// A failed containerd call: gRPC status mapped to the class, the server's text kept word
    /// for word with containerd's class suffix as the message, and what was being done as the
    /// context.
    pub fn from_grpc(action: &str, status: &tonic::Status) -> Self {
        let kind = kind_of_grpc(status);
        let server_text = status.message();
        let suffix = kind.class_suffix();
        // Like containerd's Go client: the class is appended once, not again when the server's
        // text already ends with it.
        let message = if server_text.is_empty() {
            suffix.to_owned()
        } else if server_text == suffix || server_text.ends_with(&format!(": {suffix}")) {
            server_text.to_owned()
        } else {
            format!("{server_text}: {suffix}")
        };
        let mut err = Error::new(kind, message).context(action);
        err.server_message = Some(server_text.to_owned());
        err
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What went wrong, without the context: for a containerd failure, containerd's text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The server's own text of a failed containerd call (None for other errors).
    pub fn server_message(&self) -> Option<&str> {
        self.server_message.as_deref()
    }

    /// What the library was doing, outermost first; "" when nothing was added.
    pub fn context_text(&self) -> &str {
        &self.context
    }

    /// Adds what the caller was doing to the context (outside what is there); the class and
    /// the message stay.
    pub fn context(mut self, action: &str) -> Self {
        self.context = if self.context.is_empty() { action.to_owned() } else { format!("{action}: {}", self.context) };
        self
    }

    /// moby's error for an id that is taken, from an already-exists error: "id already in use: "
    /// before this error's message, or before `what` and this error when `what` names the
    /// object the error does not (a FIFO's error names a path, not the exec id). Other errors
    /// pass unchanged.
    pub(crate) fn id_in_use(self, what: Option<&str>) -> Self {
        if self.kind != ErrorKind::AlreadyExists {
            return self;
        }
        let message = match what {
            None => format!("id already in use: {}", self.message),
            Some(what) => format!("id already in use: {what}: {self}"),
        };
        Error::new(ErrorKind::AlreadyExists, message)
    }

    /// A new error of this class whose message puts `prefix` in front of this one's message;
    /// the context stays.
    pub fn with_message_prefix(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self.server_message = self.server_message.map(|text| format!("{prefix}: {text}"));
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

/// The context, then the message: the whole story, for logs.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.context.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.context, self.message)
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_in_use_is_worded_as_moby_words_it_and_other_errors_pass() {
        let taken = Error::from_grpc("create container c1", &tonic::Status::already_exists("container \"c1\": already exists"));
        let mapped = taken.id_in_use(None);
        assert_eq!(mapped.kind(), ErrorKind::AlreadyExists);
        assert_eq!(mapped.to_string(), "id already in use: container \"c1\": already exists");
        let fifo = Error::new(ErrorKind::AlreadyExists, "create fifo /b/e1-stdout: in use").id_in_use(Some("exec e1"));
        assert_eq!(fifo.message(), "id already in use: exec e1: create fifo /b/e1-stdout: in use");
        let other = Error::not_found("gone");
        assert_eq!(other.clone().id_in_use(None), other);
    }

    #[test]
    fn grpc_not_found_keeps_server_text_and_class_suffix() {
        let status = tonic::Status::not_found("container \"x\" in namespace \"n\"");
        let err = Error::from_grpc("load container", &status);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.message(), "container \"x\" in namespace \"n\": not found");
        assert_eq!(err.context_text(), "load container");
        assert_eq!(err.to_string(), "load container: container \"x\" in namespace \"n\": not found");
    }

    #[test]
    fn grpc_errors_keep_the_server_text_as_it_came() {
        let err = Error::from_grpc("get task", &tonic::Status::not_found("task t1 not found"));
        assert_eq!(err.message(), "task t1 not found: not found");
        assert_eq!(err.server_message(), Some("task t1 not found"));
        let err = err.with_message_prefix("no running task found");
        assert_eq!(err.server_message(), Some("no running task found: task t1 not found"));
        let err = Error::from_grpc("delete", &tonic::Status::not_found("container \"x\" in namespace \"n\": not found"));
        assert_eq!(err.server_message(), Some("container \"x\" in namespace \"n\": not found"));
        assert_eq!(Error::not_found("x").server_message(), None);
    }

    #[test]
    fn context_stays_out_of_the_message() {
        let err = Error::from_grpc("start task", &tonic::Status::unknown("OCI runtime exec failed: boom: unknown"))
            .context("exec in container c");
        assert_eq!(err.message(), "OCI runtime exec failed: boom: unknown");
        assert_eq!(err.context_text(), "exec in container c: start task");
        assert_eq!(Error::cancelled().message(), "context canceled");
        assert_eq!(Error::deadline_exceeded().message(), "context deadline exceeded");
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
            "runc create failed: no such file or directory: unknown"
        );
    }
}
