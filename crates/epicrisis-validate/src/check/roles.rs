//! Claims that name real items of the data in a role the data does not give them:
//! - an imaging study whose body regions no single study or note of the data has
//!   («TAC de tórax y pelvis» from «TAC de tórax» and «TAC de abdomen y pelvis»): two
//!   studies merged, or one altered;
//! - a diagnosis stated as of admission with the state it had at discharge («ingresa por
//!   derrame pleural resuelto»): the admission cannot hold what the stay resolved.

use super::{Analysis, Mention};
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::lexicon::ConceptKind;
use epicrisis_domain::text::{TokenKind, fold};

/// Body regions of an imaging study (folded; compared on their first five letters, so
/// «abdominal» is «abdomen» and «torácico» is «tórax»).
const REGIONS: &[&str] = &[
    "torax",
    "toracico",
    "abdomen",
    "abdominal",
    "pelvis",
    "pelvico",
    "pelviano",
    "cerebro",
    "cerebral",
    "craneo",
    "encefalo",
    "cuello",
    "cervical",
    "dorsal",
    "lumbar",
    "columna",
    "rodilla",
    "cadera",
    "hombro",
    "tobillo",
    "muneca",
    "renal",
    "rinon",
    "vesical",
    "hepatico",
    "higado",
    "pulmonar",
    "mama",
    "mamas",
    "tiroides",
    "orbitas",
    "senos",
];

/// Words that may stand between a study and its regions, or between regions: «TAC de
/// tórax, abdomen y pelvis», «TC computada de cerebro sin contraste».
const JOINERS: &[&str] = &[
    "de",
    "del",
    "y",
    "e",
    "con",
    "contraste",
    "sin",
    "la",
    "el",
    "computada",
    "computarizada",
    "axial",
    "simple",
    "magnetica",
    "nuclear",
    "doppler",
    "control",
];

/// The imaging modality a word names (`tc`, `rm`, `eco`, `rx`, `pet`), if any.
fn modality(word: &str) -> Option<&'static str> {
    let w = fold(word);
    let starts = |ps: &[&str]| ps.iter().any(|p| w.starts_with(p));
    if matches!(w.as_str(), "tac" | "tc" | "scanner" | "escaner")
        || starts(&["tomograf", "angiotac", "angiotc"])
    {
        Some("tc")
    } else if matches!(w.as_str(), "rm" | "rnm") || starts(&["resonanc"]) {
        Some("rm")
    } else if w == "eco" || starts(&["ecograf", "ecotomograf", "ultrason"]) {
        Some("eco")
    } else if w == "rx" || starts(&["radiograf"]) {
        Some("rx")
    } else if w == "pet" {
        Some("pet")
    } else {
        None
    }
}

fn region_prefix(w: &str) -> Option<String> {
    let f = fold(w);
    REGIONS
        .contains(&f.as_str())
        .then(|| f.chars().take(5).collect())
}

/// The regions that follow each study of `modality` in a text, one set per study.
fn studies_in(text: &str, modality_of: &str) -> Vec<Vec<String>> {
    let words: Vec<String> = fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if modality(w) != Some(modality_of) {
            continue;
        }
        let mut regions = Vec::new();
        for x in words.iter().skip(i + 1).take(12) {
            if let Some(p) = region_prefix(x) {
                regions.push(p);
            } else if !JOINERS.contains(&x.as_str()) {
                break;
            }
        }
        out.push(regions);
    }
    out
}

/// Resolution states: what a diagnosis can be at discharge, not at admission.
const RESOLVED: &[&str] = &[
    "resuelto",
    "resuelta",
    "resueltos",
    "resueltas",
    "superado",
    "superada",
    "remitido",
    "remitida",
    "corregido",
    "corregida",
    "revertido",
    "revertida",
];

/// Words that put a sentence at admission («ingresa por», «consulta por»).
const ADMISSION_CUES: &[&str] = &[
    "ingresa",
    "ingreso",
    "ingresando",
    "ingresada",
    "ingresado",
    "consulta",
    "consulto",
    "admision",
];

/// Words after which the sentence is no longer at admission («… y al alta …»).
const LATER_CUES: &[&str] = &[
    "alta",
    "egreso",
    "evoluciona",
    "evoluciono",
    "finalmente",
    "actualmente",
    "posteriormente",
    "luego",
    "hasta",
];

