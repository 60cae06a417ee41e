//! What an episode supports, indexed once so that a draft (and each repair of it) is
//! checked in well under a millisecond.

use epicrisis_domain::codes::code_key;
use epicrisis_domain::lexicon::{ConceptId, ConceptKind, Lexicon, content_tokens, lexicon};
use epicrisis_domain::numbers::{interpretations, value_key};
use epicrisis_domain::posology::{Dose, DoseUnit, Duration, Frequency, Per, Route, TimeUnit};
use epicrisis_domain::text::{TokenKind, tokenize_chars};
use epicrisis_domain::{Allergies, CodeRole, Date, Episode, ItemKind, TextSource};
use std::collections::{HashMap, HashSet};

/// One text field of the episode, reduced to what matching needs.
#[derive(Debug, Clone)]
pub struct Unit {
    pub source: TextSource,
    /// The original text, for messages.
    pub text: String,
    /// Content-token keys (folded, stemmed).
    pub stems: HashSet<String>,
    /// Lexicon concepts named in it.
    pub concepts: HashSet<ConceptId>,
    /// Its numbers ([`value_key`] of every reading).
    pub numbers: HashSet<i64>,
}

/// A code of the episode and what it labels.
#[derive(Debug, Clone)]
pub struct CodeRef {
    pub display: String,
    /// The structured list the code labels; `None` for a code written in free text
    /// (a care item "Media elástica (Z29.8)", an evolution note).
    pub role: Option<CodeRole>,
    pub item: String,
}

/// A medication item with the concepts its name denotes.
#[derive(Debug, Clone)]
pub struct MedRef {
    pub name: String,
    pub kind: ItemKind,
    pub discharge: bool,
    pub concepts: Vec<ConceptId>,
    pub stems: Vec<String>,
    /// Every dose, route, frequency and duration of the item, over every step of a
    /// regimen given in steps (a loading dose and its maintenance are both the data's).
    pub doses: Vec<Dose>,
    pub routes: Vec<Route>,
    pub frequencies: Vec<Frequency>,
    pub durations: Vec<Duration>,
    /// Days between start and end dates, when both are known (both ends counted and not).
    pub dated_days: Vec<f64>,
    pub code_key: Option<String>,
}

/// A laboratory test with every value the episode holds for it.
#[derive(Debug, Clone)]
pub struct LabRef {
    pub test: String,
    pub concepts: Vec<ConceptId>,
    pub stems: Vec<String>,
    pub values: Vec<f64>,
}

/// Everything the validator needs to know about an episode.
#[derive(Debug, Clone)]
pub struct EpisodeIndex {
    pub codes: HashMap<String, Vec<CodeRef>>,
    pub units: Vec<Unit>,
    pub all_stems: HashSet<String>,
    /// Word keys the data supports through its shorthand
    /// (`epicrisis_domain::shorthand`): «cánula nasal» for a «CN» of the notes,
    /// «cirugía» for a «-ectomía» of the data. Computed once per episode.
    pub counterpart_keys: HashSet<String>,
    pub concepts: HashSet<ConceptId>,
    pub discharge_concepts: HashSet<ConceptId>,
    pub meds: Vec<MedRef>,
    pub labs: Vec<LabRef>,
    pub atc_codes: Vec<String>,
    pub icd10_categories: HashSet<String>,
    pub numbers: HashSet<i64>,
    pub dates: HashSet<Date>,
    pub allergies: Allergies,
    pub has_procedures: bool,
    pub has_patient_identity: bool,
}

fn dose_values(d: &Dose, out: &mut Vec<f64>) {
    for a in &d.amounts {
        out.push(*a);
        match d.unit {
            DoseUnit::G => out.push(a * 1000.0),
            DoseUnit::Mg => {
                out.push(a / 1000.0);
                out.push(a * 1000.0);
            }
            DoseUnit::Mcg => out.push(a / 1000.0),
            DoseUnit::L => out.push(a * 1000.0),
            DoseUnit::Ml => out.push(a / 1000.0),
            _ => {}
        }
    }
}

