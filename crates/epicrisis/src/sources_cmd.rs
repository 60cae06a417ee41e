//! `epicrisis sources check` and `epicrisis pull`: the configured source of episodes (a
//! FHIR server or the hospital's database; see `config/sources.rs` and docs/sources.md).
//!
//! `sources check` says whether the source answers, accepts the credentials, lists the
//! recent discharges and gives a sample episode the readers can read, in counts only: no
//! patient data is printed. `pull` imports the discharges since a date (or episodes by
//! number) and drafts them as one batch, like `batch` does with files; running it again
//! imports nothing twice.

use crate::Failure;
use crate::batch_cmd::{DraftingArgs, Gather};
use crate::cli::T_ARGUMENTOS;
use crate::config::Config;
use crate::intake;
use clap::{Args, Subcommand};
use epicrisis_server::AppState;
use epicrisis_server::auth::Principal;
use epicrisis_server::batches::Refused;
use epicrisis_sources::{Since, Source};
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Revisa la fuente configurada: conexión, credenciales, altas recientes y un episodio
    /// de muestra leído (solo cantidades; no muestra datos de pacientes).
    Check {
        /// Desde qué fecha listar altas (AAAA-MM-DD; predeterminado: hace 7 días).
        #[arg(long, value_name = "FECHA")]
        since: Option<String>,
        /// Lee este episodio como muestra (en vez del último alta listado).
        #[arg(long, value_name = "NÚMERO")]
        episode: Option<String>,
    },
    /// Envía epicrisis firmadas al servidor FHIR de la fuente, como DocumentReference con
    /// el PDF, el texto y el documento FHIR adjuntos; el envío queda en la auditoría.
    /// Enviar dos veces la misma firma no la duplica en el servidor.
    #[command(help_template = T_ARGUMENTOS)]
    Send {
        /// Ids de las versiones firmadas (los de /api/v1/versions/ID).
        #[arg(required = true, value_name = "VERSIÓN")]
        versions: Vec<i64>,
        /// La cuenta a cuyo nombre se envía (queda en la auditoría); predeterminada:
        /// EPICRISIS_PULL_AS.
        #[arg(long = "as", value_name = "USUARIO")]
        user: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Trae las altas desde esta fecha (AAAA-MM-DD).
    #[arg(long, value_name = "FECHA")]
    pub since: Option<String>,
    /// Trae este episodio por su número en la fuente (se puede repetir).
    #[arg(long = "episode", value_name = "NÚMERO")]
    pub episodes: Vec<String>,
    /// Solo importa: no pide borradores.
    #[arg(long)]
    pub no_draft: bool,
    #[command(flatten)]
    pub drafting: DraftingArgs,
}

pub fn pull(args: PullArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let since = args
        .since
        .as_deref()
        .map(|s| Since::parse(s).map_err(|e| Failure::Input(format!("--since: {e}"))))
        .transpose()?;
    if since.is_none() && args.episodes.is_empty() {
        return Err(Failure::Input(
            "indique --since AAAA-MM-DD (las altas desde esa fecha) o --episode NÚMERO".into(),
        ));
    }
    let gather = Gather::Source {
        since,
        keys: args.episodes,
        draft: !args.no_draft,
    };
    crate::batch_cmd::run(&args.drafting, env_file, gather)
}

/// The configured source, connected.
pub(crate) async fn connect(config: &Config) -> Result<Source, Failure> {
    let Some(c) = config.sources.source.clone() else {
        return Err(no_source());
    };
    Source::connect(c)
        .await
        .map_err(|e| Failure::Input(e.to_string()))
}

pub(crate) fn no_source() -> Failure {
    Failure::Input(
        "no hay una fuente de episodios configurada: defina EPICRISIS_SOURCE (fhir o sql) y \
         sus ajustes (docs/sources.md)"
            .into(),
    )
}

