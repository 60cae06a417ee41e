//! `epicrisis batch`: drafts for many episodes at once — a day's discharges. The
//! episodes (a folder of files, a JSONL file with one episode per line, or files) are
//! imported into the store, queued as one batch on behalf of a physician's account, and
//! drafted by a worker in this process (or, with `--no-worker`, by the `epicrisis
//! worker` processes that share the database). A terminal shows a progress line; the
//! report (CSV or JSON) gives each episode's state, errors and seconds.
//!
//! Running it again is cheap and safe: the same files add no new data revision, and an
//! episode that is signed or already has a draft of its current data is not drafted
//! again. Ctrl-C stops the worker (the draft under way goes back to the queue) and
//! writes the report so far.

use crate::Failure;
use crate::cli::{Engine, LayoutArg, ModelArgs};
use crate::serve_cmd::{drafter, job_settings, open_store, runtime};
use clap::Args;
use epicrisis_server::batches::{BatchView, report_csv, start_batch};
use epicrisis_server::{AppState, Server, Settings, auth};
use epicrisis_store::Role;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Los episodios: una carpeta (sus archivos .json y .jsonl), un archivo JSONL (un
    /// episodio o registro compacto por línea) o archivos de episodio.
    #[arg(required = true, value_name = "EPISODIOS")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub drafting: DraftingArgs,
}

/// Who asks for the drafts and who writes them: what `batch` and `pull` share.
#[derive(Debug, Args)]
pub struct DraftingArgs {
    /// La cuenta de médico que pide los borradores (queda en la auditoría);
    /// predeterminada: EPICRISIS_PULL_AS.
    #[arg(long = "as", value_name = "USUARIO")]
    pub user: Option<String>,
    /// Nombre del lote (predeterminado: «Lote del» y la fecha).
    #[arg(long)]
    pub name: Option<String>,
    /// Escribe el informe en este archivo: .csv o .json.
    #[arg(long, value_name = "ARCHIVO")]
    pub report: Option<PathBuf>,
    /// Solo importa y encola: redactan los procesos `epicrisis worker`.
    #[arg(long)]
    pub no_worker: bool,
    /// Quién redacta [MODEL_TYPE]: `deterministic`, `local`, `openai` o `anthropic`, como
    /// en `serve`.
    #[arg(long, value_enum, hide_possible_values = true)]
    pub engine: Option<Engine>,
    /// Formato de los borradores: `sections` (predeterminado) o `paragraph`.
    #[arg(
        long,
        value_enum,
        default_value = "sections",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub layout: LayoutArg,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// One episode to import: where it came from (a file, or a file and line) and its bytes.
struct Input {
    place: String,
    bytes: Vec<u8>,
}

/// Where a batch's episodes come from.
pub(crate) enum Gather {
    /// Files read before anything else starts.
    Files(Vec<PathBuf>),
    /// The configured source: the discharges since a date and/or episodes by key; with
    /// `draft` false, import only.
    Source {
        since: Option<epicrisis_sources::Since>,
        keys: Vec<String>,
        draft: bool,
    },
}

pub fn batch(args: BatchArgs, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    run(&args.drafting, env_file, Gather::Files(args.inputs))
}

/// Imports the episodes, queues them as one batch for the physician, drafts them (unless
/// `--no-worker`) and reports.
pub(crate) fn run(
    args: &DraftingArgs,
    env_file: Option<&Path>,
    gather: Gather,
) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, Some(&args.model))?;
    let layout = crate::generate::layout(args.layout);
    let inputs = match &gather {
        Gather::Files(paths) => read_inputs(paths)?,
        Gather::Source { .. } if config.sources.source.is_none() => {
            return Err(crate::sources_cmd::no_source());
        }
        Gather::Source { .. } => Vec::new(),
    };
    let user = requester(args, &config)?;
    let drafting = !matches!(gather, Gather::Source { draft: false, .. });
    let (engine, embedder) = if args.no_worker || !drafting {
        let ready = crate::engine::open(Engine::Deterministic, &args.model, &config, layout)?;
        (ready.drafter, None)
    } else {
        let (_, ready, embedder) = drafter(args.engine, &args.model, &config, layout)?;
        (ready.drafter, embedder)
    };
    let rt = runtime()?;
    let store = rt.block_on(open_store(&config))?;
    let principal = rt.block_on(physician(&store, &user, named_by(args.user.is_some())))?;
    let settings = Settings {
        layout,
        worker: false,
        log_requests: false,
        jobs: job_settings(&config),
        ..Settings::default()
    };
    let state = Server::new(store, engine.clone(), settings)?
        .with_embedder(embedder.clone())
        .state;
    let (ids, mut refused) = match gather {
        Gather::Files(_) => rt.block_on(import_all(&state, &inputs)),
        Gather::Source { since, keys, .. } => rt.block_on(crate::sources_cmd::pull_into(
            &state, &config, &principal, since, &keys,
        ))?,
    };
    if !drafting {
        anchor(&rt, &state);
        return Ok(crate::sources_cmd::imported_only(&ids, &refused));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "Lote del {}",
            epicrisis_server::api::rfc3339(epicrisis_server::now_ms())
        )
    });
    let mut view = rt
        .block_on(start_batch(&state, &principal, &name, &ids))
        .map_err(|e| Failure::Input(e.message))?;
    refused.append(&mut view.refused);
    if !args.no_worker {
        view = draft(&rt, &state, engine, embedder, &view)?;
    }
    view.refused = refused;
    anchor(&rt, &state);
    if let Some(path) = &args.report {
        write_report(path, &view)?;
    }
    eprintln!("{}", summary(&view, args.no_worker));
    let bad = view.counts.failed + view.counts.cancelled + view.refused.len();
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where the requesting account was named: the flag, or the setting it defaults to.
pub(crate) fn named_by(flag: bool) -> &'static str {
    if flag { "--as" } else { "EPICRISIS_PULL_AS" }
}

