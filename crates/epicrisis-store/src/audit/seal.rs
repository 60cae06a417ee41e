//! What seals the audit trail from outside the database: the HMAC key, which lives in a
//! file the database cannot reach, and the anchor file, where the chain's head is appended
//! regularly. Whoever can write the database can rewrite rows and recompute a plain
//! SHA-256 chain, but cannot compute the keyed chain without the key, nor change what the
//! anchor file already says (see [`super::chain`] for how both are checked).
//!
//! Files are created with mode 0600. The key file holds at least 32 bytes (the program
//! writes 64 hexadecimal characters); surrounding whitespace is ignored. Its id, the first
//! 16 hex digits of a SHA-256 of the key, is stored with each row, so a machine configured
//! with another key is named as such instead of looking like tampering.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// The smallest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The secret that chains the audit rows with HMAC-SHA256.
#[derive(Clone)]
pub struct AuditKey {
    secret: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

impl AuditKey {
    /// A key from its bytes (surrounding whitespace ignored); too short is an error.
    pub fn from_secret(secret: &[u8]) -> std::result::Result<AuditKey, String> {
        let secret = secret.trim_ascii();
        if secret.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key has {} bytes; it needs at least {MIN_KEY_BYTES} (create one with \
                 `epicrisis audit new-key FILE`)",
                secret.len()
            ));
        }
        let mut h = Sha256::new();
        h.update(b"epicrisis audit key id\0");
        h.update(secret);
        let id = hex::encode(h.finalize())[..16].to_string();
        Ok(AuditKey {
            secret: secret.to_vec(),
            id,
        })
    }

    /// A new random key (64 hexadecimal characters, as in the files the program writes).
    pub fn generate() -> Result<AuditKey> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| {
            StoreError::Invalid(format!("no random numbers for the audit key: {e}"))
        })?;
        AuditKey::from_secret(hex::encode(bytes).as_bytes()).map_err(StoreError::Invalid)
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<AuditKey> {
        let bytes = std::fs::read(path).map_err(|e| seal_error(path, &e.to_string()))?;
        AuditKey::from_secret(&bytes).map_err(|e| seal_error(path, &e))
    }

    /// Writes a new random key to a file that must not exist yet (mode 0600), creating its
    /// folder, and returns the key.
    pub fn create(path: &Path) -> Result<AuditKey> {
        let key = AuditKey::generate()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| seal_error(path, &e.to_string()))?;
        }
        let mut f = private_file(path, false).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::AlreadyExists {
                "the file already exists; a key is never overwritten (its rows could no longer \
                 be checked)"
                    .to_string()
            } else {
                e.to_string()
            };
            seal_error(path, &why)
        })?;
        f.write_all(&key.secret)
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(|e| seal_error(path, &e.to_string()))?;
        Ok(key)
    }

    /// Reads the key file, or creates it when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<AuditKey> {
        if path.exists() {
            return AuditKey::load(path);
        }
        match AuditKey::create(path) {
            // Another process created it in between.
            Err(_) if path.exists() => AuditKey::load(path),
            other => other,
        }
    }

    /// The key's public id (16 hex digits), stored with each row it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `data`, lower-case hex.
    pub(crate) fn mac_hex(&self, data: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The key and the anchor file a store seals its audit trail with.
#[derive(Debug, Clone, Default)]
pub struct AuditSeal {
    /// Without a key, rows keep the plain SHA-256 chain (and no anchor is written).
    pub key: Option<AuditKey>,
    /// Where [`crate::Store::anchor_audit`] appends the chain's head.
    pub anchor: Option<PathBuf>,
}

/// A file opened for writing with mode 0600: new (`create_new`) or, with `append`,
/// created when missing and appended to.
pub(crate) fn private_file(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    if append {
        o.append(true).create(true);
    } else {
        o.write(true).create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

pub(crate) fn seal_error(path: &Path, reason: &str) -> StoreError {
    StoreError::Seal {
        file: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// One line of the anchor file: the chain's head at a moment, sealed with the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub at: i64,
    pub row_id: i64,
    pub row_hash: String,
    pub key_id: String,
    pub mac: String,
}

const ANCHOR_TAG: &str = "epicrisis-audit-anchor/1";

impl Anchor {
    pub(crate) fn new(key: &AuditKey, at: i64, row_id: i64, row_hash: &str) -> Anchor {
        let mut a = Anchor {
            at,
            row_id,
            row_hash: row_hash.to_string(),
            key_id: key.id().to_string(),
            mac: String::new(),
        };
        a.mac = key.mac_hex(a.sealed_part().as_bytes());
        a
    }

    fn sealed_part(&self) -> String {
        format!(
            "{ANCHOR_TAG} {} {} {} {}",
            self.at, self.row_id, self.row_hash, self.key_id
        )
    }

    /// `TAG at_ms row_id row_hash key_id mac  # UTC time` (the comment is for people).
    pub(crate) fn line(&self) -> String {
        format!(
            "{} {}  # {}\n",
            self.sealed_part(),
            self.mac,
            utc_text(self.at)
        )
    }

    /// A line as written by [`Anchor::line`]; `None` for anything else.
    pub(crate) fn parse(line: &str) -> Option<Anchor> {
        let body = line.split('#').next()?.trim();
        let f: Vec<&str> = body.split_ascii_whitespace().collect();
        match f.as_slice() {
            [tag, at, id, hash, key_id, mac] if *tag == ANCHOR_TAG => Some(Anchor {
                at: at.parse().ok()?,
                row_id: id.parse().ok()?,
                row_hash: hash.to_string(),
                key_id: key_id.to_string(),
                mac: mac.to_string(),
            }),
            _ => None,
        }
    }

    /// Whether `key` wrote this line.
    pub(crate) fn sealed_by(&self, key: &AuditKey) -> bool {
        self.key_id == key.id() && key.mac_hex(self.sealed_part().as_bytes()) == self.mac
    }
}

/// Appends one anchor line (one `write`, so lines from several processes do not mix).
pub(crate) fn append_anchor(path: &Path, anchor: &Anchor) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| seal_error(path, &e.to_string()))?;
    }
    let mut f = private_file(path, true).map_err(|e| seal_error(path, &e.to_string()))?;
    f.write_all(anchor.line().as_bytes())
        .and_then(|_| f.sync_data())
        .map_err(|e| seal_error(path, &e.to_string()))
}

/// A line of the anchor file: its number (from 1) and the anchor, if it is one.
pub(crate) type AnchorLine = (usize, Option<Anchor>);

/// The anchor file's lines; `None` when the file does not exist.
pub(crate) fn read_anchors(path: &Path) -> Result<Option<Vec<AnchorLine>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(seal_error(path, &e.to_string())),
    };
    Ok(Some(
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, Anchor::parse(l)))
            .collect(),
    ))
}

