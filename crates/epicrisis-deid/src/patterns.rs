//! Identifiers with a shape: RUT, phone numbers, e-mails, addresses, episode numbers and
//! dates, and the placeholders of answers.

use crate::{Found, Kind, rut_check_digit_ok};
use epicrisis_domain::date::Date;
use epicrisis_domain::date::MONTHS_ES as MONTHS;
use regex::Regex;
use std::sync::OnceLock;

struct Patterns {
    email: Regex,
    rut: Vec<Regex>,
    rut_labelled: Regex,
    rut_plain9: Regex,
    phone: Vec<Regex>,
    phone_labelled: Regex,
    address: Regex,
    address_labelled: Regex,
    episode_labelled: Regex,
    date_iso: Regex,
    date_dmy: Regex,
    date_dm: Regex,
    date_long: Regex,
    placeholder: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("valid pattern");
        Patterns {
            email: re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            rut: vec![
                re(r"\b\d{1,2}\.\d{3}\.\d{3}\s?-\s?[\dkK]\b"),
                re(r"\b\d{7,8}\s?-\s?[\dkK]\b"),
                re(r"\b\d{1,2}\.\d{3}\.\d{3}\b"),
                re(r"\b\d{7,8}[kK]\b"),
            ],
            rut_labelled: re(
                r"(?i)\b(?:rut|r\.u\.t\.?|run)(?:\s+(?:del?|la|pcte|pte|paciente|familiar|madre|padre|hij[oa]))*\s*(?:n[°º]|:)?\s*:?\s*(\d[\d.]{5,11}(?:\s?-?\s?[\dkK])?)\b",
            ),
            rut_plain9: re(r"\b\d{8}[\dkK]\b"),
            phone: vec![
                re(r"(?:\+\s?56|\b56)[\s-]?(?:\(?\d{1,2}\)?[\s-]?)?\d{3,4}[\s-]?\d{4}\b"),
                re(r"\b9[\s-]?\d{4}[\s-]?\d{4}\b"),
                re(r"\(\d{1,2}\)\s?\d{3,4}[\s-]?\d{4}\b"),
            ],
            phone_labelled: re(
                r"(?i)\b(?:fono|tel[eé]fono|telef\.?|tel\.?|cel(?:ular)?\.?|contacto|whatsapp|n[uú]mero)\s*:?\s*(\+?\(?\d[\d\s()-]{6,14}\d)\b",
            ),
            address: re(
                r"(?i)\b(?:calle|avenida|av\.|avda\.?|pasaje|psje\.?|pje\.|camino|villa|poblaci[oó]n|pobl\.)\s+(?:[A-Za-zÁÉÍÓÚÑáéíóúñü.']+\s+){0,4}?(?:n[°º]\s*|#\s*|nro\.?\s*|n[uú]mero\s*)?\d{1,5}\b(?:\s*,?\s*(?:depto\.?|dpto\.?|departamento|casa|block|of\.?)\s*[\w-]+)*",
            ),
            address_labelled: re(
                r"(?i)\b(?:domicilio|direcci[oó]n|vive en|reside en)\s*:?\s*(?:en\s+)?([A-Za-zÁÉÍÓÚÑáéíóúñ.' ]{3,40}?\s(?:n[°º]\s*|#\s*)?\d{1,5}\b(?:\s*,?\s*(?:depto\.?|dpto\.?|casa|block)\s*[\w-]+)?)",
            ),
            episode_labelled: re(
                r"(?i)\b(?:episodio|epis\.?|id\s+atenci[oó]n|atenci[oó]n|ficha|folio|cuenta)\s*(?:n[°º]|nro\.?|#)?\s*:?\s*(\d{5,10})\b",
            ),
            date_iso: re(r"\b(\d{4})-(\d{2})-(\d{2})\b"),
            date_dmy: re(r"\b(\d{1,2})([/.-])(\d{1,2})([/.-])(\d{4}|\d{2})\b"),
            date_dm: re(r"\b(\d{2})/(\d{2})\b"),
            date_long: re(&format!(
                r"(?i)\b(\d{{1,2}})\s+de\s+({})(?:\s+(?:de|del)\s+(\d{{4}}))?\b",
                MONTHS.join("|") + "|setiembre"
            )),
            placeholder: re(
                r"(?i)\[\s*(paciente|nombre|rut|tel[eé]fono|correo|direcci[oó]n|episodio|fecha)(?:[\s_-]*(\d+))?\s*\]|\b(NOMBRE|RUT|TELEFONO|CORREO|DIRECCION|EPISODIO|FECHA)_(\d+)\b",
            ),
        }
    })
}

