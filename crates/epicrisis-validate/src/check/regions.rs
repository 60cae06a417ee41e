//! Where the text states the discharge: the regions that hold the discharge
//! prescription («al alta, indicándose …», lines under «Indicaciones al alta»), used by
//! every check, and the wider discharge statements («Egresa con …», «Alta con X. Se
//! indica …»), which the omission check reads together with the strict regions.

use super::Analysis;
use epicrisis_domain::text::{TokenKind, fold_words};

/// Words that put a drug in the discharge prescription ("al alta, indicándose …").
const DISCHARGE_CUES: &[&str] = &[
    "indica",
    "indicandose",
    "indicando",
    "indicaciones",
    "indicacion",
    "indican",
    "receta",
    "recetan",
    "prescribe",
    "prescripcion",
    "medicamentos",
    "tratamiento",
    "mantener",
    "manteniendo",
    "continuar",
    "continuando",
    "completar",
    "completando",
    "domicilio",
    "ambulatorio",
    "se",
    "indicado",
    "indicada",
    "indicados",
];
/// Words that put a drug back in the stay even inside a discharge sentence.
const STAY_CUES: &[&str] = &[
    "recibio",
    "recibe",
    "recibiendo",
    "hospitalizacion",
    "intrahospitalario",
    "intrahospitalaria",
    "administro",
    "requirio",
];

