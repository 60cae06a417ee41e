//! FHIR R4 `Bundle` → [`Episode`]: the same kinds of resources [`crate::to_bundle`]
//! writes, as a hospital's FHIR server would send them (any Bundle type; references by
//! `urn:uuid:` full URLs or `Type/id`).

use crate::*;
use epicrisis_domain::codes::Parsed;
use epicrisis_domain::labs::is_pending_result;
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{
    Allergies, AtcCode, CodeError, Comparator, Date, Diagnosis, Episode, EvolutionNote, Icd10Code,
    ItemKind, LabFinding, LabResult, Medication, Procedure, ProcedureCode, Sex, SourceCode,
    SourceShape, SourceWarning, WarningKind, summarize_labs,
};
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

/// One resource of the Bundle with its path.
struct Res<'a> {
    path: String,
    r: &'a Map<String, Value>,
    /// Its position in the Bundle's resources (a key for maps, found in constant time).
    index: usize,
}

pub(crate) fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?
        .as_str()
        .map(str::trim)
        .filter(|x| !x.is_empty())
}

pub(crate) fn first<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v.get(key)? {
        Value::Array(a) => a.first(),
        other => Some(other),
    }
}

pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn date_of(v: Option<&str>) -> Option<Date> {
    Date::parse(v?).ok()
}

/// The text of a CodeableConcept: `text`, else the first coding's display, else its code.
pub(crate) fn concept_text(c: &Value) -> Option<String> {
    s(c, "text")
        .or_else(|| arr(c, "coding").iter().find_map(|x| s(x, "display")))
        .or_else(|| arr(c, "coding").iter().find_map(|x| s(x, "code")))
        .map(str::to_string)
}

/// The coding of a concept in a system (matched loosely: `icd-10` anywhere in the URI),
/// with its index.
pub(crate) fn coding_in<'a>(c: &'a Value, systems: &[&str]) -> Option<(usize, &'a str)> {
    arr(c, "coding").iter().enumerate().find_map(|(i, x)| {
        let sys = s(x, "system").unwrap_or("").to_ascii_lowercase();
        systems
            .iter()
            .any(|want| sys.contains(want))
            .then(|| s(x, "code"))
            .flatten()
            .map(|code| (i, code))
    })
}

fn has_code(c: &Value, code: &str) -> bool {
    arr(c, "coding")
        .iter()
        .any(|x| s(x, "code").is_some_and(|k| k.eq_ignore_ascii_case(code)))
}

