//! What the caller tells about the document beyond the episode: its identity, status,
//! author and attester, and the draft's sections with the LOINC code of each kind.

/// `Composition.status`, from the draft's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompositionStatus {
    /// A draft not yet approved.
    Preliminary,
    /// Approved or signed.
    Final,
    /// A new version of a signed document.
    Amended,
}

impl CompositionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CompositionStatus::Preliminary => "preliminary",
            CompositionStatus::Final => "final",
            CompositionStatus::Amended => "amended",
        }
    }
}

/// Who attested (signed) the document, and when (FHIR `dateTime` with time zone).
#[derive(Debug, Clone, PartialEq)]
pub struct Attester {
    pub party: String,
    pub time: String,
}

/// Which part of the epicrisis a section is; decides its LOINC section code and which
/// resources it references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Identification,
    Period,
    Reason,
    History,
    AdmissionDiagnoses,
    Procedures,
    Treatments,
    Evolution,
    Labs,
    DischargeDiagnoses,
    DischargeMedications,
    Controls,
    Care,
    WarningSigns,
    Recommendations,
    Other,
}

impl SectionKind {
    /// LOINC section code, where a standard one fits.
    pub(super) fn loinc(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            SectionKind::Reason => ("46241-6", "Hospital admission diagnosis Narrative"),
            SectionKind::History => ("11348-0", "History of Past illness Narrative"),
            SectionKind::AdmissionDiagnoses => {
                ("46241-6", "Hospital admission diagnosis Narrative")
            }
            SectionKind::Procedures => ("47519-4", "History of Procedures Document"),
            SectionKind::Treatments => ("29549-3", "Medication administered Narrative"),
            SectionKind::Evolution => ("8648-8", "Hospital course Narrative"),
            SectionKind::Labs => (
                "30954-2",
                "Relevant diagnostic tests/laboratory data Narrative",
            ),
            SectionKind::DischargeDiagnoses => ("11535-2", "Hospital discharge Dx Narrative"),
            SectionKind::DischargeMedications => {
                ("10183-2", "Hospital discharge medications Narrative")
            }
            SectionKind::Controls
            | SectionKind::Care
            | SectionKind::WarningSigns
            | SectionKind::Recommendations => ("8653-8", "Hospital Discharge instructions"),
            _ => return None,
        })
    }
}

/// One section of the document: a title and its narrative (paragraphs, then list items).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub kind: SectionKind,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub items: Vec<String>,
}

/// Everything about the document that is not the episode.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInfo {
    /// A stable identifier of this document version (also seeds the resource ids).
    pub document_id: String,
    /// `Bundle.timestamp` and `Composition.date` (FHIR `instant`, e.g.
    /// `2025-12-26T18:30:00-03:00`). Injected, so output is reproducible.
    pub timestamp: String,
    pub status: CompositionStatus,
    pub title: String,
    /// The author (treating physician or the program); `Composition.author` is required.
    pub author: String,
    pub attester: Option<Attester>,
    /// The hospital (`Composition.custodian`).
    pub custodian: Option<String>,
    pub sections: Vec<Section>,
}
