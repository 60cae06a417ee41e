//! Regimens given in steps: a loading dose and its maintenance («Clopidogrel 600 mg
//! carga, luego 75 mg c/24h»), a bolus and its infusion («Omeprazol 80 mg EV bolo,
//! luego 8 mg/h»), a taper («Prednisona 40 mg por 5 días, luego 20 mg por 5 días»).
//!
//! A [`Medication`] keeps its first step in its own fields (`dose`, `route`,
//! `frequency`, …) and every later step in [`Medication::then`], each a [`Phase`]. An
//! episode saved before phases existed reads with `then` empty, so stored data keeps
//! its meaning.
//!
//! **Where a step starts** ([`phase_start`]): after a connector — «luego», «después»,
//! «posteriormente», «seguido de», «then», «followed by», optionally after «,», «;»,
//! «y» or «+» — when a posology piece follows («luego 75 mg», «luego c/24h»). After a
//! loading or bolus step («600 mg carga + 75 mg c/24h», «4 g carga y 1 g/h») a new dose
//! starts a step without a connector word. Text after a connector that is not posology
//! («luego según protocolo») starts nothing and stays where the reader put it.

use crate::episode::Medication;
use crate::posology::{Dose, Duration, Frequency, Piece, Route, piece_at};
use crate::text::{Token, TokenKind};
use serde::{Deserialize, Serialize};

/// One later step of a regimen (`luego 75 mg c/24h`): the same posology fields as the
/// first step, which lives in the [`Medication`]'s own fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Phase {
    pub dose: Option<Dose>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_doses: Vec<Dose>,
    pub route: Option<Route>,
    pub frequency: Option<Frequency>,
    pub duration: Option<Duration>,
    #[serde(default)]
    pub as_needed: bool,
    /// Recognised modifiers of this step (`carga`, `bolo`, `mantención`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Phase {
    /// Adds a piece without overwriting what the step already has. A second duration
    /// cannot belong to one step: it is handed back so the caller keeps its text.
    pub fn absorb(&mut self, piece: Piece) -> Option<Piece> {
        match piece {
            Piece::Dose(d) => {
                if self.dose.is_none() {
                    self.dose = Some(d);
                } else {
                    self.extra_doses.push(d);
                }
            }
            Piece::Route(r) => {
                self.route.get_or_insert(r);
            }
            Piece::Frequency(f) => {
                self.frequency.get_or_insert(f);
            }
            Piece::Duration(d) => {
                if self.duration.is_some() {
                    return Some(Piece::Duration(d));
                }
                self.duration = Some(d);
            }
            Piece::AsNeeded => self.as_needed = true,
            Piece::Modifier(m) => {
                if !matches!(m, "en" | "de") && !self.notes.iter().any(|x| x == m) {
                    self.notes.push(m.to_string());
                }
            }
        }
        None
    }

    /// True when the step carries no posology at all.
    pub fn is_empty(&self) -> bool {
        self.dose.is_none()
            && self.extra_doses.is_empty()
            && self.route.is_none()
            && self.frequency.is_none()
            && self.duration.is_none()
            && !self.as_needed
            && self.notes.is_empty()
    }

    /// True for a loading dose or a bolus, which a maintenance step usually follows.
    pub fn is_loading(&self) -> bool {
        self.notes.iter().any(|n| is_loading_note(n))
    }

    /// Every dose of the step, the principal one first.
    pub fn doses(&self) -> impl Iterator<Item = &Dose> {
        self.dose.iter().chain(&self.extra_doses)
    }
}

/// A note that marks a loading dose or a bolus (as the reader writes it, or as a
/// person would: «Carga», «bolo», «loading»).
pub fn is_loading_note(note: &str) -> bool {
    let n = crate::text::fold(note.trim());
    matches!(
        n.as_str(),
        "carga" | "bolo" | "bolos" | "loading" | "dosis de carga"
    )
}

