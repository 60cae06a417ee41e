//! One compact item (`Amoxicilina 875mg VO c/12h 5d (J01CR02)`) read whole: the name,
//! the posology of each step and the trailing code.

use super::pieces::{Piece, modifier_at, piece_at, word_at};
use super::{Dose, Duration, Frequency, Route};
use crate::regimen::{Phase, phase_start};
use crate::text::{Token, TokenKind, tokenize};

/// What [`parse_item`] found in one compact item such as
/// `"Amoxicilina/Ac.clavulanico 875mg VO c/12h 5d (J01CR02)"`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedItem {
    /// The name as written (`Amoxicilina/Ac.clavulanico`).
    pub name: String,
    pub dose: Option<Dose>,
    /// Further quantities (`2 puff` after `160/4.5 ug`).
    pub extra_doses: Vec<Dose>,
    pub route: Option<Route>,
    pub frequency: Option<Frequency>,
    pub duration: Option<Duration>,
    pub as_needed: bool,
    /// Recognised modifiers (`profilaxis`, `PCA`).
    pub modifiers: Vec<String>,
    /// Text that was not recognised, kept verbatim.
    pub unparsed: Vec<String>,
    /// The trailing parenthesised code, as written.
    pub code: Option<String>,
    /// Later steps (`luego 75 mg c/24h`), see [`crate::regimen`].
    pub then: Vec<Phase>,
}

impl ParsedItem {
    /// True when every part of the item was recognised (name, posology and code).
    pub fn fully_parsed(&self) -> bool {
        !self.name.is_empty() && self.unparsed.is_empty()
    }
}

/// Splits a trailing `(CODE)` off an item: `"Neumonia lobar (J18.1)"` →
/// `("Neumonia lobar", Some("J18.1"))`. Only a final parenthesis whose content is one
/// word of letters, digits and dots counts as a code.
pub fn split_trailing_code(s: &str) -> (&str, Option<&str>) {
    let t = s.trim_end();
    if let Some(stripped) = t.strip_suffix(')')
        && let Some(open) = stripped.rfind('(')
    {
        let inner = stripped[open + 1..].trim();
        let looks_like_code = !inner.is_empty()
            && inner.len() <= 24
            && inner.chars().any(|c| c.is_ascii_digit())
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | ' '))
            && inner.split_whitespace().count() <= 2;
        if looks_like_code {
            return (t[..open].trim_end(), Some(inner));
        }
    }
    (t, None)
}

/// Parses one compact item: name first, then posology pieces in any order, then the
/// optional trailing code. Never fails: what it cannot read stays in `unparsed`.
pub fn parse_item(s: &str) -> ParsedItem {
    let (body, code) = split_trailing_code(s);
    let chars: Vec<char> = body.chars().collect();
    let tokens = tokenize(body);
    let mut out = ParsedItem {
        code: code.map(str::to_string),
        ..Default::default()
    };
    // The name runs until the first token where a posology piece (not a bare modifier)
    // starts; the first token always belongs to the name.
    let mut name_end = tokens.len();
    for i in 1..tokens.len() {
        if piece_at(&tokens, i).is_some() || is_leading_modifier(&tokens, i) {
            name_end = i;
            break;
        }
    }
    if name_end > 0 {
        let start = tokens[0].start;
        let end = tokens[name_end - 1].end;
        out.name = chars[start..end]
            .iter()
            .collect::<String>()
            .trim()
            .to_string();
    }
    let mut phases = vec![Phase::default()];
    let mut i = name_end;
    while i < tokens.len() {
        let loading = phases.last().is_some_and(Phase::is_loading);
        let has_posology = phases.last().is_some_and(|p| !p.is_empty());
        if has_posology && let Some(next) = phase_start(&tokens, i, loading) {
            phases.push(Phase::default());
            i = next;
            continue;
        }
        if let Some(p) = piece_at(&tokens, i).or_else(|| modifier_at(&tokens, i)) {
            if matches!(p.piece, Piece::Modifier("en" | "de")) {
                if !matches!(
                    word_at(&tokens, i + 1),
                    Some("casa" | "carga" | "rescate" | "infusion" | "bolo")
                ) {
                    out.unparsed.push(tokens[i].norm.clone());
                }
            } else if let Some(Piece::Duration(_)) =
                phases.last_mut().and_then(|ph| ph.absorb(p.piece))
            {
                // A second duration cannot belong to one step: keep its words.
                out.unparsed
                    .push(token_text(&chars, &tokens, p.start, p.end));
            }
            i = p.end.max(i + 1);
        } else {
            let t = &tokens[i];
            if !(t.kind == TokenKind::Punct && matches!(t.norm.as_str(), "," | ";" | "+" | "-")) {
                out.unparsed.push(token_text(&chars, &tokens, i, i + 1));
            }
            i += 1;
        }
    }
    let first = phases.remove(0);
    out.dose = first.dose;
    out.extra_doses = first.extra_doses;
    out.route = first.route;
    out.frequency = first.frequency;
    out.duration = first.duration;
    out.as_needed = first.as_needed;
    out.modifiers = first.notes;
    out.then = phases;
    out
}

