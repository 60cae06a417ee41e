//! Markdown and plain text, for copying into other systems.

use crate::document::{Block, Document};

/// Escapes the characters Markdown would read as markup.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '$' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The document as Markdown (CommonMark with GFM tables).
pub fn to_markdown(doc: &Document) -> String {
    let mut o = String::new();
    o.push_str(&format!("# {}\n\n", md(&doc.title)));
    o.push_str(&format!("**{}**", md(&doc.hospital)));
    if !doc.service.is_empty() {
        o.push_str(&format!(" · {}", md(&doc.service)));
    }
    o.push_str("\n\n");
    if let Some(mark) = &doc.draft_mark {
        o.push_str(&format!("> **{}**\n\n", md(mark)));
    }
    for (k, v) in &doc.ident {
        o.push_str(&format!("- **{}:** {}\n", md(k), md(v)));
    }
    for s in &doc.sections {
        o.push_str(&format!("\n## {}\n\n", md(&s.title)));
        for b in &s.blocks {
            match b {
                Block::Text { paragraphs } => {
                    for p in paragraphs {
                        o.push_str(&md(p));
                        o.push_str("\n\n");
                    }
                }
                Block::List { items } => {
                    for i in items {
                        o.push_str(&format!("- {}\n", md(i)));
                    }
                    o.push('\n');
                }
                Block::Medications { items } => {
                    for m in items {
                        o.push_str(&format!(
                            "- **{}** — {}\n",
                            md(&m.heading()),
                            md(&m.detail())
                        ));
                    }
                    o.push('\n');
                }
                Block::Labs { columns, rows } => {
                    o.push_str(&format!(
                        "| {} |\n",
                        columns
                            .iter()
                            .map(|c| md(c))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ));
                    o.push_str(&format!("|{}\n", "---|".repeat(columns.len())));
                    for r in rows {
                        o.push_str(&format!(
                            "| {} |\n",
                            r.cells()
                                .iter()
                                .map(|c| md(c))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ));
                    }
                    o.push('\n');
                }
            }
        }
    }
    o.push_str(&format!("\n## {}\n\n", md(&doc.signature_title)));
    for (k, v) in &doc.signature {
        o.push_str(&format!("- **{}:** {}\n", md(k), md(v)));
    }
    o.push_str(&format!("\n---\n\n_{}_\n", md(&doc.footer)));
    // Blank-line runs collapse to one.
    while o.contains("\n\n\n") {
        o = o.replace("\n\n\n", "\n\n");
    }
    o
}

/// The document as plain text.
pub fn to_text(doc: &Document) -> String {
    let mut o = String::new();
    o.push_str(&doc.title.to_uppercase());
    o.push('\n');
    o.push_str(&doc.hospital);
    if !doc.service.is_empty() {
        o.push_str(&format!(" — {}", doc.service));
    }
    o.push('\n');
    if let Some(mark) = &doc.draft_mark {
        o.push_str(&format!("*** {mark} ***\n"));
    }
    o.push('\n');
    for (k, v) in &doc.ident {
        o.push_str(&format!("{k}: {v}\n"));
    }
    let heading = |o: &mut String, t: &str| {
        o.push_str(&format!(
            "\n{}\n{}\n",
            t.to_uppercase(),
            "-".repeat(t.chars().count())
        ));
    };
    for s in &doc.sections {
        heading(&mut o, &s.title);
        for b in &s.blocks {
            match b {
                Block::Text { paragraphs } => {
                    for p in paragraphs {
                        o.push_str(p);
                        o.push('\n');
                    }
                }
                Block::List { items } => {
                    for i in items {
                        o.push_str(&format!("- {i}\n"));
                    }
                }
                Block::Medications { items } => {
                    for m in items {
                        o.push_str(&format!("- {}\n  {}\n", m.heading(), m.detail()));
                    }
                }
                Block::Labs { columns, rows } => {
                    for r in rows {
                        let cells = r.cells();
                        o.push_str(&format!("- {}:", cells[0]));
                        let fields: Vec<String> = columns
                            .iter()
                            .zip(cells.iter())
                            .skip(1)
                            .filter(|(_, v)| **v != "—")
                            .map(|(c, v)| format!("{} {v}", c.to_lowercase()))
                            .collect();
                        o.push_str(&format!(" {}\n", fields.join("; ")));
                    }
                }
            }
        }
    }
    heading(&mut o, &doc.signature_title);
    for (k, v) in &doc.signature {
        o.push_str(&format!("{k}: {v}\n"));
    }
    o.push_str(&format!("\n{}\n", doc.footer));
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_escapes_markup() {
        assert_eq!(
            super::md("a*b_c [x] #1 <y> \\"),
            "a\\*b\\_c \\[x\\] \\#1 \\<y\\> \\\\"
        );
    }
}
