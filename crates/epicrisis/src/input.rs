//! Reading command-line inputs: episodes (through `epicrisis-ingest`) and texts.

use crate::Failure;
use epicrisis_domain::Episode;
use epicrisis_ingest::Limits;
use std::io::Read;
use std::path::Path;

/// The largest text accepted for validation.
const MAX_TEXT_BYTES: u64 = 4 * 1024 * 1024;

/// Reads an episode from a path or `-` (stdin).
pub fn episode(arg: &str) -> Result<Episode, Failure> {
    let limits = Limits::default();
    if arg == "-" {
        Ok(epicrisis_ingest::read_episode_from(
            std::io::stdin().lock(),
            "<stdin>",
            &limits,
        )?)
    } else {
        Ok(epicrisis_ingest::read_episode_path_with(
            Path::new(arg),
            &limits,
        )?)
    }
}

/// Reads a UTF-8 text from a path or `-` (stdin).
pub fn text(arg: &str) -> Result<String, Failure> {
    let name = if arg == "-" {
        "<stdin>".to_string()
    } else {
        arg.to_string()
    };
    let mut bytes = Vec::new();
    let read = if arg == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_TEXT_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(arg).and_then(|f| f.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| Failure::Input(format!("{name}: cannot read the text: {e}")))?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        return Err(Failure::Input(format!(
            "{name}: the text is larger than {} MB; an epicrisis is a few pages — is this the right file?",
            MAX_TEXT_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        Failure::Input(format!(
            "{name}: not valid UTF-8 at byte {}; save the text as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            e.utf8_error().valid_up_to()
        ))
    })
}