fn push(out: &mut Vec<Found>, start: usize, end: usize, kind: Kind) {
    out.push(Found { start, end, kind });
}

/// Spans of shaped identifiers (`ids`: the episode's own numbers).
pub fn find(text: &str, ids: &[String]) -> Vec<Found> {
    let p = patterns();
    let mut out = Vec::new();
    for m in p.email.find_iter(text) {
        push(&mut out, m.start(), m.end(), Kind::Email);
    }
    for r in &p.rut {
        for m in r.find_iter(text) {
            if !glued_to_number(text, m.start(), m.end()) {
                push(&mut out, m.start(), m.end(), Kind::Rut);
            }
        }
    }
    for c in p.rut_labelled.captures_iter(text) {
        if let Some(m) = c.get(1) {
            push(&mut out, m.start(), m.end(), Kind::Rut);
        }
    }
    for m in p.rut_plain9.find_iter(text) {
        let s = m.as_str();
        let (body, dv) = s.split_at(8);
        let dv = dv.chars().next().unwrap_or('0');
        if !s.starts_with('9') && rut_check_digit_ok(body, dv) {
            push(&mut out, m.start(), m.end(), Kind::Rut);
        }
    }
    for r in &p.phone {
        for m in r.find_iter(text) {
            if !glued_to_number(text, m.start(), m.end()) {
                push(&mut out, m.start(), m.end(), Kind::Phone);
            }
        }
    }
    for c in p.phone_labelled.captures_iter(text) {
        if let Some(m) = c.get(1) {
            let digits = m.as_str().chars().filter(char::is_ascii_digit).count();
            if digits >= 8 {
                push(&mut out, m.start(), m.end(), Kind::Phone);
            }
        }
    }
    for m in p.address.find_iter(text) {
        push(&mut out, m.start(), m.end(), Kind::Address);
    }
    for c in p.address_labelled.captures_iter(text) {
        if let Some(m) = c.get(1) {
            push(&mut out, m.start(), m.end(), Kind::Address);
        }
    }
    for c in p.episode_labelled.captures_iter(text) {
        if let Some(m) = c.get(1) {
            push(&mut out, m.start(), m.end(), Kind::EpisodeId);
        }
    }
    for id in ids {
        if id.len() < 3 {
            continue;
        }
        let mut from = 0;
        while let Some(i) = text[from..].find(id.as_str()) {
            let (a, b) = (from + i, from + i + id.len());
            let before = text[..a].chars().next_back();
            let after = text[b..].chars().next();
            if !before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric)
            {
                push(&mut out, a, b, Kind::EpisodeId);
            }
            from = b;
        }
    }
    for (a, b) in find_dates(text) {
        push(&mut out, a, b, Kind::Date);
    }
    out
}

/// A match inside a longer number ("1.234.567,5", "12345678-9-1") is not an identifier.
fn glued_to_number(text: &str, a: usize, b: usize) -> bool {
    let before = text[..a].chars().next_back();
    let after = text[b..].chars().next();
    let after2 = text[b..].chars().nth(1);
    before.is_some_and(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && text[..a]
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| c.is_ascii_digit())
        || after.is_some_and(|c| c == ',' || c == '.') && after2.is_some_and(|c| c.is_ascii_digit())
}

/// Spans of exact dates.
pub fn find_dates(text: &str) -> Vec<(usize, usize)> {
    let p = patterns();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for c in p.date_iso.captures_iter(text) {
        let m = c.get(0).map(|m| (m.start(), m.end()));
        if let Some((a, b)) = m
            && parse_any(&text[a..b], 2000).is_some()
        {
            out.push((a, b));
        }
    }
    for c in p.date_dmy.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        if c.get(2).map(|x| x.as_str()) != c.get(4).map(|x| x.as_str()) {
            continue;
        }
        if !glued_to_number(text, m.start(), m.end()) && parse_any(m.as_str(), 2000).is_some() {
            out.push((m.start(), m.end()));
        }
    }
    for m in p.date_dm.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(|c| c == '/' || c == '.' || c == '-' || c.is_ascii_digit())
            || after.is_some_and(|c| c == '/' || c == '.' || c == '-' || c.is_ascii_digit())
        {
            continue;
        }
        if parse_any(m.as_str(), 2000).is_some() {
            out.push((m.start(), m.end()));
        }
    }
    for m in p.date_long.find_iter(text) {
        if parse_any(m.as_str(), 2000).is_some() {
            out.push((m.start(), m.end()));
        }
    }
    out.sort_by_key(|&(a, b)| (a, std::cmp::Reverse(b)));
    let mut kept: Vec<(usize, usize)> = Vec::new();
    for (a, b) in out {
        if kept.last().is_none_or(|l| a >= l.1) {
            kept.push((a, b));
        }
    }
    kept
}

