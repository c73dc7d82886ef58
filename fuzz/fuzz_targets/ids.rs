#![no_main]
//! Container, exec and namespace ids (containerd's identifier rules), which become directory and
//! FIFO names: an accepted id is one plain path component, whatever the input.
use std::path::{Component, Path};

use libcontainerd::identifiers::{quote, shorten, validate, QUOTED_INPUT_MAX};
use libcontainerd::ErrorKind;
use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let id = String::from_utf8_lossy(data);
    match validate("container id", &id) {
        Ok(()) => {
            let components: Vec<_> = Path::new(id.as_ref()).components().collect();
            assert!(matches!(components.as_slice(), [Component::Normal(_)]), "{id:?} is not one plain path component");
            assert!(id.len() <= 76 && !id.starts_with('.'), "{id:?} accepted");
        }
        Err(err) => common::assert_refusal(&err, ErrorKind::InvalidArgument, id.len()),
    }
    let shortened = shorten(&id);
    assert!(shortened.len() <= QUOTED_INPUT_MAX + 32, "shorten gave {} bytes", shortened.len());
    if id.len() <= QUOTED_INPUT_MAX {
        assert_eq!(shortened, id);
    } else {
        let kept = &shortened[..shortened.rfind("… (").expect("a shortened input says its length")];
        assert!(id.starts_with(kept) && kept.len() <= QUOTED_INPUT_MAX, "shorten kept {kept:?}");
    }
    assert!(quote(&id).len() <= QUOTED_INPUT_MAX * 10 + 32, "quote gave {} bytes", quote(&id).len());
});
