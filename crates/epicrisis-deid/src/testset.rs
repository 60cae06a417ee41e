//! The de-identification test set and its measurement.
//!
//! Cases are clinical texts (the dev records' evolution notes, the example episode's daily
//! notes) with names and identifiers planted where they occur in real records: signatures
//! ("atte SOTO", "Firma: Dra. …", "Dr(a)|…"), family members ("Hija Carmen", "madre de la
//! paciente, …"), the patient's own name and RUT (with and without dots, K check digits),
//! phones, e-mails, addresses, exact dates and episode numbers. Planted names come partly
//! from outside the detector's name lists, so the figures measure context detection too.
//! Generation is deterministic for a seed.

use crate::{Deidentifier, Kind, names};
use epicrisis_domain::Episode;
use epicrisis_domain::date::MONTHS_ES as MONTHS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One planted identifier: `[start, end)` in bytes of the case's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Planted {
    pub kind: String,
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    /// The patient's name as the episode record carries it (known to the de-identifier).
    pub patient: Option<String>,
    /// The episode number the record carries.
    pub episode_id: Option<String>,
    pub text: String,
    pub planted: Vec<Planted>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = crate::splitmix(self.0);
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const GIVEN: &[&str] = &[
    "Carmen",
    "Rosa",
    "Juan",
    "Pedro",
    "Ximena",
    "Patricio",
    "Francisca",
    "Hernán",
    "Gloria",
    "Rodrigo",
    "Javiera",
    "Eliana",
    "Reinaldo",
    "Nibaldo",
    "Yasna",
    "Marisol",
    "Iván",
];
const SURNAMES: &[&str] = &[
    "Soto",
    "Muñoz",
    "Rojas",
    "Pérez",
    "González",
    "Contreras",
    "Sepúlveda",
    "Fuentealba",
    "Quintanilla",
    "Ahumada",
    "Bascuñán",
    "Cifuentes",
    "Letelier",
    "Huenchullán",
    "Aedo",
    "Ortúzar",
    "Valenzuela",
];
const STREETS: &[&str] = &[
    "Los Aromos",
    "Bernardo O'Higgins",
    "Manuel Montt",
    "Las Camelias",
    "Pedro de Valdivia",
];

/// A text being assembled, recording where planted values land.
struct Builder {
    text: String,
    planted: Vec<Planted>,
    upper: bool,
}

impl Builder {
    fn lit(&mut self, s: &str) {
        if self.upper {
            self.text.push_str(&s.to_uppercase());
        } else {
            self.text.push_str(s);
        }
    }
    fn plant(&mut self, kind: Kind, value: &str) {
        let v = if self.upper {
            value.to_uppercase()
        } else {
            value.to_string()
        };
        let start = self.text.len();
        self.text.push_str(&v);
        self.planted.push(Planted {
            kind: kind.as_str().into(),
            value: v,
            start,
            end: self.text.len(),
        });
    }
}

fn rut(rng: &mut Rng) -> (String, char) {
    let body = 5_000_000 + rng.below(20_000_000);
    let body = body.to_string();
    let dv = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'K']
        .into_iter()
        .find(|d| crate::rut_check_digit_ok(&body, *d))
        .unwrap_or('0');
    // One in eight has a wrong check digit (typing errors happen; it is still a RUT).
    let dv = if rng.below(8) == 0 {
        if dv == '1' { '2' } else { '1' }
    } else {
        dv
    };
    (body, dv)
}

fn dotted(body: &str) -> String {
    let n = body.len();
    format!(
        "{}.{}.{}",
        &body[..n - 6],
        &body[n - 6..n - 3],
        &body[n - 3..]
    )
}

/// The people and numbers of one case, drawn before anything is planted.
struct Cast {
    given: &'static str,
    surname: &'static str,
    surname2: &'static str,
    patient: String,
    episode_id: String,
}

impl Cast {
    /// Draws the names and the episode number (in this order, so a seed gives one set).
    fn draw(rng: &mut Rng) -> Cast {
        let given = rng.pick(GIVEN);
        let surname = rng.pick(SURNAMES);
        let surname2 = rng.pick(SURNAMES);
        let patient = format!(
            "{} {} {}",
            rng.pick(GIVEN),
            rng.pick(SURNAMES),
            rng.pick(SURNAMES)
        );
        let episode_id = (1_000_000 + rng.below(8_999_999)).to_string();
        Cast {
            given,
            surname,
            surname2,
            patient,
            episode_id,
        }
    }
}

