//! Who wrote each sentence of a version's narrative, as spans of its text, for the review
//! page: the physician sees the model's sentences (to read closely) apart from the
//! extracts of the notes.

use epicrisis_pipeline::narrative::{NarrativeSentence, SentenceOrigin};
use serde::{Deserialize, Serialize};

/// One sentence of the narrative: `[start, end)` in Unicode code points of the version's
/// text (as the page's other spans), and who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OriginSpan {
    pub span: [usize; 2],
    pub origin: SentenceOrigin,
}

#[derive(Deserialize)]
struct Stored {
    #[serde(default)]
    narrative: Option<Vec<NarrativeSentence>>,
}

/// The narrative's sentences found in `text`, in order, from a version's stored
/// provenance; empty for a version with none (written by hand, by the writer, or before
/// sentences were recorded). A sentence no longer in the text (edited) is skipped.
pub fn origin_spans(text: &str, provenance_json: &str) -> Vec<OriginSpan> {
    let Ok(Stored {
        narrative: Some(narrative),
    }) = serde_json::from_str::<Stored>(provenance_json)
    else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(narrative.len());
    let mut from = 0; // byte offset
    for s in narrative {
        if s.text.is_empty() {
            continue;
        }
        let Some(at) = text[from..].find(&s.text).map(|i| i + from) else {
            continue;
        };
        let start = text[..at].chars().count();
        let end = start + s.text.chars().count();
        out.push(OriginSpan {
            span: [start, end],
            origin: s.origin,
        });
        from = at + s.text.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_found_in_order_as_code_point_spans() {
        let text = "Evolución clínica\nIngresó con disnea. Día 2: «Afebril». Se retiró el drenaje.";
        let prov = serde_json::json!({"narrative": [
            {"text": "Ingresó con disnea.", "origin": "model", "step": 0, "days": null},
            {"text": "Día 2: «Afebril».", "origin": "extract", "step": 1, "days": [2, 2]},
            {"text": "Ya no está.", "origin": "repaired", "step": 1, "days": null},
            {"text": "Se retiró el drenaje.", "origin": "repaired", "step": 2, "days": null}
        ]})
        .to_string();
        let spans = origin_spans(text, &prov);
        let chars: Vec<char> = text.chars().collect();
        let got: Vec<(String, SentenceOrigin)> = spans
            .iter()
            .map(|s| (chars[s.span[0]..s.span[1]].iter().collect(), s.origin))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Ingresó con disnea.".to_string(), SentenceOrigin::Model),
                ("Día 2: «Afebril».".to_string(), SentenceOrigin::Extract),
                (
                    "Se retiró el drenaje.".to_string(),
                    SentenceOrigin::Repaired
                ),
            ]
        );
    }

    #[test]
    fn a_version_without_a_recorded_narrative_has_no_spans() {
        assert!(origin_spans("Texto.", "{}").is_empty());
        assert!(origin_spans("Texto.", "not json").is_empty());
        assert!(origin_spans("Texto.", r#"{"narrative": null}"#).is_empty());
    }
}