fn html_to_text(div: &str) -> Vec<String> {
    // Block elements end a line; other tags vanish; the five XML entities are decoded.
    let mut out = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in div.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag.trim_start_matches('/').to_ascii_lowercase();
                let name = t.split([' ', '/']).next().unwrap_or("");
                if matches!(name, "p" | "li" | "br" | "div" | "tr" | "h1" | "h2" | "h3") {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

struct Reader<'a> {
    resources: Vec<Res<'a>>,
    by_ref: HashMap<String, usize>,
}

impl<'a> Reader<'a> {
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

fn medication(
    rd: &Reader<'_>,
    res: &Res<'_>,
    codes: &mut dyn CodeReader,
    dosage_key: &str,
) -> Medication {
    let v = Value::Object(res.r.clone());
    let (concept, cpath) = match v.get("medicationCodeableConcept") {
        Some(c) => (
            Some(c.clone()),
            format!("{}.medicationCodeableConcept", res.path),
        ),
        None => match v.get("medicationReference").and_then(|r| rd.resolve(r)) {
            Some(m) => (m.r.get("code").cloned(), format!("{}.code", m.path)),
            None => (None, res.path.clone()),
        },
    };
    let name = concept
        .as_ref()
        .and_then(concept_text)
        .or_else(|| {
            v.get("medicationReference")
                .and_then(|r| s(r, "display"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "Medicamento sin nombre".to_string());
    let mut m = Medication::named(name.clone(), ItemKind::Drug);
    if let Some(c) = &concept
        && let Some((i, code)) = coding_in(c, &["whocc", "atc"])
    {
        m.code = codes.atc(code, &format!("{cpath}.coding[{i}].code"), &name);
    }
    for e in arr(&v, "extension") {
        if s(e, "url") == Some(EXT_ITEM_KIND) {
            m.kind = match s(e, "valueCode") {
                Some("therapy") => ItemKind::Therapy,
                Some("control") => ItemKind::Control,
                _ => ItemKind::Drug,
            };
        }
    }
    // The resource's notes first, then what the dosage's text adds (a loading mark).
    m.notes = arr(&v, "note")
        .iter()
        .filter_map(|n| s(n, "text").map(str::to_string))
        .collect();
    if let Some(d) = v.get(dosage_key) {
        crate::dosage::read_all(d, &mut m);
    }
    let p = v.get("effectivePeriod").or_else(|| {
        v.get("dispenseRequest")
            .and_then(|d| d.get("validityPeriod"))
    });
    if let Some(p) = p {
        m.start = date_of(s(p, "start"));
        m.end = date_of(s(p, "end"));
    } else if let Some(d) = date_of(s(&v, "effectiveDateTime")) {
        m.start = Some(d);
    }
    m
}

/// Reads a FHIR R4 Bundle (`document`, `collection`, `searchset`, `transaction`…) into an
/// episode. Codes are read through `codes`; its warnings end up on the episode.
pub fn from_bundle(bundle: &Value, codes: &mut dyn CodeReader) -> Result<Episode, FhirError> {
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
    let entries = match root.get("entry") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) | None => {
            return Err(err(
                "entry",
                "the Bundle has no entries; it must hold at least the Patient, the Encounter \
                 and the Conditions (diagnoses) of the stay",
            ));
        }
        Some(_) => return Err(err("entry", "expected an array of entries")),
    };
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
        rd.resources.push(Res { path, r, index });
    }

    let mut ep = Episode::empty(SourceShape::Fhir);
    if let Some(p) = rd.of_type("Patient").next() {
        let v = Value::Object(p.r.clone());
        ep.patient.identifier = first(&v, "identifier")
            .and_then(|i| s(i, "value"))
            .map(str::to_string);
        ep.patient.name = first(&v, "name").and_then(|n| {
            s(n, "text").map(str::to_string).or_else(|| {
                let mut words: Vec<&str> =
                    arr(n, "given").iter().filter_map(Value::as_str).collect();
                words.extend(s(n, "family"));
                (!words.is_empty()).then(|| words.join(" "))
            })
        });
        ep.patient.sex = match s(&v, "gender") {
            Some("female") => Some(Sex::Female),
            Some("male") => Some(Sex::Male),
            Some("other") => Some(Sex::Other),
            _ => None,
        };
        ep.patient.age = arr(&v, "extension")
            .iter()
            .find(|e| s(e, "url") == Some(EXT_AGE))
            .and_then(|e| e.get("valueAge")?.get("value")?.as_f64())
            .map(|a| a as u32);
    }
    let birth = rd
        .of_type("Patient")
        .next()
        .and_then(|p| date_of(p.r.get("birthDate").and_then(Value::as_str)));

    let mut roles: HashMap<usize, bool> = HashMap::new();
    if let Some(e) = rd.of_type("Encounter").next() {
        let v = Value::Object(e.r.clone());
        ep.id = first(&v, "identifier")
            .and_then(|i| s(i, "value"))
            .map(str::to_string);
        if let Some(p) = v.get("period") {
            ep.admission_date = date_of(s(p, "start"));
            ep.discharge_date = date_of(s(p, "end"));
        }
        ep.service = first(&v, "serviceType").and_then(concept_text);
        ep.physician = arr(&v, "participant")
            .iter()
            .find_map(|p| s(p.get("individual")?, "display").map(str::to_string));
        ep.reason = first(&v, "reasonCode").and_then(concept_text);
        for d in arr(&v, "diagnosis") {
            if let Some(c) = d.get("condition").and_then(|c| rd.resolve(c)) {
                let key = rd.key_of(c);
                let discharge = match d.get("use") {
                    Some(u) if has_code(u, "AD") => false,
                    Some(u) if has_code(u, "DD") => true,
                    _ => continue,
                };
                roles.insert(key, discharge);
            }
        }
    }
    if let (Some(b), Some(end)) = (birth, ep.discharge_date.or(ep.admission_date))
        && ep.patient.age.is_none()
    {
        let mut age = end.year() - b.year();
        if (end.month(), end.day()) < (b.month(), b.day()) {
            age -= 1;
        }
        ep.patient.age = u32::try_from(age).ok();
    }

    // Section roles of the Composition (admission / discharge diagnoses, notes).
    let composition = rd.of_type("Composition").next();
    if let Some(c) = composition {
        let v = Value::Object(c.r.clone());
        for sec in arr(&v, "section") {
            let code = sec.get("code");
            let discharge = match code {
                Some(k) if has_code(k, "11535-2") => Some(true),
                Some(k) if has_code(k, "46241-6") => Some(false),
                _ => None,
            };
            if let Some(d) = discharge {
                for e in arr(sec, "entry") {
                    if let Some(r) = rd.resolve(e) {
                        roles.entry(rd.key_of(r)).or_insert(d);
                    }
                }
            }
        }
    }

    for c in rd.of_type("Condition") {
        let v = Value::Object(c.r.clone());
        let concept = v.get("code").cloned().unwrap_or(Value::Null);
        let name = concept_text(&concept).unwrap_or_else(|| "Diagnóstico sin nombre".into());
        let problem_list = arr(&v, "category")
            .iter()
            .any(|k| has_code(k, "problem-list-item"));
        let role = roles.get(&rd.key_of(c)).copied().or_else(|| {
            let cat: String = arr(&v, "category")
                .iter()
                .filter_map(concept_text)
                .collect::<Vec<_>>()
                .join(" ");
            let f = fold_words(&cat);
            if f.contains("egreso") || f.contains("alta") {
                Some(true)
            } else if f.contains("ingreso") {
                Some(false)
            } else {
                None
            }
        });
        let role = match role {
            Some(r) => r,
            None if problem_list => {
                ep.history.medical.push(name);
                continue;
            }
            None => {
                codes.warn(
                    WarningKind::Inconsistent,
                    &c.path,
                    format!(
                        "Condition \"{name}\" is not marked as an admission or discharge diagnosis \
                         (Encounter.diagnosis.use AD/DD); read as a discharge diagnosis"
                    ),
                    format!(
                        "El diagnóstico «{name}» no indica si es de ingreso o de egreso \
                         (Encounter.diagnosis.use AD/DD); se leyó como diagnóstico de egreso."
                    ),
                );
                true
            }
        };
        let code = coding_in(&concept, &["icd-10", "icd10", "cie-10", "cie10"])
            .and_then(|(i, raw)| codes.icd10(raw, &format!("{}.code.coding[{i}].code", c.path)));
        let d = Diagnosis { name, code };
        if role {
            ep.discharge_diagnoses.push(d);
        } else {
            ep.admission_diagnoses.push(d);
        }
    }
    if ep.admission_diagnoses.is_empty() && ep.discharge_diagnoses.is_empty() {
        return Err(err(
            "entry",
            "the Bundle has no Condition resources (diagnoses); an epicrisis needs at least one \
             admission or discharge diagnosis",
        ));
    }

    for p in rd.of_type("Procedure") {
        let v = Value::Object(p.r.clone());
        let concept = v.get("code").cloned().unwrap_or(Value::Null);
        let name = concept_text(&concept).unwrap_or_else(|| "Procedimiento sin nombre".into());
        let code = arr(&concept, "coding")
            .iter()
            .enumerate()
            .find_map(|(i, x)| {
                let raw = s(x, "code")?;
                codes.procedure(raw, &format!("{}.code.coding[{i}].code", p.path))
            });
        let date = date_of(s(&v, "performedDateTime")).or_else(|| {
            v.get("performedPeriod")
                .and_then(|x| date_of(s(x, "start")))
        });
        ep.procedures.push(Procedure { name, code, date });
    }

    for m in rd.of_type("MedicationStatement") {
        ep.treatments.push(medication(&rd, m, codes, "dosage"));
    }
    for m in rd.of_type("MedicationAdministration") {
        ep.treatments.push(medication(&rd, m, codes, "dosage"));
    }
    for m in rd.of_type("MedicationRequest") {
        let v = Value::Object(m.r.clone());
        let inpatient = arr(&v, "category").iter().any(|k| has_code(k, "inpatient"));
        let med = medication(&rd, m, codes, "dosageInstruction");
        if inpatient {
            ep.treatments.push(med);
        } else {
            ep.discharge.medications.push(med);
        }
    }

    let mut results = Vec::new();
    let mut periods: HashMap<String, (f64, f64)> = HashMap::new();
    for o in rd.of_type("Observation") {
        let v = Value::Object(o.r.clone());
        let lab = arr(&v, "category")
            .iter()
            .any(|k| has_code(k, "laboratory"))
            || v.get("category").is_none();
        if !lab {
            continue;
        }
        let test = v
            .get("code")
            .and_then(concept_text)
            .unwrap_or_else(|| "Examen sin nombre".into());
        let when = s(&v, "effectiveDateTime")
            .or_else(|| v.get("effectivePeriod").and_then(|p| s(p, "start")))
            .or_else(|| s(&v, "issued"));
        // A qualitative result: valueString or valueCodeableConcept.
        let text = s(&v, "valueString")
            .map(str::to_string)
            .or_else(|| v.get("valueCodeableConcept").and_then(concept_text));
        if let Some(result) = text.filter(|t| !is_pending_result(t)) {
            ep.lab_findings.push(LabFinding {
                test,
                result: result.trim().to_string(),
                date: date_of(when),
                timestamp: when.map(str::to_string),
            });
            continue;
        }
        let Some(q) = v.get("valueQuantity") else {
            continue;
        };
        let Some(value) = q.get("value").and_then(Value::as_f64) else {
            continue;
        };
        let comparator = s(q, "comparator")
            .and_then(Comparator::strip_prefix)
            .map(|(c, _)| c);
        let unit = s(q, "unit").or_else(|| s(q, "code")).map(str::to_string);
        let range = first(&v, "referenceRange");
        let bound = |k: &str| {
            range
                .and_then(|r| r.get(k))
                .and_then(|x| x.get("value"))
                .and_then(Value::as_f64)
        };
        let flag = first(&v, "interpretation")
            .and_then(|i| arr(i, "coding").iter().find_map(|c| s(c, "code")))
            .map(str::to_string);
        for e in arr(&v, "extension") {
            if s(e, "url") == Some(EXT_LAB_PERIOD)
                && let Some(r) = e.get("valueRange")
                && let (Some(lo), Some(hi)) = (
                    r.get("low")
                        .and_then(|x| x.get("value"))
                        .and_then(Value::as_f64),
                    r.get("high")
                        .and_then(|x| x.get("value"))
                        .and_then(Value::as_f64),
                )
            {
                periods.insert(fold_words(&test), (lo, hi));
            }
        }
        results.push(LabResult {
            test,
            unit,
            value,
            comparator,
            timestamp: when.map(str::to_string),
            date: date_of(when),
            range_low: bound("low"),
            range_high: bound("high"),
            flag,
        });
    }
    ep.labs = summarize_labs(&results);
    for l in &mut ep.labs {
        if let Some((lo, hi)) = periods.get(&fold_words(&l.test)) {
            l.min = l.min.min(*lo);
            l.max = l.max.max(*hi);
        }
    }

    for d in rd.of_type("DocumentReference") {
        let v = Value::Object(d.r.clone());
        let text: Vec<String> = arr(&v, "content")
            .iter()
            .filter_map(|c| {
                let a = c.get("attachment")?;
                let data = s(a, "data")?;
                let bytes = base64::decode(data)?;
                String::from_utf8(bytes).ok()
            })
            .collect();
        if text.is_empty() {
            codes.warn(
                WarningKind::Unreadable,
                &d.path,
                "DocumentReference without a readable text attachment (base64 data); skipped"
                    .into(),
                "Nota sin texto legible (adjunto en base64); se omitió.".into(),
            );
            continue;
        }
        let day = s(&v, "description").and_then(|t| {
            let f = fold_words(t);
            f.strip_prefix("dia ")?.trim().parse::<u32>().ok()
        });
        let date = v
            .get("context")
            .and_then(|c| c.get("period"))
            .and_then(|p| date_of(s(p, "start")))
            .or_else(|| date_of(s(&v, "date")));
        let author = first(&v, "author")
            .and_then(|a| s(a, "display"))
            .map(str::to_string);
        ep.evolution.push(EvolutionNote {
            day,
            date,
            text: text.join("\n"),
            author,
        });
    }

    for a in rd.of_type("AllergyIntolerance") {
        let v = Value::Object(a.r.clone());
        if let Some(name) = v.get("code").and_then(concept_text) {
            match &mut ep.history.allergies {
                Allergies::Known(list) => list.push(name),
                other => *other = Allergies::Known(vec![name]),
            }
        }
    }

    // Notes and instructions that only the Composition's narrative carries.
    if let Some(c) = composition {
        let v = Value::Object(c.r.clone());
        for sec in arr(&v, "section") {
            let title = fold_words(s(sec, "title").unwrap_or(""));
            let Some(code) = sec.get("code") else {
                continue;
            };
            let lines = sec
                .get("text")
                .and_then(|t| s(t, "div"))
                .map(html_to_text)
                .unwrap_or_default();
            let lines: Vec<String> = lines
                .into_iter()
                .filter(|l| fold_words(l) != "no consignado")
                .collect();
            if has_code(code, "8648-8") && ep.evolution.is_empty() && !lines.is_empty() {
                ep.evolution.push(EvolutionNote {
                    day: None,
                    date: None,
                    text: lines.join("\n"),
                    author: None,
                });
            } else if has_code(code, "8653-8") {
                let target = if title.contains("control") {
                    &mut ep.discharge.controls
                } else if title.contains("alarma") {
                    &mut ep.discharge.warning_signs
                } else if title.contains("recomendac") {
                    &mut ep.discharge.recommendations
                } else {
                    &mut ep.discharge.care
                };
                if target.is_empty() {
                    *target = lines;
                }
            }
        }
    }
    ep.warnings.extend(codes.take_warnings());
    Ok(ep)
}