fn duration_values(d: &Duration, out: &mut Vec<f64>) {
    if let Duration::Span { min, max, unit } = d {
        for v in std::iter::once(*min).chain(*max) {
            out.push(v);
            match unit {
                TimeUnit::Weeks => out.push(v * 7.0),
                TimeUnit::Days => {
                    if (v / 7.0).fract() == 0.0 {
                        out.push(v / 7.0);
                    }
                    out.push(v * 24.0);
                }
                TimeUnit::Hours if (v / 24.0).fract() == 0.0 => out.push(v / 24.0),
                _ => {}
            }
        }
    }
}

fn frequency_values(f: &Frequency, out: &mut Vec<f64>) {
    match f {
        Frequency::EveryHours(h) => {
            out.push(*h);
            if *h > 0.0 && (24.0 / h).fract() == 0.0 {
                out.push(24.0 / h);
            }
        }
        Frequency::EveryMinutes(m) => out.push(*m),
        _ => {}
    }
}

/// The word keys that the shorthand table gives for the data's words (`stems`) and for
/// its medications (a rate runs as an infusion).
fn counterpart_keys(stems: &HashSet<String>, meds: &[MedRef]) -> HashSet<String> {
    use epicrisis_domain::lexicon::word_key;
    use epicrisis_domain::shorthand::{
        RATE_WORDS, SURGERY_ENDINGS, SURGERY_WORDS, TUMOUR_NAMES, TUMOUR_WORDS, counterparts,
    };
    let mut keys: HashSet<String> = counterparts(|w| stems.contains(&word_key(w)))
        .map(word_key)
        .collect();
    let mut add = |words: &[&str]| keys.extend(words.iter().map(|w| word_key(w)));
    if stems
        .iter()
        .any(|s| SURGERY_ENDINGS.iter().any(|e| s.ends_with(e)))
    {
        add(SURGERY_WORDS);
    }
    if TUMOUR_NAMES.iter().any(|w| stems.contains(&word_key(w))) {
        add(TUMOUR_WORDS);
    }
    let rate = |d: &Dose| d.per.iter().any(|p| matches!(p, Per::Hour | Per::Minute));
    if meds.iter().any(|m| m.doses.iter().any(rate)) {
        add(RATE_WORDS);
    }
    keys.extend(class_keys(meds));
    keys
}

/// Classes whose names say more than the class: the oxygen class names its devices
/// («naricera», «mascarilla Venturi»), each a fact of its own.
const CLASSES_NAMING_DEVICES: &[&str] = &["V03AN"];

/// The words of the drug classes the data's drugs belong to, by ATC prefix, in both
/// genders: cefazolina (J01DB04) supports «profilaxis antibiótica» and «antibióticos»,
/// enoxaparina (B01AB05) «anticoagulación». A drug's codes are the data's own and those
/// the lexicon knows for its name (a drug written without a code).
fn class_keys(meds: &[MedRef]) -> HashSet<String> {
    let lx = lexicon();
    let mut codes: Vec<String> = Vec::new();
    for m in meds {
        codes.extend(m.code_key.iter().cloned());
        for &c in &m.concepts {
            let concept = lx.concept(c);
            if concept.kind == ConceptKind::Drug {
                codes.extend(concept.codes.iter().map(|x| code_key(x)));
            }
        }
    }
    drug_classes()
        .iter()
        .filter(|class| {
            let member = |prefix: &String| codes.iter().any(|code| code.starts_with(prefix));
            class.prefixes.iter().any(member)
        })
        .flat_map(|class| class.words.iter().cloned())
        .collect()
}

/// A drug class of the lexicon as [`class_keys`] reads it.
struct DrugClassWords {
    /// Its ATC prefixes, as [`code_key`] writes codes.
    prefixes: Vec<String>,
    /// The word keys of its names, each also in the other gender.
    words: Vec<String>,
}

/// The lexicon's drug classes, read once (not per episode): all but those naming devices.
fn drug_classes() -> &'static [DrugClassWords] {
    static CLASSES: std::sync::OnceLock<Vec<DrugClassWords>> = std::sync::OnceLock::new();
    CLASSES.get_or_init(|| {
        let lx = lexicon();
        lx.concepts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.kind == ConceptKind::DrugClass)
            .filter(|(_, c)| {
                !c.codes
                    .iter()
                    .any(|x| CLASSES_NAMING_DEVICES.contains(&x.as_str()))
            })
            .map(|(id, c)| DrugClassWords {
                prefixes: c.codes.iter().map(|x| code_key(x)).collect(),
                words: lx
                    .synonym_keys(id as ConceptId)
                    .iter()
                    .flat_map(|term| term.split(' '))
                    .flat_map(|word| [Some(word.to_string()), other_gender(word)])
                    .flatten()
                    .collect(),
            })
            .collect()
    })
}

