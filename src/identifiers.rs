//! containerd's identifier rules (`pkg/identifiers`), checked before anything touches the
//! filesystem: a container id becomes a directory name under the state directory, so `../x`
//! must never get that far.
//!
//! Written by hand instead of pulling in a regex crate: the rule is one small grammar,
//! `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`, at most 76 characters.

use crate::error::{Error, Result};

const MAX_LENGTH: usize = 76;
/// At most this many bytes of a caller's input are repeated in an error message: enough to
/// recognise it, while a 64 MiB id still gives a short message.
pub const QUOTED_INPUT_MAX: usize = 64;

/// At most this many bytes of a path are repeated in an error message: PATH_MAX, so that every
/// path the kernel accepts is quoted whole (a bundle or FIFO path is usually longer than
/// [`QUOTED_INPUT_MAX`]), while a caller's 64 MiB state directory still gives a bounded message.
pub(crate) const QUOTED_PATH_MAX: usize = libc::PATH_MAX as usize;

/// The first [`QUOTED_INPUT_MAX`] bytes of `input` (cut at a character boundary), followed by
/// "… (N bytes)" when there is more: the one way an error message repeats a caller's input.
pub fn shorten(input: &str) -> std::borrow::Cow<'_, str> {
    shorten_to(input, QUOTED_INPUT_MAX)
}

/// `path` as [`shorten`] gives it, at most [`QUOTED_PATH_MAX`] bytes of it.
pub fn shorten_path(path: &std::path::Path) -> String {
    shorten_to(&path.to_string_lossy(), QUOTED_PATH_MAX).into_owned()
}

fn shorten_to(input: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if input.len() <= max {
        return input.into();
    }
    let mut end = max;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &input[..end], input.len()).into()
}

/// serde_json's text of a refused JSON document, which repeats a string of the input whole
/// (`invalid type: string "…", expected …`, whatever its length): when it is longer than twice
/// [`QUOTED_INPUT_MAX`], its first and last [`QUOTED_INPUT_MAX`] bytes (what is wrong, then what
/// was expected and where), the middle left out. Used for every JSON document the library reads
/// with serde_json.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.len() <= 2 * QUOTED_INPUT_MAX {
        return text;
    }
    let mut head = QUOTED_INPUT_MAX;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - QUOTED_INPUT_MAX;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}… ({} bytes left out) …{}", &text[..head], tail - head, &text[tail..])
}

/// `input` quoted as a Rust/Go string literal, at most [`QUOTED_INPUT_MAX`] bytes of it.
pub fn quote(input: &str) -> String {
    if input.len() <= QUOTED_INPUT_MAX {
        return format!("{input:?}");
    }
    let mut end = QUOTED_INPUT_MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &input[..end], input.len())
}

/// Checks `id` against containerd's identifier rules; `what` names it in the error.
pub fn validate(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument(format!("{what} must not be empty")));
    }
    if id.len() > MAX_LENGTH {
        return Err(Error::invalid_argument(format!(
            "{what} {} is {} characters long, more than the {MAX_LENGTH} allowed",
            quote(id),
            id.len()
        )));
    }
    let bytes = id.as_bytes();
    let is_alnum = |b: u8| b.is_ascii_alphanumeric();
    let is_separator = |b: u8| matches!(b, b'.' | b'_' | b'-');
    let well_formed = is_alnum(bytes[0])
        && is_alnum(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| is_alnum(b) || is_separator(b))
        && !bytes.windows(2).any(|w| is_separator(w[0]) && is_separator(w[1]));
    if !well_formed {
        return Err(Error::invalid_argument(format!(
            "{what} {} is not a valid identifier: it must match [A-Za-z0-9]+([._-][A-Za-z0-9]+)*",
            quote(id)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_containerd_style_ids() {
        for id in ["a", "abc", "a.b", "a_b-c.d", "0123456789abcdef", &"x".repeat(76)] {
            validate("id", id).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn error_messages_quote_at_most_a_bounded_part_of_the_input() {
        let huge = "x/".repeat(8 << 20);
        for id in [huge.as_str(), &"y".repeat(1 << 20), &format!("{}é", "z".repeat(63))] {
            let message = validate("container id", id).unwrap_err().to_string();
            assert!(message.len() < 300, "{} bytes: {}", message.len(), &message[..300.min(message.len())]);
            if id.len() > QUOTED_INPUT_MAX {
                assert!(message.contains(&format!("({} bytes)", id.len())), "{message}");
            }
        }
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(shorten(&"é".repeat(40)), format!("{}… (80 bytes)", "é".repeat(32)));
        let real_path = format!("/{}", "p".repeat(QUOTED_PATH_MAX - 1));
        assert_eq!(shorten_path(real_path.as_ref()), real_path, "a path the kernel accepts is quoted whole");
        let huge_path = format!("/{}", "p".repeat(1 << 20));
        assert_eq!(shorten_path(huge_path.as_ref()), format!("{}… ({} bytes)", &huge_path[..QUOTED_PATH_MAX], huge_path.len()));
    }

    /// serde_json repeats a refused string whole: its text is cut in the middle, keeping what
    /// is wrong, what was expected and where.
    #[test]
    fn json_errors_keep_both_ends_and_leave_out_the_middle() {
        let huge = format!("[\"{}\"]", "é".repeat(1 << 20));
        let e = serde_json::from_str::<Vec<u32>>(&huge).unwrap_err();
        let text = json_error(&e);
        assert!(text.len() <= 2 * QUOTED_INPUT_MAX + 40, "{} bytes: {text}", text.len());
        assert!(text.starts_with("invalid type: string \"éé"), "{text}");
        assert!(text.ends_with(&format!("expected u32 at line 1 column {}", 2 + 2 * (1 << 20) + 1)), "{text}");
        let short = serde_json::from_str::<Vec<u32>>("[true]").unwrap_err();
        assert_eq!(json_error(&short), short.to_string());
    }

    #[test]
    fn rejects_paths_separators_and_overlong_ids() {
        for id in ["", "../x", "a/b", ".a", "a.", "a..b", "a-_b", "a b", "ü", &"x".repeat(77)] {
            let err = validate("container id", id).expect_err(id);
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument, "{id}");
        }
    }
}
