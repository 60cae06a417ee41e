//! `epicrisis search "texto"`: similar past cases among the signed epicrisis in the store.

use std::io::Write;
use std::process::ExitCode;

use crate::Failure;
use crate::cli::{ReportFormat, SearchArgs};

pub fn run(args: SearchArgs, env_file: Option<&std::path::Path>) -> Result<ExitCode, Failure> {
    let (_, config) = crate::config::load(env_file, None)?;
    if args.text.trim().is_empty() {
        return Err(Failure::Input(
            "search: give the text to look for, e.g. `epicrisis search \"neumonía con derrame pleural\"`".into(),
        ));
    }
    let embedder = crate::embedder::open(&config)?.ok_or_else(|| {
        Failure::Input(format!(
            "search needs an embeddings model: none at {} (`epicrisis models download multilingual-e5-small`, or set EMBEDDINGS_MODEL; EMBEDDINGS_TYPE=none turns it off)",
            config.embeddings_dir().display()
        ))
    })?;
    let rt = crate::serve_cmd::runtime()?;
    let matches = rt.block_on(async {
        let store = crate::serve_cmd::open_store(&config).await?;
        let indexed = epicrisis_server::archive::index_missing(&store, embedder.as_ref())
            .await
            .map_err(|e| Failure::Internal(anyhow::anyhow!("{e}")))?;
        if indexed > 0 {
            eprintln!("indexed {indexed} signed epicrisis for search");
        }
        epicrisis_server::archive::search(&store, embedder.as_ref(), &args.text, args.limit, None)
            .await
            .map_err(|e| Failure::Internal(anyhow::anyhow!("{e}")))
    })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Json => writeln!(out, "{:#}", serde_json::json!({"matches": matches}))?,
        ReportFormat::Text => {
            if matches.is_empty() {
                writeln!(out, "no signed epicrisis in the archive yet")?;
            }
            for m in &matches {
                let snippet: String = m.text.split_whitespace().collect::<Vec<_>>().join(" ");
                let snippet: String = snippet.chars().take(args.width).collect();
                writeln!(
                    out,
                    "{:.3}  episodio {}  (versión {})\n       {}{}",
                    m.score,
                    m.episode_id,
                    m.version_id,
                    snippet,
                    if m.text.chars().count() > args.width {
                        "…"
                    } else {
                        ""
                    }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
