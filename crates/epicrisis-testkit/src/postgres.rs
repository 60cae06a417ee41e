//! The test PostgreSQL: `scripts/test.sh` starts a private cluster on 127.0.0.1 and puts
//! the administrator's URL in `EPICRISIS_TEST_DATABASE_URL`; tests create a database of
//! their own on it ([`database_url`] with a [`crate::unique`] name) and drop it at the end.

/// The variable holding the administrator URL (a user that may `CREATE DATABASE`).
pub const ADMIN_URL: &str = "EPICRISIS_TEST_DATABASE_URL";

/// The administrator URL; `None` (skip or fail, [`crate::skip_or_fail`]) when unset.
#[track_caller]
pub fn admin_url() -> Option<String> {
    let url = std::env::var(ADMIN_URL)
        .ok()
        .filter(|u| !u.trim().is_empty());
    crate::require(
        url,
        &format!("{ADMIN_URL} is not set"),
        "run scripts/test.sh (it starts a private PostgreSQL on 127.0.0.1:54329), or point \
         it at a PostgreSQL administrator URL whose user may CREATE DATABASE, e.g. \
         postgres://postgres@127.0.0.1:54329/postgres",
    )
}

/// `url` with its database replaced by `name` (`postgres://u@h:p/db?x` →
/// `postgres://u@h:p/name?x`).
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// A database name for a test: `prefix` and a [`crate::unique`] suffix, lower case, safe
/// to put unquoted in SQL.
pub fn database_name(prefix: &str) -> String {
    format!("{prefix}_{}", crate::unique())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            database_url("postgres://u@h:5/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5/t1?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://u@h:5", "t1"),
            "postgres://u@h:5/t1"
        );
    }

    #[test]
    fn names_are_safe_sql_identifiers() {
        let n = database_name("Serve-E2E");
        assert!(n.starts_with("serve_e2e_"), "{n}");
        assert!(
            n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{n}"
        );
    }
}
