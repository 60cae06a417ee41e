//! `epicrisis models`: the models folder of the models guide (list, download, import,
//! verify, path), and what `doctor` and the engine need from it.

use crate::Failure;
use crate::cli::{DownloadArgs, ModelsCommand, ReportFormat};
use crate::config::{self, Config};
use crate::doctor::{Check, Verdict, check};
use epicrisis_llm::system::human_bytes;
use epicrisis_models::{
    Downloader, Event, HubConfig, LineProgress, ModelReport, ModelSpec, ModelsDir, ModelsError,
    Progress, Role, Severity,
};
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

impl From<ModelsError> for Failure {
    fn from(e: ModelsError) -> Self {
        Failure::Input(e.to_string())
    }
}

/// The model `generate` runs when `LOCAL_LLM_PATH` is not set: the installed LLM the
/// catalogue ranks first (the guide's default, then the catalogue's order, then models
/// imported under names of their own). An unreadable manifest counts as nothing
/// installed here; `doctor` and `models verify` report it.
pub fn default_installed_llm(models_dir: &Path) -> Option<PathBuf> {
    ModelsDir::new(models_dir)
        .preferred_path(Role::Llm)
        .ok()
        .flatten()
}

/// The models folder's checks for `doctor`.
pub fn doctor_checks(config: &Config) -> Vec<Check> {
    epicrisis_models::health(&ModelsDir::new(&config.models_dir))
        .into_iter()
        .map(|f| {
            check(
                "models",
                match f.severity {
                    Severity::Ok => Verdict::Ok,
                    Severity::Warn => Verdict::Warn,
                    Severity::Fail => Verdict::Fail,
                },
                format!("{}: {}", f.subject, f.detail),
                f.fix.unwrap_or_default(),
            )
        })
        .collect()
}

pub fn run(cmd: ModelsCommand, env_file: Option<&Path>) -> Result<ExitCode, Failure> {
    let (_, config) = config::load(env_file, None)?;
    let dir = ModelsDir::new(&config.models_dir);
    match cmd {
        ModelsCommand::List { format } => list(&dir, format),
        ModelsCommand::Download(args) => download(&dir, &config, args),
        ModelsCommand::Import { path, name } => import(&dir, &path, name.as_deref()),
        ModelsCommand::Verify { format } => verify(&dir, format),
        ModelsCommand::Path { name, quant } => path(&dir, &name, quant.as_deref()),
        ModelsCommand::Remove {
            name,
            quant,
            keep_files,
        } => remove(&dir, &config, &name, quant.as_deref(), keep_files),
    }
}

fn role_label(r: Role) -> &'static str {
    match r {
        Role::Llm => "llm",
        Role::Embeddings => "embeddings",
    }
}

/// What the guide recommends a model for, in Spanish (the JSON keeps the English label).
fn recommendation_es(r: epicrisis_models::Recommendation) -> &'static str {
    use epicrisis_models::Recommendation as R;
    match r {
        R::Testing => "pruebas",
        R::Balance => "equilibrio",
        R::Production => "producción",
        R::BestQuality => "mejor calidad",
        R::Fixture => "solo pruebas internas",
    }
}

/// The models folder as given, with its absolute form when that differs.
fn shown_root(dir: &ModelsDir) -> String {
    let given = dir.root().display().to_string();
    match std::path::absolute(dir.root()) {
        Ok(a) if a != dir.root() => format!("{given} ({})", a.display()),
        _ => given,
    }
}

