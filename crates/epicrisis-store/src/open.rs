//! Opening: the URL (`sqlite:PATH`, `sqlite::memory:`, `postgres://…`), the pool and its
//! SQLite pragmas, messages that say what to check (with the password masked), then the
//! migrations ([`migrate`](crate::migrate)).

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection};

use crate::{Backend, Result, Store, StoreError, migrate};

impl Store {
    /// Opens (creating the SQLite file and its folder when missing) and migrates.
    pub async fn open(url: &str) -> Result<Store> {
        install_drivers();
        let target = parse_url(url)?;
        let (options, connect_url) = pool_options(&target)?;
        let place = target.place();
        let failed = |e: sqlx::Error| StoreError::Open {
            place: place.clone(),
            reason: open_reason(&target, &e),
        };
        // One plain connection first: the pool would retry an unreachable server until its
        // acquire timeout, and the reason is better reported at once.
        if !matches!(target, Target::Sqlite { path: None, .. }) {
            let probe = <AnyConnection as Connection>::connect(&connect_url)
                .await
                .map_err(failed)?;
            let _ = probe.close().await;
        }
        let pool = options.connect(&connect_url).await.map_err(failed)?;
        let mut store = Store {
            pool,
            backend: match target {
                Target::Postgres { .. } => Backend::Postgres,
                Target::Sqlite { .. } => Backend::Sqlite,
            },
            pgvector: false,
            listen_url: matches!(target, Target::Postgres { .. }).then(|| connect_url.clone()),
            seal: Default::default(),
            last_anchor: Default::default(),
        };
        migrate::run(&store.pool, store.backend)
            .await
            .map_err(|e| match e {
                StoreError::Db(reason) => StoreError::Open {
                    place: place.clone(),
                    reason: format!("migrating the schema failed: {reason}"),
                },
                StoreError::Conflict(reason) => StoreError::Open {
                    place: place.clone(),
                    reason,
                },
                other => other,
            })?;
        if store.backend == Backend::Postgres {
            store.pgvector = store
                .enable_pgvector()
                .await
                .map_err(|e| StoreError::Open {
                    place: place.clone(),
                    reason: format!("setting up the pgvector column failed: {e}"),
                })?;
        }
        Ok(store)
    }
}

/// The pool's options and the URL handed to sqlx; creates the SQLite file's folder.
fn pool_options(target: &Target) -> Result<(AnyPoolOptions, String)> {
    let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
    Ok(match target {
        Target::Postgres { url } => (options.max_connections(10), url.clone()),
        Target::Sqlite { path: None, .. } => {
            // One shared in-memory database: keep a connection so that it lives on.
            let options = options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)));
            (options, "sqlite::memory:".to_string())
        }
        Target::Sqlite {
            path: Some(path),
            params,
        } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                    place: path.display().to_string(),
                    reason: format!(
                        "cannot create the folder {}: {e}; create it or choose a writable place",
                        dir.display()
                    ),
                })?;
            }
            create_private(path)?;
            let options = options
                .max_connections(8)
                .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn)))
                .after_release(|conn, _| Box::pin(still_usable(conn)));
            (options, sqlite_url(path, params))
        }
    })
}

/// Creates a missing SQLite file with mode 0600, so that the episodes, drafts and audit
/// trail are readable by this user only. SQLite gives its `-wal` and `-shm` files the
/// database file's mode. An existing file keeps its mode (`doctor` warns when others can
/// read it).
fn create_private(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    match crate::audit::private_file(path, false) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Open {
            place: path.display().to_string(),
            reason: format!(
                "cannot create the file: {e}; check that the folder is writable by this user"
            ),
        }),
    }
}

pub(crate) fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

enum Target {
    Sqlite {
        path: Option<PathBuf>,
        params: Option<String>,
    },
    Postgres {
        url: String,
    },
}

impl Target {
    /// Where, for messages: the file, or the PostgreSQL URL with its password masked.
    fn place(&self) -> String {
        match self {
            Target::Sqlite { path: Some(p), .. } => p.display().to_string(),
            Target::Sqlite { path: None, .. } => "sqlite::memory:".to_string(),
            Target::Postgres { url } => mask_password(url),
        }
    }
}

