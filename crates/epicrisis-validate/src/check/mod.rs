//! The analysis of one text against one episode.
//!
//! Order matters: codes and dates are found first (their digits are not "numbers"), then
//! lexicon terms (drugs, diagnoses, procedures, labs), then the posology that follows
//! each drug, and only the numbers nobody claimed are checked on their own.

use crate::index::{EpisodeIndex, MedRef};
use crate::report::{Category, Finding, Kind, Report, Severity};
use crate::scan::{CodeShape, CodeSpan, scan_codes, scan_dates};
use epicrisis_domain::codes::code_key;
use epicrisis_domain::lexicon::{
    ConceptId, ConceptKind, ConceptSource, ContentToken, content_tokens, is_disease_word,
    is_procedure_word, lexicon,
};
use epicrisis_domain::numbers::{format_es, interpretations};
use epicrisis_domain::text::{Token, TokenKind, fold, fold_words, stem, tokenize_chars};
use epicrisis_domain::{Allergies, CodeRole, Episode, WarningKind};
use std::collections::HashSet;

mod omissions;
mod posology;
mod regions;
mod roles;
mod states;

/// Words that qualify a diagnosis without changing what it is; a draft may add or drop
/// them freely ("neumonía lobar *resuelta*", "cáncer renal *derecho*").
const QUALIFIERS: &[&str] = &[
    "agudo",
    "aguda",
    "cronico",
    "cronica",
    "leve",
    "moderado",
    "moderada",
    "severo",
    "severa",
    "grave",
    "derecho",
    "derecha",
    "izquierdo",
    "izquierda",
    "bilateral",
    "complicado",
    "complicada",
    "no",
    "resuelto",
    "resuelta",
    "operado",
    "operada",
    "tratado",
    "tratada",
    "compensado",
    "compensada",
    "descompensado",
    "descompensada",
    "inicial",
    "recidivante",
    "recurrente",
    "reciente",
    "previo",
    "previa",
    "probable",
    "posible",
    "sospecha",
    "secundario",
    "secundaria",
    "primario",
    "primaria",
    "simple",
    "multiple",
    "total",
    "parcial",
    "asociado",
    "asociada",
    "controlado",
    "controlada",
    "estable",
    "en",
    "resolucion",
    "tratamiento",
    "evolucion",
    "mayor",
    "menor",
    "superior",
    "inferior",
    "lateral",
    "medial",
    "proximal",
    "distal",
    "anterior",
    "posterior",
    "masivo",
    "masiva",
    "extenso",
    "extensa",
    "pequeno",
    "pequena",
    "grande",
    "avanzado",
    "avanzada",
    "cerrado",
    "cerrada",
    "abierto",
    "abierta",
    "actual",
    "activo",
    "activa",
    "persistente",
    "intermitente",
    "paroxistico",
    "paroxistica",
    "postoperatorio",
    "postoperatoria",
    "post",
    "pre",
    "tipo",
    "mixto",
    "mixta",
    "difuso",
    "difusa",
    "focal",
    "localizado",
    "localizada",
    "generalizado",
    "generalizada",
    "conocido",
    "conocida",
    "nuevo",
    "nueva",
    "antiguo",
    "antigua",
    "tardio",
    "tardia",
    "precoz",
    "inestable",
    "refractario",
    "refractaria",
    "sintomatico",
    "sintomatica",
    "asintomatico",
    "asintomatica",
    "manejo",
    "medico",
    "medica",
    "quirurgico",
    "quirurgica",
    "conservador",
    "conservadora",
    "con",
    "sin",
    "por",
    "y",
    "o",
    "a",
    "u",
    "e",
    "que",
    "se",
    "su",
    "sus",
    "un",
    "una",
    "uno",
    "este",
    "esta",
    "dicho",
    "dicha",
];

/// Cues that a mention is denied ("sin fiebre", "descarta TEP").
const NEGATION_BEFORE: &[&str] = &[
    "evitando",
    "evita",
    "evitar",
    "evitandose",
    "sin",
    "no",
    "niega",
    "descarta",
    "descartan",
    "descartandose",
    "descartado",
    "descartada",
    "ausencia",
    "negativo",
    "negativa",
    "libre",
    "ni",
    "excluye",
    "excluyendo",
    "tampoco",
];
const NEGATION_AFTER: &[&str] = &[
    "descartado",
    "descartada",
    "descartados",
    "negativo",
    "negativa",
    "ausente",
];

