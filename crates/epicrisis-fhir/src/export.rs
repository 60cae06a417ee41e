//! Episode (+ the draft's sections) → FHIR R4 `Bundle` of type `document`.

use crate::*;
use epicrisis_domain::{
    Date, Diagnosis, Episode, ItemKind, LabFinding, LabStatus, LabSummary, LabValue, Medication,
    Procedure, Sex,
};
use serde_json::{Map, Value, json};

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
    fn loinc(self) -> Option<(&'static str, &'static str)> {
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
}

fn date(d: Date) -> Value {
    Value::String(d.to_string())
}

pub(crate) fn num(v: f64) -> Value {
    // Integers print without a fraction (`7`, not `7.0`); FHIR decimals accept both.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// XHTML narrative for `text.div`.
fn narrative(paragraphs: &[String], items: &[String]) -> Value {
    let mut div = String::from("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
    for p in paragraphs {
        for line in p.split('\n').filter(|l| !l.trim().is_empty()) {
            div.push_str("<p>");
            div.push_str(&xml_escape(line));
            div.push_str("</p>");
        }
    }
    if !items.is_empty() {
        div.push_str("<ul>");
        for i in items {
            div.push_str("<li>");
            div.push_str(&xml_escape(i));
            div.push_str("</li>");
        }
        div.push_str("</ul>");
    }
    if paragraphs.is_empty() && items.is_empty() {
        div.push_str("<p>No consignado</p>");
    }
    div.push_str("</div>");
    json!({"status": "generated", "div": div})
}

fn sex_code(s: Option<Sex>) -> &'static str {
    match s {
        Some(Sex::Female) => "female",
        Some(Sex::Male) => "male",
        Some(Sex::Other) => "other",
        None => "unknown",
    }
}

fn medication_concept(m: &Medication) -> Value {
    let mut c = Map::new();
    if let Some(code) = &m.code {
        c.insert(
            "coding".into(),
            json!([{"system": ATC, "code": code.display(), "display": m.name}]),
        );
    }
    c.insert("text".into(), json!(m.name));
    Value::Object(c)
}

fn kind_extension(m: &Medication) -> Option<Value> {
    let k = match m.kind {
        ItemKind::Drug => return None,
        ItemKind::Therapy => "therapy",
        ItemKind::Control => "control",
    };
    Some(json!([{ "url": EXT_ITEM_KIND, "valueCode": k }]))
}

fn notes(m: &Medication) -> Option<Value> {
    (!m.notes.is_empty())
        .then(|| Value::Array(m.notes.iter().map(|n| json!({"text": n})).collect()))
}

fn period(start: Option<Date>, end: Option<Date>) -> Option<Value> {
    let mut p = Map::new();
    if let Some(s) = start {
        p.insert("start".into(), date(s));
    }
    if let Some(e) = end {
        p.insert("end".into(), date(e));
    }
    (!p.is_empty()).then_some(Value::Object(p))
}

fn insert_opt(m: &mut Value, key: &str, v: Option<Value>) {
    if let (Some(obj), Some(v)) = (m.as_object_mut(), v) {
        obj.insert(key.into(), v);
    }
}

fn condition(b: &Builder<'_>, d: &Diagnosis, discharge: bool, ep: &Episode) -> Value {
    let mut code = Map::new();
    if let Some(c) = &d.code {
        code.insert(
            "coding".into(),
            json!([{"system": ICD10, "code": c.display(), "display": d.name}]),
        );
    }
    code.insert("text".into(), json!(d.name));
    let mut v = json!({
        "resourceType": "Condition",
        "category": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": "encounter-diagnosis",
                "display": "Encounter Diagnosis"
            }],
            "text": if discharge { "Diagnóstico de egreso" } else { "Diagnóstico de ingreso" }
        }],
        "code": Value::Object(code),
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
    });
    let when = if discharge {
        ep.discharge_date
    } else {
        ep.admission_date
    };
    insert_opt(&mut v, "recordedDate", when.map(date));
    v
}

fn procedure(b: &Builder<'_>, p: &Procedure) -> Value {
    let mut code = Map::new();
    if let Some(c) = &p.code {
        let system = match &c.parsed {
            Some(pc) if pc.is_icd9_shape() => ICD9CM,
            _ => LOCAL_PROCEDURE,
        };
        code.insert(
            "coding".into(),
            json!([{"system": system, "code": c.display(), "display": p.name}]),
        );
    }
    code.insert("text".into(), json!(p.name));
    let mut v = json!({
        "resourceType": "Procedure",
        "status": "completed",
        "code": Value::Object(code),
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
    });
    insert_opt(&mut v, "performedDateTime", p.date.map(date));
    v
}

