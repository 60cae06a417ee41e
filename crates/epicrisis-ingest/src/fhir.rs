//! The fourth input shape: an HL7 FHIR R4 Bundle, read by `epicrisis-fhir` with this
//! crate's code readers, so a code from a FHIR server gets the same warnings as one from
//! any other shape.

use crate::codes;
use crate::error::{ErrorKind, IngestError};
use crate::json::{Ctx, MAX_LIST_ITEMS};
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
    let mut ep = epicrisis_fhir::from_bundle(v, &mut CtxCodes(ctx))
        .map_err(|e| ctx.err(kind_of(&e.path), &e.path, e.message))?;
    cap_lists(ctx, &mut ep);
    Ok(ep)
}

/// A Bundle's resources become the episode's lists; each list keeps at most
/// [`MAX_LIST_ITEMS`], like a list of the JSON shapes, with a warning naming it (a
/// runaway export of 20,000 MedicationRequests must not stall the validator).
fn cap_lists(ctx: &mut Ctx<'_>, ep: &mut Episode) {
    fn cap<T>(ctx: &mut Ctx<'_>, list: &mut Vec<T>, name: &str, name_es: &str) {
        if list.len() <= MAX_LIST_ITEMS {
            return;
        }
        // «las primeras 2000 notas», «los primeros 2000 procedimientos»
        let first = if name_es.starts_with("notas") {
            "las primeras"
        } else {
            "los primeros"
        };
        ctx.warn(
            WarningKind::Unreadable,
            "entry",
            format!(
                "{} {name}; only the first {MAX_LIST_ITEMS} are read (an export that repeats resources?)",
                list.len()
            ),
            format!(
                "El Bundle trae {} {name_es}; se leyeron solo {first} {MAX_LIST_ITEMS} \
                 (¿una exportación que repite recursos?).",
                list.len()
            ),
        );
        list.truncate(MAX_LIST_ITEMS);
    }
    cap(
        ctx,
        &mut ep.admission_diagnoses,
        "admission diagnoses",
        "diagnósticos de ingreso",
    );
    cap(
        ctx,
        &mut ep.discharge_diagnoses,
        "discharge diagnoses",
        "diagnósticos de egreso",
    );
    cap(ctx, &mut ep.procedures, "procedures", "procedimientos");
    cap(
        ctx,
        &mut ep.treatments,
        "in-hospital medications",
        "medicamentos de la hospitalización",
    );
    cap(
        ctx,
        &mut ep.discharge.medications,
        "discharge medications",
        "medicamentos de alta",
    );
    cap(ctx, &mut ep.evolution, "notes", "notas de evolución");
    cap(ctx, &mut ep.labs, "lab results", "exámenes de laboratorio");
    cap(
        ctx,
        &mut ep.lab_findings,
        "qualitative lab results",
        "resultados cualitativos",
    );
}