/// Cues that a mention is a plan or pending, not something that happened.
const PLAN_BEFORE: &[&str] = &[
    "pendiente",
    "programado",
    "programada",
    "programar",
    "sugiere",
    "sugerir",
    "evaluar",
    "considerar",
    "control",
    "controles",
    "derivar",
    "derivacion",
    "interconsulta",
    "solicitar",
    "solicita",
    "eventual",
    "plan",
    "futuro",
    "espera",
    "recomienda",
    "recomendar",
    "diferido",
    "diferida",
    "ambulatorio",
    "ambulatoria",
    "completar",
    "realizar",
    "debe",
    "deberia",
    "requerira",
    "requiere",
    "indicar",
    "reevaluar",
    "seguimiento",
    "vigilar",
    "consultar",
    "sospecha",
    "descartar",
    "eventualmente",
    "valoracion",
    "evaluacion",
    "candidato",
    "candidata",
    "posible",
    "probable",
    "desfavorable",
    "deriva",
    "adyuvante",
];
/// Cues that a procedure belongs to the past history ("cicatriz de laparotomía previa").
const HISTORY_CUES: &[&str] = &[
    "previa",
    "previo",
    "previas",
    "previos",
    "cicatriz",
    "antecedente",
    "antecedentes",
    "antigua",
    "antiguo",
];
const PLAN_AFTER: &[&str] = &[
    "diferida",
    "diferido",
    "programada",
    "programado",
    "pendiente",
    "ambulatoria",
    "ambulatorio",
    "electiva",
    "electivo",
];

#[derive(Debug, Clone)]
struct Mention {
    concepts: Vec<ConceptId>,
    kind: ConceptKind,
    /// Token range `[tok_start, tok_end)`.
    tok_start: usize,
    tok_end: usize,
    start: usize,
    end: usize,
    /// Content-token keys of the matched words.
    keys: Vec<String>,
    /// Qualifying words that follow a diagnosis (checked against the episode too).
    extension: Vec<String>,
    ext_end: usize,
    negated: bool,
    planned: bool,
    history: bool,
    discharge: bool,
    /// Doses written right after a drug (filled by the posology check).
    doses: Vec<epicrisis_domain::Dose>,
}

struct Analysis<'a> {
    ix: &'a EpisodeIndex,
    episode: &'a Episode,
    chars: Vec<char>,
    tokens: Vec<Token>,
    content: Vec<ContentToken>,
    consumed: Vec<bool>,
    codes: Vec<CodeSpan>,
    mentions: Vec<Mention>,
    text_code_keys: HashSet<String>,
    text_stems: HashSet<String>,
    text_concepts: HashSet<ConceptId>,
    date_values: Vec<(Option<epicrisis_domain::Date>, (u8, u8))>,
    discharge_lines: Vec<(usize, usize)>,
    /// Wider discharge statements (characters), read by the omission check.
    discharge_statements: Vec<(usize, usize)>,
    all_caps: bool,
    findings: Vec<Finding>,
}

/// Validates `text` against an indexed episode.
pub fn validate_indexed(ix: &EpisodeIndex, episode: &Episode, text: &str) -> Report {
    let chars: Vec<char> = text.chars().collect();
    let tokens = tokenize_chars(&chars);
    let letters = chars.iter().filter(|c| c.is_alphabetic()).count();
    let uppers = chars.iter().filter(|c| c.is_uppercase()).count();
    let all_caps = letters > 20 && uppers * 10 >= letters * 8;
    let content = content_tokens(&chars, &tokens);
    let n = tokens.len();
    let mut a = Analysis {
        ix,
        episode,
        chars,
        tokens,
        content,
        consumed: vec![false; n],
        codes: Vec::new(),
        mentions: Vec::new(),
        text_code_keys: HashSet::new(),
        text_stems: HashSet::new(),
        text_concepts: HashSet::new(),
        date_values: Vec::new(),
        discharge_lines: Vec::new(),
        discharge_statements: Vec::new(),
        all_caps,
        findings: Vec::new(),
    };
    a.run();
    Report::new(a.findings)
}

impl<'a> Analysis<'a> {
    fn run(&mut self) {
        self.find_discharge_sections();
        self.check_codes();
        self.check_dates();
        self.find_mentions();
        self.check_mentions();
        self.check_procedure_regions();
        self.check_admission_states();
        self.check_discharge_states();
        self.check_code_association();
        self.check_posology();
        self.check_numbers();
        self.check_allergies();
        self.check_omissions();
        self.check_style();
        self.source_warnings();
    }

    fn slice(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }

    fn consume_chars(&mut self, start: usize, end: usize) {
        // Tokens are in text order and do not overlap: start at the first that ends
        // after `start` (a text of thousands of codes must not rescan every token).
        let first = self.tokens.partition_point(|t| t.end <= start);
        for i in first..self.tokens.len() {
            if self.tokens[i].start >= end {
                break;
            }
            self.consumed[i] = true;
        }
    }

    /// The tokens wholly between two character positions.
    fn tokens_between(&self, start: usize, end: usize) -> &[Token] {
        let from = self.tokens.partition_point(|t| t.start < start);
        let to = self.tokens.partition_point(|t| t.end <= end).max(from);
        &self.tokens[from..to]
    }

    fn push(
        &mut self,
        severity: Severity,
        kind: Kind,
        category: Category,
        mention: String,
        span: Option<[usize; 2]>,
        message: String,
    ) {
        self.findings.push(Finding {
            severity,
            kind,
            category,
            mention,
            span,
            claim: None,
            message,
        });
    }

    // ---------------------------------------------------------------- codes
    fn check_codes(&mut self) {
        self.codes = scan_codes(&self.chars);
        let codes = self.codes.clone();
        for c in &codes {
            let key = code_key(&c.text);
            self.consume_chars(c.start, c.end);
            let supported = self.ix.codes.contains_key(&key)
                || (matches!(c.shape, CodeShape::Icd10Short | CodeShape::AtcGroup)
                    && self.ix.codes.keys().any(|k| k.starts_with(&key)));
            if supported {
                self.text_code_keys.insert(key);
                continue;
            }
            // "(1.5)" may be a number rather than a procedure code.
            if c.shape == CodeShape::ProcedureLike {
                let readings = interpretations(&c.text.replace('.', ","));
                if self.ix.has_number(&readings) || self.ix.has_number(&interpretations(&c.text)) {
                    continue;
                }
            }
            let what = match c.shape {
                CodeShape::AtcFull | CodeShape::AtcGroup => {
                    let lx = lexicon();
                    match lx.drugs_with_atc(&key).first() {
                        Some(id) => format!(
                            " (en la clasificación ATC corresponde a {})",
                            lx.concept(*id).canonical
                        ),
                        None => " (código ATC)".to_string(),
                    }
                }
                CodeShape::Icd10Dotted | CodeShape::Icd10Short | CodeShape::AlnumCode => {
                    match lexicon().icd10_name(&c.text) {
                        Some(name) => format!(" (en CIE-10: {name})"),
                        None => String::new(),
                    }
                }
                CodeShape::ProcedureLike => " (código de procedimiento)".to_string(),
            };
            self.push(
                Severity::Error,
                Kind::Unsupported,
                Category::Code,
                c.text.clone(),
                Some([c.start, c.end]),
                format!(
                    "El código {}{} no figura en los datos del episodio.",
                    c.text, what
                ),
            );
        }
    }

    // ---------------------------------------------------------------- dates
    fn check_dates(&mut self) {
        let dates = scan_dates(&self.chars);
        for d in dates {
            if self
                .codes
                .iter()
                .any(|c| c.start < d.end && d.start < c.end)
            {
                continue;
            }
            self.consume_chars(d.start, d.end);
            self.date_values.push((d.date, d.day_month));
            let supported = match d.date {
                Some(date) => self.ix.dates.contains(&date),
                None => self
                    .ix
                    .dates
                    .iter()
                    .any(|x| (x.day(), x.month()) == d.day_month),
            };
            if !supported {
                let known: Vec<String> = {
                    let mut v: Vec<_> = self.ix.dates.iter().copied().collect();
                    v.sort();
                    v.iter().take(4).map(|d| d.to_dmy()).collect()
                };
                let hint = if known.is_empty() {
                    "el episodio no registra fechas".to_string()
                } else {
                    format!("fechas del episodio: {}", known.join(", "))
                };
                self.push(
                    Severity::Error,
                    Kind::Unsupported,
                    Category::Date,
                    d.text.clone(),
                    Some([d.start, d.end]),
                    format!("La fecha «{}» no figura en los datos ({hint}).", d.text),
                );
            }
        }
    }

