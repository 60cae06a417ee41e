//! Mutations that real hospital exports show, applied to seed documents: type swaps,
//! nulls, dropped and duplicated keys, deep nesting, huge strings and lists, odd
//! Unicode, JSON written inside strings, and raw byte damage.

use serde_json::{Map, Value, json};

pub use epicrisis_validate::planted::Rng;

/// One of `v`, which is never empty here.
pub fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> &'a T {
    &v[rng.below(v.len())]
}

/// Text that breaks naive string handling: zero-width and direction marks, combining
/// accents, emoji, NUL, a BOM, CRLF, full-width digits, a very long word.
const ODD: &[&str] = &[
    "\u{200B}",
    "\u{200D}",
    "\u{202E}",
    "\u{FEFF}",
    "e\u{0301}",
    "\u{1F489}",
    "\u{0000}",
    "\r\n",
    "\u{FF11}\u{FF12},\u{FF15} mg",
    "ﬁ",
    "İ",
    "ß",
    "\u{10FFFF}",
    "𝔸𝔹",
];

/// Values exports write where a number or a list is expected.
const ODD_VALUES: &[&str] = &[
    "",
    " ",
    "null",
    "NaN",
    "-0",
    "1e308",
    "<0,01",
    "> 1000",
    "Negativo",
    "15,2 mg/dL",
    "12.770",
    "31/02/2025",
    "2025-13-45T99:99",
    "0 años",
    "J18.9",
    "[{\"codigo\": \"J18.9\"}]",
    "{\"valor\": 7}",
    "{",
    "c/8h",
];

/// Every JSON pointer of a value.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(x, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

fn odd_text(rng: &mut Rng, base: &str) -> String {
    let mut s: Vec<char> = base.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        let ins: Vec<char> = pick(rng, ODD).chars().collect();
        s.splice(at..at, ins);
    }
    s.into_iter().collect()
}

/// A value of another type than `v`.
fn swapped(rng: &mut Rng, v: &Value) -> Value {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match rng.below(7) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next_u64() as i64 % 100_000),
        3 => Value::String(text),
        4 => json!([v.clone()]),
        5 => json!({ "valor": v.clone(), "nombre": text }),
        _ => Value::String(pick(rng, ODD_VALUES).to_string()),
    }
}

/// One mutation of the document tree; returns its name.
fn mutate_tree(rng: &mut Rng, doc: &mut Value) -> &'static str {
    let mut ptrs = Vec::new();
    pointers(doc, String::new(), &mut ptrs);
    let ptr = pick(rng, &ptrs).clone();
    let Some(slot) = doc.pointer_mut(&ptr) else {
        return "none";
    };
    match rng.below(9) {
        0 => {
            *slot = swapped(rng, slot);
            "type swap"
        }
        1 => {
            *slot = Value::Null;
            "null"
        }
        2 => {
            if let Value::Object(m) = slot
                && !m.is_empty()
            {
                let k = m
                    .keys()
                    .nth(rng.below(m.len()))
                    .cloned()
                    .unwrap_or_default();
                m.remove(&k);
            }
            "dropped key"
        }
        3 => {
            let n = 1_000 + rng.below(50_000);
            let word = pick(rng, &["Paracetamol 1 g c/8h ", "a", "ñ\u{0301}", "1,5 "]).to_string();
            *slot = Value::String(word.repeat(n / word.len().max(1) + 1));
            "huge string"
        }
        4 => {
            if let Value::Array(a) = slot
                && let Some(first) = a.first().cloned()
            {
                let n = 2_000 + rng.below(20_000);
                a.extend(std::iter::repeat_n(first, n));
            }
            "huge list"
        }
        5 => {
            if let Value::String(s) = slot {
                *s = odd_text(rng, s);
            } else {
                *slot = Value::String(odd_text(rng, &slot.to_string()));
            }
            "odd unicode"
        }
        6 => {
            *slot = Value::String(slot.to_string());
            "json in a string"
        }
        7 => {
            let mut m = Map::new();
            m.insert(String::new(), slot.clone());
            m.insert(
                "valor".into(),
                Value::Array(vec![slot.clone(), Value::Null]),
            );
            *slot = Value::Object(m);
            "wrapped"
        }
        _ => {
            *slot = Value::String(pick(rng, ODD_VALUES).to_string());
            "odd value"
        }
    }
}

/// Wraps the document in `depth` levels of arrays or objects, written by hand (a
/// recursive serialiser would itself overflow).
fn deep(rng: &mut Rng, doc: &Value) -> Vec<u8> {
    let depth = 50 + rng.below(20_000);
    let (open, close) = if rng.below(2) == 0 {
        ("[", "]")
    } else {
        ("{\"evolucion\":", "}")
    };
    let mut s = open.repeat(depth);
    s.push_str(&doc.to_string());
    s.push_str(&close.repeat(depth));
    s.into_bytes()
}

/// Writes a key a second time inside the first object of the text.
fn duplicate_key(rng: &mut Rng, doc: &Value) -> Vec<u8> {
    let text = doc.to_string();
    let Value::Object(m) = doc else {
        return text.into_bytes();
    };
    if m.is_empty() {
        return text.into_bytes();
    }
    let k = m
        .keys()
        .nth(rng.below(m.len()))
        .cloned()
        .unwrap_or_default();
    let v = swapped(rng, &m[&k]);
    let dup = format!("{{{}:{},", Value::String(k), v);
    text.replacen('{', &dup, 1).into_bytes()
}

fn damage_bytes(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(8) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[i] = (rng.next_u64() & 0xFF) as u8,
            1 => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, (rng.next_u64() & 0xFF) as u8),
            3 => bytes.truncate(i),
            _ => {
                let b = [0xEF, 0xBB, 0xBF];
                bytes.splice(0..0, b);
            }
        }
    }
    bytes
}

/// One fuzz input from a seed: the bytes and the names of the mutations applied.
pub fn case(seed: &Value, rng: &mut Rng) -> (Vec<u8>, Vec<&'static str>) {
    let mut doc = seed.clone();
    let mut applied = Vec::new();
    for _ in 0..1 + rng.below(5) {
        applied.push(mutate_tree(rng, &mut doc));
    }
    let bytes = match rng.below(10) {
        0 => {
            applied.push("deep nesting");
            deep(rng, &doc)
        }
        1 => {
            applied.push("duplicate key");
            duplicate_key(rng, &doc)
        }
        2 => {
            applied.push("byte damage");
            damage_bytes(rng, doc.to_string().into_bytes())
        }
        3 => {
            applied.push("pretty");
            serde_json::to_vec_pretty(&doc).unwrap_or_default()
        }
        _ => doc.to_string().into_bytes(),
    };
    (bytes, applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_reproducible_and_vary() {
        let seed = json!({"dx": ["Neumonia (J18.9)"], "med": ["Paracetamol 1g VO c/8h"]});
        let a: Vec<_> = (0..20).map(|i| case(&seed, &mut Rng::new(i)).0).collect();
        let b: Vec<_> = (0..20).map(|i| case(&seed, &mut Rng::new(i)).0).collect();
        assert_eq!(a, b);
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 10);
    }

    #[test]
    fn deep_nesting_is_written_without_recursion() {
        let bytes = deep(&mut Rng::new(3), &json!({"a": 1}));
        let text = String::from_utf8(bytes).unwrap();
        let opens = text.matches(['[', '{']).count();
        let closes = text.matches([']', '}']).count();
        assert!(opens > 50, "{} levels", opens);
        assert_eq!(opens, closes, "balanced");
    }
}
