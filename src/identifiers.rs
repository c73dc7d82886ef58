//! containerd's identifier rules (`pkg/identifiers`), checked before anything touches the
//! filesystem: a container id becomes a directory name under the state directory, so `../x`
//! must never get that far.
//!
//! Written by hand instead of pulling in a regex crate: the rule is one small grammar,
//! `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`, at most 76 characters.

use crate::error::{Error, Result};

const MAX_LENGTH: usize = 76;

/// Checks `id` against containerd's identifier rules; `what` names it in the error.
pub fn validate(what: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument(format!("{what} must not be empty")));
    }
    if id.len() > MAX_LENGTH {
        return Err(Error::invalid_argument(format!(
            "{what} {id:?} is {} characters long, more than the {MAX_LENGTH} allowed",
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
            "{what} {id:?} is not a valid identifier: it must match [A-Za-z0-9]+([._-][A-Za-z0-9]+)*"
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
    fn rejects_paths_separators_and_overlong_ids() {
        for id in ["", "../x", "a/b", ".a", "a.", "a..b", "a-_b", "a b", "ü", &"x".repeat(77)] {
            let err = validate("container id", id).expect_err(id);
            assert_eq!(err.kind(), crate::error::ErrorKind::InvalidArgument, "{id}");
        }
    }
}