/// «antibiótico» ↔ «antibiótica»; `None` for a word that ends in neither.
fn other_gender(word: &str) -> Option<String> {
    if let Some(stem) = word.strip_suffix('o') {
        Some(format!("{stem}a"))
    } else {
        word.strip_suffix('a').map(|stem| format!("{stem}o"))
    }
}

/// The concepts a name denotes and its content-word keys.
fn name_terms(lx: &Lexicon, name: &str) -> (Vec<ConceptId>, Vec<String>) {
    let chars: Vec<char> = name.chars().collect();
    let toks = tokenize_chars(&chars);
    let ct = content_tokens(&chars, &toks);
    let concepts: Vec<ConceptId> = lx
        .find_terms(&ct, true)
        .into_iter()
        .flat_map(|t| t.concepts)
        .collect();
    (concepts, ct.iter().map(|c| c.key.clone()).collect())
}

/// A medication item, its numbers (every reading of its doses, durations, frequencies
/// and dated days) added to `numbers`.
fn med_ref(
    lx: &Lexicon,
    m: &epicrisis_domain::Medication,
    discharge: bool,
    numbers: &mut Vec<f64>,
) -> MedRef {
    let (concepts, stems) = name_terms(lx, &m.name);
    let mut dated_days = Vec::new();
    if let (Some(s), Some(e)) = (m.start, m.end) {
        let d = s.days_until(e) as f64;
        dated_days.push(d);
        dated_days.push(d + 1.0);
    }
    let phases = m.phases();
    let doses: Vec<Dose> = phases.iter().flat_map(|p| p.doses().cloned()).collect();
    let routes: Vec<Route> = phases.iter().filter_map(|p| p.route.clone()).collect();
    let frequencies: Vec<Frequency> = phases.iter().filter_map(|p| p.frequency.clone()).collect();
    let durations: Vec<Duration> = phases.iter().filter_map(|p| p.duration.clone()).collect();
    for d in &doses {
        dose_values(d, numbers);
    }
    for d in &durations {
        duration_values(d, numbers);
    }
    for f in &frequencies {
        frequency_values(f, numbers);
    }
    numbers.extend(dated_days.iter().copied());
    MedRef {
        name: m.name.clone(),
        kind: m.kind,
        discharge,
        concepts,
        stems,
        doses,
        routes,
        frequencies,
        durations,
        dated_days,
        code_key: m.code.as_ref().map(|c| code_key(&c.display())),
    }
}

/// Numbers a document may state besides those of its items: the length of stay,
/// identifiers, the age, the hospital days of the notes and small counts.
fn other_numbers(episode: &Episode, numbers: &mut Vec<f64>) {
    if let Some(los) = episode.length_of_stay() {
        numbers.extend([los as f64, (los + 1) as f64]);
    }
    // Identifiers a document may print (RUT, record and episode numbers).
    for id in [episode.patient.identifier.as_deref(), episode.id.as_deref()]
        .into_iter()
        .flatten()
    {
        for part in id.split(|c: char| !c.is_ascii_digit() && c != '.') {
            numbers.extend(interpretations(part.trim_matches('.')));
        }
    }
    if let Some(age) = episode.patient.age {
        numbers.push(f64::from(age));
    }
    if let Some(age) = episode.patient.age_number() {
        numbers.push(f64::from(age));
    }
    for n in &episode.evolution {
        if let Some(d) = n.day {
            numbers.push(f64::from(d));
        }
    }
    // Counts a summary may state ("3 diagnósticos", "2 antibióticos").
    for c in 1..=3 {
        numbers.push(c as f64);
    }
}

impl EpisodeIndex {
    /// Indexes an episode.
    pub fn new(episode: &Episode) -> EpisodeIndex {
        let lx = lexicon();
        let mut ix = EpisodeIndex::empty(episode);
        ix.index_codes(episode);
        ix.index_codes_in_text(episode);
        let mut numbers: Vec<f64> = Vec::new();
        ix.index_texts(lx, episode, &mut numbers);
        ix.index_meds(lx, episode, &mut numbers);
        ix.index_labs(lx, episode, &mut numbers);
        ix.index_dates(episode, &mut numbers);
        other_numbers(episode, &mut numbers);
        ix.numbers = numbers
            .into_iter()
            .filter(|v| v.is_finite())
            .map(value_key)
            .collect();
        ix.counterpart_keys = counterpart_keys(&ix.all_stems, &ix.meds);
        ix
    }

