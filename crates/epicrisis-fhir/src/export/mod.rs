//! Episode (+ the draft's sections) → FHIR R4 `Bundle` of type `document`.

mod composition;
mod diagnoses;
mod documents;
mod encounter;
mod info;
mod medications;
mod names;
mod observations;
mod patient;
mod people;
mod values;

pub use info::{Attester, CompositionStatus, DocumentInfo, Section, SectionKind};
pub(crate) use values::num;

use epicrisis_domain::Episode;
use serde_json::{Map, Value, json};

/// A deterministic UUID (version 8 layout, RFC 9562) from a seed and a name, so that the
/// same document always gets the same `urn:uuid:` references.
fn uuid(seed: &str, name: &str) -> String {
    fn fnv(bytes: &[u8], basis: u64) -> u64 {
        let mut h = basis;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
        h
    }
    let key = format!("{seed}\u{0}{name}");
    let a = fnv(key.as_bytes(), 0xcbf29ce484222325);
    let b = fnv(key.as_bytes(), 0x84222325cbf29ce4 ^ a.rotate_left(17));
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_8000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

struct Builder<'a> {
    info: &'a DocumentInfo,
    entries: Vec<(String, Value)>,
}

impl Builder<'_> {
    fn id(&self, name: &str) -> String {
        uuid(&self.info.document_id, name)
    }
    fn reference(&self, name: &str) -> String {
        format!("urn:uuid:{}", self.id(name))
    }
    fn push(&mut self, name: &str, mut resource: Value) -> String {
        let id = self.id(name);
        if let Some(m) = resource.as_object_mut() {
            // `resourceType` first, then `id`, for readers.
            let mut ordered = Map::new();
            if let Some(rt) = m.remove("resourceType") {
                ordered.insert("resourceType".into(), rt);
            }
            ordered.insert("id".into(), Value::String(id.clone()));
            ordered.extend(std::mem::take(m));
            *m = ordered;
        }
        let url = format!("urn:uuid:{id}");
        self.entries.push((url.clone(), resource));
        url
    }
    /// The Bundle: the Composition first, then every other resource in the order it was
    /// pushed.
    fn into_bundle(mut self, composition: Value) -> Value {
        let info = self.info;
        let comp_url = self.push("composition", composition);
        let comp = self.entries.pop().map(|(_, v)| v).unwrap_or(Value::Null);
        let mut entries = vec![json!({ "fullUrl": comp_url, "resource": comp })];
        entries.extend(
            self.entries
                .into_iter()
                .map(|(url, r)| json!({ "fullUrl": url, "resource": r })),
        );
        json!({
            "resourceType": "Bundle",
            "id": uuid(&info.document_id, "bundle"),
            "identifier": { "system": "urn:epicrisis:documento", "value": info.document_id },
            "type": "document",
            "timestamp": info.timestamp,
            "entry": entries,
        })
    }
}

/// The references of the resources written so far, for the Encounter, the evolution
/// notes and the Composition's sections.
struct Refs {
    patient: String,
    encounter: String,
    /// Each Condition with its role (`true`: discharge).
    conditions: Vec<(String, bool)>,
    procedures: Vec<String>,
    treatments: Vec<String>,
    discharge_medications: Vec<String>,
    labs: Vec<String>,
    notes: Vec<String>,
    /// The Practitioners written, by the name they were written for.
    practitioners: Vec<(String, String)>,
    /// The hospital's Organization: its name and reference.
    organization: Option<(String, String)>,
}

impl Refs {
    /// The reference of the Practitioner written for `name`, if any.
    fn practitioner(&self, name: &str) -> Option<&str> {
        self.practitioners
            .iter()
            .find(|(n, _)| people::same_person(n, name))
            .map(|(_, r)| r.as_str())
    }
}

/// Builds the document Bundle. Deterministic: the same episode and [`DocumentInfo`] give
/// the same JSON, byte for byte.
pub fn to_bundle(ep: &Episode, info: &DocumentInfo) -> Value {
    let mut b = Builder {
        info,
        entries: Vec::new(),
    };
    // Composition goes first; it is built last, once every reference is known.
    let mut refs = Refs {
        patient: b.reference("patient"),
        encounter: b.reference("encounter"),
        conditions: Vec::new(),
        procedures: Vec::new(),
        treatments: Vec::new(),
        discharge_medications: Vec::new(),
        labs: Vec::new(),
        notes: Vec::new(),
        practitioners: Vec::new(),
        organization: None,
    };

    b.push("patient", patient::patient(ep));
    people::push_people(&mut b, ep, &mut refs);
    refs.conditions = diagnoses::push_conditions(&mut b, ep);
    b.push("encounter", encounter::encounter(ep, &refs));
    refs.procedures = diagnoses::push_procedures(&mut b, ep);
    refs.treatments = medications::push_treatments(&mut b, ep);
    refs.discharge_medications = medications::push_discharge_medications(&mut b, ep);
    refs.labs = observations::push_labs(&mut b, ep);
    refs.notes = documents::push_notes(&mut b, ep, &refs);

    let composition = composition::composition(info, &refs);
    b.into_bundle(composition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid("doc", "patient");
        assert_eq!(a, uuid("doc", "patient"));
        assert_ne!(a, uuid("doc", "encounter"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    }
}