/// Milliseconds since 1970 as `2026-12-04T10:00:00Z`.
pub(crate) fn utc_text(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_need_32_bytes_and_have_a_stable_id() {
        assert!(AuditKey::from_secret(b"  short  ").is_err());
        let a = AuditKey::from_secret(&[b'a'; 32]).unwrap();
        let b = AuditKey::from_secret(format!("\n{}\n", "a".repeat(32)).as_bytes()).unwrap();
        assert_eq!(a.id(), b.id(), "whitespace around the key is ignored");
        assert_eq!(a.id().len(), 16);
        assert_ne!(a.id(), AuditKey::from_secret(&[b'b'; 32]).unwrap().id());
        assert_eq!(a.mac_hex(b"x"), b.mac_hex(b"x"));
        assert_ne!(a.mac_hex(b"x"), a.mac_hex(b"y"));
        assert!(
            !format!("{a:?}").contains("aaaa"),
            "the secret is not printed"
        );
    }

    #[test]
    fn key_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join("audit.key");
        let key = AuditKey::create(&path).unwrap();
        assert_eq!(AuditKey::load(&path).unwrap().id(), key.id());
        assert_eq!(AuditKey::load_or_create(&path).unwrap().id(), key.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        match AuditKey::create(&path) {
            Err(StoreError::Seal { file, reason }) => {
                assert!(file.ends_with("audit.key"));
                assert!(reason.contains("never overwritten"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let short = dir.path().join("short.key");
        std::fs::write(&short, "abc").unwrap();
        match AuditKey::load(&short) {
            Err(e) => assert!(e.to_string().contains("short.key"), "{e}"),
            Ok(_) => panic!("a 3-byte key was accepted"),
        }
    }

    #[test]
    fn anchor_lines_round_trip_and_refuse_changes() {
        let key = AuditKey::from_secret(&[7u8; 40]).unwrap();
        let a = Anchor::new(&key, 1_764_842_400_000, 42, "ab12");
        let line = a.line();
        assert!(line.contains("2025-12-04T10:00:00Z"), "{line}");
        let back = Anchor::parse(&line).unwrap();
        assert_eq!(back, a);
        assert!(back.sealed_by(&key));
        let forged = Anchor::parse(&line.replace(" 42 ", " 41 ")).unwrap();
        assert!(!forged.sealed_by(&key));
        let other = AuditKey::from_secret(&[8u8; 40]).unwrap();
        assert!(!back.sealed_by(&other));
        assert_eq!(Anchor::parse("not an anchor"), None);
    }
}