fn list(dir: &ModelsDir, format: ReportFormat) -> Result<ExitCode, Failure> {
    let (rows, others) = epicrisis_models::listing(dir)?;
    let mut out = std::io::stdout().lock();
    if format == ReportFormat::Json {
        let v = list_json(dir, &rows, &others);
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).map_err(anyhow::Error::from)?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Carpeta de modelos: {}", shown_root(dir))?;
    let widths = ListWidths::of(&rows);
    let nw = widths.name;
    writeln!(
        out,
        "{:<nw$}  {:<10} {:>9} {:<7} {:>8}  {:<lw$}  {:<rw$} instalado",
        "nombre",
        "rol",
        "tamaño",
        "cuant.",
        "RAM",
        "licencia",
        "recomendado",
        lw = widths.licence,
        rw = widths.recommendation,
    )?;
    for r in &rows {
        list_row(&mut out, r, &widths)?;
    }
    if !others.is_empty() {
        writeln!(out, "\nInstalados fuera del catálogo:")?;
        for m in &others {
            writeln!(
                out,
                "{:<nw$}  {:<10} {}{}",
                m.entry.name,
                role_label(m.entry.role),
                m.path.display(),
                if m.present { "" } else { " (faltan archivos)" }
            )?;
        }
    }
    writeln!(
        out,
        "\nDescargar: epicrisis models download NAME [--quant Q5_K_M|Q8_0|F16]; sin conexión a internet: epicrisis models import FILE"
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `models list --format json`: the catalogue with what is installed, and the models
/// installed outside it.
fn list_json(
    dir: &ModelsDir,
    rows: &[epicrisis_models::CatalogueRow],
    others: &[epicrisis_models::InstalledModel],
) -> serde_json::Value {
    let models: Vec<_> = rows
        .iter()
        .map(|r| {
            let s = r.spec;
            json!({
                "name": s.name,
                "aliases": s.aliases,
                "display_name": s.display_name,
                "role": role_label(s.role),
                "repo": s.repo,
                "licence": s.licence,
                "recommendation": s.recommendation.label(),
                "default": s.is_default,
                "dimension": s.dimension,
                "notes": s.notes,
                "size_bytes": s.approx_size(None),
                "ram_bytes": s.ram(None),
                "quantizations": s.quants().iter().map(|q| json!({
                    "quant": q.quant, "file": q.file, "size_bytes": q.approx_size,
                    "ram_bytes": q.ram, "sha256": q.pin.map(|p| p.sha256),
                })).collect::<Vec<_>>(),
                "installed": r.installed.iter().map(|m| json!({
                    "quant": m.entry.quant, "path": m.path, "present": m.present,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let others: Vec<_> = others
        .iter()
        .map(|m| {
            json!({"name": m.entry.name, "role": role_label(m.entry.role),
            "quant": m.entry.quant, "path": m.path, "present": m.present})
        })
        .collect();
    json!({"models_dir": dir.root(), "catalogue": models, "other_installed": others})
}

/// The recommendation in words, «(predeterminado)» for the default.
fn recommendation_of(s: &ModelSpec) -> String {
    if s.is_default {
        format!("{} (predeterminado)", recommendation_es(s.recommendation))
    } else {
        recommendation_es(s.recommendation).to_string()
    }
}

/// The widths of the text table's variable columns.
struct ListWidths {
    name: usize,
    licence: usize,
    recommendation: usize,
}

impl ListWidths {
    fn of(rows: &[epicrisis_models::CatalogueRow]) -> ListWidths {
        let widest = |f: &dyn Fn(&ModelSpec) -> usize, least: usize| {
            rows.iter()
                .map(|r| f(r.spec))
                .max()
                .unwrap_or(least)
                .max(least)
        };
        ListWidths {
            name: rows.iter().map(|r| r.spec.name.len()).max().unwrap_or(6),
            licence: widest(&|s| s.licence.len(), 8),
            recommendation: widest(&|s| recommendation_of(s).chars().count(), 11),
        }
    }
}

/// One catalogue model in the text table, and a line of extras (other quantizations,
/// dimensions, notes) under it.
fn list_row(
    out: &mut impl Write,
    r: &epicrisis_models::CatalogueRow,
    w: &ListWidths,
) -> std::io::Result<()> {
    let s = r.spec;
    let quant = if s.role == Role::Llm {
        epicrisis_models::DEFAULT_QUANT
    } else {
        "-"
    };
    let installed = if r.installed.is_empty() {
        "no".to_string()
    } else {
        r.installed
            .iter()
            .map(|m| {
                let q = m.entry.quant.clone().unwrap_or_else(|| "sí".into());
                if m.present {
                    q
                } else {
                    format!("{q} (faltan archivos)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        out,
        "{:<nw$}  {:<10} {:>9} {:<7} {:>8}  {:<lw$}  {:<rw$} {installed}",
        s.name,
        role_label(s.role),
        human_bytes(s.approx_size(None)),
        quant,
        human_bytes(s.ram(None)),
        s.licence,
        recommendation_of(s),
        nw = w.name,
        lw = w.licence,
        rw = w.recommendation,
    )?;
    let mut extra = Vec::new();
    if s.quants().len() > 1 {
        extra.push(format!(
            "también {}",
            s.quants()
                .iter()
                .filter(|q| q.quant != quant)
                .map(|q| format!("{} {}", q.quant, human_bytes(q.approx_size)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(d) = s.dimension {
        extra.push(format!("{d} dimensiones"));
    }
    if !s.notes.is_empty() {
        extra.push(s.notes.to_string());
    }
    if !extra.is_empty() {
        writeln!(out, "{:<nw$}  {}", "", extra.join("; "), nw = w.name)?;
    }
    Ok(())
}

/// Progress for downloads: a bar on a terminal, plain lines otherwise.
fn progress() -> Box<dyn Progress> {
    let p = epicrisis_models::TerminalProgress::new();
    if p.is_drawing() {
        Box::new(p)
    } else {
        Box::new(LineProgress::new(std::io::stderr()))
    }
}

/// Asks a yes/no question on the terminal; `default` when the answer is empty.
fn ask(question: &str, default: bool) -> Result<bool, Failure> {
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [{}] ", if default { "S/n" } else { "s/N" })?;
    err.flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(false);
    }
    let a = line.trim().to_lowercase();
    Ok(match a.as_str() {
        "" => default,
        "s" | "si" | "sí" | "y" | "yes" => true,
        _ => false,
    })
}

fn download(dir: &ModelsDir, config: &Config, args: DownloadArgs) -> Result<ExitCode, Failure> {
    let hub = HubConfig::new(
        args.mirror.as_deref().or(Some(config.hf_endpoint.as_str())),
        config.hf_token.as_ref().map(|t| t.expose()),
    );
    let downloader = Downloader::new(hub)?;
    let mut chosen: Vec<&'static ModelSpec> = epicrisis_models::select(
        &args.names,
        args.all,
        args.llm,
        args.embeddings,
        args.alternative_llm.as_deref(),
    )?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if chosen.is_empty() {
        if args.yes || !interactive {
            return Err(Failure::Input(
                "no se indicó ningún modelo: escriba sus nombres (`epicrisis models list`), o use --all, --llm, --embeddings o --alternative-llm NAME; ejecutado en una terminal sin argumentos, pregunta modelo por modelo".into(),
            ));
        }
        chosen = ask_which(dir, args.quant.as_deref())?;
        if chosen.is_empty() {
            eprintln!("No se eligió ningún modelo.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut progress = progress();
    let mut failed = 0;
    for spec in &chosen {
        // An embeddings model has no quantizations; --quant applies to the LLMs.
        let quant = args.quant.as_deref().filter(|_| spec.role == Role::Llm);
        if !install_one(&downloader, dir, spec, quant, progress.as_mut())? {
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Asks, model by model of the catalogue (fixtures aside), whether to download it; the
/// default answer is yes for the default model when it is not installed.
fn ask_which(dir: &ModelsDir, quant: Option<&str>) -> Result<Vec<&'static ModelSpec>, Failure> {
    eprintln!(
        "Carpeta de modelos: {} ({}). Para cada modelo, responda s (sí) o n (no).",
        dir.root().display(),
        epicrisis_models::free_space(dir.root())
            .map(|b| format!("{} libres", human_bytes(b)))
            .unwrap_or_else(|_| "espacio libre desconocido".into())
    );
    let mut chosen = Vec::new();
    for spec in epicrisis_models::catalogue() {
        if spec.recommendation == epicrisis_models::Recommendation::Fixture {
            continue;
        }
        let installed = dir
            .installed(spec.name)
            .ok()
            .flatten()
            .is_some_and(|m| m.present);
        let q = if spec.role == Role::Llm {
            format!(" {}", epicrisis_models::DEFAULT_QUANT)
        } else {
            String::new()
        };
        let question = format!(
            "{}{q} — {}, {} a descargar, {} de RAM, {}, {}{}. ¿Descargar?",
            spec.display_name,
            role_label(spec.role),
            human_bytes(spec.approx_size(quant)),
            human_bytes(spec.ram(quant)),
            spec.licence,
            recommendation_es(spec.recommendation),
            if installed { " (ya instalado)" } else { "" },
        );
        if ask(&question, spec.is_default && !installed)? {
            chosen.push(spec);
        }
    }
    Ok(chosen)
}

/// Plans and installs one model, saying what it does; false when it failed (the error
/// is printed, and the other models are still installed).
fn install_one(
    downloader: &Downloader,
    dir: &ModelsDir,
    spec: &'static ModelSpec,
    quant: Option<&str>,
    progress: &mut dyn Progress,
) -> Result<bool, Failure> {
    let plan = downloader.plan(dir, spec, quant)?;
    eprintln!(
        "{}: {} desde {} ({} por descargar; necesita unos {} de memoria para funcionar)",
        plan.name,
        plan.quant.as_deref().unwrap_or("carpeta"),
        plan.repo,
        human_bytes(plan.remaining_bytes()),
        human_bytes(plan.ram)
    );
    match downloader.install(dir, spec, quant, progress) {
        Ok(o) if o.already_installed => {
            eprintln!(
                "{}: ya está instalado en {}",
                spec.name,
                o.model.path.display()
            );
        }
        Ok(o) => {
            println!("{}", o.model.path.display());
            eprintln!(
                "{}: instalado en {} ({} descargados)",
                spec.name,
                o.model.path.display(),
                human_bytes(o.bytes_downloaded)
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(false);
        }
    }
    Ok(true)
}

fn import(dir: &ModelsDir, path: &Path, name: Option<&str>) -> Result<ExitCode, Failure> {
    let mut progress = progress();
    let done = epicrisis_models::import(dir, path, name, progress.as_mut())?;
    let what = done
        .recognised
        .map(|s| format!(" (reconocido como {})", s.display_name))
        .unwrap_or_default();
    if done.already_installed {
        eprintln!(
            "{} ya está instalado como {}{what}",
            path.display(),
            done.model.entry.name
        );
    } else {
        eprintln!(
            "se importó {} como {}{what}",
            path.display(),
            done.model.entry.name
        );
    }
    println!("{}", done.model.path.display());
    Ok(ExitCode::SUCCESS)
}

fn report_json(r: &ModelReport) -> serde_json::Value {
    json!({
        "name": r.name,
        "role": role_label(r.role),
        "quant": r.quant,
        "state": r.state.as_str(),
        "ok": r.is_ok(),
        "path": r.path,
        "detail": r.summary(),
        "fix": r.fix,
    })
}

fn verify(dir: &ModelsDir, format: ReportFormat) -> Result<ExitCode, Failure> {
    let mut progress: Box<dyn Progress> = if format == ReportFormat::Text {
        progress()
    } else {
        Box::new(|_: &Event<'_>| {})
    };
    let reports = epicrisis_models::verify(dir, progress.as_mut())?;
    let bad = reports.iter().filter(|r| !r.is_ok()).count();
    let mut out = std::io::stdout().lock();
    if format == ReportFormat::Json {
        let v = json!({
            "models_dir": dir.root(),
            "ok": bad == 0,
            "models": reports.iter().map(report_json).collect::<Vec<_>>(),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).map_err(anyhow::Error::from)?
        )?;
    } else {
        if reports.is_empty() {
            writeln!(
                out,
                "No hay modelos instalados en {} (`epicrisis models download` o `epicrisis models import PATH`).",
                dir.root().display()
            )?;
        }
        for r in &reports {
            let mark = if r.is_ok() { "ok   " } else { "FALLA" };
            writeln!(out, "{mark}  {}", r.summary())?;
            if let Some(f) = &r.fix {
                writeln!(out, "       → {f}")?;
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A catalogue alias (`tinyllama`) names the catalogue model; anything else is the name a
/// model was imported under.
fn installed_name(name: &str) -> String {
    epicrisis_models::find(name)
        .map(|s| s.name.to_string())
        .unwrap_or_else(|_| epicrisis_models::canonical_name(name))
}

fn not_installed(dir: &ModelsDir, name: &str, quant: Option<&str>) -> ExitCode {
    eprintln!(
        "{name}{} no está instalado en {} (`epicrisis models list` muestra lo que hay instalado)",
        quant.map(|q| format!(" {q}")).unwrap_or_default(),
        dir.root().display()
    );
    ExitCode::from(1)
}

fn path(dir: &ModelsDir, name: &str, quant: Option<&str>) -> Result<ExitCode, Failure> {
    match dir.path_of(&installed_name(name), quant)? {
        Some(p) => {
            println!("{}", p.display());
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(not_installed(dir, name, quant)),
    }
}

/// `models remove`: deletes the files and the manifest entries (or, with `keep_files`, the
/// entries only), then says which setting still points at what is gone.
fn remove(
    dir: &ModelsDir,
    config: &Config,
    name: &str,
    quant: Option<&str>,
    keep_files: bool,
) -> Result<ExitCode, Failure> {
    let canonical = installed_name(name);
    // Which settings name what is about to go, asked while the files still exist (so
    // that a relative or linked path compares by what it resolves to).
    let quant_wanted = quant.map(epicrisis_models::normalise_quant);
    let going: Vec<PathBuf> = dir
        .installed_all(&canonical)?
        .into_iter()
        .filter(|m| quant_wanted.is_none() || m.entry.quant == quant_wanted)
        .map(|m| std::fs::canonicalize(&m.path).unwrap_or(m.path))
        .collect();
    let warnings = settings_pointing_at(config, &going);
    let gone = if keep_files {
        dir.forget(&canonical, quant)?
    } else {
        dir.remove(&canonical, quant)?
    };
    if gone.is_empty() {
        return Ok(not_installed(dir, name, quant));
    }
    for e in &gone {
        let bytes: u64 = e.files.iter().map(|f| f.size).sum();
        let what = format!(
            "{}{}",
            e.name,
            e.quant
                .as_deref()
                .map(|q| format!(" {q}"))
                .unwrap_or_default()
        );
        if keep_files {
            eprintln!(
                "se quitó {what} del registro; sus {} archivo(s) siguen en {}",
                e.files.len(),
                dir.root().display()
            );
        } else {
            eprintln!(
                "se borró {what}: {} archivo(s), {}",
                e.files.len(),
                human_bytes(bytes)
            );
        }
    }
    for warning in warnings {
        eprintln!("aviso: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings that name one of `removed` (a model just removed), with what to do.
fn settings_pointing_at(config: &Config, removed: &[PathBuf]) -> Vec<String> {
    let hits = |p: &Path| {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        removed.iter().any(|r| p == *r || p.starts_with(r))
    };
    let mut out = Vec::new();
    if let Some(p) = &config.local_llm_path
        && hits(p)
    {
        out.push(format!(
            "LOCAL_LLM_PATH apunta a {}, que ya no está instalado: cámbielo o quítelo del .env",
            p.display()
        ));
    }
    if config.embeddings_model.is_some() && hits(&config.embeddings_dir()) {
        out.push(format!(
            "EMBEDDINGS_MODEL nombra {}, que ya no está instalado: cámbielo o instale otro con `epicrisis models download`",
            config.embeddings_dir().display()
        ));
    }
    out
}
