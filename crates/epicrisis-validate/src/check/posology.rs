//! The posology written after a drug — dose, route, frequency, duration — must be the
//! data's for that drug: the discharge prescription's for a drug named at discharge,
//! any of the episode's items for that drug otherwise.
//!
//! A regimen in steps is read as one posology: «clopidogrel 300 mg de carga, luego 75 mg
//! cada 24 horas» reads on past «, luego» (`epicrisis_domain::regimen::phase_start`),
//! and every step of the data's item counts as the data's (the loading dose and the
//! maintenance dose are both stated by the data). Without a connector the reading stops
//! at the first word that is not posology, so a number later in the sentence is left to
//! the number check.

use super::{Analysis, Mention};
use crate::index::MedRef;
use crate::report::{Category, Finding, Kind, Severity};
use epicrisis_domain::lexicon::{ConceptId, ConceptKind};
use epicrisis_domain::numbers::interpretations;
use epicrisis_domain::posology::{Frequency, Piece, PieceAt, Route, modifier_at, piece_at};
use epicrisis_domain::regimen::{is_loading_note, phase_start};
use epicrisis_domain::text::TokenKind;
use epicrisis_domain::{Dose, Duration, ItemKind, TimeUnit};

/// Words that may sit between a drug and its posology, or between two pieces.
const FILLERS: &[&str] = &[
    "de", "en", "via", "bomba", "infusion", "mediante", "a", "con",
];

