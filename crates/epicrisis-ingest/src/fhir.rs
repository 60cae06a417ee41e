//! The fourth input shape: an HL7 FHIR R4 Bundle, read by `epicrisis-fhir` with this
//! crate's code readers, so a code from a FHIR server gets the same warnings as one from
//! any other shape.

use crate::codes;
use crate::error::{ErrorKind, IngestError};
use crate::json::Ctx;
use epicrisis_domain::{
    AtcCode, Episode, Icd10Code, ProcedureCode, SourceCode, SourceWarning, WarningKind,
};
use serde_json::Value;

struct CtxCodes<'c, 'a>(&'c mut Ctx<'a>);

impl epicrisis_fhir::CodeReader for CtxCodes<'_, '_> {
    fn icd10(&mut self, raw: &str, path: &str) -> Option<SourceCode<Icd10Code>> {
        codes::icd10(self.0, Some(raw), path)
    }
    fn procedure(&mut self, raw: &str, path: &str) -> Option<SourceCode<ProcedureCode>> {
        codes::procedure(self.0, Some(raw), path)
    }
    fn atc(&mut self, raw: &str, path: &str, name: &str) -> Option<SourceCode<AtcCode>> {
        codes::atc(self.0, Some(raw), path, name)
    }
    fn warn(&mut self, kind: WarningKind, path: &str, message: String, message_es: String) {
        self.0.warn(kind, path, message, message_es);
    }
    fn take_warnings(&mut self) -> Vec<SourceWarning> {
        // They stay in the context; `read_document` moves them onto the episode.
        Vec::new()
    }
}

pub(crate) fn read(ctx: &mut Ctx<'_>, v: &Value) -> Result<Episode, IngestError> {
    let kind_of = |path: &str| {
        if path == "entry" {
            ErrorKind::Missing
        } else if path == "resourceType" {
            ErrorKind::Unsupported
        } else {
            ErrorKind::WrongType
        }
    };
    epicrisis_fhir::from_bundle(v, &mut CtxCodes(ctx))
        .map_err(|e| ctx.err(kind_of(&e.path), &e.path, e.message))
}