/// Sorts character spans and merges the overlapping ones, so [`in_spans`] can search.
fn merge_spans(spans: &mut Vec<(usize, usize)>) {
    spans.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for &(s, e) in spans.iter() {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    *spans = out;
}

/// Whether `pos` falls in one of the sorted, disjoint `spans`.
fn in_spans(spans: &[(usize, usize)], pos: usize) -> bool {
    let i = spans.partition_point(|(s, _)| *s <= pos);
    i > 0 && pos < spans[i - 1].1
}

/// Words after which «alta» is an adjective («hemorragia digestiva alta con …»).
const ADJECTIVE_BEFORE: &[&str] = &[
    "digestiva",
    "digestivo",
    "via",
    "vias",
    "presion",
    "fiebre",
    "dosis",
    "sospecha",
    "probabilidad",
    "riesgo",
    "muy",
    "mas",
    "frecuencia",
    "flujo",
    "concentracion",
    "energia",
    "intestinal",
];

/// Does `words[k]` say that the patient leaves? «egreso», «egresa», and «alta» where it
/// is the discharge, not the adjective («alta sospecha», «dosis altas»): sentence-first,
/// after «al», «de», «el», «su», or before «con», «a», «en», «médica», «hospitalaria».
pub(super) fn is_discharge_anchor(words: &[(usize, &str)], k: usize) -> bool {
    match words[k].1 {
        "egreso" | "egresa" | "egresan" | "egresando" => true,
        "alta" => {
            let adjective = k > 0 && ADJECTIVE_BEFORE.contains(&words[k - 1].1);
            !adjective
                && (k == 0
                    || matches!(words[k - 1].1, "al" | "de" | "el" | "su" | "para")
                    || words.get(k + 1).is_some_and(|(_, w)| {
                        matches!(
                            *w,
                            "con" | "a" | "en" | "medica" | "hospitalaria" | "precoz" | "domicilio"
                        )
                    }))
        }
        _ => false,
    }
}

impl Analysis<'_> {
    pub(super) fn in_discharge(&self, pos: usize) -> bool {
        in_spans(&self.discharge_lines, pos)
    }

    /// Sentences as token ranges `[from, to)`: a sentence ends at a full stop followed
    /// by a space, at a semicolon (neither included), or before a token that starts a
    /// new line.
    pub(super) fn sentences(&self) -> Vec<(usize, usize)> {
        let n = self.tokens.len();
        let mut out = Vec::new();
        let mut from = 0usize;
        for i in 0..n {
            let t = &self.tokens[i];
            let stop = (t.is_punct(".") && self.chars.get(t.end).is_none_or(|c| c.is_whitespace()))
                || t.is_punct(";");
            if stop {
                if i > from {
                    out.push((from, i));
                }
                from = i + 1;
            } else if i > from && self.chars[self.tokens[i - 1].end..t.start].contains(&'\n') {
                out.push((from, i));
                from = i;
            }
        }
        if n > from {
            out.push((from, n));
        }
        out
    }

    /// Where the text states the discharge prescription: the rest of a sentence after
    /// "alta … indicándose" / "al alta", and lines under a heading such as "Indicaciones
    /// al alta"; then the wider discharge statements.
    pub(super) fn find_discharge_sections(&mut self) {
        self.find_discharge_headings();
        let sentences = self.sentences();
        for &(from, to) in &sentences {
            self.discharge_region_in(from, to);
        }
        self.find_discharge_statements(&sentences);
        merge_spans(&mut self.discharge_lines);
        merge_spans(&mut self.discharge_statements);
    }

    /// Is this position in a discharge statement or a strict discharge region?
    pub(super) fn in_statement(&self, pos: usize) -> bool {
        self.in_discharge(pos) || in_spans(&self.discharge_statements, pos)
    }

    /// Does the text state the discharge anywhere (strict regions or statements)?
    pub(super) fn states_discharge(&self) -> bool {
        !self.discharge_lines.is_empty() || !self.discharge_statements.is_empty()
    }

    /// Discharge statements, wider than the strict regions and read only by the omission
    /// check: from the first sentence that says the patient leaves («Alta con …»,
    /// «Egresa con …», «Se da de alta con …», «Se indica al alta …») to the end of the
    /// text, except sentences that go back to the stay («Recibió …»). Within the
    /// anchoring sentence the statement starts at the anchor, or at the sentence's start
    /// when no stay word comes before it («Se indica amoxicilina al alta»).
    fn find_discharge_statements(&mut self, sentences: &[(usize, usize)]) {
        let mut open = false;
        for &(from, to) in sentences {
            let words: Vec<(usize, &str)> = (from..to)
                .filter(|i| self.tokens[*i].kind == TokenKind::Word)
                .map(|i| (i, self.tokens[i].norm.as_str()))
                .collect();
            let anchor = (0..words.len()).find(|&k| is_discharge_anchor(&words, k));
            let (start_tok, end_tok) = match anchor {
                Some(k) => {
                    let stay_before = words[..k].iter().any(|(_, w)| STAY_CUES.contains(w));
                    let start = if stay_before { words[k].0 } else { from };
                    let end = words[k + 1..]
                        .iter()
                        .find(|(_, w)| STAY_CUES.contains(w))
                        .map_or(to, |(i, _)| *i);
                    open = true;
                    (start, end)
                }
                None if open => {
                    if words.iter().any(|(_, w)| STAY_CUES.contains(w)) {
                        continue;
                    }
                    (from, to)
                }
                None => continue,
            };
            if end_tok > start_tok {
                let start = self.tokens[start_tok].start;
                let end = self.tokens[end_tok - 1].end;
                self.discharge_statements.push((start, end));
            }
        }
    }

    fn discharge_region_in(&mut self, from: usize, to: usize) {
        let words: Vec<(usize, &str)> = (from..to.min(self.tokens.len()))
            .filter(|i| self.tokens[*i].kind == TokenKind::Word)
            .map(|i| (i, self.tokens[i].norm.as_str()))
            .collect();
        let Some(p) = words
            .iter()
            .position(|(_, w)| *w == "alta" || *w == "egreso")
        else {
            return;
        };
        let start_tok = if p > 0 && words[p - 1].1 == "al" {
            Some(words[p].0)
        } else {
            words[p + 1..]
                .iter()
                .find(|(_, w)| DISCHARGE_CUES.contains(w) && *w != "se")
                .map(|(i, _)| *i)
        };
        let Some(start_tok) = start_tok else { return };
        let mut end_tok = to.min(self.tokens.len());
        if let Some((i, _)) = words
            .iter()
            .find(|(i, w)| *i > start_tok && STAY_CUES.contains(w))
        {
            end_tok = *i;
        }
        if end_tok > start_tok {
            let start = self.tokens[start_tok].start;
            let end = self.tokens[end_tok - 1].end;
            self.discharge_lines.push((start, end));
        }
    }

    /// Lines under a heading such as "Indicaciones al alta" are the discharge prescription.
    fn find_discharge_headings(&mut self) {
        let mut pos = 0usize;
        let mut in_discharge = false;
        let mut start = 0usize;
        let text: String = self.chars.iter().collect();
        for line in text.split('\n') {
            let len = line.chars().count();
            let f = fold_words(line);
            let t = line.trim_start();
            let list_item = t.starts_with("- ")
                || t.starts_with("* ")
                || t.starts_with('•')
                || t.chars().next().is_some_and(|c| c.is_ascii_digit());
            let heading = !list_item
                && f.split(' ').count() <= 6
                && (line.trim_end().ends_with(':')
                    || line.trim_start().starts_with('#')
                    || line.trim_start().starts_with("**")
                    || f.split(' ').count() <= 4);
            if heading {
                let starts_discharge = f.contains("alta")
                    && (f.contains("indicacion")
                        || f.contains("medicament")
                        || f.contains("tratamiento")
                        || f.contains("receta"))
                    || f.starts_with("medicamentos");
                if starts_discharge {
                    if !in_discharge {
                        start = pos;
                    }
                    in_discharge = true;
                } else if in_discharge && !f.is_empty() && !f.starts_with("medicamentos") {
                    self.discharge_lines.push((start, pos));
                    in_discharge = false;
                }
            }
            pos += len + 1;
        }
        if in_discharge {
            self.discharge_lines.push((start, pos));
        }
    }
}
