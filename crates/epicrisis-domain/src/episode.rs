//! The hospital episode: everything an epicrisis may say, already parsed.
//!
//! Names inside are English; each field's doc gives the Spanish term used at the wire
//! edge (`diagnostico_egreso` → [`Episode::discharge_diagnoses`]). Readers in
//! `epicrisis-ingest` build it from the three real input shapes.

use crate::codes::{AtcCode, Icd10Code, ProcedureCode, SourceCode};
use crate::date::Date;
use crate::posology::{Dose, Duration, Frequency, Route};
use serde::{Deserialize, Serialize};

pub use crate::labs::{
    Comparator, LabFinding, LabResult, LabStatus, LabSummary, LabValue, summarize_labs,
};

/// Which input shape an episode was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceShape {
    /// The rich canonical episode (`episodio_*.json`).
    Rich,
    /// A compact record (`{"instruction", "input": {dx, proc, ...}}` or the bare `input`).
    Compact,
    /// The predecessor backend's clinical JSON.
    Predecessor,
    /// An HL7 FHIR R4 Bundle.
    Fhir,
}

impl SourceShape {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceShape::Rich => "rich",
            SourceShape::Compact => "compact",
            SourceShape::Predecessor => "predecessor",
            SourceShape::Fhir => "fhir",
        }
    }
}

/// What kind of doubt a [`SourceWarning`] raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A code that does not have the shape of its system (`J18-9`).
    MalformedCode,
    /// A well-formed code that probably does not fit its item (enoxaparin as `B01AB01`).
    SuspiciousCode,
    /// A value the reader rewrote into canonical form (`J189` → `J18.9`).
    Normalised,
    /// Data that contradicts itself (discharge before admission).
    Inconsistent,
    /// A value that could not be read and was kept as text.
    Unreadable,
}

/// A doubt about the source data, carried with the episode and shown to the clinician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceWarning {
    pub kind: WarningKind,
    /// JSON path in the source (`diagnostico_ingreso[2].codigo`).
    pub path: String,
    /// What is wrong, in a sentence a person can act on.
    pub message: String,
    /// The same warning in Spanish, for clinicians.
    #[serde(default)]
    pub message_es: String,
}

/// Patient sex as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
}

/// The patient (`paciente`). Identifiers are optional: compact records carry none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Patient {
    pub name: Option<String>,
    /// National identifier (RUT) or record number.
    pub identifier: Option<String>,
    pub sex: Option<Sex>,
    /// Age in years (`edad`).
    pub age: Option<u32>,
    /// Age in days, for a patient under two years old when the data gives months,
    /// weeks, days or a birth date: «8 meses» says more than «0 años».
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<u32>,
}

/// Whole months in `days` (a month is 30.44 days; a day of slack so that 10 July to
/// 10 March, 243 days, is 8 months).
fn months(days: u32) -> u32 {
    (days + 1) * 48 / 1461
}

impl Patient {
    /// The age as a clinician writes it: «68 años», «8 meses», «12 días».
    pub fn age_es(&self) -> Option<String> {
        let plural =
            |n: u32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match (self.age_days, self.age) {
            (Some(d), _) if d < 31 => Some(plural(d, "día", "días")),
            (Some(d), _) if d < 730 => Some(plural(months(d), "mes", "meses")),
            (_, Some(y)) => Some(plural(y, "año", "años")),
            (Some(d), None) => Some(plural(d / 365, "año", "años")),
            (None, None) => None,
        }
    }

    /// The number and unit words of [`Patient::age_es`], for the validator's numbers.
    pub fn age_number(&self) -> Option<u32> {
        match (self.age_days, self.age) {
            (Some(d), _) if d < 31 => Some(d),
            (Some(d), _) if d < 730 => Some(months(d)),
            (_, Some(y)) => Some(y),
            (Some(d), None) => Some(d / 365),
            (None, None) => None,
        }
    }
}

/// A diagnosis (`diagnostico_ingreso[]`, `diagnostico_egreso[]`, `dx`, `dx_alta`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// `nombre`, as written.
    pub name: String,
    pub code: Option<SourceCode<Icd10Code>>,
}

/// A procedure (`procedimientos[]`, `proc`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Procedure {
    pub name: String,
    pub code: Option<SourceCode<ProcedureCode>>,
    pub date: Option<Date>,
}

/// Whether an item of a medication list is a drug or something else that arrives in the
/// same lists (diet, transfusion, oxygen, a control appointment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Drug,
    /// Non-drug therapy or care: diet, fluids without code, transfusion, oxygen, physiotherapy.
    Therapy,
    /// A follow-up appointment or pending study (`Control pediatria 48h`).
    Control,
}

