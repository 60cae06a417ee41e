//! FHIR R4 `Bundle` → [`Episode`]: the same kinds of resources [`crate::to_bundle`]
//! writes, as a hospital's FHIR server would send them (any Bundle type; references by
//! `urn:uuid:` full URLs or `Type/id`), Chilean ones included: the RUN among several
//! identifiers and names in CL Core's parts (`people`, docs/fhir-chile.md).

mod codes;
mod composition;
mod diagnoses;
mod documents;
mod encounter;
mod json;
mod medications;
mod observations;
mod patient;
mod people;

pub use codes::{CodeReader, PlainCodes};
pub(crate) use json::{arr, coding_in, concept_text, first, s};

use epicrisis_domain::{Episode, SourceShape};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A Bundle that cannot become an episode: where (JSON path from the Bundle) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FhirError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> FhirError {
    FhirError {
        path: path.into(),
        message: message.into(),
    }
}

/// One resource of the Bundle with its path.
struct Res<'a> {
    path: String,
    r: &'a Map<String, Value>,
    /// Its position in the Bundle's resources (a key for maps, found in constant time).
    index: usize,
    /// The entry's `fullUrl`: an `http(s)` address when the resource lives on a server.
    full_url: Option<&'a str>,
}

/// The roles of diagnoses by resource key ([`Reader::key_of`]): `true` for a discharge
/// diagnosis, `false` for an admission one.
type Roles = HashMap<usize, bool>;

struct Reader<'a> {
    resources: Vec<Res<'a>>,
    by_ref: HashMap<String, usize>,
}

impl<'a> Reader<'a> {
    /// Indexes the entries' resources by full URL and by `Type/id`.
    fn index(entries: &'a [Value]) -> Result<Reader<'a>, FhirError> {
        let mut rd = Reader {
            resources: Vec::new(),
            by_ref: HashMap::new(),
        };
        for (i, e) in entries.iter().enumerate() {
            let path = format!("entry[{i}].resource");
            let r = match e.get("resource") {
                Some(Value::Object(r)) => r,
                Some(_) => return Err(err(path, "expected a resource (a JSON object)")),
                None => continue,
            };
            let Some(ty) = r.get("resourceType").and_then(Value::as_str) else {
                return Err(err(
                    format!("{path}.resourceType"),
                    "missing: every resource names its resourceType",
                ));
            };
            let idx = rd.resources.len();
            if let Some(u) = e.get("fullUrl").and_then(Value::as_str) {
                rd.by_ref.insert(u.to_string(), idx);
            }
            if let Some(id) = r.get("id").and_then(Value::as_str) {
                rd.by_ref.insert(format!("{ty}/{id}"), idx);
            }
            let index = rd.resources.len();
            let full_url = e.get("fullUrl").and_then(Value::as_str);
            rd.resources.push(Res {
                path,
                r,
                index,
                full_url,
            });
        }
        Ok(rd)
    }

    fn resolve(&self, reference: &Value) -> Option<&Res<'a>> {
        let r = s(reference, "reference")?;
        let i = self.by_ref.get(r).or_else(|| {
            // `http://server/fhir/Condition/1` → `Condition/1`
            let mut parts = r.rsplit('/');
            let id = parts.next()?;
            let ty = parts.next()?;
            self.by_ref.get(&format!("{ty}/{id}"))
        })?;
        self.resources.get(*i)
    }

    fn of_type(&self, ty: &str) -> impl Iterator<Item = &Res<'a>> {
        self.resources
            .iter()
            .filter(move |x| x.r.get("resourceType").and_then(Value::as_str) == Some(ty))
    }

    fn key_of(&self, res: &Res<'a>) -> usize {
        res.index
    }
}

/// The entries of a Bundle, refusing anything else: another resource, or a Bundle
/// without entries.
fn entries_of(bundle: &Value) -> Result<&Vec<Value>, FhirError> {
    let root = bundle
        .as_object()
        .ok_or_else(|| err("", "expected a FHIR Bundle (a JSON object)"))?;
    match root.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => {}
        Some(other) => {
            return Err(err(
                "resourceType",
                format!(
                    "a FHIR {other} resource is not an episode; send a Bundle (type document or \
                     collection) with the Patient, Encounter, Condition, Procedure, \
                     MedicationStatement/MedicationRequest and Observation resources of the stay"
                ),
            ));
        }
        None => return Err(err("resourceType", "expected \"Bundle\"")),
    }
    match root.get("entry") {
        Some(Value::Array(a)) if !a.is_empty() => Ok(a),
        Some(Value::Array(_)) | None => Err(err(
            "entry",
            "the Bundle has no entries; it must hold at least the Patient, the Encounter \
             and the Conditions (diagnoses) of the stay",
        )),
        Some(_) => Err(err("entry", "expected an array of entries")),
    }
}

/// Reads a FHIR R4 Bundle (`document`, `collection`, `searchset`, `transaction`…) into an
/// episode. Codes are read through `codes`; its warnings end up on the episode.
pub fn from_bundle(bundle: &Value, codes: &mut dyn CodeReader) -> Result<Episode, FhirError> {
    let rd = Reader::index(entries_of(bundle)?)?;

    let mut ep = Episode::empty(SourceShape::Fhir);
    let birth = patient::read_patient(&rd, &mut ep);
    let mut roles = encounter::read_encounter(&rd, &mut ep);
    patient::age_from_birth(&mut ep, birth);

    // Section roles of the Composition (admission / discharge diagnoses, notes).
    let composition = rd.of_type("Composition").next();
    if let Some(c) = composition {
        composition::section_roles(&rd, c, &mut roles);
    }

    diagnoses::read_conditions(&rd, &roles, codes, &mut ep)?;
    diagnoses::read_procedures(&rd, codes, &mut ep);
    medications::read_medications(&rd, codes, &mut ep);
    observations::read_observations(&rd, &mut ep);
    documents::read_documents(&rd, codes, &mut ep);
    patient::read_allergies(&rd, &mut ep);

    // Notes and instructions that only the Composition's narrative carries.
    if let Some(c) = composition {
        composition::read_narrative(c, &mut ep);
    }
    ep.warnings.extend(codes.take_warnings());
    Ok(ep)
}