fn parse_url(url: &str) -> Result<Target> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres {
            url: url.to_string(),
        });
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::BadUrl(mask_password(url)))?;
    let (path, params) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string()).filter(|q| !q.is_empty())),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    if path == ":memory:" {
        return Ok(Target::Sqlite {
            path: None,
            params: None,
        });
    }
    Ok(Target::Sqlite {
        path: Some(PathBuf::from(path)),
        params,
    })
}

/// The URL handed to sqlx: `sqlite:PATH?mode=rwc` (the file is created when missing),
/// with the characters that URLs give a meaning to escaped.
fn sqlite_url(path: &Path, params: &Option<String>) -> String {
    let mut s = String::from("sqlite:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => s.push_str("%25"),
            '?' => s.push_str("%3F"),
            '#' => s.push_str("%23"),
            ' ' => s.push_str("%20"),
            c => s.push(c),
        }
    }
    match params {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => s + "?" + q,
        Some(q) => s + "?mode=rwc&" + q,
        None => s + "?mode=rwc",
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

fn open_reason(target: &Target, e: &sqlx::Error) -> String {
    match target {
        Target::Sqlite { path: Some(p), .. } => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ".".to_string(), |d| d.display().to_string());
            format!(
                "{e}; check that the folder {dir} exists and is writable by this user, that the \
                 file is a SQLite database and that no other program holds it locked"
            )
        }
        Target::Sqlite { path: None, .. } => e.to_string(),
        Target::Postgres { .. } => format!(
            "{e}; check that the server is running and reachable, and the user, password and \
             database name in DATABASE_URL"
        ),
    }
}

/// Whether a connection given back to the pool may be kept. Only after a write failed
/// for lack of room ([`crate::error::SUSPECT_RELEASES`]): a connection on which a
/// transaction cannot begin is closed (the pool opens a fresh one), so that one full disk
/// does not leave the server refusing writes after room was made.
async fn still_usable(conn: &mut AnyConnection) -> std::result::Result<bool, sqlx::Error> {
    use std::sync::atomic::Ordering::SeqCst;
    let suspect = &crate::error::SUSPECT_RELEASES;
    if suspect
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_err()
    {
        return Ok(true);
    }
    match conn.begin_with("BEGIN").await {
        Ok(tx) => {
            tx.rollback().await?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

async fn sqlite_pragmas(conn: &mut AnyConnection) -> std::result::Result<(), sqlx::Error> {
    // busy_timeout first, so that switching to WAL waits for a lock held by another process.
    sqlx::query("PRAGMA busy_timeout = 5000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password() {
        assert_eq!(
            mask_password("postgres://app:s3cr:et@db.example:5432/epi?sslmode=require"),
            "postgres://app:***@db.example:5432/epi?sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://app@db/epi"),
            "postgres://app@db/epi"
        );
        assert_eq!(mask_password("postgresql://h/epi"), "postgresql://h/epi");
    }

    #[test]
    fn parses_urls() {
        assert!(matches!(
            parse_url("sqlite::memory:"),
            Ok(Target::Sqlite { path: None, .. })
        ));
        match parse_url("sqlite:data/epi.db").unwrap() {
            Target::Sqlite {
                path: Some(p),
                params: None,
            } => assert_eq!(p, Path::new("data/epi.db")),
            _ => panic!("not a file"),
        }
        match parse_url("sqlite:///var/lib/epi.db?cache=shared").unwrap() {
            Target::Sqlite {
                path: Some(p),
                params,
            } => {
                assert_eq!(p, Path::new("/var/lib/epi.db"));
                assert_eq!(params.as_deref(), Some("cache=shared"));
            }
            _ => panic!("not a file"),
        }
        assert!(matches!(
            parse_url("postgresql://u@h/d"),
            Ok(Target::Postgres { .. })
        ));
        assert!(matches!(
            parse_url("mysql://u@h/d"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(parse_url("sqlite:"), Err(StoreError::BadUrl(_))));
        assert!(matches!(parse_url("epi.db"), Err(StoreError::BadUrl(_))));
    }

    #[test]
    fn sqlite_urls_create_the_file_and_escape() {
        assert_eq!(
            sqlite_url(Path::new("a b/x%y.db"), &None),
            "sqlite:a%20b/x%25y.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url(Path::new("/x.db"), &Some("mode=ro".into())),
            "sqlite:/x.db?mode=ro"
        );
    }
}