impl Analysis<'_> {
    pub(super) fn check_posology(&mut self) {
        let mut out = Vec::new();
        let mut consumed_ranges = Vec::new();
        let mut mention_doses = Vec::new();
        let mut claim_ends = Vec::new();
        let drug_mentions: Vec<usize> = (0..self.mentions.len())
            .filter(|i| self.mentions[*i].kind == ConceptKind::Drug)
            .collect();
        for (n, &mi) in drug_mentions.iter().enumerate() {
            let m = &self.mentions[mi];
            let (concepts, after_name) = self.combination(&drug_mentions, n);
            let limit = drug_mentions.get(n + 1).map_or(self.tokens.len(), |j| {
                self.mentions[*j].tok_start.max(after_name)
            });
            let pieces = self.pieces_after(after_name, limit);
            let items = self.items_for(m, &concepts);
            let doses: Vec<Dose> = pieces
                .iter()
                .filter_map(|p| match &p.piece {
                    Piece::Dose(d) => Some(d.clone()),
                    _ => None,
                })
                .collect();
            mention_doses.push((mi, doses));
            // A drug the data does not have: its whole claim, posology included, is one
            // finding (its `claim` covers «warfarina 5 mg VO cada 24 horas», and the
            // dose is not faulted a second time).
            let unsupported = self.findings.iter().position(|f| {
                f.severity == Severity::Error
                    && f.kind == Kind::Unsupported
                    && f.category == Category::Medication
                    && f.span.is_some_and(|[a, _]| a == m.start)
            });
            if let (Some(i), Some(last)) = (unsupported, pieces.last()) {
                let end = self.tokens[last.end - 1].end;
                claim_ends.push((i, end));
            }
            for p in pieces {
                consumed_ranges.push((p.start, p.end));
                if unsupported.is_some() {
                    continue;
                }
                if let Some(f) = self.judge_piece(m, &p, &items) {
                    out.push(f);
                }
            }
        }
        for (i, end) in claim_ends {
            let f = &mut self.findings[i];
            if let Some([a, e]) = f.span
                && end > e
            {
                f.claim = Some([a, end]);
            }
        }
        for (s, e) in consumed_ranges {
            for t in s..e {
                self.consumed[t] = true;
            }
        }
        for (mi, doses) in mention_doses {
            self.mentions[mi].doses = doses;
        }
        self.findings.extend(out);
    }

    /// The concepts of the drug mention `n` with the partners of a combination that
    /// share its posology («amoxicilina/ácido clavulánico 875 mg», also when the partner
    /// is written in a way the lexicon does not know, «amoxicilina/clavulánico»), and the
    /// token where the posology may start.
    fn combination(&self, drug_mentions: &[usize], n: usize) -> (Vec<ConceptId>, usize) {
        let m = &self.mentions[drug_mentions[n]];
        let mut concepts = m.concepts.clone();
        let mut i = m.tok_end;
        while i < self.tokens.len()
            && self.tokens[i].kind == TokenKind::Punct
            && matches!(self.tokens[i].norm.as_str(), "/" | "+" | "-")
        {
            match drug_mentions.get(n + 1).map(|j| &self.mentions[*j]) {
                Some(next) if next.tok_start == i + 1 => {
                    concepts.extend(next.concepts.iter().copied());
                    i = next.tok_end;
                }
                _ => {
                    let mut j = i + 1;
                    while j < self.tokens.len()
                        && j <= i + 2
                        && self.tokens[j].kind == TokenKind::Word
                        && piece_at(&self.tokens, j).is_none()
                    {
                        j += 1;
                    }
                    if j == i + 1 {
                        break;
                    }
                    i = j;
                }
            }
        }
        (concepts, i)
    }

    /// The posology pieces from token `i` up to `limit`, across the steps of a regimen.
    fn pieces_after(&self, mut i: usize, limit: usize) -> Vec<PieceAt> {
        let mut pieces = Vec::new();
        let mut loading = false;
        while i < limit {
            if let Some(p) = piece_at(&self.tokens, i) {
                if p.end > limit {
                    break;
                }
                i = p.end;
                pieces.push(p);
                continue;
            }
            if let Some(p) = modifier_at(&self.tokens, i) {
                if let Piece::Modifier(m) = p.piece {
                    loading |= is_loading_note(m);
                }
                i = p.end;
                continue;
            }
            let t = &self.tokens[i];
            if t.kind == TokenKind::Word && FILLERS.contains(&t.norm.as_str()) {
                i += 1;
                continue;
            }
            if !pieces.is_empty()
                && let Some(next) = phase_start(&self.tokens, i, loading)
                && next < limit
            {
                i = next;
                loading = false;
                continue;
            }
            break;
        }
        pieces
    }

    /// The data's items for a drug mention: the discharge prescription's when the
    /// mention is at discharge and the prescription has the drug, every item otherwise.
    fn items_for(&self, m: &Mention, concepts: &[ConceptId]) -> Vec<&MedRef> {
        let all: Vec<&MedRef> = self
            .ix
            .meds
            .iter()
            .filter(|x| x.kind == ItemKind::Drug && x.concepts.iter().any(|c| concepts.contains(c)))
            .collect();
        let discharge: Vec<&MedRef> = all.iter().copied().filter(|x| x.discharge).collect();
        if m.discharge && !discharge.is_empty() {
            discharge
        } else {
            all
        }
    }

    /// The finding for one piece of posology that the data's items do not give, if any.
    fn judge_piece(&self, m: &Mention, p: &PieceAt, items: &[&MedRef]) -> Option<Finding> {
        let readings: Vec<f64> = self.tokens[p.start..p.end]
            .iter()
            .filter(|t| t.kind == TokenKind::Number)
            .flat_map(|t| interpretations(&t.norm))
            .collect();
        let numbers = !readings.is_empty();
        let fallback_ok = numbers && self.ix.has_number(&readings);
        let (what, against) = match &p.piece {
            Piece::Dose(d) => ("La dosis", dose_against(items, d, fallback_ok)),
            Piece::Route(r) => ("La vía", route_against(items, r)),
            Piece::Frequency(f) => (
                "La frecuencia",
                frequency_against(items, f, numbers, fallback_ok),
            ),
            Piece::Duration(d) => (
                "La duración",
                duration_against(items, d, numbers, fallback_ok),
            ),
            Piece::AsNeeded | Piece::Modifier(_) => return None,
        };
        let data = against?;
        let span = [self.tokens[p.start].start, self.tokens[p.end - 1].end];
        let words = self.slice(span[0], span[1]);
        let name = self.slice(m.start, m.end);
        let message = if data.is_empty() {
            format!("{what} «{words}» de {name} no figura en los datos del episodio.")
        } else {
            format!(
                "{what} «{words}» de {name} no coincide con los datos ({}).",
                data.join("; ")
            )
        };
        Some(Finding {
            severity: Severity::Error,
            kind: Kind::Unsupported,
            category: Category::Dose,
            mention: words,
            span: Some(span),
            claim: None,
            message,
        })
    }
}