/// A medication, given in hospital (`tratamientos_intrahosp[]`, `tto`) or prescribed at
/// discharge (`indicaciones_alta.medicamentos[]`, `med`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Medication {
    /// The drug name as written (`Amoxicilina/Ac.clavulanico`).
    pub name: String,
    pub kind: ItemKind,
    pub dose: Option<Dose>,
    /// Further quantities (`2 puff` after `160/4,5 mcg`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_doses: Vec<Dose>,
    pub route: Option<Route>,
    pub frequency: Option<Frequency>,
    pub duration: Option<Duration>,
    /// Given only if needed (`SOS`, `PRN`).
    #[serde(default)]
    pub as_needed: bool,
    /// Recognised modifiers (`profilaxis`, `PCA`) and text the reader could not parse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub code: Option<SourceCode<AtcCode>>,
    /// `inicio` / `fin` of an in-hospital treatment.
    pub start: Option<Date>,
    pub end: Option<Date>,
    /// The source item verbatim, when it came as one string.
    pub raw: Option<String>,
    /// Later steps of a regimen given in steps (`luego 75 mg c/24h` after a loading
    /// dose); the first step is the fields above (`crate::regimen`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<crate::regimen::Phase>,
}

impl Medication {
    /// A medication with only a name.
    pub fn named(name: impl Into<String>, kind: ItemKind) -> Medication {
        Medication {
            name: name.into(),
            kind,
            dose: None,
            extra_doses: Vec::new(),
            route: None,
            frequency: None,
            duration: None,
            as_needed: false,
            notes: Vec::new(),
            code: None,
            start: None,
            end: None,
            raw: None,
            then: Vec::new(),
        }
    }
}

/// One evolution note (`evolucion_resumen[]`, `evolucion[]`, `evo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionNote {
    /// Hospital day number (`dia`), 1 = admission day.
    pub day: Option<u32>,
    pub date: Option<Date>,
    pub text: String,
    /// `profesional`, when the source names one.
    pub author: Option<String>,
}

/// Allergies as recorded (`antecedentes.alergias`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "items")]
pub enum Allergies {
    /// Nothing recorded.
    #[default]
    NotRecorded,
    /// Explicitly none ("Sin alergias conocidas").
    NoneKnown,
    /// The recorded allergies, as written.
    Known(Vec<String>),
}

/// Past history (`antecedentes`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// `medicos`
    pub medical: Vec<String>,
    /// `quirurgicos`
    pub surgical: Vec<String>,
    /// `alergias`
    pub allergies: Allergies,
    /// Anything else recorded (habits, usual medication), as written.
    pub other: Vec<String>,
}

/// Discharge instructions (`indicaciones_alta`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DischargeInstructions {
    /// `medicamentos` (drugs only; non-drug items of compact `med` lists go to `care`
    /// or `controls`).
    pub medications: Vec<Medication>,
    /// `controles`
    pub controls: Vec<String>,
    /// `cuidados`
    pub care: Vec<String>,
    /// `signos_alarma`
    pub warning_signs: Vec<String>,
    /// `recomendaciones`
    pub recommendations: Vec<String>,
}

/// A hospital episode: one admission from arrival to discharge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// `id_atencion` / `atencion.id`, when present.
    pub id: Option<String>,
    pub shape: SourceShape,
    pub patient: Patient,
    /// `atencion.fecha_ingreso`
    pub admission_date: Option<Date>,
    /// `atencion.fecha_alta`
    pub discharge_date: Option<Date>,
    /// Hospital service (`servicio`), when present.
    pub service: Option<String>,
    /// Treating physician (`medico_tratante`), when present.
    pub physician: Option<String>,
    /// `motivo_ingreso`
    pub reason: Option<String>,
    /// `antecedentes`
    pub history: History,
    /// `diagnostico_ingreso`
    pub admission_diagnoses: Vec<Diagnosis>,
    /// `procedimientos`
    pub procedures: Vec<Procedure>,
    /// `tratamientos_intrahosp`
    pub treatments: Vec<Medication>,
    /// `evolucion_resumen` / `evolucion` / `evo`
    pub evolution: Vec<EvolutionNote>,
    /// `laboratorios_resumen` / summarised `laboratorios_relevantes`
    pub labs: Vec<LabSummary>,
    /// Qualitative laboratory results («Negativo», «No reactivo», a germ's name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lab_findings: Vec<LabFinding>,
    /// `diagnostico_egreso`
    pub discharge_diagnoses: Vec<Diagnosis>,
    /// `indicaciones_alta`
    pub discharge: DischargeInstructions,
    /// Doubts about the source, found while reading it.
    pub warnings: Vec<SourceWarning>,
}

impl Episode {
    /// An empty episode of a shape; readers fill it in.
    pub fn empty(shape: SourceShape) -> Episode {
        Episode {
            id: None,
            shape,
            patient: Patient::default(),
            admission_date: None,
            discharge_date: None,
            service: None,
            physician: None,
            reason: None,
            history: History::default(),
            admission_diagnoses: Vec::new(),
            procedures: Vec::new(),
            treatments: Vec::new(),
            evolution: Vec::new(),
            labs: Vec::new(),
            lab_findings: Vec::new(),
            discharge_diagnoses: Vec::new(),
            discharge: DischargeInstructions::default(),
            warnings: Vec::new(),
        }
    }

    /// Days between admission and discharge, when both dates are known.
    pub fn length_of_stay(&self) -> Option<i64> {
        Some(self.admission_date?.days_until(self.discharge_date?))
    }