/// The account that asks for the drafts: `--as`, else `EPICRISIS_PULL_AS`.
fn requester(args: &DraftingArgs, config: &crate::config::Config) -> Result<String, Failure> {
    args.user
        .clone()
        .or_else(|| config.sources.pull_as.clone())
        .ok_or_else(|| {
            Failure::Input(
                "--as USUARIO: indique la cuenta de médico que pide los borradores (o defina EPICRISIS_PULL_AS)"
                    .into(),
            )
        })
}

/// Drafts the batch with a worker in this process, following it to the end.
fn draft(
    rt: &tokio::runtime::Runtime,
    state: &AppState,
    engine: epicrisis_pipeline::engine::Engine,
    embedder: Option<std::sync::Arc<dyn epicrisis_embed::Embedder>>,
    view: &BatchView,
) -> Result<BatchView, Failure> {
    let worker = epicrisis_server::worker::Worker::new(
        state.store.clone(),
        engine,
        embedder,
        state.settings.jobs.clone(),
        rt.handle().clone(),
    )
    .start(state.wake.clone())
    .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot start the worker: {e}")))?;
    let view = follow(rt, state, view);
    worker.shutdown(Duration::from_secs(0));
    view
}

/// The batch's audit rows (imports, drafts) are anchored before the command ends.
fn anchor(rt: &tokio::runtime::Runtime, state: &AppState) {
    if let Err(e) = rt.block_on(state.store.anchor_audit()) {
        eprintln!("aviso: no se pudo anclar la bitácora: {e}");
    }
}

/// The account the drafts are asked for by: it must exist, be enabled, and may draft.
/// `named_by`: where the name came from, for the messages (`--as` or `EPICRISIS_PULL_AS`).
pub(crate) async fn physician(
    store: &epicrisis_store::Store,
    name: &str,
    named_by: &str,
) -> Result<auth::Principal, Failure> {
    let user = store
        .user_by_name(name)
        .await
        .map_err(|e| Failure::Input(format!("{named_by} {name}: {e}")))?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            Failure::Input(format!(
                "{named_by} {name}: no hay una cuenta habilitada con ese nombre (`epicrisis users list`)"
            ))
        })?;
    if !matches!(user.role, Role::Medico | Role::Admin) {
        return Err(Failure::Input(format!(
            "{named_by} {name}: la cuenta es {}, y solo un médico pide borradores",
            user.role.as_str()
        )));
    }
    Ok(auth::Principal {
        user,
        via: auth::Via::Token,
    })
}

/// The episodes of the arguments: a folder's `.json` and `.jsonl` files in name order,
/// each line of a `.jsonl` file, or a file whole.
fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, Failure> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "jsonl"))
                .collect();
            files.sort();
            for f in files {
                read_file(&f, &mut out)?;
            }
        } else {
            read_file(path, &mut out)?;
        }
    }
    if out.is_empty() {
        return Err(Failure::Input(
            "no hay episodios: indique una carpeta con archivos .json o .jsonl, un archivo JSONL o archivos de episodio".into(),
        ));
    }
    Ok(out)
}

