//! Mentions and their context: the lexicon terms of the text (drugs, diagnoses,
//! procedures, labs) and the words that look like a disease or a procedure, each with
//! whether its clause denies it, plans it, puts it in the past history or at discharge.

use super::{Analysis, Mention};
use epicrisis_domain::lexicon::{
    ConceptKind, ContentToken, is_disease_word, is_procedure_word, lexicon,
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

impl Analysis<'_> {
    pub(super) fn find_mentions(&mut self) {
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
}
