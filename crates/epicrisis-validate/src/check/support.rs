//! Support of each mention: a drug, diagnosis, procedure or finding the text names must
//! be in the data (by concept, code, synonym or its own words), and a drug named in the
//! discharge prescription must be among the discharge medications.

use super::{Analysis, Mention, QUALIFIERS};
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::codes::code_key;
use epicrisis_domain::lexicon::{ConceptId, ConceptKind, ConceptSource, is_disease_word, lexicon};

impl Analysis<'_> {
    fn concept_supported(&self, m: &Mention, id: ConceptId) -> bool {
        let lx = lexicon();
        let c = lx.concept(id);
        if self.ix.concepts.contains(&id) {
            return true;
        }
        // Support through codes: the drug's official ATC codes, a class's ATC prefixes
        // (also through the official codes of drugs named without codes), a diagnosis's
        // few CIE-10 categories.
        let class_of = |a: &str| c.codes.iter().any(|p| a.starts_with(p.as_str()));
        let by_code = match c.kind {
            ConceptKind::Drug => c
                .codes
                .iter()
                .any(|code| self.ix.atc_codes.contains(&code_key(code))),
            ConceptKind::DrugClass => {
                self.ix.atc_codes.iter().any(|a| class_of(a))
                    || self
                        .ix
                        .concepts
                        .iter()
                        .filter(|x| lx.concept(**x).kind == ConceptKind::Drug)
                        .any(|d| lx.concept(*d).codes.iter().any(|a| class_of(a)))
            }
            ConceptKind::Diagnosis => {
                !c.codes.is_empty()
                    && c.codes.len() <= 8
                    && c.codes
                        .iter()
                        .any(|cat| self.ix.icd10_categories.contains(cat))
            }
            _ => false,
        };
        if by_code {
            return true;
        }
        // Any synonym (or the words as written) inside one field of the episode.
        let mut keys: Vec<Vec<&str>> = lx
            .synonym_keys(id)
            .iter()
            .map(|k| k.split(' ').collect())
            .collect();
        keys.push(m.keys.iter().map(String::as_str).collect());
        if self.ix.units.iter().any(|u| {
            keys.iter()
                .any(|k| !k.is_empty() && k.iter().all(|w| u.stems.contains(*w)))
        }) {
            return true;
        }
        // One word inside a compound of the data: "acidosis" in "cetoacidosis",
        // "hiperosmolaridad" for "hiperosmolar".
        m.keys.len() == 1
            && m.keys[0].len() >= 6
            && self
                .ix
                .all_stems
                .iter()
                .any(|s| related_word(&m.keys[0], s))
    }

    pub(super) fn mention_supported(&self, m: &Mention) -> bool {
        let lx = lexicon();
        let head = if m.concepts.is_empty() {
            // Suffix-detected word: its letters must appear in the episode.
            m.keys.iter().all(|k| {
                self.ix.all_stems.contains(k)
                    || self.ix.all_stems.iter().any(|s| related_word(k, s))
            })
        } else {
            m.concepts
                .iter()
                .filter(|c| {
                    let k = lx.concept(**c).kind;
                    k == m.kind || (m.kind == ConceptKind::Drug && k == ConceptKind::DrugClass)
                })
                .any(|c| self.concept_supported(m, *c))
        };
        head && m
            .extension
            .iter()
            .all(|e| self.ix.all_stems.contains(e) || QUALIFIERS.contains(&e.as_str()))
    }

    pub(super) fn check_mentions(&mut self) {
        let mut out = Vec::new();
        for m in &self.mentions {
            if matches!(m.kind, ConceptKind::Lab) {
                continue;
            }
            let supported = self.mention_supported(m);
            let end = if m.extension.is_empty() {
                m.end
            } else {
                self.tokens[m.ext_end - 1].end
            };
            let words = self.slice(m.start, end);
            if !supported {
                out.push(self.unsupported(m, words, end));
                continue;
            }
            // A drug named in the discharge prescription must be in it.
            if m.kind == ConceptKind::Drug
                && m.discharge
                && !m.negated
                && !self.in_discharge_prescription(m)
            {
                out.push(Finding {
                    severity: Severity::Error,
                    kind: Kind::Unsupported,
                    category: Category::Medication,
                    mention: words.clone(),
                    span: Some([m.start, m.end]),
                    claim: None,
                    message: format!("«{words}» se presenta como indicación al alta, pero no figura entre los medicamentos de alta del episodio."),
                });
            }
        }
        self.findings.extend(out);
    }

    /// The finding for a mention the data does not support, `words` being the mention
    /// up to `end`: an error, or a warning for a soft reason.
    fn unsupported(&self, m: &Mention, words: String, end: usize) -> Finding {
        let (category, what) = match m.kind {
            ConceptKind::Drug => (Category::Medication, "El medicamento"),
            ConceptKind::DrugClass => (Category::Medication, "El tratamiento"),
            ConceptKind::Diagnosis => (Category::Diagnosis, "El diagnóstico"),
            ConceptKind::Procedure => (Category::Procedure, "El procedimiento o examen"),
            ConceptKind::CareUnit => (Category::Other, "La unidad"),
            ConceptKind::Finding => (Category::Diagnosis, "El hallazgo"),
            ConceptKind::Lab => (Category::Lab, "El examen"),
        };
        let (severity, message) = match self.soft_reason(m) {
            Some(Soft::Negated) => (
                Severity::Warning,
                format!(
                    "Se afirma la ausencia de «{words}», que los datos del episodio no consignan."
                ),
            ),
            Some(Soft::Planned) => (
                Severity::Warning,
                format!(
                    "«{words}» aparece como plan o pendiente, pero no figura en los datos del episodio."
                ),
            ),
            Some(Soft::Minor) => (
                Severity::Warning,
                format!(
                    "{what} «{words}» no figura en los datos del episodio; verifique que corresponda."
                ),
            ),
            None => (
                Severity::Error,
                format!("{what} «{words}» no figura en los datos del episodio."),
            ),
        };
        Finding {
            severity,
            kind: Kind::Unsupported,
            category,
            mention: words,
            span: Some([m.start, end]),
            claim: None,
            message,
        }
    }

    /// Whether the discharge prescription of the data has this drug: by concept, by the
    /// code of a discharge item, or by its words in a discharge text of the data.
    fn in_discharge_prescription(&self, m: &Mention) -> bool {
        let lx = lexicon();
        m.concepts
            .iter()
            .any(|c| self.ix.discharge_concepts.contains(c))
            || m.concepts.iter().any(|c| {
                lx.concept(*c).codes.iter().any(|code| {
                    self.ix.meds.iter().any(|x| {
                        x.discharge && x.code_key.as_deref() == Some(code_key(code).as_str())
                    })
                })
            })
            || self
                .ix
                .units
                .iter()
                .filter(|u| {
                    matches!(
                        u.source,
                        epicrisis_domain::TextSource::DischargeMedication
                            | epicrisis_domain::TextSource::Instructions
                            | epicrisis_domain::TextSource::Control
                    )
                })
                .any(|u| m.keys.iter().all(|k| u.stems.contains(k)))
    }
}

