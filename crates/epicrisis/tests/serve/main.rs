//! `epicrisis serve` end to end: the real binary on loopback with a SQLite store, driven
//! over real HTTP (and, for the interface, by headless Chromium through WebDriver).

use std::path::Path;

#[path = "../common/mod.rs"]
mod common;

mod access;
mod accounts;
mod drafting;
mod flow;
mod openai;
mod similar;

use common::server::{PgDatabase, Session, add_user, postgres_site};
use common::testdata;

const EPISODE: &str = "1416169";

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    add_users(dir.path());
    dir
}

fn add_users(dir: &Path) {
    add_user(dir, "ana", "medico", "Dra. Ana Pérez");
    add_user(dir, "caja", "administrativo", "Caja Uno");
}

fn setup_postgres() -> Option<(tempfile::TempDir, PgDatabase)> {
    let (dir, db) = postgres_site("serve_e2e")?;
    add_users(dir.path());
    Some((dir, db))
}

fn import(s: &Session) {
    let bytes = std::fs::read(testdata("episodes/episodio_1416169.json")).unwrap();
    let r = s.post_bytes("/api/v1/episodes", bytes);
    assert_eq!(r.status(), 201);
}
