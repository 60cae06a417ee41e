//! `epicrisis backup ARCHIVO` and `epicrisis restore ARCHIVO`: the store's logical backup
//! (`epicrisis_store::backup`: one snapshot, one JSON Lines file with a manifest of
//! SHA-256 sums, SQLite or PostgreSQL either way) and its restore into an empty store,
//! followed by the same checks as `audit verify` and `versions verify` (every version).
//!
//! Progress and errors go to standard error, the summary to standard output, in Spanish;
//! neither names a patient nor quotes clinical text (table names, counts, ids, hashes).
//! The audit key is never written to a backup: both commands say where it is and that it
//! must be kept, separately.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use epicrisis_store::backup::{self, BackupError, BackupSummary, Manifest, RestoreReport};
use epicrisis_store::{Backend, Store, VersionStatus};

use crate::Failure;
use crate::config::{Config, KeySource};
use crate::serve_cmd::{audit_admin, open_store, runtime, store_config, store_err};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// El archivo del respaldo, que se crea con permisos 0600 (contiene datos de
    /// pacientes); aparece solo cuando está completo.
    #[arg(value_name = "ARCHIVO")]
    pub file: PathBuf,
    /// Reemplaza ARCHIVO si ya existe (sin esta opción, un archivo existente no se toca).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Un respaldo hecho con `epicrisis backup`.
    #[arg(value_name = "ARCHIVO")]
    pub file: PathBuf,
    /// Solo revisa el archivo (formato, versión del esquema, filas y suma SHA-256 de cada
    /// tabla) sin tocar ninguna base de datos.
    #[arg(long)]
    pub check: bool,
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// Prints a section's rows on standard error (the anchor file's lines as such).
fn progress_line(rows: &'static str, anchors: &'static str) -> impl FnMut(&str, u64) + Send {
    move |section: &str, n: u64| {
        if section == backup::ANCHOR_SECTION {
            eprintln!("  archivo de anclas: {n} línea(s) {anchors}");
        } else {
            eprintln!("  {section}: {n} fila(s) {rows}");
        }
    }
}

pub fn backup(args: BackupArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let config = store_config(env_file)?;
    if !args.force && args.file.exists() {
        return Err(explain(BackupError::Exists(args.file.clone())));
    }
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        eprintln!(
            "respaldando la base de datos {} de DATABASE_URL en {}…",
            backend_name(store.backend()),
            args.file.display()
        );
        // Audited (and anchored) before the snapshot, so that the backup holds its own row.
        let detail = serde_json::json!({"file": args.file.display().to_string()});
        audit_admin(&store, "backup", detail).await?;
        let started = Instant::now();
        let summary = store
            .backup_to(
                &args.file,
                args.force,
                &mut progress_line("respaldada(s)", "copiada(s)"),
            )
            .await
            .map_err(explain)?;
        eprintln!(
            "respaldo escrito en {:.1} s",
            started.elapsed().as_secs_f64()
        );
        print_backup(&args.file, &summary, &config);
        Ok(ExitCode::SUCCESS)
    })
}

fn print_backup(file: &Path, s: &BackupSummary, config: &Config) {
    let m = &s.manifest;
    println!(
        "respaldo completo: {} ({:.1} MB, {} fila(s) de {} tabla(s), esquema {}, {} del {})",
        file.display(),
        s.bytes as f64 / 1e6,
        m.table_rows(),
        m.sections.len() - 1,
        m.schema_version,
        backend_name(m.source_backend),
        m.created_at_utc
    );
    println!("sha256 del archivo: {}", s.file_sha256);
    println!(
        "bitácora: {} fila(s), última {}{}",
        m.audit.rows,
        m.audit.head_id,
        m.audit
            .key_id
            .as_ref()
            .map_or_else(String::new, |k| format!(", sellada con la clave {k}"))
    );
    println!(
        "el archivo tiene datos de pacientes (permisos 0600): guárdelo en un lugar de acceso \
         restringido o cifrado"
    );
    println!("NO está en el respaldo; respáldelo aparte:");
    println!("- {}", key_words(config));
    if let Some(anchor) = &config.audit.anchor {
        println!(
            "- el archivo de anclas {} (EPICRISIS_AUDIT_ANCHOR_FILE): el respaldo lleva una \
             copia de sus líneas, pero consérvelo también",
            anchor.display()
        );
    }
    println!("- la configuración (.env o las variables de entorno del servicio) y los modelos");
}

/// Where the audit key is, in words, and why it must be kept apart.
fn key_words(config: &Config) -> String {
    let why = "sin ella la bitácora restaurada no se puede verificar ni continuar; guárdela \
               separada de los respaldos (quien tenga ambos podría reescribir la bitácora)";
    match &config.audit.key {
        KeySource::File(p) | KeySource::FileOrCreate(p) => format!(
            "la clave de auditoría {} (EPICRISIS_AUDIT_KEY_FILE): {why}",
            p.display()
        ),
        KeySource::Ephemeral => {
            "la clave de auditoría vive solo en memoria (base de datos en memoria)".to_string()
        }
        KeySource::None => "no hay clave de auditoría configurada (EPICRISIS_AUDIT_KEY_FILE): la \
                            bitácora se sella solo con SHA-256"
            .to_string(),
    }
}