/// Single words that name a sign or a finding rather than a disease: a narrative uses
/// them to describe the course ("disminución del edema"), so without support they are
/// warnings.
const FINDING_WORDS: &[&str] = &[
    "vomito",
    "nausea",
    "edema",
    "hematoma",
    "hemorragia",
    "sangrado",
    "coleccion",
    "dolor",
    "fiebre",
    "tos",
    "disnea",
    "taquipnea",
    "taquicardia",
    "bradicardia",
    "hipotension",
    "dilatacion",
    "distension",
    "oclusion",
    "obstruccion",
    "estenosis",
    "isquemia",
    "secrecion",
    "retraccion",
    "contusion",
    "ictericia",
    "hipoxemia",
    "cianosis",
    "cefalea",
    "mareo",
    "diarrea",
    "convulsion",
    "sincope",
    "anemia",
    "placenta",
    "lobulo",
    "ventriculo",
    "herida",
    "lesion",
    "masa",
    "nodulo",
    "quiste",
    "adenoma",
    "polipo",
    "absceso",
    "fistula",
    "trombo",
    "trombosis",
    "embolia",
    "necrosis",
    "perforacion",
    "rotura",
    "desgarro",
    "complicacion",
    "enzima",
    "deshidratacion",
    "agitacion",
    "delirio",
    "confusion",
    "astenia",
    "prurito",
    "exantema",
    "eritema",
    "ulcera",
    "infeccion",
    "inflamacion",
    "derrame",
    "ascitis",
    "neumoperitoneo",
    "hemoperitoneo",
    "hipertrofia",
    "adenopatia",
    "acidosis",
    "alcalosis",
    "leucocitosis",
    "hiperglicemia",
    "hipoglicemia",
    "hipokalemia",
];

