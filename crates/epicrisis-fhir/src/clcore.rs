//! HL7 Chile's core implementation guide, CL Core ([`VERSION`], FHIR 4.0.1,
//! <https://hl7chile.cl/fhir/ig/clcore/>): the canonical URLs of the profiles this crate
//! claims in `meta.profile`, and of the code systems and extensions it writes and reads.
//!
//! A profile is claimed only on a resource that meets it; `docs/fhir-chile.md` lists what
//! each one asks and why our resources satisfy it, and which CL Core profiles are not
//! used (MedicationStatement, MedicationRequest, Procedure and DocumentReference have
//! none; `CoreMedicamentoCl` profiles a `Medication` resource, which we do not write).

/// The CL Core release these URLs and rules were checked against.
pub const VERSION: &str = "1.9.4";

/// `CorePacienteCl` (CL Paciente).
pub const PATIENT: &str = "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/CorePacienteCl";
/// `CorePrestadorCl` (CL Prestador): the treating physician, the signer.
pub const PRACTITIONER: &str =
    "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/CorePrestadorCl";
/// `CoreOrganizacionCl` (CL Organización): the hospital.
pub const ORGANIZATION: &str =
    "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/CoreOrganizacionCl";
/// `EncounterCL` (CL Encuentro Clínico).
pub const ENCOUNTER: &str = "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/EncounterCL";
/// `CoreDiagnosticoCl` (CL Condición-Diagnóstico).
pub const CONDITION: &str =
    "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/CoreDiagnosticoCl";
/// `CoreObservacionCL` (CL Observación).
pub const OBSERVATION: &str =
    "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/CoreObservacionCL";
/// `DocumentoCl` (CL Documento): the Composition; it asks for at least one section.
pub const DOCUMENT: &str = "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/DocumentoCl";

/// Code system of identifier types (`01` RUN, `13` RNPI…).
pub const ID_TYPE: &str = "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CSTipoIdentificador";
/// The RUN's code in [`ID_TYPE`].
pub const ID_TYPE_RUN: &str = "01";
/// Extension on `Identifier.type`: the country that issued the document.
pub const EXT_COUNTRY: &str = "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/CodigoPaises";
/// Extension on `HumanName.family`: the second surname.
pub const EXT_SECOND_SURNAME: &str =
    "https://hl7chile.cl/fhir/ig/clcore/StructureDefinition/SegundoApellido";
/// Country codes (ISO 3166-1 numeric), CL Core's system since 1.9.3.
pub const ISO_3166: &str = "urn:iso:std:iso:3166";
/// CL Core's own country code system before 1.9.3 (same codes), still read.
pub const COUNTRY_CODES_OLD: &str = "https://hl7chile.cl/fhir/ig/clcore/CodeSystem/CodPais";
/// Chile in ISO 3166-1 numeric.
pub const CHILE: &str = "152";