pub fn restore(args: RestoreArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let started = Instant::now();
    eprintln!("revisando {}…", args.file.display());
    let manifest = backup::check_backup(
        &args.file,
        &mut progress_line("con su suma correcta", "con su suma correcta"),
    )
    .map_err(explain)?;
    print_manifest(&args.file, &manifest);
    if args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let config = store_config(env_file)?;
    key_ready(&config, &manifest)?;
    runtime()?.block_on(async move {
        let store = open_store(&config).await?;
        eprintln!(
            "restaurando en la base de datos {} de DATABASE_URL…",
            backend_name(store.backend())
        );
        let report = store
            .restore_backup(
                &args.file,
                &manifest,
                &mut progress_line("restaurada(s)", "leída(s)"),
            )
            .await
            .map_err(explain)?;
        let detail = serde_json::json!({
            "file": args.file.display().to_string(),
            "backupCreatedAt": manifest.created_at,
            "rows": manifest.table_rows(),
        });
        audit_admin(&store, "restore", detail).await?;
        eprintln!(
            "restaurado en {:.1} s; verificando…",
            started.elapsed().as_secs_f64()
        );
        let ok = verify_restored(&store, &report).await?;
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

fn print_manifest(file: &Path, m: &Manifest) {
    println!(
        "respaldo íntegro: {} ({} fila(s) de {} tabla(s), esquema {}, {} del {}, epicrisis {})",
        file.display(),
        m.table_rows(),
        m.sections.len() - 1,
        m.schema_version,
        backend_name(m.source_backend),
        m.created_at_utc,
        m.program_version
    );
}

/// Refuses, before any database is opened or key file created, a keyed backup whose key
/// is not where the configuration says (a new SQLite file's default key would be a new
/// one). A key that exists but is another is refused by the store.
fn key_ready(config: &Config, m: &Manifest) -> Result<(), Failure> {
    let Some(want) = &m.audit.key_id else {
        return Ok(());
    };
    let nothing = "nada se restauró";
    match &config.audit.key {
        KeySource::None => Err(Failure::Input(format!(
            "la bitácora del respaldo está sellada con la clave de auditoría {want} y no hay \
             clave configurada: ponga en EPICRISIS_AUDIT_KEY_FILE el archivo de esa clave (la \
             del servidor respaldado; no va en el respaldo); {nothing}"
        ))),
        KeySource::Ephemeral => Err(Failure::Input(format!(
            "la bitácora del respaldo está sellada con la clave de auditoría {want}, y una base \
             de datos en memoria no usa un archivo de clave: restaure en un archivo \
             (DATABASE_URL=sqlite:RUTA) o en PostgreSQL; {nothing}"
        ))),
        KeySource::File(p) | KeySource::FileOrCreate(p) if !p.exists() => {
            Err(Failure::Input(format!(
                "la bitácora del respaldo está sellada con la clave de auditoría {want} y {} no \
                 existe: copie ahí el archivo de esa clave (la EPICRISIS_AUDIT_KEY_FILE del \
                 servidor respaldado; no va en el respaldo) o apunte EPICRISIS_AUDIT_KEY_FILE a \
                 él; {nothing}",
                p.display()
            )))
        }
        _ => Ok(()),
    }
}

/// The restored store's counts, audit trail and versions; `false` if anything fails.
async fn verify_restored(store: &Store, report: &RestoreReport) -> Result<bool, Failure> {
    let mut ok = report.counts_match();
    for t in report.tables.iter().filter(|t| t.expected != t.found) {
        println!(
            "tabla {}: {} fila(s) en el respaldo, {} en la base de datos",
            t.table, t.expected, t.found
        );
    }
    let rows: u64 = report.tables.iter().map(|t| t.found).sum();
    println!(
        "restauradas {rows} fila(s) de {} tabla(s){}",
        report.tables.len(),
        if ok { ", como dice el manifiesto" } else { "" }
    );
    match &report.anchors_written {
        Some((path, n)) => println!(
            "archivo de anclas {} escrito con {n} línea(s) del respaldo",
            path.display()
        ),
        None if report.anchor_lines > 0 => println!(
            "el archivo de anclas configurado ya existía: se dejó como estaba (el respaldo traía \
             {} línea(s))",
            report.anchor_lines
        ),
        None => {}
    }
    let check = store.verify_audit().await.map_err(store_err)?;
    crate::audit_cmd::print_check(&check);
    if !check.problems.is_empty() {
        ok = false;
        println!(
            "si el archivo de anclas es más nuevo que el respaldo, las acciones posteriores al \
             respaldo se perdieron y la verificación lo señala: guarde ese archivo aparte como \
             evidencia y deje que el servidor comience uno nuevo"
        );
    }
    ok &= verify_versions(store).await?;
    Ok(ok)
}

/// Every version's hash recomputed; prints the verdict, and each version that fails.
async fn verify_versions(store: &Store) -> Result<bool, Failure> {
    let checks = store.verify_all_versions().await.map_err(store_err)?;
    let signed = checks
        .iter()
        .filter(|c| c.status == VersionStatus::Signed)
        .count();
    let bad: Vec<_> = checks.iter().filter(|c| !c.matches).collect();
    for c in &bad {
        println!("ALTERADA {}", c.message());
    }
    if bad.is_empty() {
        println!(
            "versiones: {} verificada(s) ({signed} firmada(s)), todas coinciden con su huella",
            checks.len()
        );
    } else {
        println!(
            "versiones: {} de {} no coinciden con su huella",
            bad.len(),
            checks.len()
        );
    }
    Ok(bad.is_empty())
}

/// A backup's or restore's failure in Spanish, with what to do.
fn explain(e: BackupError) -> Failure {
    use BackupError as E;
    let nothing = "nada se restauró";
    Failure::Input(match e {
        E::NewerSchema { found, known } => format!(
            "el respaldo es del esquema {found} de la base de datos y este programa conoce hasta \
             el {known}: restaure con la versión de epicrisis que lo escribió (o una más nueva); \
             {nothing}"
        ),
        E::NotEmpty(table) => format!(
            "la base de datos de DATABASE_URL no está vacía (la tabla {table} tiene filas): \
             restaure en una base de datos nueva —un archivo SQLite que aún no exista, o una \
             base PostgreSQL recién creada con CREATE DATABASE— y apunte DATABASE_URL a ella; \
             {nothing}"
        ),
        E::KeyMismatch { backup, configured } => format!(
            "la bitácora del respaldo está sellada con la clave de auditoría {backup} y la clave \
             configurada es {}: ponga en EPICRISIS_AUDIT_KEY_FILE el archivo de la clave \
             {backup} (la del servidor respaldado); {nothing}",
            configured.as_deref().unwrap_or("ninguna")
        ),
        E::Schema(reason) => {
            return Failure::Internal(anyhow::anyhow!(
                "la base de datos no tiene las columnas que este programa respalda: {reason}"
            ));
        }
        E::Store(e) => return Failure::Internal(anyhow::anyhow!("{e} (DATABASE_URL)")),
        other => explain_file(other),
    })
}

/// What is wrong with the backup's file (or its place), in Spanish, with what to do.
fn explain_file(e: BackupError) -> String {
    use BackupError as E;
    let nothing = "nada se restauró";
    match e {
        E::File { file, reason } => format!(
            "{}: {reason}; revise la ruta, los permisos y el espacio en disco",
            file.display()
        ),
        E::Exists(p) => format!(
            "{}: el archivo ya existe; elija otro nombre o use --force para reemplazarlo",
            p.display()
        ),
        E::PartialExists(p) => format!(
            "{}: existe de un respaldo en curso o interrumpido; si no hay otro `epicrisis \
             backup` hacia el mismo archivo, bórrelo y repita",
            p.display()
        ),
        E::NotABackup(p) => format!(
            "{}: no es un respaldo de epicrisis (su primera línea no es el encabezado de uno); \
             use un archivo hecho con `epicrisis backup`",
            p.display()
        ),
        E::Format { file, line, reason } => format!(
            "{}, línea {line}: el respaldo está dañado o fue modificado ({reason}); use otro \
             respaldo; {nothing}",
            file.display()
        ),
        E::NewerFormat { file, found, known } => format!(
            "{}: respaldo de formato {found}; este programa lee hasta el formato {known}: \
             restaure con la versión de epicrisis que lo escribió (o una más nueva)",
            file.display()
        ),
        E::Checksum { file, section } => format!(
            "{}: la tabla {section} no coincide con su suma SHA-256 del manifiesto: el archivo \
             fue modificado o está dañado; use otro respaldo; {nothing}",
            file.display()
        ),
        E::Count {
            file,
            section,
            expected,
            found,
        } => format!(
            "{}: la tabla {section} tiene {found} fila(s) y el manifiesto dice {expected}: el \
             archivo está incompleto o dañado; use otro respaldo; {nothing}",
            file.display()
        ),
        E::Incomplete(p) => format!(
            "{}: el archivo termina antes de su manifiesto: está incompleto (respaldo \
             interrumpido, disco lleno o copia cortada); use otro respaldo; {nothing}",
            p.display()
        ),
        // Handled by `explain`.
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do_in_spanish() {
        let msg = |e| match explain(e) {
            Failure::Input(m) => m,
            Failure::Internal(e) => format!("{e}"),
        };
        let m = msg(BackupError::NotEmpty("users".into()));
        assert!(m.contains("DATABASE_URL") && m.contains("users") && m.contains("nueva"));
        let m = msg(BackupError::Checksum {
            file: PathBuf::from("r.jsonl"),
            section: "versions".into(),
        });
        assert!(m.contains("r.jsonl") && m.contains("versions") && m.contains("SHA-256"));
        let m = msg(BackupError::NewerSchema { found: 9, known: 7 });
        assert!(m.contains("9") && m.contains("más nueva"));
    }
}
