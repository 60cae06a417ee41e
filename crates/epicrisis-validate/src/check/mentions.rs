//! Mentions and their context: the lexicon terms of the text (drugs, diagnoses,
//! procedures, labs) and the words that look like a disease or a procedure, each with
//! whether its clause denies it, plans it, puts it in the past history or at discharge.

use super::{Analysis, Mention};
use epicrisis_domain::lexicon::{
    ConceptId, ConceptKind, ContentToken, is_disease_word, is_procedure_word, lexicon,
};
use epicrisis_domain::text::TokenKind;

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

/// Where a mention stands, from the words of its clause and sentence.
#[derive(Debug, Clone, Copy)]
struct Context {
    negated: bool,
    planned: bool,
    history: bool,
    discharge: bool,
}

/// The kind a mention takes from its concepts: the first of drug, drug class, diagnosis,
/// procedure, lab, care unit and finding that one of them has; a diagnosis otherwise.
fn main_kind(concepts: &[ConceptId]) -> ConceptKind {
    let lx = lexicon();
    let kinds: Vec<ConceptKind> = concepts.iter().map(|c| lx.concept(*c).kind).collect();
    [
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
    .unwrap_or(ConceptKind::Diagnosis)
}

impl Analysis<'_> {
    pub(super) fn find_mentions(&mut self) {
        let content: Vec<ContentToken> = self
            .content
            .iter()
            .filter(|c| !self.consumed[c.token])
            .cloned()
            .collect();
        for c in &content {
            self.text_stems.insert(c.key.clone());
        }
        let covered = self.lexicon_mentions(&content);
        self.word_mentions(&content, &covered);
        self.mentions.sort_by_key(|m| m.start);
        for i in 0..self.mentions.len() {
            let cx = self.context_of(i);
            let m = &mut self.mentions[i];
            m.negated = cx.negated;
            m.planned = cx.planned;
            m.history = cx.history;
            m.discharge = cx.discharge;
        }
    }

    /// The lexicon's terms among the content tokens not yet consumed, as mentions; which
    /// of those tokens they cover.
    fn lexicon_mentions(&mut self, content: &[ContentToken]) -> Vec<bool> {
        let lx = lexicon();
        let matches = lx.find_terms(content, self.all_caps);
        let mut covered = vec![false; content.len()];
        for m in &matches {
            let kind = main_kind(&m.concepts);
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
        covered
    }

    /// Words that look like diagnoses or procedures but are not in the lexicon
    /// ("colangiocarcinoma", "hemicolectomía"): checked by their own letters.
    fn word_mentions(&mut self, content: &[ContentToken], covered: &[bool]) {
        let lx = lexicon();
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
    }

    /// Negation, plan and discharge context of mention `i`, from the words of its clause
    /// and sentence.
    fn context_of(&self, i: usize) -> Context {
        let m = &self.mentions[i];
        let (words_back, sentence_back) = self.words_before(m.tok_start);
        let after = self.words_after(m.ext_end);
        let negated = words_back.iter().any(|w| NEGATION_BEFORE.contains(w))
            || after.iter().take(2).any(|w| NEGATION_AFTER.contains(w));
        let planned = sentence_back
            .iter()
            .any(|w| PLAN_BEFORE.iter().any(|p| w.starts_with(p)))
            || after.iter().take(2).any(|w| PLAN_AFTER.contains(w));
        let discharge = self.in_discharge(m.start);
        let history = words_back.iter().any(|w| HISTORY_CUES.contains(w))
            || after.iter().take(3).any(|w| HISTORY_CUES.contains(w));
        Context {
            negated,
            planned,
            history,
            discharge,
        }
    }

    /// The words before token `first`, nearest first: up to six of its clause, and up to
    /// sixty-one of its sentence (or line).
    fn words_before(&self, first: usize) -> (Vec<&str>, Vec<&str>) {
        // Walk back to the start of the clause and of the sentence.
        let mut words_back: Vec<&str> = Vec::new();
        let mut sentence_back: Vec<&str> = Vec::new();
        let mut clause_done = false;
        let mut t = first;
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
        (words_back, sentence_back)
    }

    /// Up to three words from token `from` on, up to a comma, full stop, semicolon or
    /// parenthesis.
    fn words_after(&self, from: usize) -> Vec<&str> {
        let mut after: Vec<&str> = Vec::new();
        let mut k = from;
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
        after
    }
}
