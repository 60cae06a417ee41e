//! A draft epicrisis as parts, so that each part can say who wrote it (the deterministic
//! writer, the model, a repair) and so that documents (text, Markdown, PDF, FHIR) are
//! rendered from structure, not re-parsed from text.

use serde::{Deserialize, Serialize};

/// The two layouts of DOMAIN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One paragraph in the reference style.
    Paragraph,
    /// The sectioned document.
    Sections,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Paragraph => "paragraph",
            Layout::Sections => "sections",
        }
    }
}

/// Which part of the epicrisis a piece of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartId {
    Identification,
    Period,
    Reason,
    History,
    AdmissionDiagnoses,
    Procedures,
    Treatments,
    Evolution,
    Labs,
    DischargeDiagnoses,
    DischargeMedications,
    Controls,
    Care,
    WarningSigns,
    Recommendations,
    /// What the data lacks (Ley 20.584 items written as "No consignado").
    Missing,
}

/// Who wrote a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The deterministic writer, from the data alone.
    Deterministic,
    /// A language model, accepted by the validator as written.
    Model,
    /// A language model, accepted after a repair round.
    Repaired,
    /// The deterministic writer, replacing a model's part the validator rejected.
    Fallback,
}

/// The body of a part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "content")]
pub enum Body {
    /// Running text.
    Text(String),
    /// A list of entries.
    Items(Vec<String>),
}

/// One part of a draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub id: PartId,
    pub title: String,
    pub body: Body,
    pub origin: Origin,
}

/// How to print a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Plain,
    Markdown,
}

/// A draft epicrisis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub layout: Layout,
    pub parts: Vec<Part>,
}

/// The document title.
pub const TITLE: &str = "Epicrisis — Informe de alta hospitalaria";

impl Draft {
    /// The part with this id, if any.
    pub fn part(&self, id: PartId) -> Option<&Part> {
        self.parts.iter().find(|p| p.id == id)
    }

    /// Renders the draft. A paragraph draft is its sentences joined; a sectioned draft
    /// has headings and lists.
    pub fn render(&self, format: TextFormat) -> String {
        match self.layout {
            Layout::Paragraph => {
                let sentences: Vec<String> = self
                    .parts
                    .iter()
                    .map(|p| match &p.body {
                        Body::Text(t) => t.clone(),
                        Body::Items(items) => items.join(" "),
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                let mut s = sentences.join(" ");
                s.push('\n');
                s
            }
            Layout::Sections => {
                let mut out = String::new();
                match format {
                    TextFormat::Markdown => out.push_str(&format!("# {TITLE}\n")),
                    TextFormat::Plain => out.push_str(&format!("{}\n", TITLE.to_uppercase())),
                }
                for p in &self.parts {
                    out.push('\n');
                    match format {
                        TextFormat::Markdown => out.push_str(&format!("## {}\n\n", p.title)),
                        TextFormat::Plain => out.push_str(&format!("{}\n", p.title)),
                    }
                    match &p.body {
                        Body::Text(t) => {
                            out.push_str(t);
                            out.push('\n');
                        }
                        Body::Items(items) => {
                            for i in items {
                                out.push_str("- ");
                                out.push_str(i);
                                out.push('\n');
                            }
                        }
                    }
                }
                out
            }
        }
    }

    /// The character range `[start, end)` of each part in [`Draft::render`]'s output, so
    /// that a finding's span can be traced back to the part that holds it.
    pub fn part_spans(&self, format: TextFormat) -> Vec<(PartId, usize, usize)> {
        let rendered = self.render(format);
        let mut spans = Vec::new();
        let mut cursor = 0usize;
        let chars: Vec<char> = rendered.chars().collect();
        for p in &self.parts {
            let needle: String = match &p.body {
                Body::Text(t) => t.clone(),
                Body::Items(items) => items.first().cloned().unwrap_or_default(),
            };
            if needle.is_empty() {
                continue;
            }
            let hay: String = chars[cursor..].iter().collect();
            if let Some(byte_pos) = hay.find(&needle) {
                let start = cursor + hay[..byte_pos].chars().count();
                let len: usize = match &p.body {
                    Body::Text(t) => t.chars().count(),
                    Body::Items(items) => items
                        .iter()
                        .map(|i| i.chars().count() + 3)
                        .sum::<usize>()
                        .saturating_sub(3),
                };
                spans.push((p.id, start, start + len));
                cursor = start + len;
            }
        }
        spans
    }
}
