//! The library reads a runtime spec as Go's encoding/json reads it into runtime-spec's
//! `specs.Spec` (what containerd and runc will do with the same bytes): a differential test
//! over the tricky documents in tests/fixtures/spec_corpus, against a small Go program
//! (tests/spec_decoder) that prints the fields the library reads, or "error".

use std::path::{Path, PathBuf};
use std::process::Command;

use libcontainerd::spec::{IdMapping, SpecFields};

fn mappings(m: &[IdMapping]) -> String {
    let parts: Vec<String> = m.iter().map(|m| format!("{}:{}:{}", m.container_id, m.host_id, m.size)).collect();
    format!("[{}]", parts.join(","))
}

/// The library's reading, in the Go program's format.
fn library_line(json: &[u8]) -> String {
    match SpecFields::read(json) {
        Err(_) => "error".to_owned(),
        Ok(spec) => {
            let terminal = spec.process.is_some_and(|p| p.terminal);
            let linux = spec.linux.unwrap_or_default();
            let namespaces: Vec<String> = linux.namespaces.iter().map(|n| format!("{n:?}")).collect();
            format!(
                "terminal={terminal} namespaces=[{}] uids={} gids={}",
                namespaces.join(","),
                mappings(&linux.uid_mappings),
                mappings(&linux.gid_mappings)
            )
        }
    }
}

fn go_decoder() -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spec_decoder");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec_decoder"))
        .status()
        .expect("run go build (Go is needed for this test)");
    assert!(status.success(), "go build of tests/spec_decoder failed");
    out
}

#[test]
fn the_library_reads_every_corpus_document_as_go_does() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec_corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() > 60, "corpus is missing: {}", corpus.display());
    let output = Command::new(go_decoder()).args(&files).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let go_lines: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    assert_eq!(go_lines.len(), files.len());
    let mut differences = Vec::new();
    for (file, go) in files.iter().zip(&go_lines) {
        let name = file.file_name().unwrap().to_string_lossy();
        let library = library_line(&std::fs::read(file).unwrap());
        if name.starts_with("other_field_") {
            // A type error in a field the library does not read: Go refuses the whole document,
            // the library leaves that field to containerd and runc, which refuse it.
            assert_eq!((go.as_str(), library == "error"), ("error", false), "{name}");
            continue;
        }
        if *go != library {
            differences.push(format!("{name}: go {go} / library {library}"));
        }
    }
    assert!(differences.is_empty(), "{} differences from Go:\n{}", differences.len(), differences.join("\n"));
}