fn read_file(path: &Path, out: &mut Vec<Input>) -> Result<(), Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::Input(format!(
            "{}: {e} (¿existe y se puede leer?)",
            path.display()
        ))
    })?;
    if path.extension().is_some_and(|x| x == "jsonl") {
        for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
            if !line.trim().is_empty() {
                out.push(Input {
                    place: format!("{}:{}", path.display(), i + 1),
                    bytes: line.as_bytes().to_vec(),
                });
            }
        }
    } else {
        out.push(Input {
            place: path.display().to_string(),
            bytes,
        });
    }
    Ok(())
}

/// Imports every input; the episodes' ids, and the inputs refused with the reason.
async fn import_all(
    state: &AppState,
    inputs: &[Input],
) -> (Vec<String>, Vec<epicrisis_server::batches::Refused>) {
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    for input in inputs {
        match epicrisis_server::api::store_episode(state, &input.bytes, None).await {
            Ok((row, _)) => ids.push(row.episode_id),
            Err(e) => refused.push(epicrisis_server::batches::Refused {
                episode_id: input.place.clone(),
                reason: e.message,
            }),
        }
    }
    (ids, refused)
}

/// Waits for the batch to finish, with a progress line on a terminal; Ctrl-C stops
/// waiting (what is left stays queued).
fn follow(
    rt: &tokio::runtime::Runtime,
    state: &AppState,
    view: &BatchView,
) -> Result<BatchView, Failure> {
    let batch = rt
        .block_on(state.store.batch(&view.id))
        .map_err(|e| Failure::Internal(anyhow::anyhow!("{e}")))?
        .ok_or_else(|| Failure::Internal(anyhow::anyhow!("the batch vanished")))?;
    let terminal = std::io::stderr().is_terminal();
    let mut view = view.clone();
    loop {
        if terminal {
            let c = &view.counts;
            let done = view.items.len() - c.pending - c.drafting;
            eprint!(
                "\r{}: {done} de {} listos ({} en redacción, {} con falla)   ",
                view.name,
                view.items.len(),
                c.drafting,
                c.failed
            );
            let _ = std::io::stderr().flush();
        }
        if view.finished {
            break;
        }
        let stop = rt.block_on(async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => true,
                _ = tokio::time::sleep(Duration::from_secs(1)) => false,
            }
        });
        view = rt
            .block_on(epicrisis_server::batches::batch_view(state, &batch))
            .map_err(|e| Failure::Internal(anyhow::anyhow!("{}", e.message)))?;
        if stop {
            eprintln!(
                "\ninterrumpido: lo que falta sigue en la cola; vuelva a correr el lote para seguir"
            );
            break;
        }
    }
    if terminal {
        eprintln!();
    }
    Ok(view)
}

fn write_report(path: &Path, view: &BatchView) -> Result<(), Failure> {
    let text = match path.extension().and_then(|x| x.to_str()) {
        Some("csv") => report_csv(view),
        Some("json") => serde_json::to_string_pretty(view)
            .map_err(|e| Failure::Internal(anyhow::anyhow!("{e}")))?,
        _ => {
            return Err(Failure::Input(format!(
                "--report {}: use un nombre terminado en .csv o .json",
                path.display()
            )));
        }
    };
    std::fs::write(path, text)
        .map_err(|e| Failure::Input(format!("--report {}: {e}", path.display())))
}

fn summary(view: &BatchView, queued_only: bool) -> String {
    let c = &view.counts;
    let with_errors = view
        .items
        .iter()
        .filter(|i| i.errors.is_some_and(|e| e > 0))
        .count();
    let mut s = format!(
        "{} (lote {}): {} episodios; {} borradores listos ({with_errors} con errores que corregir), {} firmadas, {} fallaron, {} cancelados",
        view.name,
        view.id,
        view.items.len(),
        c.ready,
        c.signed,
        c.failed,
        c.cancelled
    );
    if queued_only || c.pending + c.drafting > 0 {
        s.push_str(&format!(
            "; {} en cola o en redacción (los redactan los procesos `epicrisis worker`)",
            c.pending + c.drafting
        ));
    }
    for r in &view.refused {
        s.push_str(&format!("\nno se incluyó {}: {}", r.episode_id, r.reason));
    }
    s
}
