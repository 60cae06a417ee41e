//! What a draft reports while it is made: the stage it is in and, while a model writes,
//! the words as they arrive. A caller shows the stage («escribiendo, intento 2 de 3») and
//! may show the words, but must not present them as the draft: an answer can still be
//! rejected by the check that follows it.

use serde::{Deserialize, Serialize};

/// One report of a draft under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Cutting the notes into passages and, with an embeddings model, embedding them.
    Retrieving,
    /// A model answer begins (see [`Stage::Writing`]).
    Writing(Writing),
    /// Words of the answer under way.
    Text(&'a str),
    /// Checking an answer, or the whole draft, against the data.
    Checking,
}

/// Which answer a model is writing: step `step` of `steps` (a long stay is written in
/// steps of a few days), round `round` of at most `rounds` (the first answer and its
/// repairs). All counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Writing {
    pub step: usize,
    pub steps: usize,
    pub round: u32,
    pub rounds: u32,
}

/// The stage a draft is in, as a caller keeps it (without the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "camelCase")]
pub enum Stage {
    Retrieving,
    Writing(Writing),
    Checking,
}

impl Progress<'_> {
    /// The stage this report announces; `None` for text.
    pub fn stage(&self) -> Option<Stage> {
        match *self {
            Progress::Retrieving => Some(Stage::Retrieving),
            Progress::Writing(w) => Some(Stage::Writing(w)),
            Progress::Checking => Some(Stage::Checking),
            Progress::Text(_) => None,
        }
    }

    /// The words, for a caller that only streams text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Progress::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl Stage {
    /// The stage in Spanish, for a person: «Escribiendo (parte 1 de 3, intento 2 de 3)».
    pub fn describe_es(&self) -> String {
        match self {
            Stage::Retrieving => "Buscando en las notas de evolución".into(),
            Stage::Checking => "Revisando el texto contra los datos".into(),
            Stage::Writing(w) => {
                let mut parts = Vec::new();
                if w.steps > 1 {
                    parts.push(format!("parte {} de {}", w.step, w.steps));
                }
                if w.rounds > 1 {
                    parts.push(format!("intento {} de {}", w.round, w.rounds));
                }
                if parts.is_empty() {
                    "Redactando".into()
                } else {
                    format!("Redactando ({})", parts.join(", "))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_worded_for_a_person() {
        let w = |step, steps, round, rounds| {
            Stage::Writing(Writing {
                step,
                steps,
                round,
                rounds,
            })
        };
        assert_eq!(w(1, 1, 1, 1).describe_es(), "Redactando");
        assert_eq!(w(1, 1, 2, 3).describe_es(), "Redactando (intento 2 de 3)");
        assert_eq!(
            w(2, 3, 1, 3).describe_es(),
            "Redactando (parte 2 de 3, intento 1 de 3)"
        );
        assert!(Stage::Checking.describe_es().starts_with("Revisando"));
        assert_eq!(Progress::Text("x").stage(), None);
        assert_eq!(Progress::Checking.text(), None);
    }

    #[test]
    fn a_stage_serialises_with_its_name() {
        let s = serde_json::to_string(&Stage::Writing(Writing {
            step: 1,
            steps: 2,
            round: 1,
            rounds: 3,
        }))
        .unwrap();
        assert_eq!(
            s,
            r#"{"stage":"writing","step":1,"steps":2,"round":1,"rounds":3}"#
        );
    }
}
