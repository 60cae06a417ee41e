//! Numbers as Chilean clinical text writes them.
//!
//! `7,8` is a decimal comma; `12.770` (leucocytes) is a thousands separator; `7.8` from a
//! JSON export is a decimal point. A number with one separator followed by exactly three
//! digits is genuinely ambiguous, so [`interpretations`] returns every reading and callers
//! accept a match on any of them.

/// Every plausible value of a number token such as `875`, `0,875`, `12.770`, `1.234,5`.
/// Empty when the token is not a number.
pub fn interpretations(raw: &str) -> Vec<f64> {
    let s = raw.trim();
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
    {
        return Vec::new();
    }
    if !s.as_bytes()[0].is_ascii_digit() || !s.as_bytes()[s.len() - 1].is_ascii_digit() {
        return Vec::new();
    }
    let seps: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'.' || *b == b',')
        .collect();
    let digits_only = |t: &str| -> String { t.chars().filter(|c| c.is_ascii_digit()).collect() };
    match seps.len() {
        0 => s.parse::<f64>().into_iter().collect(),
        1 => {
            let (pos, _) = seps[0];
            let int = &s[..pos];
            let frac = &s[pos + 1..];
            let decimal: Option<f64> = format!("{int}.{frac}").parse().ok();
            let thousands: Option<f64> = if frac.len() == 3 && int != "0" {
                digits_only(s).parse().ok()
            } else {
                None
            };
            decimal.into_iter().chain(thousands).collect()
        }
        _ => {
            // Several separators: the last one is decimal if it differs from the others
            // (`1.234,5`), otherwise all are thousands separators (`1.234.567`).
            let last = seps[seps.len() - 1];
            let others_same = seps[..seps.len() - 1].iter().all(|(_, b)| *b == seps[0].1);
            if others_same && last.1 != seps[0].1 {
                let int = digits_only(&s[..last.0]);
                let frac = &s[last.0 + 1..];
                format!("{int}.{frac}").parse().ok().into_iter().collect()
            } else if seps.iter().all(|(_, b)| *b == seps[0].1) {
                let groups_ok = s.split(seps[0].1 as char).skip(1).all(|g| g.len() == 3);
                if groups_ok {
                    digits_only(s).parse().ok().into_iter().collect()
                } else {
                    Vec::new()
                }
            } else {
                Vec::new()
            }
        }
    }
}

/// The unambiguous value of a number written in data (JSON numbers, `7,8`, `0.875`):
/// a single separator is always decimal here, as exports do not group thousands.
pub fn parse_decimal(raw: &str) -> Option<f64> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let normalised = s.replace(',', ".");
    if normalised.matches('.').count() > 1 {
        return interpretations(s).first().copied();
    }
    normalised.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Approximate equality for clinical values (relative 1e-6, absolute 1e-9).
pub fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9_f64.max(1e-6 * a.abs().max(b.abs()))
}

/// A stable key for a value, used to index the numbers an episode contains.
pub fn value_key(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

/// Formats a value the Spanish way: decimal comma, no trailing zeros (`2,5`, `875`, `0,05`).
pub fn format_es(v: f64) -> String {
    if v.fract().abs() < 1e-9 && v.abs() < 1e15 {
        return format!("{}", v.round() as i64);
    }
    let mut s = format!("{v:.4}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s.replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chilean_numbers() {
        assert_eq!(interpretations("875"), vec![875.0]);
        assert_eq!(interpretations("0,875"), vec![0.875]);
        assert_eq!(interpretations("7.8"), vec![7.8]);
        assert_eq!(interpretations("12.770"), vec![12.77, 12770.0]);
        assert_eq!(interpretations("1.234,5"), vec![1234.5]);
        assert_eq!(interpretations("1.234.567"), vec![1234567.0]);
        assert!(interpretations("1.2.3").is_empty());
        assert!(interpretations("abc").is_empty());
        assert!(interpretations(".5").is_empty());
    }

    #[test]
    fn data_decimals() {
        assert_eq!(parse_decimal("7,8"), Some(7.8));
        assert_eq!(parse_decimal(" 143.1 "), Some(143.1));
        assert_eq!(parse_decimal("x"), None);
        assert_eq!(parse_decimal("NaN"), None);
    }

    #[test]
    fn formats_with_decimal_comma() {
        assert_eq!(format_es(2.5), "2,5");
        assert_eq!(format_es(875.0), "875");
        assert_eq!(format_es(0.05), "0,05");
        assert_eq!(format_es(6.25), "6,25");
    }
}
