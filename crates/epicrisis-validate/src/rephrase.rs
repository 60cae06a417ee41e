//! Rephrased references: the same correct text with its discharge sentence written the
//! way other physicians write it («Egresa con …», «Alta con X. Se indica …», a list
//! under «Indicaciones al alta:»). The dev references all say «Alta con X, indicándose
//! Y»; a validator tuned to that one shape misses omissions in the others, so the
//! evaluation measures false errors and planted omissions on these variants too.

use crate::planted::Rng;

/// The discharge shapes a rephrasing picks from.
pub const SHAPES: usize = 6;

/// `text` with its discharge sentence («Alta con X, indicándose Y.») in shape
/// `shape % SHAPES`, or `None` when the text has no such sentence.
pub fn rephrase_discharge(text: &str, shape: usize) -> Option<String> {
    let (start, end) = discharge_sentence(text)?;
    let sentence = &text[start..end];
    let body = sentence.strip_prefix("Alta ")?.trim_end_matches('.');
    let cut = [", indicandose ", ", indicándose "]
        .iter()
        .find_map(|c| body.find(c).map(|i| (i, c.len())))?;
    let dx = &body[..cut.0];
    let meds = &body[cut.0 + cut.1..];
    let items = split_items(meds);
    let new = match shape % SHAPES {
        0 => format!("Alta {dx}. Se indica {meds}."),
        1 => format!("Egresa {dx}, con indicación de {meds}."),
        2 => {
            let list: String = items
                .iter()
                .map(|m| format!("\n- {}", upper_first(m)))
                .collect();
            format!("Se da de alta {dx}.\nIndicaciones al alta:{list}")
        }
        3 => format!("Alta {dx}.\nTratamiento ambulatorio: {meds}."),
        4 => format!("Se indica al alta {meds}. Egresa {dx}."),
        _ => format!("Se va de alta {dx}. {}.", upper_first(meds)),
    };
    Some(format!("{}{}{}", &text[..start], new, &text[end..]))
}

/// A shape for a record, from its seed.
pub fn pick_shape(seed: u64) -> usize {
    Rng::new(seed).below(SHAPES)
}

/// The last sentence that starts with «Alta », as byte offsets.
fn discharge_sentence(text: &str) -> Option<(usize, usize)> {
    let start = if text.starts_with("Alta ") {
        Some(0)
    } else {
        None
    };
    let start = text.rfind(". Alta ").map(|i| i + 2).or(start)?;
    let end = text[start..]
        .find(". ")
        .map_or(text.len(), |i| start + i + 1);
    Some((start, end))
}

/// Splits «a (X), b (Y) y c (Z)» into its items, outside parentheses.
fn split_items(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let mut rest = list;
    while let Some(c) = rest.chars().next() {
        if depth == 0 && (rest.starts_with(", ") || rest.starts_with(" y ")) {
            out.push(std::mem::take(&mut cur));
            rest = &rest[if rest.starts_with(", ") { 2 } else { 3 }..];
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        cur.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Ingresa por neumonia (J18.9). Recibio ceftriaxona 2g EV cada 24 horas \
        (J01DD04). Alta con neumonia resuelta (J18.9), indicandose amoxicilina 875mg VO cada \
        12 horas (J01CA04) y paracetamol 1g cada 8 horas (N02BE01).";

    #[test]
    fn every_shape_keeps_the_course_and_every_item() {
        for shape in 0..SHAPES {
            let r = rephrase_discharge(TEXT, shape).expect("a discharge sentence");
            assert!(
                r.starts_with("Ingresa por neumonia (J18.9). Recibio ceftriaxona"),
                "{r}"
            );
            for item in [
                "amoxicilina 875mg",
                "(J01CA04)",
                "paracetamol 1g",
                "(N02BE01)",
                "resuelta",
            ] {
                assert!(
                    r.to_lowercase().contains(&item.to_lowercase()),
                    "shape {shape}: {item} missing: {r}"
                );
            }
            assert!(!r.contains("indicandose"), "shape {shape}: {r}");
        }
        let list = rephrase_discharge(TEXT, 2).unwrap();
        assert!(
            list.ends_with("Indicaciones al alta:\n- Amoxicilina 875mg VO cada 12 horas (J01CA04)\n- Paracetamol 1g cada 8 horas (N02BE01)"),
            "{list}"
        );
    }

    #[test]
    fn a_text_without_the_sentence_is_left_alone() {
        assert_eq!(
            rephrase_discharge("Ingresa por neumonia. Egresa estable.", 0),
            None
        );
    }
}