/// Plants identifiers into one clinical text.
fn plant_one(id: String, note: &str, upper: bool, rng: &mut Rng) -> Case {
    let cast = Cast::draw(rng);
    let mut b = Builder {
        text: String::new(),
        planted: Vec::new(),
        upper,
    };
    let lead = rng.below(5);
    plant_lead(&mut b, lead, &cast, rng);
    b.lit(note.trim_end_matches(['.', ' ']));
    b.lit(". ");
    let tails = 2 + rng.below(2);
    for _ in 0..tails {
        let choice = rng.below(12);
        plant_tail(&mut b, choice, &cast, rng);
    }
    let text = b.text.trim_end().to_string();
    Case {
        id,
        patient: (lead == 0).then_some(cast.patient),
        episode_id: Some(cast.episode_id),
        text,
        planted: b.planted,
    }
}

/// Plants the opening before the note: the patient's name and RUT, an admission date, an
/// episode number, or nothing (`lead` 3 and 4).
fn plant_lead(b: &mut Builder, lead: usize, cast: &Cast, rng: &mut Rng) {
    match lead {
        0 => {
            b.lit("Paciente ");
            b.plant(Kind::Name, &cast.patient);
            b.lit(", RUT ");
            let (body, dv) = rut(rng);
            b.plant(Kind::Rut, &format!("{}-{dv}", dotted(&body)));
            b.lit(". ");
        }
        1 => {
            b.lit("Ingreso ");
            let (d, m) = (1 + rng.below(28), 1 + rng.below(12));
            b.plant(Kind::Date, &format!("{d:02}/{m:02}/2025"));
            b.lit(". ");
        }
        2 => {
            b.lit("Episodio N° ");
            b.plant(Kind::EpisodeId, &cast.episode_id);
            b.lit(". ");
        }
        _ => {}
    }
}

/// Plants one sentence after the note, of the kind `choice` (0 to 11) names.
fn plant_tail(b: &mut Builder, choice: usize, cast: &Cast, rng: &mut Rng) {
    match choice {
        0 | 1 | 8 | 11 => plant_signature(b, choice, cast, rng),
        2 | 3 | 5 | 9 => plant_relative(b, choice, cast, rng),
        _ => plant_record_data(b, choice, rng),
    }
}

/// A clinician's signature: "atte SOTO" (0), "Dr(a)|…" (1), "Firma: Dra. …" (8), or
/// "Evaluado por Dr. …" with a discharge date (11).
fn plant_signature(b: &mut Builder, choice: usize, cast: &Cast, rng: &mut Rng) {
    let Cast {
        given,
        surname,
        surname2,
        ..
    } = *cast;
    match choice {
        0 => {
            b.lit("atte ");
            let s = surname.to_uppercase();
            let upper = b.upper;
            b.upper = true;
            b.plant(Kind::Name, &s);
            b.upper = upper;
            b.lit(". ");
        }
        1 => {
            b.lit("Dr(a)|");
            b.plant(Kind::Name, &format!("{given} {surname}"));
            b.lit(" | ");
        }
        8 => {
            b.lit("Firma: Dra. ");
            b.plant(Kind::Name, &format!("{given} {surname} {surname2}"));
            b.lit(". ");
        }
        _ => {
            b.lit("Evaluado por Dr. ");
            b.plant(Kind::Name, surname2);
            b.lit(", alta ");
            b.plant(
                Kind::Date,
                &format!("2025-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28)),
            );
            b.lit(". ");
        }
    }
}

/// A family member: a daughter with her phone (2), a wife with a landline (3), a relative's
/// e-mail (5), or the patient's mother (9).
fn plant_relative(b: &mut Builder, choice: usize, cast: &Cast, rng: &mut Rng) {
    let Cast { given, surname, .. } = *cast;
    match choice {
        2 => {
            b.lit("Hija ");
            b.plant(Kind::Name, given);
            b.lit(" (");
            b.plant(
                Kind::Phone,
                &format!(
                    "+56 9 {} {}",
                    5000 + rng.below(4999),
                    1000 + rng.below(8999)
                ),
            );
            b.lit(") informada. ");
        }
        3 => {
            b.lit("Esposa Sra. ");
            b.plant(Kind::Name, surname);
            b.lit(" solicita informe, fono ");
            b.plant(
                Kind::Phone,
                &format!("22{}{}", 100 + rng.below(899), 1000 + rng.below(8999)),
            );
            b.lit(". ");
        }
        5 => {
            b.lit("Contacto familiar ");
            let mail = format!(
                "{}.{}@{}",
                names::words(given).join(""),
                names::words(surname).join(""),
                ["gmail.com", "hotmail.com", "redsalud.gob.cl"][rng.below(3)]
            );
            b.plant(Kind::Email, &mail);
            b.lit(". ");
        }
        _ => {
            b.lit("Madre de la paciente, ");
            b.plant(Kind::Name, &format!("{given} {surname}"));
            b.lit(", acompaña. ");
        }
    }
}

/// An identifier of the record itself: a RUT with a dash (4), an address (6), a control
/// date (7), or a RUT without a dash (10).
fn plant_record_data(b: &mut Builder, choice: usize, rng: &mut Rng) {
    match choice {
        4 => {
            b.lit("RUT ");
            let (body, dv) = rut(rng);
            b.plant(Kind::Rut, &format!("{body}-{dv}"));
            b.lit(". ");
        }
        6 => {
            b.lit("Domicilio ");
            b.plant(
                Kind::Address,
                &format!(
                    "Calle {} {}, depto {}",
                    rng.pick(STREETS),
                    100 + rng.below(3000),
                    1 + rng.below(90)
                ),
            );
            b.lit(". ");
        }
        7 => {
            b.lit("Control el ");
            let (d, m) = (1 + rng.below(28), rng.below(12));
            b.plant(Kind::Date, &format!("{d} de {} de 2026", MONTHS[m]));
            b.lit(". ");
        }
        _ => {
            b.lit("rut pcte ");
            let (body, dv) = rut(rng);
            b.plant(Kind::Rut, &format!("{body}{dv}"));
            b.lit(". ");
        }
    }
}

/// Builds the test set from clinical notes (`(id, text, written in capitals)`).
pub fn generate(notes: &[(String, String, bool)], seed: u64) -> Vec<Case> {
    let mut rng = Rng(seed);
    notes
        .iter()
        .map(|(id, text, upper)| plant_one(id.clone(), text, *upper, &mut rng))
        .collect()
}

/// Figures of one identifier kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindScore {
    pub planted: usize,
    /// Planted values that no longer appear in the de-identified text.
    pub removed: usize,
    /// Spans the de-identifier replaced as this kind.
    pub replaced: usize,
    /// Of those, the ones on a planted value of any kind.
    pub correct: usize,
}