// Each `*_against` says what the data's items hold against one piece of posology:
// `None` when the piece is the data's, else the values the items state for that kind of
// piece, empty when none states one (then the piece is faulted only when its numbers are
// nowhere in the data, `fallback_ok` false).

/// Whether any item states this kind of piece, and whether one states this value;
/// what the items say is only spelled out for a finding (a list of 2,000 items
/// must not format 2,000 doses for every dose that matches).
fn verdict<T>(
    items: &[&MedRef],
    of: impl Fn(&MedRef) -> &[T],
    same: impl Fn(&T) -> bool,
) -> (bool, bool) {
    let mut any = false;
    for x in items {
        let values = of(x);
        if values.iter().any(&same) {
            return (true, true);
        }
        any |= !values.is_empty();
    }
    (any, false)
}

/// What the items state for one kind of piece, for a message.
fn data<T: ToString>(items: &[&MedRef], of: impl Fn(&MedRef) -> &[T]) -> Vec<String> {
    items
        .iter()
        .flat_map(|x| of(x).iter().map(ToString::to_string))
        .collect()
}

fn dose_against(items: &[&MedRef], d: &Dose, fallback_ok: bool) -> Option<Vec<String>> {
    let (any, ok) = verdict(items, |x| &x.doses, |y| y.same_as(d));
    if !any && !fallback_ok {
        Some(Vec::new())
    } else if any && !ok {
        Some(data(items, |x| &x.doses))
    } else {
        None
    }
}

/// A route is faulted only against an item that states one.
fn route_against(items: &[&MedRef], r: &Route) -> Option<Vec<String>> {
    let (any, ok) = verdict(items, |x| &x.routes, |y| y.same_as(r));
    (any && !ok).then(|| data(items, |x| &x.routes))
}

/// `numbers`: whether the piece writes a number («cada 8 horas», not «diaria»).
fn frequency_against(
    items: &[&MedRef],
    f: &Frequency,
    numbers: bool,
    fallback_ok: bool,
) -> Option<Vec<String>> {
    let (any, ok) = verdict(items, |x| &x.frequencies, |y| y.same_as(f));
    if !any && numbers && !fallback_ok {
        Some(Vec::new())
    } else if any && !ok {
        Some(data(items, |x| &x.frequencies))
    } else {
        None
    }
}

/// `numbers`: whether the piece writes a number.
fn duration_against(
    items: &[&MedRef],
    d: &Duration,
    numbers: bool,
    fallback_ok: bool,
) -> Option<Vec<String>> {
    let (any, ok) = verdict(items, |x| &x.durations, |y| y.same_as(d));
    // «por 7 días» may be the span between the item's start and end dates.
    let days_match = match d {
        Duration::Span {
            min,
            max: None,
            unit: TimeUnit::Days,
        } => items
            .iter()
            .flat_map(|x| x.dated_days.iter())
            .any(|x| (x - min).abs() < 1e-9),
        _ => false,
    };
    if days_match {
        None
    } else if !any && numbers && !fallback_ok {
        Some(Vec::new())
    } else if any && !ok {
        Some(data(items, |x| &x.durations))
    } else {
        None
    }
}
