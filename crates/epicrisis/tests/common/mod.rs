//! What several integration tests of the binary share. Each test file uses only part of
//! it, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod browser;
pub mod logs;
pub mod server;

pub use epicrisis_testkit::fixtures::{smollm2 as model_fixture, testdata};
pub use epicrisis_testkit::unique;