fn statement(b: &Builder<'_>, m: &Medication) -> Value {
    let mut v = json!({
        "resourceType": "MedicationStatement",
        "status": "completed",
        "category": {
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/medication-statement-category",
                "code": "inpatient",
                "display": "Inpatient"
            }]
        },
        "medicationCodeableConcept": medication_concept(m),
        "subject": {"reference": b.reference("patient")},
        "context": {"reference": b.reference("encounter")},
    });
    insert_opt(&mut v, "extension", kind_extension(m));
    insert_opt(&mut v, "effectivePeriod", period(m.start, m.end));
    insert_opt(&mut v, "note", notes(m));
    insert_opt(&mut v, "dosage", dosage::instructions(m));
    v
}

fn request(b: &Builder<'_>, m: &Medication, ep: &Episode) -> Value {
    let mut v = json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "category": [{
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                "code": "discharge",
                "display": "Discharge"
            }]
        }],
        "medicationCodeableConcept": medication_concept(m),
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
    });
    insert_opt(&mut v, "extension", kind_extension(m));
    insert_opt(&mut v, "authoredOn", ep.discharge_date.map(date));
    insert_opt(&mut v, "note", notes(m));
    insert_opt(&mut v, "dosageInstruction", dosage::instructions(m));
    if let Some(p) = period(m.start, m.end) {
        insert_opt(
            &mut v,
            "dispenseRequest",
            Some(json!({ "validityPeriod": p })),
        );
    }
    v
}

fn interpretation(s: LabStatus) -> Option<Value> {
    let (code, display) = match s {
        LabStatus::Normal => ("N", "Normal"),
        LabStatus::High => ("H", "High"),
        LabStatus::Low => ("L", "Low"),
        LabStatus::Unclassified => return None,
    };
    Some(json!([{
        "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": code,
            "display": display
        }]
    }]))
}

fn quantity(v: f64, unit: Option<&str>) -> Value {
    let mut q = json!({ "value": num(v) });
    insert_opt(&mut q, "unit", unit.map(|u| json!(u)));
    q
}

/// A FHIR `dateTime` for a lab value: the timestamp when it carries a time zone, else
/// the date (a local time without zone is not a valid FHIR `dateTime`).
fn lab_when(v: &LabValue) -> Option<Value> {
    result_when(v.timestamp.as_deref(), v.date)
}

/// A result's time: the timestamp when it carries a zone (FHIR requires one with a
/// time), otherwise the day.
fn result_when(timestamp: Option<&str>, day: Option<Date>) -> Option<Value> {
    if let Some(ts) = timestamp {
        let t = ts.trim();
        let zoned = t.contains('T')
            && (t.ends_with('Z')
                || t.rfind(['+', '-'])
                    .is_some_and(|i| i > t.find('T').unwrap_or(0)));
        if zoned {
            return Some(json!(t));
        }
    }
    day.map(date)
}

fn observation(b: &Builder<'_>, l: &LabSummary, v: &LabValue, last: bool) -> Value {
    let unit = l.unit.as_deref();
    let mut o = json!({
        "resourceType": "Observation",
        "extension": [{ "url": EXT_LAB_ROLE, "valueCode": if last { "ultimo" } else { "ingreso" } }],
        "status": "final",
        "category": laboratory_category(),
        "code": { "text": l.test },
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
        "valueQuantity": quantity(v.value, unit),
    });
    if !last && let Some(ext) = o.get_mut("extension").and_then(Value::as_array_mut) {
        ext.push(json!({
            "url": EXT_LAB_PERIOD,
            "valueRange": { "low": quantity(l.min, unit), "high": quantity(l.max, unit) }
        }));
    }
    if let Some(c) = v.comparator
        && let Some(q) = o.get_mut("valueQuantity").and_then(Value::as_object_mut)
    {
        q.insert("comparator".into(), json!(c.symbol()));
    }
    insert_opt(&mut o, "effectiveDateTime", lab_when(v));
    insert_opt(&mut o, "interpretation", interpretation(v.status));
    if v.range_low.is_some() || v.range_high.is_some() {
        let mut r = Map::new();
        if let Some(lo) = v.range_low {
            r.insert("low".into(), quantity(lo, unit));
        }
        if let Some(hi) = v.range_high {
            r.insert("high".into(), quantity(hi, unit));
        }
        insert_opt(&mut o, "referenceRange", Some(json!([r])));
    }
    o
}

/// `Observation.category`: laboratory.
fn laboratory_category() -> Value {
    json!([{
        "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "laboratory",
            "display": "Laboratory"
        }]
    }])
}

