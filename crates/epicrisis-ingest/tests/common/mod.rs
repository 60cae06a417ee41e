#![allow(dead_code)]

pub use epicrisis_testkit::fixtures::testdata;
use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    epicrisis_testkit::fixtures::workspace_root()
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = testdata(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