    /// An index with nothing indexed yet but what the episode says outright.
    fn empty(episode: &Episode) -> EpisodeIndex {
        EpisodeIndex {
            codes: HashMap::new(),
            units: Vec::new(),
            all_stems: HashSet::new(),
            counterpart_keys: HashSet::new(),
            concepts: HashSet::new(),
            discharge_concepts: HashSet::new(),
            meds: Vec::new(),
            labs: Vec::new(),
            atc_codes: Vec::new(),
            icd10_categories: HashSet::new(),
            numbers: HashSet::new(),
            dates: HashSet::new(),
            allergies: episode.history.allergies.clone(),
            has_procedures: !episode.procedures.is_empty(),
            has_patient_identity: episode.patient.name.is_some()
                || episode.patient.identifier.is_some(),
        }
    }

    /// The codes of the structured lists, with their CIE-10 categories and ATC codes,
    /// and the diagnoses' codes as spelled.
    fn index_codes(&mut self, episode: &Episode) {
        for c in episode.codes() {
            let key = code_key(&c.display);
            if matches!(
                c.role,
                CodeRole::AdmissionDiagnosis | CodeRole::DischargeDiagnosis
            ) && let Some(cat) = key.get(..3)
            {
                self.icd10_categories.insert(cat.to_string());
            }
            if matches!(c.role, CodeRole::Treatment | CodeRole::DischargeMedication) {
                self.atc_codes.push(key.clone());
            }
            self.codes.entry(key).or_default().push(CodeRef {
                display: c.display.clone(),
                role: Some(c.role),
                item: c.item.to_string(),
            });
        }
        // Raw spellings too (a malformed code is still "in the data" verbatim), each with
        // the role of its list.
        let admission = episode
            .admission_diagnoses
            .iter()
            .map(|d| (d, CodeRole::AdmissionDiagnosis));
        let discharge = episode
            .discharge_diagnoses
            .iter()
            .map(|d| (d, CodeRole::DischargeDiagnosis));
        for (d, role) in admission.chain(discharge) {
            if let Some(c) = &d.code {
                self.codes
                    .entry(code_key(&c.raw))
                    .or_default()
                    .push(CodeRef {
                        display: c.raw.clone(),
                        role: Some(role),
                        item: d.name.clone(),
                    });
            }
        }
    }

    /// Codes written inside free text ("Media elástica compresión (Z29.8)") that no
    /// structured list holds.
    fn index_codes_in_text(&mut self, episode: &Episode) {
        for (_, text) in episode.texts() {
            let chars: Vec<char> = text.chars().collect();
            for c in crate::scan::scan_codes(&chars) {
                let key = code_key(&c.text);
                if !self.codes.contains_key(&key) {
                    self.codes.entry(key).or_default().push(CodeRef {
                        display: c.text.clone(),
                        role: None,
                        item: text.to_string(),
                    });
                }
            }
        }
    }

    /// Every text field of the episode as a [`Unit`], its words and concepts pooled.
    fn index_texts(&mut self, lx: &Lexicon, episode: &Episode, numbers: &mut Vec<f64>) {
        for (source, text) in episode.texts() {
            let unit = self.unit_of(lx, source, text, numbers);
            if matches!(source, TextSource::DischargeMedication) {
                self.discharge_concepts
                    .extend(unit.concepts.iter().copied());
            }
            self.all_stems.extend(unit.stems.iter().cloned());
            self.concepts.extend(unit.concepts.iter().copied());
            self.units.push(unit);
        }
    }

    /// The in-hospital treatments, then the discharge medications.
    fn index_meds(&mut self, lx: &Lexicon, episode: &Episode, numbers: &mut Vec<f64>) {
        for (list, discharge) in [
            (&episode.treatments, false),
            (&episode.discharge.medications, true),
        ] {
            for m in list {
                let med = med_ref(lx, m, discharge, numbers);
                if discharge {
                    self.discharge_concepts.extend(med.concepts.iter().copied());
                }
                self.meds.push(med);
            }
        }
    }

