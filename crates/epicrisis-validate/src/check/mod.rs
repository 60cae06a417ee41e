//! The analysis of one text against one episode.
//!
//! Order matters: codes and dates are found first (their digits are not "numbers"), then
//! lexicon terms (drugs, diagnoses, procedures, labs), then the posology that follows
//! each drug, and only the numbers nobody claimed are checked on their own.
//!
//! This module holds the analysis and its order (`Analysis::run`); each pass lives in
//! a module of its own.

use crate::index::EpisodeIndex;
use crate::report::{Category, Finding, Kind, Report, Severity};
use crate::scan::CodeSpan;
use epicrisis_domain::lexicon::{ConceptId, ConceptKind, ContentToken, content_tokens};
use epicrisis_domain::text::{Token, tokenize_chars};
use epicrisis_domain::{Episode, WarningKind};
use std::collections::HashSet;

mod allergies;
mod codes;
mod mentions;
mod numbers;
mod omissions;
mod posology;
mod regions;
mod roles;
mod states;
mod style;
mod support;

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
