//! `epicrisis validate`.

use crate::Failure;
use crate::cli::{ReportFormat, ValidateArgs};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: ValidateArgs) -> Result<ExitCode, Failure> {
    if args.episode == "-" && args.text == "-" {
        return Err(Failure::Input(
            "EPISODE and TEXT cannot both be `-` (standard input); give one of them as a file"
                .into(),
        ));
    }
    let episode = crate::input::episode(&args.episode)?;
    let text = crate::input::text(&args.text)?;
    let report = epicrisis_validate::validate(&episode, &text);
    let mut out = std::io::stdout().lock();
    match args.format {
        ReportFormat::Text => out.write_all(report.to_text().as_bytes())?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report).map_err(anyhow::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
