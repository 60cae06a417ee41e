//! HL7 FHIR R4 for discharge summaries: an [`Episode`] (and the text of its draft) as a
//! `Bundle` of type `document`, and any FHIR Bundle of the same kinds of resources back
//! into an [`Episode`].
//!
//! Why a crate of its own that depends only on the domain: the export side
//! (`epicrisis-export`) writes documents and the ingest side (`epicrisis-ingest`) reads a
//! Bundle as a fourth input shape; both need the same mapping, and neither may depend on
//! the other. Drafts are passed in as plain [`Section`]s, so this crate knows nothing of
//! the pipeline.
//!
//! The mapping (DOMAIN.md, "Interoperability"):
//! - `Composition` (LOINC 18842-5 "Discharge summary") first, one section per part of the
//!   draft with its narrative and references to the resources it talks about; its author
//!   and attester reference a `Practitioner` of the same name, its custodian the
//!   hospital's `Organization`;
//! - `Patient` (the RUN as CL Core types it), `Practitioner` (treating physician,
//!   signer), `Organization` (the hospital), `Encounter` (period, service, treating
//!   physician, reason, diagnoses with their role: `AD` admission, `DD` discharge);
//! - `Condition` (CIE-10, system `http://hl7.org/fhir/sid/icd-10`), `Procedure`;
//! - `MedicationStatement` for in-hospital treatments, `MedicationRequest` (category
//!   `discharge`) for the discharge prescription, ATC system `http://www.whocc.no/atc`,
//!   structured dosage (dose quantity, route, timing, bounds) plus its Spanish text;
//! - `Observation` for laboratory values (value, unit, reference range, interpretation);
//! - `DocumentReference` for the day-by-day evolution notes (plain text attachments).
//!
//! HL7 Chile's core guide, CL Core ([`clcore`], `docs/fhir-chile.md`): the export claims
//! `CorePacienteCl`, `CorePrestadorCl`, `CoreOrganizacionCl`, `EncounterCL`,
//! `CoreDiagnosticoCl`, `CoreObservacionCL` and `DocumentoCl` where the resource meets
//! them, writes a valid RUN typed `01` of `CSTipoIdentificador` with its country, and a
//! name in parts (given names, first surname, `SegundoApellido`) only when the one name
//! string says which is which (`Quiroga Fuentes, Rosa Elena`). The import prefers the RUN
//! among a Patient's identifiers and builds a name from its parts and that extension.
//!
//! JSON is built and walked with `serde_json::Value` by hand, as in `epicrisis-ingest`:
//! FHIR is a wire format, kept at this edge, and every import error names its JSON path.

mod base64;
pub mod clcore;
mod dosage;
mod export;
mod import;

pub use export::{Attester, CompositionStatus, DocumentInfo, Section, SectionKind, to_bundle};
pub use import::{CodeReader, FhirError, PlainCodes, from_bundle};

/// CIE-10 (ICD-10) code system.
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
/// WHO ATC code system.
pub const ATC: &str = "http://www.whocc.no/atc";
/// ICD-9-CM (procedures of that shape).
pub const ICD9CM: &str = "http://hl7.org/fhir/sid/icd-9-cm";
/// Procedure codes of other shapes: the hospital's own list, kept verbatim.
pub const LOCAL_PROCEDURE: &str = "urn:epicrisis:codigo-procedimiento-local";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// SNOMED CT (routes of administration).
pub const SNOMED: &str = "http://snomed.info/sct";
/// UCUM units.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// Extension: the patient's age in years at discharge (FHIR's Patient has no age).
pub const EXT_AGE: &str = "urn:epicrisis:fhir:edad";
/// Extension: an in-hospital item that is not a drug (`therapy` or `control`).
pub const EXT_ITEM_KIND: &str = "urn:epicrisis:fhir:tipo-item";
/// Extension on the first laboratory Observation of a test: min and max over the stay.
pub const EXT_LAB_PERIOD: &str = "urn:epicrisis:fhir:periodo-laboratorio";
/// Extension on an Observation: `ingreso` (first value) or `ultimo` (last value).
pub const EXT_LAB_ROLE: &str = "urn:epicrisis:fhir:rol-laboratorio";