impl Medication {
    /// The first step, from the medication's own fields.
    pub fn first_phase(&self) -> Phase {
        Phase {
            dose: self.dose.clone(),
            extra_doses: self.extra_doses.clone(),
            route: self.route.clone(),
            frequency: self.frequency.clone(),
            duration: self.duration.clone(),
            as_needed: self.as_needed,
            notes: self.notes.clone(),
        }
    }

    /// Writes a step into the medication's own fields (its first step).
    pub fn set_first_phase(&mut self, p: Phase) {
        self.dose = p.dose;
        self.extra_doses = p.extra_doses;
        self.route = p.route;
        self.frequency = p.frequency;
        self.duration = p.duration;
        self.as_needed = p.as_needed;
        self.notes = p.notes;
    }

    /// Every step in order: the first from the medication's own fields, then
    /// [`Medication::then`].
    pub fn phases(&self) -> Vec<Phase> {
        let mut out = Vec::with_capacity(1 + self.then.len());
        out.push(self.first_phase());
        out.extend(self.then.iter().cloned());
        out
    }

    /// Every dose of every step, in order.
    pub fn all_doses(&self) -> impl Iterator<Item = &Dose> {
        self.dose
            .iter()
            .chain(&self.extra_doses)
            .chain(self.then.iter().flat_map(|p| p.doses()))
    }

    /// The step that takes a separate frequency or duration field when the dose field
    /// gave several steps: after a loading dose or a bolus, the maintenance step (the
    /// last one) when it has none of its own; otherwise none (the caller fills the
    /// first step as for any medication).
    pub fn maintenance_phase_mut(&mut self) -> Option<&mut Phase> {
        let loading = self.notes.iter().any(|n| is_loading_note(n));
        if loading { self.then.last_mut() } else { None }
    }
}

/// The connector words that open a later step.
fn connector_len(tokens: &[Token], i: usize) -> Option<usize> {
    let w = word(tokens, i)?;
    match w {
        "luego" | "despues" | "posteriormente" | "then" => Some(1),
        "seguido" | "seguida" => Some(if matches!(word(tokens, i + 1), Some("de" | "por")) {
            2
        } else {
            1
        }),
        "followed" => Some(if word(tokens, i + 1) == Some("by") {
            2
        } else {
            1
        }),
        _ => None,
    }
}

fn word(tokens: &[Token], i: usize) -> Option<&str> {
    tokens
        .get(i)
        .filter(|t| t.kind == TokenKind::Word)
        .map(|t| t.norm.as_str())
}

fn is_joiner(tokens: &[Token], i: usize) -> bool {
    tokens.get(i).is_some_and(|t| {
        (t.kind == TokenKind::Punct && matches!(t.norm.as_str(), "," | ";" | "+"))
            || (t.kind == TokenKind::Word && t.norm == "y")
    })
}

