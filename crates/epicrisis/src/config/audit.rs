//! Where the audit trail's seal lives: the HMAC key file and the anchor file, both outside
//! the database (see `epicrisis_store::AuditSeal`).
//!
//! - `EPICRISIS_AUDIT_KEY_FILE`: the key. With a SQLite file and no setting, the key is
//!   `<database>.audit-key` beside it, created on first use. With PostgreSQL nothing is
//!   created: several servers and workers must share one key, so the administrator makes
//!   it once (`epicrisis audit new-key FILE`) and gives every machine a copy. A named file
//!   that does not exist is an error, for the same reason.
//! - `EPICRISIS_AUDIT_ANCHOR_FILE`: where the chain's head is appended; `<database>.audit-
//!   anchor` beside a SQLite file by default. It needs a key.
//! - `EPICRISIS_AUDIT_ANCHOR_SECONDS`: how often servers and workers append (60).
//!
//! `sqlite::memory:` gets a key made at start, kept in memory, and no anchor file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Failure, Raw};

/// Where the key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// No key: rows keep the plain SHA-256 chain.
    None,
    /// A file that must exist (named by the setting).
    File(PathBuf),
    /// A file created when missing (the default beside a SQLite file).
    FileOrCreate(PathBuf),
    /// A random key for this process only (an in-memory database).
    Ephemeral,
}

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub key: KeySource,
    pub anchor: Option<PathBuf>,
    pub anchor_every: Duration,
}

impl AuditSettings {
    pub(super) fn from_raw(raw: &Raw, database_url: &str) -> Result<AuditSettings, Failure> {
        let sqlite_file = sqlite_file(database_url);
        let in_memory = database_url.contains(":memory:");
        let key = match raw.string("EPICRISIS_AUDIT_KEY_FILE") {
            Some(p) => KeySource::File(PathBuf::from(p)),
            None => match &sqlite_file {
                Some(db) => KeySource::FileOrCreate(beside(db, "audit-key")),
                None if in_memory => KeySource::Ephemeral,
                None => KeySource::None,
            },
        };
        let anchor = raw
            .string("EPICRISIS_AUDIT_ANCHOR_FILE")
            .map(PathBuf::from)
            .or_else(|| sqlite_file.as_deref().map(|db| beside(db, "audit-anchor")));
        if anchor.is_some()
            && key == KeySource::None
            && raw.string("EPICRISIS_AUDIT_ANCHOR_FILE").is_some()
        {
            return Err(raw.bad(
                "EPICRISIS_AUDIT_ANCHOR_FILE",
                "un archivo de anclas junto con EPICRISIS_AUDIT_KEY_FILE (las anclas se sellan \
                 con la clave; créela con `epicrisis audit new-key ARCHIVO`)",
            ));
        }
        let seconds = raw
            .parse::<u32>(
                "EPICRISIS_AUDIT_ANCHOR_SECONDS",
                "un número entero de segundos entre 1 y 86400",
                |v| (1..=86_400).contains(v),
            )?
            .unwrap_or(60);
        Ok(AuditSettings {
            key,
            anchor,
            anchor_every: Duration::from_secs(u64::from(seconds)),
        })
    }

    /// The seal for the store, reading or creating the key file as the source says.
    pub fn seal(&self) -> Result<epicrisis_store::AuditSeal, Failure> {
        use epicrisis_store::AuditKey;
        let key = match &self.key {
            KeySource::None => None,
            KeySource::File(p) => {
                if !p.exists() {
                    return Err(Failure::Input(format!(
                        "EPICRISIS_AUDIT_KEY_FILE {}: the file does not exist; create it once \
                         with `epicrisis audit new-key {}` and copy it to every server and \
                         worker of this database",
                        p.display(),
                        p.display()
                    )));
                }
                Some(AuditKey::load(p).map_err(seal_failure)?)
            }
            KeySource::FileOrCreate(p) => Some(AuditKey::load_or_create(p).map_err(seal_failure)?),
            KeySource::Ephemeral => Some(AuditKey::generate().map_err(seal_failure)?),
        };
        let anchor = self.anchor.clone().filter(|_| key.is_some());
        Ok(epicrisis_store::AuditSeal { key, anchor })
    }
}

pub fn seal_failure(e: epicrisis_store::StoreError) -> Failure {
    Failure::Input(format!(
        "{e} (EPICRISIS_AUDIT_KEY_FILE, EPICRISIS_AUDIT_ANCHOR_FILE)"
    ))
}

/// The file of a `sqlite:PATH` URL (not an in-memory database).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// `data/epicrisis.db` → `data/epicrisis.db.<suffix>`.
fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    db.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(f: Failure) -> String {
        match f {
            Failure::Input(m) => m,
            other => format!("{other:?}"),
        }
    }

    fn settings(pairs: &[(&str, &str)], url: &str) -> Result<AuditSettings, Failure> {
        let raw = Raw::from_pairs(pairs);
        AuditSettings::from_raw(&raw, url)
    }

    #[test]
    fn sqlite_files_get_a_key_and_anchors_beside_them() {
        let s = settings(&[], "sqlite:data/epi.db?mode=rwc").unwrap();
        assert_eq!(
            s.key,
            KeySource::FileOrCreate(PathBuf::from("data/epi.db.audit-key"))
        );
        assert_eq!(s.anchor, Some(PathBuf::from("data/epi.db.audit-anchor")));
        assert_eq!(s.anchor_every, Duration::from_secs(60));
        assert_eq!(
            settings(&[], "sqlite::memory:").unwrap().key,
            KeySource::Ephemeral
        );
    }

    #[test]
    fn postgres_needs_a_named_key_and_anchors_need_a_key() {
        let s = settings(&[], "postgres://u@h/d").unwrap();
        assert_eq!((s.key, s.anchor), (KeySource::None, None));
        let s = settings(
            &[
                ("EPICRISIS_AUDIT_KEY_FILE", "/etc/epicrisis/audit.key"),
                ("EPICRISIS_AUDIT_ANCHOR_FILE", "/var/log/epicrisis/anchor"),
                ("EPICRISIS_AUDIT_ANCHOR_SECONDS", "300"),
            ],
            "postgres://u@h/d",
        )
        .unwrap();
        assert_eq!(
            s.key,
            KeySource::File(PathBuf::from("/etc/epicrisis/audit.key"))
        );
        assert_eq!(s.anchor_every, Duration::from_secs(300));
        let e = settings(
            &[("EPICRISIS_AUDIT_ANCHOR_FILE", "/var/log/a")],
            "postgres://u@h/d",
        )
        .map(|_| ())
        .map_err(msg)
        .unwrap_err();
        assert!(e.contains("EPICRISIS_AUDIT_KEY_FILE"), "{e}");
        let e = settings(&[("EPICRISIS_AUDIT_ANCHOR_SECONDS", "0")], "sqlite:x.db")
            .map(|_| ())
            .map_err(msg)
            .unwrap_err();
        assert!(e.contains("EPICRISIS_AUDIT_ANCHOR_SECONDS"), "{e}");
    }

    #[test]
    fn a_named_key_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.key");
        let s = AuditSettings {
            key: KeySource::File(p.clone()),
            anchor: None,
            anchor_every: Duration::from_secs(60),
        };
        let e = msg(s.seal().map(|_| ()).unwrap_err());
        assert!(e.contains("audit.key") && e.contains("new-key"), "{e}");
        epicrisis_store::AuditKey::create(&p).unwrap();
        assert!(s.seal().unwrap().key.is_some());
    }
}