    // ---------------------------------------------------------------- mentions
    fn find_mentions(&mut self) {
        let lx = lexicon();
        let content: Vec<ContentToken> = self
            .content
            .iter()
            .filter(|c| !self.consumed[c.token])
            .cloned()
            .collect();
        for c in &content {
            self.text_stems.insert(c.key.clone());
        }
        let matches = lx.find_terms(&content, self.all_caps);
        let mut covered = vec![false; content.len()];
        for m in &matches {
            let kinds: Vec<ConceptKind> = m.concepts.iter().map(|c| lx.concept(*c).kind).collect();
            let kind = [
                ConceptKind::Drug,
                ConceptKind::DrugClass,
                ConceptKind::Diagnosis,
                ConceptKind::Procedure,
                ConceptKind::Lab,
                ConceptKind::CareUnit,
                ConceptKind::Finding,
            ]
            .into_iter()
            .find(|k| kinds.contains(k))
            .unwrap_or(ConceptKind::Diagnosis);
            for c in &m.concepts {
                self.text_concepts.insert(*c);
            }
            for k in covered.iter_mut().take(m.end).skip(m.start) {
                *k = true;
            }
            let tok_start = content[m.start].token;
            let tok_end = content[m.end - 1].token + 1;
            let keys: Vec<String> = content[m.start..m.end]
                .iter()
                .map(|c| c.key.clone())
                .collect();
            let extension: Vec<String> = Vec::new();
            let ext_end = tok_end;
            for t in tok_start..tok_end {
                self.consumed[t] = true;
            }
            let start = self.tokens[tok_start].start;
            let end = self.tokens[tok_end - 1].end;
            self.mentions.push(Mention {
                concepts: m.concepts.clone(),
                kind,
                tok_start,
                tok_end,
                start,
                end,
                keys,
                extension,
                ext_end,
                negated: false,
                planned: false,
                history: false,
                discharge: false,
                doses: Vec::new(),
            });
        }
        // Words that look like diagnoses or procedures but are not in the lexicon
        // ("colangiocarcinoma", "hemicolectomía"): checked by their own letters.
        for (i, c) in content.iter().enumerate() {
            if covered[i]
                || self.tokens[c.token].kind != TokenKind::Word
                || lx.is_common_word(&c.key)
            {
                continue;
            }
            let kind = if is_procedure_word(&c.key) {
                ConceptKind::Procedure
            } else if is_disease_word(&c.key) {
                ConceptKind::Diagnosis
            } else {
                continue;
            };
            let t = &self.tokens[c.token];
            self.consumed[c.token] = true;
            self.mentions.push(Mention {
                concepts: Vec::new(),
                kind,
                tok_start: c.token,
                tok_end: c.token + 1,
                start: t.start,
                end: t.end,
                keys: vec![c.key.clone()],
                extension: Vec::new(),
                ext_end: c.token + 1,
                negated: false,
                planned: false,
                history: false,
                discharge: false,
                doses: Vec::new(),
            });
        }
        self.mentions.sort_by_key(|m| m.start);
        for i in 0..self.mentions.len() {
            let (neg, plan, hist, dis) = self.context_of(i);
            let m = &mut self.mentions[i];
            m.negated = neg;
            m.planned = plan;
            m.history = hist;
            m.discharge = dis;
        }
    }

    /// Negation, plan and discharge context of mention `i`, from the words of its clause
    /// and sentence.
    fn context_of(&self, i: usize) -> (bool, bool, bool, bool) {
        let m = &self.mentions[i];
        // Walk back to the start of the clause and of the sentence.
        let mut words_back: Vec<&str> = Vec::new();
        let mut sentence_back: Vec<&str> = Vec::new();
        let mut clause_done = false;
        let mut t = m.tok_start;
        while t > 0 {
            t -= 1;
            let tok = &self.tokens[t];
            if tok.kind == TokenKind::Punct {
                let p = tok.norm.as_str();
                let sentence_end = (p == "."
                    && self.chars.get(tok.end).is_none_or(|c| c.is_whitespace()))
                    || p == "\n";
                if sentence_end || self.chars[tok.start..tok.end].contains(&'\n') {
                    break;
                }
                if matches!(p, "," | ";" | "(" | ":") {
                    clause_done = true;
                }
                continue;
            }
            if self.chars[tok.end..self.tokens.get(t + 1).map_or(tok.end, |n| n.start)]
                .contains(&'\n')
            {
                break;
            }
            if !clause_done && words_back.len() < 6 {
                words_back.push(&tok.norm);
            }
            sentence_back.push(&tok.norm);
            if sentence_back.len() > 60 {
                break;
            }
        }
        let mut after: Vec<&str> = Vec::new();
        let mut k = m.ext_end;
        while k < self.tokens.len() && after.len() < 3 {
            let tok = &self.tokens[k];
            if tok.kind == TokenKind::Punct {
                if matches!(tok.norm.as_str(), "," | "." | ";" | "(") {
                    break;
                }
            } else {
                after.push(&tok.norm);
            }
            k += 1;
        }
        let negated = words_back.iter().any(|w| NEGATION_BEFORE.contains(w))
            || after.iter().take(2).any(|w| NEGATION_AFTER.contains(w));
        let planned = sentence_back
            .iter()
            .any(|w| PLAN_BEFORE.iter().any(|p| w.starts_with(p)))
            || after.iter().take(2).any(|w| PLAN_AFTER.contains(w));
        let discharge = self.in_discharge(m.start);
        let history = words_back.iter().any(|w| HISTORY_CUES.contains(w))
            || after.iter().take(3).any(|w| HISTORY_CUES.contains(w));
        (negated, planned, history, discharge)
    }

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

