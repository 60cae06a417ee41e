//! `epicrisis generate`.

use crate::Failure;
use crate::cli::{GenerateArgs, LayoutArg, OutputFormat};
use epicrisis_pipeline::{Layout, TextFormat, writer};
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

pub fn layout(l: LayoutArg) -> Layout {
    match l {
        LayoutArg::Paragraph => Layout::Paragraph,
        LayoutArg::Sections => Layout::Sections,
    }
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub fn run(args: GenerateArgs) -> Result<ExitCode, Failure> {
    let t0 = Instant::now();
    if args.episode == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Failure::Input(
            "waiting for an episode on standard input; pass a file path instead of `-`, or pipe the JSON in".into(),
        ));
    }
    let episode = crate::input::episode(&args.episode)?;
    let t_read = t0.elapsed();
    let t1 = Instant::now();
    let draft = writer::write(&episode, layout(args.layout));
    let format = if args.format == OutputFormat::Markdown {
        TextFormat::Markdown
    } else {
        TextFormat::Plain
    };
    let text = draft.render(format);
    let t_gen = t1.elapsed();
    let t2 = Instant::now();
    let report = epicrisis_validate::validate(&episode, &text);
    let t_val = t2.elapsed();
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Text | OutputFormat::Markdown => {
            out.write_all(text.as_bytes())?;
            let errors = report.error_count();
            let warnings = report.findings.len() - errors;
            eprintln!(
                "validación: {} — {errors} error(es), {warnings} advertencia(s){}",
                if report.ok {
                    "sin errores"
                } else {
                    "CON ERRORES"
                },
                if report.findings.is_empty() {
                    ""
                } else {
                    "; detalle con --format json o `epicrisis validate`"
                }
            );
            for w in episode
                .warnings
                .iter()
                .filter(|w| w.kind != epicrisis_domain::WarningKind::Normalised)
            {
                eprintln!("aviso sobre los datos: {}", w.message_es);
            }
        }
        OutputFormat::Json => {
            let parts: Vec<_> = draft
                .parts
                .iter()
                .map(|p| json!({"id": p.id, "title": p.title, "origin": p.origin}))
                .collect();
            let v = json!({
                "text": text,
                "layout": draft.layout.as_str(),
                "engine": args.engine.as_str(),
                "validation": report,
                "timings_ms": {
                    "read": ms(t_read),
                    "generate": ms(t_gen),
                    "validate": ms(t_val),
                    "total": ms(t0.elapsed()),
                },
                "parts": parts,
            });
            serde_json::to_writer_pretty(&mut out, &v).map_err(anyhow::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