/// A qualitative result («Negativo») as an Observation with `valueString`.
fn finding_observation(b: &Builder<'_>, f: &LabFinding) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "status": "final",
        "category": laboratory_category(),
        "code": { "text": f.test },
        "subject": {"reference": b.reference("patient")},
        "encounter": {"reference": b.reference("encounter")},
        "valueString": f.result,
    });
    insert_opt(
        &mut o,
        "effectiveDateTime",
        result_when(f.timestamp.as_deref(), f.date),
    );
    o
}

/// Builds the document Bundle. Deterministic: the same episode and [`DocumentInfo`] give
/// the same JSON, byte for byte.
pub fn to_bundle(ep: &Episode, info: &DocumentInfo) -> Value {
    let mut b = Builder {
        info,
        entries: Vec::new(),
    };
    // Composition goes first; it is built last, once every reference is known.
    let patient_ref = b.reference("patient");
    let encounter_ref = b.reference("encounter");

    let mut patient = json!({ "resourceType": "Patient", "gender": sex_code(ep.patient.sex) });
    if let Some(id) = &ep.patient.identifier {
        insert_opt(&mut patient, "identifier", Some(json!([{ "value": id }])));
    }
    if let Some(n) = &ep.patient.name {
        insert_opt(&mut patient, "name", Some(json!([{ "text": n }])));
    }
    if let Some(age) = ep.patient.age {
        insert_opt(
            &mut patient,
            "extension",
            Some(json!([{
                "url": EXT_AGE,
                "valueAge": {"value": age, "unit": "años", "system": UCUM, "code": "a"}
            }])),
        );
    }
    b.push("patient", patient);

    let mut cond_refs: Vec<(String, bool)> = Vec::new();
    for (i, d) in ep.admission_diagnoses.iter().enumerate() {
        let c = condition(&b, d, false, ep);
        cond_refs.push((b.push(&format!("condition-admission-{i}"), c), false));
    }
    for (i, d) in ep.discharge_diagnoses.iter().enumerate() {
        let c = condition(&b, d, true, ep);
        cond_refs.push((b.push(&format!("condition-discharge-{i}"), c), true));
    }

    let mut encounter = json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "IMP",
            "display": "inpatient encounter"
        },
        "subject": {"reference": patient_ref},
    });
    if let Some(id) = &ep.id {
        insert_opt(&mut encounter, "identifier", Some(json!([{ "value": id }])));
    }
    if let Some(s) = &ep.service {
        insert_opt(&mut encounter, "serviceType", Some(json!({ "text": s })));
    }
    if let Some(p) = &ep.physician {
        insert_opt(
            &mut encounter,
            "participant",
            Some(json!([{
                "type": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                        "code": "ATND",
                        "display": "attender"
                    }]
                }],
                "individual": { "display": p }
            }])),
        );
    }
    insert_opt(
        &mut encounter,
        "period",
        period(ep.admission_date, ep.discharge_date),
    );
    if let Some(r) = &ep.reason {
        insert_opt(&mut encounter, "reasonCode", Some(json!([{ "text": r }])));
    }
    if !cond_refs.is_empty() {
        let mut rank = [0u32; 2];
        let diags: Vec<Value> = cond_refs
            .iter()
            .map(|(r, discharge)| {
                let k = usize::from(*discharge);
                rank[k] += 1;
                let (code, display) = if *discharge {
                    ("DD", "Discharge diagnosis")
                } else {
                    ("AD", "Admission diagnosis")
                };
                json!({
                    "condition": {"reference": r},
                    "use": {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/diagnosis-role",
                        "code": code,
                        "display": display
                    }]},
                    "rank": rank[k]
                })
            })
            .collect();
        insert_opt(&mut encounter, "diagnosis", Some(Value::Array(diags)));
    }
    b.push("encounter", encounter);

    let mut proc_refs = Vec::new();
    for (i, p) in ep.procedures.iter().enumerate() {
        let v = procedure(&b, p);
        proc_refs.push(b.push(&format!("procedure-{i}"), v));
    }
    let mut tx_refs = Vec::new();
    for (i, m) in ep.treatments.iter().enumerate() {
        let v = statement(&b, m);
        tx_refs.push(b.push(&format!("treatment-{i}"), v));
    }
    let mut rx_refs = Vec::new();
    for (i, m) in ep.discharge.medications.iter().enumerate() {
        let v = request(&b, m, ep);
        rx_refs.push(b.push(&format!("discharge-medication-{i}"), v));
    }
    let mut lab_refs = Vec::new();
    for (i, l) in ep.labs.iter().enumerate() {
        let v = observation(&b, l, &l.first, false);
        lab_refs.push(b.push(&format!("lab-{i}-first"), v));
        if let Some(last) = &l.last {
            let v = observation(&b, l, last, true);
            lab_refs.push(b.push(&format!("lab-{i}-last"), v));
        }
    }
    for (i, f) in ep.lab_findings.iter().enumerate() {
        let v = finding_observation(&b, f);
        lab_refs.push(b.push(&format!("lab-finding-{i}"), v));
    }
    let mut note_refs = Vec::new();
    for (i, n) in ep.evolution.iter().enumerate() {
        let mut doc = json!({
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {
                "coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}],
                "text": "Evolución"
            },
            "subject": {"reference": patient_ref},
            "content": [{
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64::encode(n.text.as_bytes()),
                }
            }],
            "context": {"encounter": [{"reference": encounter_ref}]},
        });
        if let Some(day) = n.day {
            insert_opt(&mut doc, "description", Some(json!(format!("Día {day}"))));
        }
        if let Some(d) = n.date {
            insert_opt(&mut doc, "date", Some(json!(format!("{d}T00:00:00Z"))));
            // `date` is an instant (zone required); the day itself is the context period.
            if let Some(ctx) = doc.get_mut("context").and_then(Value::as_object_mut) {
                ctx.insert("period".into(), json!({ "start": d.to_string() }));
            }
        }
        if let Some(a) = &n.author {
            insert_opt(&mut doc, "author", Some(json!([{ "display": a }])));
        }
        note_refs.push(b.push(&format!("evolution-{i}"), doc));
    }

    let cond_of = |discharge: bool| -> Vec<String> {
        cond_refs
            .iter()
            .filter(|(_, d)| *d == discharge)
            .map(|(r, _)| r.clone())
            .collect()
    };
    let sections: Vec<Value> = info
        .sections
        .iter()
        .map(|s| {
            let refs: Vec<String> = match s.kind {
                SectionKind::Identification => vec![patient_ref.clone()],
                SectionKind::Period | SectionKind::Reason => vec![encounter_ref.clone()],
                SectionKind::AdmissionDiagnoses => cond_of(false),
                SectionKind::DischargeDiagnoses => cond_of(true),
                SectionKind::Procedures => proc_refs.clone(),
                SectionKind::Treatments => tx_refs.clone(),
                SectionKind::DischargeMedications => rx_refs.clone(),
                SectionKind::Labs => lab_refs.clone(),
                SectionKind::Evolution => note_refs.clone(),
                _ => Vec::new(),
            };
            let mut sec = json!({ "title": s.title });
            if let Some((code, display)) = s.kind.loinc() {
                insert_opt(
                    &mut sec,
                    "code",
                    Some(json!({"coding": [{"system": LOINC, "code": code, "display": display}]})),
                );
            }
            insert_opt(&mut sec, "text", Some(narrative(&s.paragraphs, &s.items)));
            if !refs.is_empty() {
                let entries: Vec<Value> = refs.iter().map(|r| json!({ "reference": r })).collect();
                insert_opt(&mut sec, "entry", Some(Value::Array(entries)));
            }
            sec
        })
        .collect();

    let mut composition = json!({
        "resourceType": "Composition",
        "identifier": { "system": "urn:epicrisis:documento", "value": info.document_id },
        "status": info.status.as_str(),
        "type": {
            "coding": [{"system": LOINC, "code": "18842-5", "display": "Discharge summary"}],
            "text": "Epicrisis"
        },
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "date": info.timestamp,
        "author": [{ "display": info.author }],
        "title": info.title,
        "confidentiality": "R",
    });
    if let Some(a) = &info.attester {
        insert_opt(
            &mut composition,
            "attester",
            Some(json!([{ "mode": "legal", "time": a.time, "party": { "display": a.party } }])),
        );
    }
    if let Some(c) = &info.custodian {
        insert_opt(&mut composition, "custodian", Some(json!({ "display": c })));
    }
    if !sections.is_empty() {
        insert_opt(&mut composition, "section", Some(Value::Array(sections)));
    }
    let comp_url = b.push("composition", composition);
    let comp = b.entries.pop().map(|(_, v)| v).unwrap_or(Value::Null);
    let mut entries = vec![json!({ "fullUrl": comp_url, "resource": comp })];
    entries.extend(
        b.entries
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

    #[test]
    fn narrative_escapes_markup() {
        let n = narrative(&["a < b & c".into()], &["<script>".into()]);
        let div = n["div"].as_str().unwrap();
        assert!(div.contains("a &lt; b &amp; c"));
        assert!(div.contains("&lt;script&gt;"));
    }
}