    /// Every code of the episode, as written and canonical, with what it belongs to.
    pub fn codes(&self) -> Vec<EpisodeCode<'_>> {
        let mut out = Vec::new();
        for (list, role) in [
            (&self.admission_diagnoses, CodeRole::AdmissionDiagnosis),
            (&self.discharge_diagnoses, CodeRole::DischargeDiagnosis),
        ] {
            for d in list {
                if let Some(c) = &d.code {
                    out.push(EpisodeCode {
                        display: c.display(),
                        role,
                        item: &d.name,
                    });
                }
            }
        }
        for p in &self.procedures {
            if let Some(c) = &p.code {
                out.push(EpisodeCode {
                    display: c.display(),
                    role: CodeRole::Procedure,
                    item: &p.name,
                });
            }
        }
        for (list, role) in [
            (&self.treatments, CodeRole::Treatment),
            (&self.discharge.medications, CodeRole::DischargeMedication),
        ] {
            for m in list {
                if let Some(c) = &m.code {
                    out.push(EpisodeCode {
                        display: c.display(),
                        role,
                        item: &m.name,
                    });
                }
            }
        }
        out
    }

    /// Every free-text field of the episode with a label, for indexing and search.
    pub fn texts(&self) -> Vec<(TextSource, &str)> {
        let mut out: Vec<(TextSource, &str)> = Vec::new();
        if let Some(r) = &self.reason {
            out.push((TextSource::Reason, r));
        }
        for s in self
            .history
            .medical
            .iter()
            .chain(&self.history.surgical)
            .chain(&self.history.other)
        {
            out.push((TextSource::History, s));
        }
        if let Allergies::Known(a) = &self.history.allergies {
            for s in a {
                out.push((TextSource::History, s));
            }
        }
        for d in &self.admission_diagnoses {
            out.push((TextSource::AdmissionDiagnosis, &d.name));
        }
        for p in &self.procedures {
            out.push((TextSource::Procedure, &p.name));
        }
        for m in &self.treatments {
            out.push((TextSource::Treatment, m.raw.as_deref().unwrap_or(&m.name)));
        }
        for n in &self.evolution {
            out.push((TextSource::Evolution, &n.text));
        }
        for l in &self.labs {
            out.push((TextSource::Lab, &l.test));
        }
        for f in &self.lab_findings {
            out.push((TextSource::Lab, &f.test));
            out.push((TextSource::Lab, &f.result));
        }
        for d in &self.discharge_diagnoses {
            out.push((TextSource::DischargeDiagnosis, &d.name));
        }
        for m in &self.discharge.medications {
            out.push((
                TextSource::DischargeMedication,
                m.raw.as_deref().unwrap_or(&m.name),
            ));
        }
        for s in &self.discharge.controls {
            out.push((TextSource::Control, s));
        }
        for s in self
            .discharge
            .care
            .iter()
            .chain(&self.discharge.warning_signs)
            .chain(&self.discharge.recommendations)
        {
            out.push((TextSource::Instructions, s));
        }
        out
    }
}

/// Which part of an episode a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeRole {
    AdmissionDiagnosis,
    DischargeDiagnosis,
    Procedure,
    Treatment,
    DischargeMedication,
}

/// A code of the episode and the item it labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeCode<'a> {
    pub display: String,
    pub role: CodeRole,
    pub item: &'a str,
}

/// Which field a piece of episode text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    Reason,
    History,
    AdmissionDiagnosis,
    Procedure,
    Treatment,
    Evolution,
    Lab,
    DischargeDiagnosis,
    DischargeMedication,
    Control,
    Instructions,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(test: &str, v: f64, ts: &str) -> LabResult {
        LabResult {
            test: test.into(),
            unit: Some("g/dL".into()),
            value: v,
            comparator: None,
            timestamp: Some(ts.into()),
            date: Date::parse(ts).ok(),
            range_low: Some(12.0),
            range_high: Some(15.0),
            flag: None,
        }
    }

    #[test]
    fn lab_summary_first_last_min_max() {
        let rs = vec![
            result("Hemoglobina", 9.0, "2025-01-03T08:00"),
            result("Hemoglobina", 7.8, "2025-01-01T08:00"),
            result("Hemoglobina", 13.0, "2025-01-05T08:00"),
            result("Sodio", 140.0, "2025-01-01T08:00"),
        ];
        let s = summarize_labs(&rs);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].first.value, 7.8);
        assert_eq!(s[0].first.status, LabStatus::Low);
        assert_eq!(s[0].last.as_ref().unwrap().value, 13.0);
        assert_eq!((s[0].min, s[0].max), (7.8, 13.0));
        assert!(s[1].last.is_none());
    }

    #[test]
    fn lab_status_flags() {
        assert_eq!(LabStatus::from_flag("H"), LabStatus::High);
        assert_eq!(LabStatus::from_flag("n"), LabStatus::Normal);
        assert_eq!(LabStatus::from_flag("?"), LabStatus::Unclassified);
        assert_eq!(
            LabStatus::from_range(5.0, Some(1.0), Some(4.0)),
            LabStatus::High
        );
    }
}