/// How a date was written, to write the shifted one the same way.
enum Shape {
    Iso,
    Dmy {
        sep: char,
        pad: bool,
        short_year: bool,
    },
    Dm,
    Long {
        year: bool,
        month_cap: bool,
    },
}

fn parse_any(s: &str, ref_year: i32) -> Option<(Date, Shape)> {
    let p = patterns();
    if let Some(c) = p.date_iso.captures(s) {
        let y = c[1].parse().ok()?;
        let d = Date::from_ymd(y, c[2].parse().ok()?, c[3].parse().ok()?)?;
        return Some((d, Shape::Iso));
    }
    if let Some(c) = p.date_dmy.captures(s) {
        let yr = &c[5];
        let y: i32 = yr.parse().ok()?;
        let y = if yr.len() == 2 { 2000 + y } else { y };
        let d = Date::from_ymd(y, c[3].parse().ok()?, c[1].parse().ok()?)?;
        return Some((
            d,
            Shape::Dmy {
                sep: c[2].chars().next().unwrap_or('/'),
                pad: c[1].len() == 2,
                short_year: yr.len() == 2,
            },
        ));
    }
    if let Some(c) = p.date_long.captures(s) {
        let month = epicrisis_domain::text::fold(&c[2]);
        let m = if month == "setiembre" {
            9
        } else {
            MONTHS.iter().position(|x| *x == month)? + 1
        };
        let y = c.get(3).and_then(|y| y.as_str().parse().ok());
        let d = Date::from_ymd(y.unwrap_or(ref_year), m as u8, c[1].parse().ok()?)?;
        let month_cap = c[2].chars().next().is_some_and(char::is_uppercase);
        return Some((
            d,
            Shape::Long {
                year: y.is_some(),
                month_cap,
            },
        ));
    }
    if let Some(c) = p.date_dm.captures(s) {
        let d = Date::from_ymd(ref_year, c[2].parse().ok()?, c[1].parse().ok()?)?;
        return Some((d, Shape::Dm));
    }
    None
}

/// The date in `s` moved by `days`, written the same way.
pub fn shift_date(s: &str, days: i64, ref_year: i32) -> Option<String> {
    let (d, shape) = parse_any(s, ref_year)?;
    let n = d.add_days(days);
    Some(match shape {
        Shape::Iso => format!("{:04}-{:02}-{:02}", n.year(), n.month(), n.day()),
        Shape::Dmy {
            sep,
            pad,
            short_year,
        } => {
            let day = if pad {
                format!("{:02}", n.day())
            } else {
                n.day().to_string()
            };
            let year = if short_year {
                format!("{:02}", n.year() % 100)
            } else {
                n.year().to_string()
            };
            format!("{day}{sep}{:02}{sep}{year}", n.month())
        }
        Shape::Dm => format!("{:02}/{:02}", n.day(), n.month()),
        Shape::Long { year, month_cap } => {
            let mut month = MONTHS[usize::from(n.month()) - 1].to_string();
            if month_cap {
                month = epicrisis_domain::text::capitalize_first(&month);
            }
            if year {
                format!("{} de {month} de {}", n.day(), n.year())
            } else {
                format!("{} de {month}", n.day())
            }
        }
    })
}

/// Replaces placeholders, in the forms models write them, with `lookup`'s value of the
/// canonical form (`[NOMBRE_1]`, `[PACIENTE]`); unknown ones stay.
pub fn replace_placeholders(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let p = patterns();
    p.placeholder
        .replace_all(text, |c: &regex::Captures| {
            let (word, n) = match (c.get(1), c.get(3)) {
                (Some(w), _) => (w.as_str(), c.get(2).map(|n| n.as_str())),
                (None, Some(w)) => (w.as_str(), c.get(4).map(|n| n.as_str())),
                _ => return c[0].to_string(),
            };
            let word = epicrisis_domain::text::fold(word).to_uppercase();
            let canonical = match n {
                Some(n) => format!("[{word}_{n}]"),
                None => format!("[{word}]"),
            };
            lookup(&canonical).unwrap_or_else(|| c[0].to_string())
        })
        .into_owned()
}