fn is_leading_modifier(tokens: &[Token], i: usize) -> bool {
    matches!(
        word_at(tokens, i),
        Some(
            "profilaxis"
                | "profilactico"
                | "profilactica"
                | "pca"
                | "bic"
                | "reposicion"
                | "preop"
                | "titulable"
                | "bolo"
                | "rescate"
        )
    )
}

fn token_text(chars: &[char], tokens: &[Token], start: usize, end: usize) -> String {
    let s = tokens[start].start;
    let e = tokens[end - 1].end;
    chars[s..e].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posology::TimeUnit;

    #[test]
    fn parses_a_full_compact_item() {
        let p = parse_item("Amoxicilina/Ac.clavulanico 875mg VO c/12h 5d (J01CR02)");
        assert_eq!(p.name, "Amoxicilina/Ac.clavulanico");
        assert_eq!(p.dose.as_ref().unwrap().to_string(), "875 mg");
        assert_eq!(p.route, Some(Route::Oral));
        assert_eq!(p.frequency, Some(Frequency::EveryHours(12.0)));
        assert_eq!(
            p.duration,
            Some(Duration::Span {
                min: 5.0,
                max: None,
                unit: TimeUnit::Days
            })
        );
        assert_eq!(p.code.as_deref(), Some("J01CR02"));
        assert!(p.fully_parsed());
    }

    #[test]
    fn parses_varied_items() {
        let cases: &[(&str, &str, bool)] = &[
            ("Vitamina D 800UI VO c/24h (A11CC05)", "Vitamina D", true),
            ("Complejo B 1 amp IM c/24h (A11E)", "Complejo B", true),
            (
                "Budesonida/Formoterol 160/4.5ug 2puff c/12h (R03AK07)",
                "Budesonida/Formoterol",
                true,
            ),
            ("Dextrosa 10% EV continua 24h (B05BA03)", "Dextrosa", true),
            (
                "Ketorolaco 30mg EV dosis unica (M01AB15)",
                "Ketorolaco",
                true,
            ),
            ("Diazepam rectal 5mg tener en casa PRN", "Diazepam", true),
            ("Oxigeno por naricera 2L/min", "Oxigeno por naricera", true),
            ("Morfina PCA (N02AA01)", "Morfina", true),
            ("Cefazolina 2g EV profilaxis (J01DB04)", "Cefazolina", true),
            (
                "Tamsulosina 0.4mg VO c/noche 30d (G04CA02)",
                "Tamsulosina",
                true,
            ),
            (
                "Vancomicina 15mg/kg EV c/12h (J01XA01)",
                "Vancomicina",
                true,
            ),
            (
                "Insulina cristalina 0.1U/kg/h EV (A10AB01)",
                "Insulina cristalina",
                true,
            ),
            (
                "Paracetamol 1g VO c/8h SOS 5d (N02BE01)",
                "Paracetamol",
                true,
            ),
            (
                "Interferon beta-1a 30mcg IM semanal (L03AB07)",
                "Interferon beta-1a",
                true,
            ),
            (
                "Levetiracetam 500mg VO c/12h 3m (N03AX14)",
                "Levetiracetam",
                true,
            ),
            ("Transfusion 4U GR, 2U plasma", "Transfusion", false),
            (
                "Paracetamol 15mg/kg VO c/6h SOS fiebre (N02BE01)",
                "Paracetamol",
                true,
            ),
            (
                "Levetiracetam 1000mg EV loading (N03AX14)",
                "Levetiracetam",
                true,
            ),
            ("Morfina 5mg EV rescue (N02AA01)", "Morfina", true),
            (
                "Enoxaparina 1mg/kg SC c/24h indefinido (B01AB01)",
                "Enoxaparina",
                true,
            ),
            // A second step after "luego" is read (crate::regimen).
            (
                "Omeprazol 80mg EV bolo luego 8mg/h (A02BC01)",
                "Omeprazol",
                true,
            ),
            // Text after a connector that is not posology stays unread.
            (
                "Insulina cristalina c/1h, luego segun protocolo",
                "Insulina cristalina",
                false,
            ),
        ];
        for (raw, name, full) in cases {
            let p = parse_item(raw);
            assert_eq!(&p.name, name, "{raw}: {p:?}");
            assert_eq!(p.fully_parsed(), *full, "{raw}: {p:?}");
        }
    }

    #[test]
    fn trailing_codes() {
        assert_eq!(split_trailing_code("HTA (I10)"), ("HTA", Some("I10")));
        assert_eq!(
            split_trailing_code("Transfusion 2U GR"),
            ("Transfusion 2U GR", None)
        );
        assert_eq!(
            split_trailing_code("Fiebre (sin foco)"),
            ("Fiebre (sin foco)", None)
        );
    }
}
