//! How a row is hashed and how the whole trail is checked.
//!
//! Each row's hash covers its fields and the previous row's hash, so changing or removing
//! a row breaks every hash after it. Two rules:
//! - **keyed rows** (`key_id` set): HMAC-SHA256 with the audit key of the JSON array
//!   `["epicrisis-audit/2", id, at, user_id, username, action, episode_id, version_id,
//!   detail, prev_hash, key_id]`;
//! - **unkeyed rows** (written before the key existed, or by a store without one): SHA-256
//!   of `[id, at, user_id, username, action, episode_id, version_id, detail, prev_hash]`.
//!
//! Once a keyed row exists, an unkeyed row after it is a rewrite. The anchor file, written
//! outside the database, holds the head (row id and hash) at moments in time: a chain
//! rewritten from the start, or cut at its end, no longer matches it.

use std::collections::{BTreeMap, HashMap};

use super::seal::{Anchor, AuditKey, utc_text};
use super::{AuditCheck, AuditRow};
use crate::sha256_hex;

/// The previous hash of the first audit row.
pub(crate) const GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash a row must carry: HMAC with `key` for a keyed row, SHA-256 otherwise.
pub(crate) fn row_hash(r: &AuditRow, key: Option<&AuditKey>) -> String {
    match (&r.key_id, key) {
        (Some(key_id), Some(key)) => {
            let canonical = serde_json::json!([
                "epicrisis-audit/2",
                r.id,
                r.at,
                r.user_id,
                r.username,
                r.action,
                r.episode_id,
                r.version_id,
                r.detail,
                r.prev_hash,
                key_id
            ]);
            key.mac_hex(canonical.to_string().as_bytes())
        }
        _ => {
            let canonical = serde_json::json!([
                r.id,
                r.at,
                r.user_id,
                r.username,
                r.action,
                r.episode_id,
                r.version_id,
                r.detail,
                r.prev_hash
            ]);
            sha256_hex(canonical.to_string().as_bytes())
        }
    }
}

/// Walks the audit rows in id order.
pub(crate) struct ChainCheck<'k> {
    key: Option<&'k AuditKey>,
    rows: i64,
    keyed_rows: i64,
    unkeyed_rows: i64,
    first_keyed: Option<i64>,
    /// Rows sealed with a key this store does not have: key id → (first row, count).
    other_keys: BTreeMap<String, (i64, i64)>,
    last: Option<(i64, String)>,
    /// The hashes of the rows that an anchor names.
    anchored: HashMap<i64, Option<String>>,
    problems: Vec<String>,
}