/// First words of multi-word findings ("dolor ocular", "hemorragia masiva").
const FINDING_HEADS: &[&str] = &[
    "dolor",
    "sangrado",
    "hemorragia",
    "edema",
    "distension",
    "dilatacion",
    "oclusion",
    "estenosis",
    "coleccion",
    "hipoxemia",
    "acidosis",
    "alcalosis",
    "lesion",
    "masa",
];

/// Why an unsupported mention is only a warning.
enum Soft {
    Negated,
    Planned,
    /// Claims that matter less than a diagnosis, drug or surgery: diagnostic studies,
    /// devices, care settings, microorganisms, and words recognised only by their ending.
    Minor,
}

/// Procedures whose mention without data support is worth a warning, not an error:
/// studies and devices a narrative names in passing.
const MINOR_PROCEDURES: &[&str] = &[
    "tomografía computada",
    "radiografía",
    "resonancia magnética",
    "ecografía",
    "ecocardiograma",
    "electrocardiograma",
    "electroencefalograma",
    "biopsia",
    "drenaje",
    "sonda nasogástrica",
    "sonda vesical",
    "catéter venoso central",
    "kinesioterapia",
    "curación con presión negativa",
    "laparoscopía",
    "punción lumbar",
    "endoscopía digestiva alta",
    "coronariografía",
];

impl Analysis<'_> {
    fn soft_reason(&self, m: &Mention) -> Option<Soft> {
        let lx = lexicon();
        let drug = matches!(m.kind, ConceptKind::Drug | ConceptKind::DrugClass);
        if m.negated && m.kind != ConceptKind::Drug {
            return Some(Soft::Negated);
        }
        if drug {
            return None;
        }
        if m.planned {
            return Some(Soft::Planned);
        }
        match m.kind {
            ConceptKind::CareUnit | ConceptKind::Lab | ConceptKind::Finding => Some(Soft::Minor),
            ConceptKind::Procedure => {
                if m.history {
                    return Some(Soft::Planned);
                }
                let minor = if m.concepts.is_empty() {
                    m.keys.iter().any(|k| {
                        k.ends_with("grafia") || k.ends_with("scopia") || k.ends_with("metria")
                    })
                } else {
                    m.concepts
                        .iter()
                        .any(|c| MINOR_PROCEDURES.contains(&lx.concept(*c).canonical.as_str()))
                };
                minor.then_some(Soft::Minor)
            }
            ConceptKind::Diagnosis => {
                let organism = !m.concepts.is_empty()
                    && m.concepts.iter().all(|c| {
                        let codes = &lx.concept(*c).codes;
                        !codes.is_empty()
                            && codes.iter().all(|x| ("B95".."B99").contains(&x.as_str()))
                    });
                // Named diseases are errors; a word that is only the start of a CIE-10 title
                // ("ventrículo derecho"), or a single word naming a sign ("edema",
                // "vómitos"), is a finding the clinician checks.
                let curated = m
                    .concepts
                    .iter()
                    .any(|c| lx.concept(*c).source == ConceptSource::Curated);
                let first = m.keys.first().map(String::as_str).unwrap_or("");
                // A word with a disease ending ("bronquiolitis", "linfoma") names a disease even
                // when the lexicon only knows it as the start of a longer title; "-emia" words
                // are mostly laboratory findings ("hiperbilirrubinemia").
                let disease_head = is_disease_word(first)
                    && !first.ends_with("emia")
                    && !FINDING_WORDS.contains(&first);
                if m.concepts.is_empty() {
                    return (!disease_head).then_some(Soft::Minor);
                }
                let named = curated
                    || m.concepts.iter().any(|c| {
                        let k = lx.concept(*c);
                        (k.complete || disease_head)
                            && if m.keys.len() > 1 {
                                // "hemorragia postparto" where the data says "hemorragia": a
                                // detail added to a documented finding, not a new disease.
                                !(FINDING_HEADS.contains(&first)
                                    && self.ix.all_stems.contains(first))
                            } else {
                                !FINDING_WORDS.contains(&first)
                            }
                    });
                (organism || !named).then_some(Soft::Minor)
            }
            _ => None,
        }
    }
}

/// Two words of one family: one ends the other (`acidosis`/`cetoacidosis`), or they
/// share a long beginning (`hiperosmolar`/`hiperosmolaridad`).
fn related_word(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= 6 && (long.ends_with(short) || (short.len() >= 8 && long.starts_with(short)))
}