/// `pull`'s import: reads from the source and stores; the ids stored and what was refused.
pub(crate) async fn pull_into(
    state: &AppState,
    config: &Config,
    p: &Principal,
    since: Option<Since>,
    keys: &[String],
) -> Result<(Vec<String>, Vec<Refused>), Failure> {
    let source = connect(config).await?;
    eprintln!("fuente: {}", source.describe());
    let fetched = intake::fetch(&source, since, keys)
        .await
        .map_err(|e| Failure::Input(e.to_string()))?;
    if let Some(since) = since {
        eprintln!("altas desde {}: {}", since.iso(), fetched.listed);
    }
    let (ids, mut refused) = intake::import(state, &fetched.pulled).await;
    refused.extend(fetched.refused);
    intake::audit_pull(state, p, &source, "pull", ids.len(), refused.len()).await;
    Ok((ids, refused))
}

/// `pull --no-draft`'s report.
pub(crate) fn imported_only(ids: &[String], refused: &[Refused]) -> ExitCode {
    eprintln!(
        "{} episodios importados; {} con problemas",
        ids.len(),
        refused.len()
    );
    for r in refused {
        eprintln!("no se importó {}: {}", r.episode_id, r.reason);
    }
    if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn sources(cmd: SourcesCommand, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let (since, episode) = match cmd {
        SourcesCommand::Check { since, episode } => (since, episode),
        SourcesCommand::Send { versions, user } => {
            return crate::writeback::send(&versions, user, env_file);
        }
    };
    let (_, config) = crate::config::load(env_file, None)?;
    let since = match since {
        Some(s) => Since::parse(&s).map_err(|e| Failure::Input(format!("--since: {e}")))?,
        None => intake::since_days(8),
    };
    crate::serve_cmd::runtime()?.block_on(check(&config, since, episode))
}

async fn check(config: &Config, since: Since, sample: Option<String>) -> Result<ExitCode, Failure> {
    let source = connect(config).await?;
    println!("fuente: {}", source.describe());
    let listed = match source.discharged_since(since).await {
        Ok(list) => {
            println!("✓ la fuente responde y acepta las credenciales");
            println!("✓ altas desde {}: {}", since.iso(), list.len());
            list
        }
        Err(e) if sample.is_some() => {
            println!("✗ no se pudieron listar las altas: {e}");
            Vec::new()
        }
        Err(e) => return Err(Failure::Input(e.to_string())),
    };
    let mut ok = true;
    match sample.or_else(|| listed.last().map(|d| d.id.clone())) {
        None => println!(
            "– no hay altas desde {} para leer una muestra: use --since con una fecha anterior, \
             o --episode NÚMERO",
            since.iso()
        ),
        Some(key) => ok &= check_sample(&source, &key).await,
    }
    print_services(config);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads one episode and says what the readers found in it, in counts.
async fn check_sample(source: &Source, key: &str) -> bool {
    let fetched = match source.episode(key).await {
        Ok(f) => f,
        Err(e) => {
            println!("✗ el episodio de muestra no se pudo leer: {e}");
            return false;
        }
    };
    match epicrisis_ingest::read_episode(&fetched.document, "fuente") {
        Ok(ep) => {
            println!(
                "✓ episodio de muestra leído ({}): forma {}, {} diagnósticos, {} procedimientos, \
                 {} tratamientos, {} medicamentos al alta, {} notas de evolución, {} exámenes, \
                 {} avisos de lectura",
                fetched.summary,
                ep.shape.as_str(),
                ep.admission_diagnoses.len() + ep.discharge_diagnoses.len(),
                ep.procedures.len(),
                ep.treatments.len(),
                ep.discharge.medications.len(),
                ep.evolution.len(),
                ep.labs.len(),
                ep.warnings.len()
            );
            true
        }
        Err(e) => {
            println!("✗ el episodio de muestra llegó, pero no se puede leer como episodio: {e}");
            false
        }
    }
}

/// What `serve` will do with the source.
fn print_services(config: &Config) {
    let s = &config.sources;
    match s.mllp_listen {
        Some(addr) => println!("HL7 v2: `serve` recibe ADT^A03 por MLLP en {addr}"),
        None => println!("HL7 v2: sin escucha (EPICRISIS_MLLP_LISTEN)"),
    }
    match s.pull_every {
        Some(every) => println!(
            "importación programada: cada {} min, las altas de los últimos {} días, a nombre de {}",
            every.as_secs() / 60,
            s.pull_days,
            s.pull_as.as_deref().unwrap_or("?")
        ),
        None => println!("importación programada: no (EPICRISIS_PULL_EVERY_MINUTES)"),
    }
}