impl<'k> ChainCheck<'k> {
    pub(crate) fn new(key: Option<&'k AuditKey>, anchors: &[Anchor]) -> ChainCheck<'k> {
        ChainCheck {
            key,
            rows: 0,
            keyed_rows: 0,
            unkeyed_rows: 0,
            first_keyed: None,
            other_keys: BTreeMap::new(),
            last: None,
            anchored: anchors.iter().map(|a| (a.row_id, None)).collect(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, row: &AuditRow) {
        self.rows += 1;
        let (expected_id, expected_prev) = match &self.last {
            Some((id, hash)) => (id + 1, hash.clone()),
            None => (1, GENESIS_HASH.to_string()),
        };
        let gap = row.id != expected_id;
        if gap {
            self.problems.push(if row.id == expected_id + 1 {
                format!("row {expected_id} was deleted")
            } else {
                format!("rows {expected_id} to {} were deleted", row.id - 1)
            });
        }
        self.check_hash(row);
        if !gap && row.prev_hash != expected_prev {
            self.problems.push(format!(
                "row {} does not follow row {} (the previous row was changed or replaced)",
                row.id,
                row.id - 1
            ));
        }
        if let Some(slot) = self.anchored.get_mut(&row.id) {
            *slot = Some(row.hash.clone());
        }
        self.last = Some((row.id, row.hash.clone()));
    }

    fn check_hash(&mut self, row: &AuditRow) {
        let changed = || {
            format!(
                "row {} was changed (its hash does not match its contents)",
                row.id
            )
        };
        match &row.key_id {
            None => {
                self.unkeyed_rows += 1;
                if let Some(first) = self.first_keyed {
                    self.problems.push(format!(
                        "row {} has no audit key although row {first} before it was sealed with \
                         one: it was written or rewritten without the key",
                        row.id
                    ));
                }
                if row_hash(row, None) != row.hash {
                    self.problems.push(changed());
                }
            }
            Some(key_id) => {
                self.keyed_rows += 1;
                self.first_keyed.get_or_insert(row.id);
                match self.key {
                    Some(key) if key.id() == key_id => {
                        if row_hash(row, Some(key)) != row.hash {
                            self.problems.push(changed());
                        }
                    }
                    _ => {
                        let e = self.other_keys.entry(key_id.clone()).or_insert((row.id, 0));
                        e.1 += 1;
                    }
                }
            }
        }
    }

    /// Compares the end with the head row the database keeps and with the anchors.
    pub(crate) fn finish(mut self, head: Option<(i64, String)>, anchors: &[Anchor]) -> AuditCheck {
        let (last_id, last_hash) = self.last.clone().unwrap_or((0, GENESIS_HASH.to_string()));
        self.check_head(head, last_id, &last_hash);
        self.check_other_keys();
        for a in anchors {
            self.check_anchor(a, last_id);
        }
        AuditCheck {
            rows: self.rows,
            keyed_rows: self.keyed_rows,
            unkeyed_rows: self.unkeyed_rows,
            key_id: self.key.map(|k| k.id().to_string()),
            anchors: anchors.len() as i64,
            problems: self.problems,
            notes: Vec::new(),
        }
    }

    fn check_head(&mut self, head: Option<(i64, String)>, last_id: i64, last_hash: &str) {
        let Some((head_id, head_hash)) = head else {
            self.problems
                .push("the audit head row is missing".to_string());
            return;
        };
        if head_id > last_id {
            self.problems.push(if head_id == last_id + 1 {
                format!("the chain's end was cut: row {head_id} was deleted")
            } else {
                format!(
                    "the chain's end was cut: rows {} to {head_id} were deleted",
                    last_id + 1
                )
            });
        } else if head_id < last_id {
            self.problems.push(format!(
                "rows {} to {last_id} were added outside the store (the head says {head_id})",
                head_id + 1
            ));
        } else if head_hash != last_hash {
            self.problems.push(format!(
                "row {last_id} does not match the recorded end of the chain (changed or replaced)"
            ));
        }
    }

    fn check_other_keys(&mut self) {
        let mine = match self.key {
            Some(k) => format!("this program's key is {}", k.id()),
            None => "this program has no audit key".to_string(),
        };
        for (key_id, (first, count)) in std::mem::take(&mut self.other_keys) {
            self.problems.push(format!(
                "{count} row(s) from row {first} on were sealed with audit key {key_id}, and \
                 {mine}: they could not be checked. Every server and worker must use the same \
                 key file (EPICRISIS_AUDIT_KEY_FILE)"
            ));
        }
    }

    fn check_anchor(&mut self, a: &Anchor, last_id: i64) {
        let when = utc_text(a.at);
        match self.anchored.get(&a.row_id) {
            Some(Some(hash)) if *hash == a.row_hash => {}
            Some(Some(_)) => self.problems.push(format!(
                "row {} is not the row anchored on {when}: the chain was rewritten after that \
                 moment",
                a.row_id
            )),
            _ if a.row_id > last_id => self.problems.push(format!(
                "the chain's end was cut: row {} was anchored on {when} but the trail ends at \
                 row {last_id} (if a backup was restored on purpose, move the anchor file \
                 aside)",
                a.row_id
            )),
            _ => self
                .problems
                .push(format!("row {}, anchored on {when}, is missing", a.row_id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chained(n: i64, key: Option<&AuditKey>, keyed_from: i64) -> Vec<AuditRow> {
        let mut rows: Vec<AuditRow> = Vec::new();
        for id in 1..=n {
            let mut r = AuditRow {
                id,
                at: 1000 + id,
                user_id: Some(1),
                username: Some("ana".into()),
                action: "view".into(),
                episode_id: Some("E1".into()),
                version_id: None,
                detail: "{}".into(),
                prev_hash: rows
                    .last()
                    .map_or(GENESIS_HASH.to_string(), |p| p.hash.clone()),
                hash: String::new(),
                key_id: key.filter(|_| id >= keyed_from).map(|k| k.id().to_string()),
            };
            r.hash = row_hash(&r, key);
            rows.push(r);
        }
        rows
    }

    fn check(rows: &[AuditRow], head: Option<(i64, String)>) -> AuditCheck {
        check_with(rows, head, None, &[])
    }

    fn check_with(
        rows: &[AuditRow],
        head: Option<(i64, String)>,
        key: Option<&AuditKey>,
        anchors: &[Anchor],
    ) -> AuditCheck {
        let mut c = ChainCheck::new(key, anchors);
        rows.iter().for_each(|r| c.row(r));
        c.finish(head, anchors)
    }

    fn head(rows: &[AuditRow]) -> Option<(i64, String)> {
        rows.last().map(|r| (r.id, r.hash.clone()))
    }

    #[test]
    fn the_chain_finds_changes_deletions_and_a_cut_end() {
        let rows = chained(5, None, 1);
        let head = Some((5, rows[4].hash.clone()));
        assert!(check(&rows, head.clone()).problems.is_empty());

        let mut changed = rows.clone();
        changed[2].detail = "{\"x\":1}".into();
        let p = check(&changed, head.clone()).problems;
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("row 3 was changed"), "{p:?}");

        let mut deleted = rows.clone();
        deleted.remove(1);
        let p = check(&deleted, head.clone()).problems;
        assert!(p.iter().any(|m| m.contains("row 2 was deleted")), "{p:?}");

        let p = check(&rows[..4], head.clone()).problems;
        assert!(
            p.iter()
                .any(|m| m.contains("end was cut") && m.contains("row 5")),
            "{p:?}"
        );

        let p = check(&rows[1..], head).problems;
        assert!(p.iter().any(|m| m.contains("row 1 was deleted")), "{p:?}");

        assert!(
            check(&[], Some((0, GENESIS_HASH.into())))
                .problems
                .is_empty()
        );
    }

    #[test]
    fn keyed_rows_cannot_be_recomputed_without_the_key() {
        let key = AuditKey::from_secret(&[1u8; 32]).unwrap();
        // Rows 1–3 from before the key, 4–8 sealed.
        let rows = chained(8, Some(&key), 4);
        let ok = check_with(&rows, head(&rows), Some(&key), &[]);
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!((ok.keyed_rows, ok.unkeyed_rows), (5, 3));

        // Someone with the database but not the key changes row 6 and recomputes every
        // hash after it the only way they can: SHA-256, as unkeyed rows.
        let mut forged = rows.clone();
        forged[5].detail = "{\"otro\":1}".into();
        for i in 5..8 {
            forged[i].key_id = None;
            forged[i].prev_hash = forged[i - 1].hash.clone();
            forged[i].hash = row_hash(&forged[i], None);
        }
        let p = check_with(&forged, head(&forged), Some(&key), &[]).problems;
        assert!(
            p.iter()
                .any(|m| m.contains("row 6 has no audit key") && m.contains("row 4")),
            "{p:?}"
        );
        // Keeping the key id but not the key: the hash does not match.
        let mut guessed = rows.clone();
        guessed[5].detail = "{\"otro\":1}".into();
        guessed[5].hash = row_hash(&guessed[5], None);
        let p = check_with(&guessed, head(&rows), Some(&key), &[]).problems;
        assert!(p.iter().any(|m| m.contains("row 6 was changed")), "{p:?}");
    }

    #[test]
    fn another_key_is_named_not_taken_for_tampering() {
        let key = AuditKey::from_secret(&[1u8; 32]).unwrap();
        let other = AuditKey::from_secret(&[2u8; 32]).unwrap();
        let rows = chained(3, Some(&other), 1);
        let p = check_with(&rows, head(&rows), Some(&key), &[]).problems;
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains(other.id())
                && p[0].contains(key.id())
                && p[0].contains("EPICRISIS_AUDIT_KEY_FILE"),
            "{p:?}"
        );
        let p = check_with(&rows, head(&rows), None, &[]).problems;
        assert!(p[0].contains("has no audit key"), "{p:?}");
    }

    #[test]
    fn anchors_find_a_chain_rewritten_from_the_start_or_cut() {
        let key = AuditKey::from_secret(&[1u8; 32]).unwrap();
        let rows = chained(6, Some(&key), 1);
        let anchors = [
            Anchor::new(&key, 1_000, 3, &rows[2].hash),
            Anchor::new(&key, 2_000, 6, &rows[5].hash),
        ];
        let ok = check_with(&rows, head(&rows), Some(&key), &anchors);
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        assert_eq!(ok.anchors, 2);

        // The whole trail rewritten as unkeyed rows, head included: consistent by itself,
        // but not with what the anchor file saw.
        let mut rewritten = chained(6, None, 1);
        rewritten[1].detail = "{\"otro\":1}".into();
        for i in 1..6 {
            rewritten[i].prev_hash = rewritten[i - 1].hash.clone();
            rewritten[i].hash = row_hash(&rewritten[i], None);
        }
        let alone = check_with(&rewritten, head(&rewritten), Some(&key), &[]);
        assert!(alone.problems.is_empty(), "{:?}", alone.problems);
        let p = check_with(&rewritten, head(&rewritten), Some(&key), &anchors).problems;
        assert!(
            p.iter()
                .any(|m| m.contains("row 3 is not the row anchored")),
            "{p:?}"
        );

        // The last two rows and the head cut back together.
        let p = check_with(&rows[..4], head(&rows[..4]), Some(&key), &anchors).problems;
        assert!(
            p.iter()
                .any(|m| m.contains("end was cut") && m.contains("row 6 was anchored")),
            "{p:?}"
        );
    }
}
