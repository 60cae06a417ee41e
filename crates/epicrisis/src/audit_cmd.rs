//! `epicrisis audit`: checks the audit trail (`verify`) and makes the key that seals it
//! (`new-key`). See `epicrisis_store::AuditSeal` and `config::AuditSettings`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use epicrisis_store::{AuditCheck, AuditKey, Store};

use crate::Failure;
use crate::cli::{T_ARGUMENTOS, T_OPCIONES};
use crate::serve_cmd::{runtime, store_config, store_err};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recalcula la cadena de hashes de la bitácora; código de salida 1 si una fila fue
    /// cambiada o borrada.
    #[command(help_template = T_OPCIONES)]
    Verify,
    /// Crea una clave nueva para sellar la bitácora (EPICRISIS_AUDIT_KEY_FILE), con
    /// permisos 0600; nunca sobrescribe un archivo. Con PostgreSQL, cópiela a cada
    /// servidor y worker de la base de datos.
    #[command(name = "new-key", help_template = T_ARGUMENTOS)]
    NewKey {
        /// El archivo que se crea.
        #[arg(value_name = "ARCHIVO")]
        file: std::path::PathBuf,
    },
}

pub fn audit(cmd: AuditCommand, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    match cmd {
        AuditCommand::NewKey { file } => {
            let key = AuditKey::create(&file).map_err(crate::config::seal_failure)?;
            println!(
                "clave de auditoría {} creada en {} (permisos 0600); póngala en \
                 EPICRISIS_AUDIT_KEY_FILE de cada servidor y worker",
                key.id(),
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let config = store_config(env_file)?;
            let seal = config.audit.seal()?;
            runtime()?.block_on(async move {
                // Not `open_store`: a key that does not fit is one of the things to report.
                let store = Store::open(&config.database_url)
                    .await
                    .map_err(|e| Failure::Input(format!("{e} (DATABASE_URL)")))?
                    .with_audit_seal(seal);
                let check = store.verify_audit().await.map_err(store_err)?;
                print_check(&check);
                Ok(if check.problems.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            })
        }
    }
}

pub(crate) fn print_check(check: &AuditCheck) {
    if check.problems.is_empty() {
        let sealed = match &check.key_id {
            Some(k) => format!(", {} sellada(s) con la clave {k}", check.keyed_rows),
            None => String::new(),
        };
        println!(
            "bitácora íntegra: {} fila(s){sealed}, cadena de hashes verificada, {} ancla(s) \
             coinciden",
            check.rows, check.anchors
        );
    } else {
        println!("bitácora ALTERADA ({} fila(s) revisadas):", check.rows);
        for p in &check.problems {
            println!("- {p}");
        }
    }
    for n in &check.notes {
        println!("nota: {n}");
    }
}
