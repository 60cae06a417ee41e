//! How codes are read during an import: the [`CodeReader`] hook that `epicrisis-ingest`
//! fills with its own readers, and [`PlainCodes`], which only parses.

use epicrisis_domain::codes::Parsed;
use epicrisis_domain::{
    AtcCode, CodeError, Icd10Code, ProcedureCode, SourceCode, SourceWarning, WarningKind,
};

/// How codes are read. `epicrisis-ingest` plugs in its own readers so that a code from a
/// FHIR server gets the same warnings (not in the CIE-10 list, ATC that does not fit the
/// drug) as one from any other shape; [`PlainCodes`] only parses.
pub trait CodeReader {
    fn icd10(&mut self, raw: &str, path: &str) -> Option<SourceCode<Icd10Code>>;
    fn procedure(&mut self, raw: &str, path: &str) -> Option<SourceCode<ProcedureCode>>;
    fn atc(&mut self, raw: &str, path: &str, name: &str) -> Option<SourceCode<AtcCode>>;
    fn warn(&mut self, kind: WarningKind, path: &str, message: String, message_es: String);
    /// The warnings gathered so far (moved into the episode at the end).
    fn take_warnings(&mut self) -> Vec<SourceWarning>;
}

/// Parses codes, warning only when one is normalised or malformed.
#[derive(Debug, Default)]
pub struct PlainCodes {
    warnings: Vec<SourceWarning>,
}

impl PlainCodes {
    fn read<T: std::fmt::Display>(
        &mut self,
        raw: &str,
        path: &str,
        parse: fn(&str) -> Result<Parsed<T>, CodeError>,
    ) -> Option<SourceCode<T>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        Some(match parse(raw) {
            Ok(p) => {
                if p.normalised {
                    self.warn(
                        WarningKind::Normalised,
                        path,
                        format!("{raw:?} read as {}", p.code),
                        format!("El código «{raw}» se interpretó como {}.", p.code),
                    );
                }
                SourceCode {
                    raw: raw.into(),
                    parsed: Some(p.code),
                }
            }
            Err(e) => {
                self.warn(
                    WarningKind::MalformedCode,
                    path,
                    e.to_string(),
                    format!("{}; se conservó tal como venía.", e.to_spanish()),
                );
                SourceCode {
                    raw: raw.into(),
                    parsed: None,
                }
            }
        })
    }
}

impl CodeReader for PlainCodes {
    fn icd10(&mut self, raw: &str, path: &str) -> Option<SourceCode<Icd10Code>> {
        self.read(raw, path, Icd10Code::parse)
    }
    fn procedure(&mut self, raw: &str, path: &str) -> Option<SourceCode<ProcedureCode>> {
        self.read(raw, path, ProcedureCode::parse)
    }
    fn atc(&mut self, raw: &str, path: &str, _name: &str) -> Option<SourceCode<AtcCode>> {
        self.read(raw, path, AtcCode::parse)
    }
    fn warn(&mut self, kind: WarningKind, path: &str, message: String, message_es: String) {
        self.warnings.push(SourceWarning {
            kind,
            path: path.into(),
            message,
            message_es,
        });
    }
    fn take_warnings(&mut self) -> Vec<SourceWarning> {
        std::mem::take(&mut self.warnings)
    }
}