impl Analysis<'_> {
    /// The region words of mention `m` and right after it (joined by «de», «y», commas,
    /// hyphens), as five-letter prefixes.
    fn regions_of(&self, m: &Mention) -> Vec<String> {
        let mut out: Vec<String> = m.keys.iter().filter_map(|k| region_prefix(k)).collect();
        for t in &self.tokens[m.tok_end..self.tokens.len().min(m.tok_end + 10)] {
            if t.kind == TokenKind::Punct {
                if matches!(t.norm.as_str(), "," | "-" | "/") {
                    continue;
                }
                break;
            }
            if let Some(p) = region_prefix(&t.norm) {
                out.push(p);
            } else if !JOINERS.contains(&t.norm.as_str()) {
                break;
            }
        }
        out
    }

    /// Whether one study of the data (a procedure, or a study a note names) of the same
    /// modality covers every region.
    fn one_study_has(&self, modality_of: &str, regions: &[String]) -> bool {
        self.ix.units.iter().any(|u| {
            studies_in(&u.text, modality_of)
                .iter()
                .any(|found| regions.iter().all(|r| found.contains(r)))
        })
    }

    /// Whether some study of this modality in the data names a body region.
    fn studies_with_regions(&self, modality_of: &str) -> bool {
        self.ix.units.iter().any(|u| {
            studies_in(&u.text, modality_of)
                .iter()
                .any(|found| !found.is_empty())
        })
    }

    pub(super) fn check_procedure_regions(&mut self) {
        let mut out = Vec::new();
        for m in &self.mentions {
            if m.kind != ConceptKind::Procedure || m.negated || m.planned {
                continue;
            }
            let Some(modality_of) = m.keys.iter().find_map(|k| modality(k)) else {
                continue;
            };
            if !self.mention_supported(m) {
                continue;
            }
            let regions = self.regions_of(m);
            if regions.is_empty() || self.one_study_has(modality_of, &regions) {
                continue;
            }
            // The whole study as written: up to the last region word.
            let inside = m.keys.iter().filter(|k| region_prefix(k).is_some()).count();
            let mut end = m.end;
            let mut seen = inside;
            for t in &self.tokens[m.tok_end..self.tokens.len().min(m.tok_end + 10)] {
                if seen == regions.len() {
                    break;
                }
                if t.kind == TokenKind::Word && region_prefix(&t.norm).is_some() {
                    seen += 1;
                    end = t.end;
                }
            }
            let words = self.slice(m.start, end);
            // When no study of this modality in the data names a region («reducción
            // eco guiada»), the region is a detail the data cannot confirm, not a merger.
            let (severity, message) = if self.studies_with_regions(modality_of) {
                (
                    Severity::Error,
                    format!(
                        "Ningún examen de los datos es «{words}»: revise que no se hayan unido o alterado dos exámenes distintos."
                    ),
                )
            } else {
                (
                    Severity::Warning,
                    format!(
                        "Los datos no dicen qué región estudió el examen «{words}»: verifíquela."
                    ),
                )
            };
            out.push(Finding {
                severity,
                kind: Kind::Unsupported,
                category: Category::Procedure,
                mention: words.clone(),
                span: Some([m.start, end]),
                claim: None,
                message,
            });
        }
        self.findings.extend(out);
    }

    /// Whether the sentence before token `tok` speaks of the admission: an admission cue
    /// with no later cue between it and the token.
    fn at_admission(&self, tok: usize) -> bool {
        for i in (0..tok).rev() {
            let t = &self.tokens[i];
            let next = self.tokens.get(i + 1).map_or(t.end, |n| n.start);
            if self.chars[t.end..next.max(t.end)].contains(&'\n') {
                return false;
            }
            if t.kind == TokenKind::Punct {
                if t.norm == "." {
                    return false;
                }
                continue;
            }
            let w = t.norm.as_str();
            if LATER_CUES.contains(&w) {
                return false;
            }
            if ADMISSION_CUES.contains(&w) {
                return true;
            }
        }
        false
    }

    pub(super) fn check_admission_states(&mut self) {
        let mut out = Vec::new();
        for m in &self.mentions {
            if m.kind != ConceptKind::Diagnosis || m.negated || m.discharge || m.history {
                continue;
            }
            let Some(state) = self.tokens[m.tok_end..self.tokens.len().min(m.tok_end + 2)]
                .iter()
                .take_while(|t| t.kind == TokenKind::Word)
                .find(|t| RESOLVED.contains(&t.norm.as_str()))
            else {
                continue;
            };
            if !self.at_admission(m.tok_start) {
                continue;
            }
            let words = self.slice(m.start, state.end);
            out.push(Finding {
                severity: Severity::Error,
                kind: Kind::Unsupported,
                category: Category::Diagnosis,
                mention: words.clone(),
                span: Some([m.start, state.end]),
                claim: None,
                message: format!(
                    "«{words}» se presenta como estado al ingreso, pero es el estado al alta: al ingreso no estaba {}.",
                    state.norm
                ),
            });
        }
        self.findings.extend(out);
    }
}
