//! The «audit trail» check: the key that seals the trail, the anchor file, and who can
//! read the SQLite file (see `config::AuditSettings` and docs/operations.md).

use std::path::Path;

use super::{Check, Verdict, check, io_text};
use crate::config::{Config, KeySource};

pub(super) fn audit_check(config: &Config) -> Check {
    let audit = &config.audit;
    let (key_path, may_create) = match &audit.key {
        KeySource::None => {
            return check(
                "audit trail",
                Verdict::Warn,
                "sin clave de auditoría: la bitácora se encadena solo con SHA-256, que quien \
                 escriba en la base de datos puede recalcular",
                "cree la clave con `epicrisis audit new-key ARCHIVO` y póngala en \
                 EPICRISIS_AUDIT_KEY_FILE de cada servidor y worker",
            );
        }
        KeySource::Ephemeral => {
            return check(
                "audit trail",
                Verdict::Ok,
                "base de datos en memoria: clave de auditoría temporal, sin archivo de anclas",
                "",
            );
        }
        KeySource::File(p) => (p, false),
        KeySource::FileOrCreate(p) => (p, true),
    };
    let mut warnings = Vec::new();
    let key = match key_state(key_path, may_create, &mut warnings) {
        Ok(key) => key,
        Err(failed) => return failed,
    };
    let anchor = match anchor_state(config, &mut warnings) {
        Ok(anchor) => anchor,
        Err(failed) => return failed,
    };
    if let Some(db) = crate::config::sqlite_file(&config.database_url)
        && readable_by_others(&db)
    {
        warnings.push(format!(
            "chmod 600 {0} {0}-wal {0}-shm (otros usuarios pueden leer la base)",
            db.display()
        ));
    }
    let detail = format!("{key}; {anchor}");
    if warnings.is_empty() {
        check("audit trail", Verdict::Ok, detail, "")
    } else {
        check("audit trail", Verdict::Warn, detail, warnings.join("; "))
    }
}

/// The audit key file: what the check says of it, a warning when others may read it, or
/// the failed check when it is missing (and may not be created) or unreadable.
fn key_state(
    key_path: &Path,
    may_create: bool,
    warnings: &mut Vec<String>,
) -> Result<String, Check> {
    match std::fs::metadata(key_path) {
        Err(_) if may_create => Ok(format!(
            "la clave se creará en {} al primer uso",
            key_path.display()
        )),
        Err(e) => Err(check(
            "audit trail",
            Verdict::Fail,
            format!(
                "EPICRISIS_AUDIT_KEY_FILE {}: {}",
                key_path.display(),
                io_text(&e)
            ),
            "cree la clave una vez (`epicrisis audit new-key ARCHIVO`) y copie el mismo \
             archivo a cada servidor y worker",
        )),
        Ok(_) => match epicrisis_store::AuditKey::load(key_path) {
            Ok(k) => {
                if readable_by_others(key_path) {
                    warnings.push(format!("chmod 600 {}", key_path.display()));
                }
                Ok(format!("clave {} en {}", k.id(), key_path.display()))
            }
            Err(e) => Err(check(
                "audit trail",
                Verdict::Fail,
                e.to_string(),
                "use el archivo de clave de los demás servidores, o cree uno con `epicrisis \
                 audit new-key ARCHIVO` si la bitácora aún no tiene filas selladas",
            )),
        },
    }
}

/// The anchor file: where and how often, a warning when none is set, or the failed check
/// when the server could not write it.
fn anchor_state(config: &Config, warnings: &mut Vec<String>) -> Result<String, Check> {
    let audit = &config.audit;
    match &audit.anchor {
        None => {
            warnings.push("defina EPICRISIS_AUDIT_ANCHOR_FILE".to_string());
            Ok("sin archivo de anclas".to_string())
        }
        Some(p) => match writable_place(p) {
            Ok(()) => Ok(format!(
                "anclas en {} cada {} s",
                p.display(),
                audit.anchor_every.as_secs()
            )),
            Err(why) => Err(check(
                "audit trail",
                Verdict::Fail,
                format!("EPICRISIS_AUDIT_ANCHOR_FILE {}: {why}", p.display()),
                "dé al usuario del servidor permiso de escritura en ese archivo y su carpeta",
            )),
        },
    }
}

#[cfg(unix)]
fn readable_by_others(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> bool {
    false
}

/// Whether the file can be appended to (it exists and is writable, or its folder is).
fn writable_place(p: &Path) -> Result<(), String> {
    if p.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .map(|_| ())
            .map_err(|e| io_text(&e));
    }
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        // Created with the file, as the database's folder is.
        return Ok(());
    }
    let probe = dir.join(format!(".epicrisis-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map(|_| {
            let _ = std::fs::remove_file(&probe);
        })
        .map_err(|e| format!("no se puede escribir en {}: {}", dir.display(), io_text(&e)))
}