/// Where the next step's posology begins, when a new step starts at token `i`: the
/// index of its first piece (after the joiners and the connector). `after_loading` says
/// that the current step is a loading dose or a bolus, after which a dose alone
/// («+ 75 mg c/24h») or «mantención» starts the next step.
pub fn phase_start(tokens: &[Token], i: usize, after_loading: bool) -> Option<usize> {
    let mut j = i;
    while is_joiner(tokens, j) {
        j += 1;
    }
    if let Some(n) = connector_len(tokens, j) {
        let k = j + n;
        // «luego a 75 mg», «luego con 75 mg»
        let k = if matches!(word(tokens, k), Some("a" | "con")) && piece_at(tokens, k + 1).is_some()
        {
            k + 1
        } else {
            k
        };
        return piece_at(tokens, k).is_some().then_some(k);
    }
    if !after_loading || j == i && !matches!(word(tokens, j), Some("mantencion")) {
        // Without a connector, only a joiner (or «mantención») opens a step.
        return None;
    }
    let k = if matches!(word(tokens, j), Some("mantencion")) {
        j + 1
    } else {
        j
    };
    match piece_at(tokens, k) {
        Some(p) if matches!(p.piece, Piece::Dose(_)) => Some(k),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    #[test]
    fn connectors_open_a_step_only_before_posology() {
        let t = tokenize("300 mg carga, luego 75 mg c/24h");
        let comma = t.iter().position(|x| x.norm == ",").unwrap();
        let start = phase_start(&t, comma, true).unwrap();
        assert_eq!(t[start].norm, "75");
        // «luego según protocolo» is not posology.
        let t = tokenize("c/1h, luego segun protocolo");
        let comma = t.iter().position(|x| x.norm == ",").unwrap();
        assert_eq!(phase_start(&t, comma, false), None);
        // «seguido de»
        let t = tokenize("5 mg EV seguido de 50 mg VO c/8h");
        let s = t.iter().position(|x| x.norm == "seguido").unwrap();
        assert_eq!(t[phase_start(&t, s, false).unwrap()].norm, "50");
    }

    #[test]
    fn after_a_loading_dose_a_joined_dose_is_the_next_step() {
        let t = tokenize("600mg carga + 75mg c/24h");
        let plus = t.iter().position(|x| x.norm == "+").unwrap();
        assert_eq!(t[phase_start(&t, plus, true).unwrap()].norm, "75");
        // Not after an ordinary dose: «160/4.5 ug + 2 puff» is one step.
        assert_eq!(phase_start(&t, plus, false), None);
        // Not without a joiner: «600 mg 75 mg» is not a regimen in steps.
        let t = tokenize("600 mg 75 mg");
        assert_eq!(phase_start(&t, 2, true), None);
        let t = tokenize("300 mg carga mantencion 75 mg");
        let m = t.iter().position(|x| x.norm == "mantencion").unwrap();
        assert_eq!(t[phase_start(&t, m, true).unwrap()].norm, "75");
    }

    fn dose(s: &str) -> Dose {
        match piece_at(&crate::text::tokenize(s), 0).map(|p| p.piece) {
            Some(Piece::Dose(d)) => d,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn compact_items_are_read_in_steps() {
        use crate::posology::parse_item;
        let p = parse_item("Clopidogrel 600mg carga + 75mg c/24h (B01AC04)");
        assert_eq!(p.name, "Clopidogrel");
        assert_eq!(p.dose, Some(dose("600 mg")));
        assert!(p.extra_doses.is_empty(), "{p:?}");
        assert_eq!(p.modifiers, vec!["carga".to_string()]);
        assert_eq!(p.frequency, None);
        assert_eq!(p.then.len(), 1, "{p:?}");
        assert_eq!(p.then[0].dose, Some(dose("75 mg")));
        assert!(p.then[0].frequency.is_some());
        assert_eq!(p.code.as_deref(), Some("B01AC04"));
        assert!(p.fully_parsed(), "{p:?}");

        let p = parse_item("Amiodarona 200 mg VO c/8h por 7 dias, luego c/24h (C01BD01)");
        assert_eq!(p.then.len(), 1, "{p:?}");
        assert_eq!(p.then[0].dose, None);
        assert!(p.then[0].frequency.is_some() && p.duration.is_some());

        let p = parse_item(
            "Prednisona 40 mg VO por 5 dias, luego 20 mg por 5 dias, luego 10 mg por 5 dias",
        );
        assert_eq!(p.then.len(), 2, "{p:?}");
        assert!(p.unparsed.is_empty(), "{p:?}");

        // An inhaler's second quantity is one step, as before.
        let p = parse_item("Budesonida/formoterol 160/4.5ug 2 puff c/12h");
        assert!(p.then.is_empty() && p.extra_doses.len() == 1, "{p:?}");
    }

    #[test]
    fn the_maintenance_step_takes_a_separate_frequency_after_a_loading_dose() {
        let mut m = Medication::named("Clopidogrel", crate::ItemKind::Drug);
        m.notes.push("carga".into());
        m.then.push(Phase::default());
        assert!(m.maintenance_phase_mut().is_some());
        m.notes.clear();
        assert!(m.maintenance_phase_mut().is_none());
    }
}
