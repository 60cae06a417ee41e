//! A draft epicrisis as parts, so that each part can say who wrote it (the deterministic
//! writer, the model, a repair) and so that documents (text, Markdown, PDF, FHIR) are
//! rendered from structure, not re-parsed from text.

use serde::{Deserialize, Serialize};

/// The two layouts of docs/domain.md.
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
    /// A person changed it (in the review screen).
    Edited,
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

    /// The draft that a person's edit of this draft's plain rendering stands for, so that
    /// documents keep their structure after an edit. A section whose heading line is still
    /// there keeps its id and title; its body is what the person wrote (when every line is
    /// "- …", a list); a part whose body changed is [`Origin::Edited`]. Text before the
    /// first heading joins the first section. A paragraph draft (or text with none of the
    /// headings) becomes one part.
    pub fn from_edited_text(&self, text: &str) -> Draft {
        let one_part = |origin: Origin| Draft {
            layout: Layout::Paragraph,
            parts: vec![Part {
                id: PartId::Evolution,
                title: "Epicrisis".into(),
                body: Body::Text(text.trim().to_string()),
                origin,
            }],
        };
        if self.render(TextFormat::Plain).trim() == text.trim() {
            return self.clone();
        }
        if self.layout == Layout::Paragraph {
            return one_part(Origin::Edited);
        }
        let Some(sections) = self.edited_sections(text) else {
            return one_part(Origin::Edited);
        };
        let parts = sections
            .into_iter()
            .map(|(i, lines)| edited_part(&self.parts[i], lines))
            .collect();
        Draft {
            layout: Layout::Sections,
            parts,
        }
    }

    /// The edited text cut at this draft's section headings (in order): each section's
    /// part index and lines, the text before the first heading joined to the first
    /// section; `None` when no heading is left.
    fn edited_sections<'t>(&self, text: &'t str) -> Option<Vec<(usize, Vec<&'t str>)>> {
        let title_line = TITLE.to_uppercase();
        let mut sections: Vec<(usize, Vec<&str>)> = Vec::new();
        let mut leading: Vec<&str> = Vec::new();
        let mut next = 0usize;
        for line in text.lines() {
            let trimmed = line.trim();
            if sections.is_empty() && leading.is_empty() && trimmed == title_line {
                continue;
            }
            let heading = self.parts[next.min(self.parts.len())..]
                .iter()
                .position(|p| !trimmed.is_empty() && p.title.trim() == trimmed)
                .map(|i| i + next);
            match heading {
                Some(i) => {
                    sections.push((i, Vec::new()));
                    next = i + 1;
                }
                None => match sections.last_mut() {
                    Some((_, body)) => body.push(line),
                    None => leading.push(line),
                },
            }
        }
        if sections.is_empty() {
            return None;
        }
        if let Some((_, body)) = sections.first_mut() {
            let mut all = leading;
            all.append(body);
            *body = all;
        }
        Some(sections)
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

/// The part an edited section stands for: the template's id and title, the body as
/// written (a list when every line is "- …"), [`Origin::Edited`] when the body changed.
fn edited_part(template: &Part, lines: Vec<&str>) -> Part {
    let lines: Vec<&str> = lines
        .into_iter()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    let content: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let body = if !content.is_empty() && content.iter().all(|l| l.trim_start().starts_with("- ")) {
        Body::Items(
            content
                .iter()
                .map(|l| l.trim_start()[2..].trim().to_string())
                .collect(),
        )
    } else {
        Body::Text(lines.join("\n").trim().to_string())
    };
    let origin = if body == template.body {
        template.origin
    } else {
        Origin::Edited
    };
    Part {
        id: template.id,
        title: template.title.clone(),
        body,
        origin,
    }
}

#[cfg(test)]
mod edit_tests {
    use super::*;

    fn sample() -> Draft {
        Draft {
            layout: Layout::Sections,
            parts: vec![
                Part {
                    id: PartId::Reason,
                    title: "Motivo de ingreso".into(),
                    body: Body::Text("Dolor abdominal.".into()),
                    origin: Origin::Deterministic,
                },
                Part {
                    id: PartId::DischargeMedications,
                    title: "Medicamentos al alta".into(),
                    body: Body::Items(vec!["Paracetamol 1 g cada 8 horas".into()]),
                    origin: Origin::Deterministic,
                },
            ],
        }
    }

    #[test]
    fn unchanged_text_gives_the_same_draft() {
        let d = sample();
        assert_eq!(d.from_edited_text(&d.render(TextFormat::Plain)), d);
    }

    #[test]
    fn an_edited_section_is_marked_and_others_keep_their_origin() {
        let d = sample();
        let text = d
            .render(TextFormat::Plain)
            .replace("cada 8 horas", "cada 6 horas")
            + "- Omeprazol 20 mg al día\n";
        let e = d.from_edited_text(&text);
        assert_eq!(e.parts.len(), 2);
        assert_eq!(e.parts[0].origin, Origin::Deterministic);
        assert_eq!(e.parts[1].origin, Origin::Edited);
        assert_eq!(
            e.parts[1].body,
            Body::Items(vec![
                "Paracetamol 1 g cada 6 horas".into(),
                "Omeprazol 20 mg al día".into()
            ])
        );
        assert_eq!(e.render(TextFormat::Plain), text);
    }

    #[test]
    fn text_without_headings_is_one_edited_part() {
        let e = sample().from_edited_text("Paciente dado de alta en buenas condiciones.");
        assert_eq!(e.layout, Layout::Paragraph);
        assert_eq!(e.parts.len(), 1);
        assert_eq!(e.parts[0].origin, Origin::Edited);
    }
}