    fn mention_supported(&self, m: &Mention) -> bool {
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

    fn check_mentions(&mut self) {
        let lx = lexicon();
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
                out.push(Finding {
                    severity,
                    kind: Kind::Unsupported,
                    category,
                    mention: words,
                    span: Some([m.start, end]),
                    claim: None,
                    message,
                });
                continue;
            }
            // A drug named in the discharge prescription must be in it.
            if m.kind == ConceptKind::Drug && m.discharge && !m.negated {
                let in_discharge = m
                    .concepts
                    .iter()
                    .any(|c| self.ix.discharge_concepts.contains(c))
                    || m.concepts.iter().any(|c| {
                        lx.concept(*c).codes.iter().any(|code| {
                            self.ix.meds.iter().any(|x| {
                                x.discharge
                                    && x.code_key.as_deref() == Some(code_key(code).as_str())
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
                        .any(|u| m.keys.iter().all(|k| u.stems.contains(k)));
                if !in_discharge {
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
        }
        self.findings.extend(out);
    }

    // ---------------------------------------------------------------- code ↔ item
    /// A real code attached to the wrong item: "ceftriaxona (J01XD01)" when J01XD01 is
    /// metronidazol's code in the data.
    fn check_code_association(&mut self) {
        let lx = lexicon();
        let mut out = Vec::new();
        let mut prev_end = 0usize;
        for c in &self.codes {
            let key = code_key(&c.text);
            let Some(refs) = self.ix.codes.get(&key) else {
                prev_end = c.end;
                continue;
            };
            let drug_code = refs.iter().all(|r| {
                matches!(
                    r.role,
                    Some(CodeRole::Treatment | CodeRole::DischargeMedication)
                )
            });
            // The nearest mention before the code, after the previous code, same sentence.
            // Mentions are sorted by start: look back only as far as the previous code.
            let upto = self.mentions.partition_point(|m| m.start < c.start);
            let m = self.mentions[..upto]
                .iter()
                .rev()
                .take_while(|m| m.start >= prev_end)
                .find(|m| {
                    m.end <= c.start
                        && !self.chars[m.end..c.start]
                            .iter()
                            .any(|ch| *ch == '.' || *ch == ';' || *ch == '\n')
                });
            prev_end = c.end;
            let Some(m) = m else { continue };
            let gap: Vec<&str> = self
                .tokens_between(m.end, c.start)
                .iter()
                .map(|t| t.norm.as_str())
                .collect();
            if gap.iter().any(|w| matches!(*w, "," | "y" | "e" | ";")) {
                continue;
            }
            if drug_code && m.kind == ConceptKind::Drug {
                let owners: Vec<&MedRef> = self
                    .ix
                    .meds
                    .iter()
                    .filter(|x| x.code_key.as_deref() == Some(key.as_str()))
                    .collect();
                let owner_match = owners.iter().any(|o| {
                    o.concepts.iter().any(|oc| m.concepts.contains(oc))
                        || m.keys.iter().all(|k| o.stems.contains(k))
                });
                // Also accept when the mention's own official codes include this one.
                let official = m
                    .concepts
                    .iter()
                    .any(|cid| lx.concept(*cid).codes.iter().any(|x| code_key(x) == key));
                let mention_is_episode_drug = self.ix.meds_for(&m.concepts).next().is_some();
                if !owner_match && !official && mention_is_episode_drug && !owners.is_empty() {
                    let words = self.slice(m.start, m.end);
                    out.push(Finding {
                        severity: Severity::Error,
                        kind: Kind::Unsupported,
                        category: Category::Code,
                        mention: c.text.clone(),
                        span: Some([c.start, c.end]),
                        claim: None,
                        message: format!(
                            "El código {} corresponde a «{}» en los datos, no a «{}».",
                            c.text, owners[0].name, words
                        ),
                    });
                }
            }
        }
        self.findings.extend(out);
    }

    // ---------------------------------------------------------------- posology
    // ---------------------------------------------------------------- numbers
    /// Whether a free text of the episode (a note, a discharge indication) names the lab
    /// test of `lab` and writes one of `readings`: a value the notes record ("HGT
    /// 140-230") that the lab summary, with only its first and last results, lacks.
    fn in_a_text_with(&self, lab: &Mention, readings: &[f64]) -> bool {
        self.ix.units.iter().any(|u| {
            let names = u.concepts.iter().any(|c| lab.concepts.contains(c))
                || (!lab.keys.is_empty() && lab.keys.iter().all(|k| u.stems.contains(k)));
            names
                && readings.iter().any(|r| {
                    u.numbers
                        .contains(&epicrisis_domain::numbers::value_key(*r))
                })
        })
    }

    fn check_numbers(&mut self) {
        let mut out = Vec::new();
        let lab_mentions: Vec<&Mention> = self
            .mentions
            .iter()
            .filter(|m| m.kind == ConceptKind::Lab)
            .collect();
        let mut i = 0;
        while i < self.tokens.len() {
            let t = &self.tokens[i];
            if t.kind != TokenKind::Number || self.consumed[i] {
                i += 1;
                continue;
            }
            let readings = interpretations(&t.norm);
            if readings.is_empty() || readings.iter().all(|v| *v <= 1.0) {
                i += 1;
                continue;
            }
            // The base and exponent of a unit («16,8 x10^3/uL») are not values.
            let caret = |j: Option<usize>| {
                j.and_then(|j| self.tokens.get(j))
                    .is_some_and(|x| x.is_punct("^"))
            };
            if caret(i.checked_sub(1)) || caret(Some(i + 1)) {
                i += 1;
                continue;
            }
            // Ranges "3-6", "3 a 6": each number is checked on its own.
            let mut end_tok = i + 1;
            if let Some(u) = self.tokens.get(i + 1)
                && u.kind == TokenKind::Word
                && (u.glued || is_unit_word(&u.norm))
                && is_unit_word(&u.norm)
            {
                end_tok = i + 2;
            } else if self.tokens.get(i + 1).is_some_and(|u| u.is_punct("%")) {
                end_tok = i + 2;
            }
            let span = [t.start, self.tokens[end_tok - 1].end];
            let words = self.slice(span[0], span[1]);
            // A laboratory value right after a lab test name is checked against that test.
            let lab = lab_mentions.iter().rev().find(|m| {
                m.tok_end <= i
                    && i - m.tok_end <= 3
                    && !self.tokens[m.tok_end..i].iter().any(|x| {
                        // A quoted note ends at its closing quote: «… PCR 12,1» Día 5.
                        x.kind == TokenKind::Punct
                            && matches!(x.norm.as_str(), "." | ";" | "(" | "»" | "«")
                    })
            });
            if let Some(lm) = lab {
                let labs: Vec<_> = self
                    .ix
                    .labs
                    .iter()
                    .filter(|l| {
                        l.concepts.iter().any(|c| lm.concepts.contains(c))
                            || (!lm.keys.is_empty() && lm.keys.iter().all(|k| l.stems.contains(k)))
                    })
                    .collect();
                if !labs.is_empty() {
                    let ok = labs.iter().any(|l| {
                        l.values.iter().any(|v| {
                            readings
                                .iter()
                                .any(|r| epicrisis_domain::numbers::same_value(*r, *v))
                        })
                    }) || self.in_a_text_with(lm, &readings);
                    if !ok {
                        let data: Vec<String> = labs
                            .iter()
                            .map(|l| {
                                format!(
                                    "{}: {}",
                                    l.test,
                                    l.values
                                        .iter()
                                        .take(4)
                                        .map(|v| format_es(*v))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                            .collect();
                        out.push(Finding {
                            severity: Severity::Error,
                            kind: Kind::Unsupported,
                            category: Category::Lab,
                            mention: words.clone(),
                            span: Some(span),
                            claim: None,
                            message: format!("El valor «{words}» no coincide con los resultados de laboratorio del episodio ({}).", data.join("; ")),
                        });
                    }
                    i = end_tok;
                    continue;
                }
            }
            if !self.ix.has_number(&readings) {
                // A number tied to no drug and no laboratory test of the episode (a size,
                // a score, an age) cannot contradict the data, only lack support: the
                // clinician is asked to verify it.
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::Unsupported,
                    category: Category::Number,
                    mention: words.clone(),
                    span: Some(span),
                    claim: None,
                    message: format!(
                        "La cifra «{words}» no figura en los datos del episodio; verifíquela."
                    ),
                });
            }
            i = end_tok;
        }
        self.findings.extend(out);
    }

    // ---------------------------------------------------------------- allergies
    fn check_allergies(&mut self) {
        let mut out = Vec::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.kind != TokenKind::Word
                || !(t.norm.starts_with("alergi") || t.norm.starts_with("alergic"))
            {
                continue;
            }
            let before: Vec<&str> = self.tokens[i.saturating_sub(3)..i]
                .iter()
                .filter(|x| x.kind == TokenKind::Word)
                .map(|x| x.norm.as_str())
                .collect();
            let after: Vec<&Token> = self.tokens[i + 1..self.tokens.len().min(i + 6)]
                .iter()
                .take_while(|x| {
                    !(x.kind == TokenKind::Punct && matches!(x.norm.as_str(), "." | ";" | ","))
                })
                .collect();
            let after_words: Vec<&str> = after
                .iter()
                .filter(|x| x.kind == TokenKind::Word)
                .map(|x| x.norm.as_str())
                .collect();
            let span = Some([t.start, after.last().map_or(t.end, |x| x.end)]);
            let words = self.slice(t.start, after.last().map_or(t.end, |x| x.end));
            let not_recorded = after_words.first().is_some_and(|w| *w == "no")
                && after_words
                    .get(1)
                    .is_some_and(|w| w.starts_with("consignad") || w.starts_with("registrad"));
            let denies = before
                .iter()
                .any(|w| matches!(*w, "sin" | "no" | "niega" | "ninguna" | "refiere"))
                && !before.contains(&"refiere")
                || before.contains(&"niega")
                || after_words
                    .first()
                    .is_some_and(|w| matches!(*w, "no" | "negativas" | "ninguna" | "desconocidas"))
                    && !not_recorded;
            let denies = denies || (before.contains(&"refiere") && before.contains(&"no"));
            if not_recorded {
                if let Allergies::Known(list) = &self.ix.allergies {
                    out.push(Finding { severity: Severity::Error, kind: Kind::Unsupported, category: Category::Allergy, mention: words.clone(), span, claim: None, message: format!("El texto dice que las alergias no están consignadas, pero el episodio registra: {}.", list.join(", ")) });
                }
                continue;
            }
            // "alergia a X" / "alérgico a X" names an allergy.
            let names_one = after_words.first().is_some_and(|w| *w == "a" || *w == "al");
            match (&self.ix.allergies, denies) {
                (Allergies::Known(list), true) => out.push(Finding {
                    severity: Severity::Error,
                    kind: Kind::Unsupported,
                    category: Category::Allergy,
                    mention: words.clone(),
                    span,
                    claim: None,
                    message: format!(
                        "El texto niega alergias, pero el episodio registra: {}.",
                        list.join(", ")
                    ),
                }),
                (Allergies::NoneKnown | Allergies::NotRecorded, false) if names_one => {
                    out.push(Finding {
                        severity: Severity::Error,
                        kind: Kind::Unsupported,
                        category: Category::Allergy,
                        mention: words.clone(),
                        span,
                        claim: None,
                        message: "El episodio no registra esta alergia.".to_string(),
                    });
                }
                (Allergies::Known(list), false) if names_one => {
                    let recorded: HashSet<String> = list
                        .iter()
                        .flat_map(|s| {
                            fold_words(s)
                                .split(' ')
                                .map(|w| stem(w).to_string())
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    let named: Vec<String> = after_words
                        .iter()
                        .skip(1)
                        .filter(|w| w.len() > 3)
                        .map(|w| stem(w).to_string())
                        .collect();
                    if !named.is_empty() && !named.iter().any(|w| recorded.contains(w)) {
                        out.push(Finding {
                            severity: Severity::Error,
                            kind: Kind::Unsupported,
                            category: Category::Allergy,
                            mention: words.clone(),
                            span,
                            claim: None,
                            message: format!(
                                "La alergia no coincide con la registrada: {}.",
                                list.join(", ")
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
        self.findings.extend(out);
    }

    // ---------------------------------------------------------------- style
    fn check_style(&mut self) {
        let text: String = self.chars.iter().collect();
        let mut out = Vec::new();
        // Shorthand frequencies in prose: "c/8h" should read "cada 8 horas".
        for (i, t) in self.tokens.iter().enumerate() {
            if t.norm == "c"
                && self.tokens.get(i + 1).is_some_and(|x| x.is_punct("/"))
                && self
                    .tokens
                    .get(i + 2)
                    .is_some_and(|x| x.kind == TokenKind::Number)
            {
                let end = self
                    .tokens
                    .get(i + 3)
                    .filter(|x| x.glued)
                    .map_or(self.tokens[i + 2].end, |x| x.end);
                let words = self.slice(t.start, end);
                let n = &self.tokens[i + 2].norm;
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::Style,
                    category: Category::Other,
                    mention: words.clone(),
                    span: Some([t.start, end]),
                    claim: None,
                    message: format!(
                        "Abreviatura en el texto: escriba «cada {n} horas» en vez de «{words}»."
                    ),
                });
            }
        }
        for marker in [
            "<|",
            "|>",
            "</s>",
            "[INST]",
            "[/INST]",
            "<start_of_turn>",
            "<end_of_turn>",
            "###",
            "como modelo de lenguaje",
            "as an ai",
        ] {
            let f = fold(&text);
            if let Some(pos) = f.find(&fold(marker)) {
                let start = f[..pos].chars().count();
                let end = start + marker.chars().count();
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: Kind::Style,
                    category: Category::Other,
                    mention: self.slice(start, end),
                    span: Some([start, end]),
                    claim: None,
                    message: "Resto de formato del modelo de lenguaje; elimínelo.".to_string(),
                });
            }
        }
        // The same sentence twice. Sentences end at ". " or a line break (not at the dot
        // of a code); list entries are not sentences (a diagnosis may be both an admission
        // and a discharge item).
        let mut seen: HashSet<String> = HashSet::new();
        let mut start = 0usize;
        let n = self.chars.len();
        let mut i = 0usize;
        while i <= n {
            let at_end = i == n
                || self.chars[i] == '\n'
                || (self.chars[i] == '.'
                    && self.chars.get(i + 1).is_none_or(|c| c.is_whitespace()));
            if at_end {
                let end = if i < n && self.chars[i] == '.' {
                    i + 1
                } else {
                    i
                };
                // Trim the sentence to its words.
                let mut a = start;
                while a < end && self.chars[a].is_whitespace() {
                    a += 1;
                }
                let mut b = end;
                while b > a && self.chars[b - 1].is_whitespace() {
                    b -= 1;
                }
                let sentence = self.slice(a, b);
                let list_item = sentence.starts_with("- ") || sentence.starts_with("* ");
                let key = fold_words(&sentence);
                if !list_item && key.split(' ').count() >= 5 && !seen.insert(key) {
                    out.push(Finding {
                        severity: Severity::Warning,
                        kind: Kind::Style,
                        category: Category::Other,
                        mention: sentence,
                        span: Some([a, b]),
                        claim: None,
                        message: "Oración repetida.".to_string(),
                    });
                }
                start = end;
            }
            i += 1;
        }
        if text.trim().is_empty() {
            out.push(Finding {
                severity: Severity::Error,
                kind: Kind::Omission,
                category: Category::Other,
                mention: String::new(),
                span: None,
                claim: None,
                message: "El texto está vacío.".to_string(),
            });
        }
        self.findings.extend(out);
    }

    /// The source data's doubts, the most harmful first (a code of another drug).
    fn source_warnings(&mut self) {
        let mut warnings: Vec<_> = self.episode.warnings.iter().collect();
        warnings.sort_by_key(|w| w.kind.harm_rank());
        for w in warnings {
            if w.kind == WarningKind::Normalised {
                continue;
            }
            let category = match w.kind {
                WarningKind::MalformedCode | WarningKind::SuspiciousCode => Category::Code,
                _ => Category::Other,
            };
            self.findings.push(Finding {
                severity: Severity::Warning,
                kind: Kind::SuspiciousSource,
                category,
                // Where, in words; the message says what is wrong.
                mention: w.place_es(),
                span: None,
                claim: None,
                message: w.text_es().to_string(),
            });
        }
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

fn is_unit_word(w: &str) -> bool {
    matches!(
        w,
        "mg" | "g"
            | "gr"
            | "mcg"
            | "ug"
            | "ml"
            | "cc"
            | "l"
            | "lt"
            | "kg"
            | "cm"
            | "mm"
            | "m"
            | "h"
            | "hr"
            | "hrs"
            | "horas"
            | "hora"
            | "d"
            | "dia"
            | "dias"
            | "semanas"
            | "semana"
            | "sem"
            | "meses"
            | "mes"
            | "anos"
            | "ano"
            | "min"
            | "minutos"
            | "ui"
            | "u"
            | "meq"
            | "mmol"
            | "mmhg"
            | "lpm"
            | "rpm"
            | "x"
            | "veces"
            | "unidades"
            | "puff"
            | "fr"
            | "c"
            | "mo"
            | "er"
            | "do"
            | "ro"
            | "to"
    )
}