    /// The lab tests with every value, range limit and date recorded for them.
    fn index_labs(&mut self, lx: &Lexicon, episode: &Episode, numbers: &mut Vec<f64>) {
        for l in &episode.labs {
            let (concepts, stems) = name_terms(lx, &l.test);
            let mut values = vec![l.first.value, l.min, l.max];
            if let Some(last) = &l.last {
                values.push(last.value);
            }
            for v in [&l.first].into_iter().chain(l.last.as_ref()) {
                values.extend(v.range_low);
                values.extend(v.range_high);
                if let Some(d) = v.date {
                    self.dates.insert(d);
                }
            }
            numbers.extend(values.iter().copied());
            self.labs.push(LabRef {
                test: l.test.clone(),
                concepts,
                stems,
                values,
            });
        }
    }

    /// The dates of the stay, procedures, treatments and notes (labs' are indexed with
    /// them), and the day, month and year of every date as numbers.
    fn index_dates(&mut self, episode: &Episode, numbers: &mut Vec<f64>) {
        for d in [episode.admission_date, episode.discharge_date]
            .into_iter()
            .flatten()
            .chain(episode.procedures.iter().filter_map(|p| p.date))
            .chain(
                episode
                    .treatments
                    .iter()
                    .flat_map(|t| [t.start, t.end])
                    .flatten(),
            )
            .chain(episode.evolution.iter().filter_map(|n| n.date))
        {
            self.dates.insert(d);
        }
        for d in self.dates.clone() {
            numbers.extend([
                f64::from(d.day()),
                f64::from(d.month()),
                f64::from(d.year()),
            ]);
        }
    }

    fn unit_of(
        &self,
        lx: &Lexicon,
        source: TextSource,
        text: &str,
        numbers: &mut Vec<f64>,
    ) -> Unit {
        let chars: Vec<char> = text.chars().collect();
        let toks = tokenize_chars(&chars);
        let mut own = HashSet::new();
        for t in &toks {
            if t.kind == TokenKind::Number {
                let readings = interpretations(&t.norm);
                own.extend(readings.iter().map(|v| value_key(*v)));
                numbers.extend(readings);
            }
        }
        let ct = content_tokens(&chars, &toks);
        let mut stems: HashSet<String> = ct.iter().map(|c| c.key.clone()).collect();
        let mut concepts = HashSet::new();
        for m in lx.find_terms(&ct, true) {
            for c in m.concepts {
                concepts.insert(c);
                // Synonyms of curated groups make "DM2" support "diabetes mellitus tipo 2".
                if lx.concept(c).kind != ConceptKind::Drug {
                    for k in lx.synonym_keys(c) {
                        stems.extend(k.split(' ').map(str::to_string));
                    }
                }
            }
        }
        Unit {
            source,
            text: text.to_string(),
            stems,
            concepts,
            numbers: own,
        }
    }

    /// Is a number (any reading of it) somewhere in the episode?
    pub fn has_number(&self, readings: &[f64]) -> bool {
        readings
            .iter()
            .any(|v| self.numbers.contains(&value_key(*v)))
    }

    /// Medication items naming any of these drug concepts.
    pub fn meds_for<'a>(
        &'a self,
        concepts: &'a [ConceptId],
    ) -> impl Iterator<Item = &'a MedRef> + 'a {
        self.meds
            .iter()
            .filter(move |m| m.concepts.iter().any(|c| concepts.contains(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_diagnosis_code_keeps_the_role_of_its_list() {
        let path = epicrisis_testkit::fixtures::testdata("episodes/episodio_1416169.json");
        let bytes = std::fs::read(&path).unwrap();
        let ep = epicrisis_ingest::read_episode(&bytes, "episodio_1416169.json").unwrap();
        let index = EpisodeIndex::new(&ep);
        // K65.0 is only a discharge diagnosis there: nothing calls it an admission one.
        let roles: Vec<_> = index.codes[&code_key("K65.0")]
            .iter()
            .map(|r| r.role)
            .collect();
        assert!(!roles.is_empty());
        assert!(
            roles
                .iter()
                .all(|r| *r == Some(CodeRole::DischargeDiagnosis)),
            "{roles:?}"
        );
    }
}