impl KindScore {
    pub fn recall(&self) -> f64 {
        ratio(self.removed, self.planted)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.replaced)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The figures of a test set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Score {
    pub cases: usize,
    pub by_kind: BTreeMap<String, KindScore>,
    /// Clinical words (lexicon terms) of the texts, and how many came through intact.
    pub clinical_words: usize,
    pub clinical_kept: usize,
    /// Cases whose planted values did not all go (case ids, for debugging).
    pub missed_cases: Vec<String>,
    /// The planted values that stayed (synthetic values only: case id, kind, value).
    pub missed: Vec<(String, String, String)>,
}

impl Score {
    pub fn clinical_precision(&self) -> f64 {
        ratio(self.clinical_kept, self.clinical_words)
    }
}

/// Runs the de-identifier on every case.
pub fn evaluate(cases: &[Case]) -> Score {
    let mut score = Score {
        cases: cases.len(),
        ..Default::default()
    };
    for k in Kind::ALL {
        score
            .by_kind
            .insert(k.as_str().into(), KindScore::default());
    }
    for case in cases {
        let mut ep = Episode::empty(epicrisis_domain::SourceShape::Compact);
        ep.patient.name = case.patient.clone();
        ep.id = case.episode_id.clone();
        let d = Deidentifier::with_seed(&ep, 20584);
        let found = d.find(&case.text);
        let out = d.deidentify(&case.text);
        let folded_out = epicrisis_domain::text::fold(&out);
        let mut missed = false;
        for p in &case.planted {
            let s = score.by_kind.entry(p.kind.clone()).or_default();
            s.planted += 1;
            let covered = found.iter().any(|f| f.start <= p.start && f.end >= p.end)
                || found
                    .iter()
                    .filter(|f| f.start < p.end && f.end > p.start)
                    .map(|f| f.end.min(p.end) - f.start.max(p.start))
                    .sum::<usize>()
                    >= p.end - p.start;
            if covered {
                s.removed += 1;
            } else {
                missed = true;
                score
                    .missed
                    .push((case.id.clone(), p.kind.clone(), p.value.clone()));
            }
        }
        if missed {
            score.missed_cases.push(case.id.clone());
        }
        for f in &found {
            let s = score.by_kind.entry(f.kind.as_str().into()).or_default();
            s.replaced += 1;
            if case
                .planted
                .iter()
                .any(|p| f.start < p.end && f.end > p.start)
            {
                s.correct += 1;
            }
        }
        // Clinical words outside the planted values must come through.
        let mut from = 0;
        for (a, b) in word_spans(&case.text) {
            if case.planted.iter().any(|p| a < p.end && b > p.start) {
                continue;
            }
            let w = epicrisis_domain::text::fold(&case.text[a..b]);
            if w.chars().count() < 4 || !names::is_clinical(&w) {
                continue;
            }
            score.clinical_words += 1;
            if let Some(i) = folded_out[from..].find(&w) {
                score.clinical_kept += 1;
                from += i;
            }
        }
    }
    score
}

fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}
