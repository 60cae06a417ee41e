//! Finds codes and dates in free text, before words are matched against the lexicon.

use epicrisis_domain::Date;
use epicrisis_domain::text::fold;

/// The shape of a code-like run of characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeShape {
    /// `J01DD04`
    AtcFull,
    /// `A11E`, `B05BA`: an ATC group prefix.
    AtcGroup,
    /// `J18.9`
    Icd10Dotted,
    /// `J18`, `C20`, `I10`
    Icd10Short,
    /// `J189`, `K492`: a dotless CIE-10 code or a local procedure code.
    AlnumCode,
    /// `48.52`, `74.1`: an ICD-9-CM procedure code (or a decimal number).
    ProcedureLike,
}

/// A code-like run found in text.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeSpan {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub shape: CodeShape,
    pub in_parens: bool,
}

fn classify(run: &[char]) -> Option<CodeShape> {
    let n = run.len();
    let up = |c: char| c.is_ascii_uppercase();
    let dig = |c: char| c.is_ascii_digit();
    let letter = |c: char| c.is_ascii_alphabetic();
    if n == 7
        && letter(run[0])
        && dig(run[1])
        && dig(run[2])
        && letter(run[3])
        && letter(run[4])
        && dig(run[5])
        && dig(run[6])
    {
        return Some(CodeShape::AtcFull);
    }
    if !run.is_empty() && up(run[0]) {
        if n >= 5
            && dig(run[1])
            && dig(run[2])
            && run[3] == '.'
            && run[4..].iter().all(|c| dig(*c))
            && n <= 6
        {
            return Some(CodeShape::Icd10Dotted);
        }
        if n == 3 && dig(run[1]) && dig(run[2]) {
            return Some(CodeShape::Icd10Short);
        }
        if (n == 4 || n == 5) && dig(run[1]) && dig(run[2]) && run[3..].iter().all(|c| up(*c)) {
            return Some(CodeShape::AtcGroup);
        }
        if (4..=6).contains(&n) && run[1..].iter().all(|c| dig(*c)) {
            return Some(CodeShape::AlnumCode);
        }
    }
    if let Some(dot) = run.iter().position(|c| *c == '.') {
        let (a, b) = (&run[..dot], &run[dot + 1..]);
        if (1..=2).contains(&a.len())
            && (1..=2).contains(&b.len())
            && a.iter().all(|c| dig(*c))
            && b.iter().all(|c| dig(*c))
        {
            return Some(CodeShape::ProcedureLike);
        }
    }
    None
}

/// Finds code-like runs. Distinctive shapes (`J01DD04`, `J18.9`) count anywhere; the
/// ambiguous ones (`C20`, `48.52`, `A11E`) only inside parentheses or after a code
/// keyword (`CIE-10`, `ATC`, `código`).
pub fn scan_codes(chars: &[char]) -> Vec<CodeSpan> {
    let mut out = Vec::new();
    let mut depth: i32 = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '(' || c == '[' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == ')' || c == ']' {
            depth = (depth - 1).max(0);
            i += 1;
            continue;
        }
        let word_start = c.is_ascii_alphanumeric() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if !word_start {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len()
            && (chars[j].is_ascii_alphanumeric()
                || (chars[j] == '.'
                    && j + 1 < chars.len()
                    && chars[j + 1].is_ascii_digit()
                    && j > i))
        {
            j += 1;
        }
        // A run glued to non-ASCII letters is a word, not a code.
        if j < chars.len() && chars[j].is_alphabetic() {
            i = j + 1;
            continue;
        }
        let run = &chars[i..j];
        if let Some(shape) = classify(run) {
            let in_parens = depth > 0;
            let keyword = preceded_by_code_keyword(chars, i);
            let next_is_unit = {
                let mut k = j;
                while k < chars.len() && chars[k] == ' ' {
                    k += 1;
                }
                k < chars.len() && (chars[k].is_alphabetic() || chars[k] == '%')
            };
            let accept = match shape {
                CodeShape::AtcFull | CodeShape::Icd10Dotted => true,
                CodeShape::ProcedureLike => (in_parens || keyword) && !next_is_unit,
                CodeShape::Icd10Short | CodeShape::AtcGroup | CodeShape::AlnumCode => {
                    in_parens || keyword
                }
            };
            if accept {
                out.push(CodeSpan {
                    start: i,
                    end: j,
                    text: run.iter().collect(),
                    shape,
                    in_parens,
                });
            }
        }
        i = j.max(i + 1);
    }
    out
}

fn preceded_by_code_keyword(chars: &[char], start: usize) -> bool {
    let from = start.saturating_sub(12);
    let before: String = chars[from..start].iter().collect();
    let f = fold(&before);
    let f = f.trim_end_matches([' ', ':', '-', '=']);
    [
        "cie-10", "cie10", "cie 10", "cie", "atc", "codigo", "cod.", "cod", "icd-10", "icd10",
    ]
    .iter()
    .any(|k| f.ends_with(k))
}

/// A date written in text.
#[derive(Debug, Clone, PartialEq)]
pub struct DateSpan {
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Full date, or day and month when the year is not written.
    pub date: Option<Date>,
    pub day_month: (u8, u8),
}

fn digits_at(chars: &[char], i: usize, max: usize) -> (usize, u32) {
    let mut j = i;
    let mut v: u32 = 0;
    while j < chars.len() && j - i < max && chars[j].is_ascii_digit() {
        v = v * 10 + chars[j].to_digit(10).unwrap_or(0);
        j += 1;
    }
    (j - i, v)
}

/// Finds `15/12/2025`, `15-12-2025`, `2025-12-15` and `15 de diciembre (de 2025)`.
pub fn scan_dates(chars: &[char]) -> Vec<DateSpan> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit()
            || (i > 0
                && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '.' || chars[i - 1] == ','))
        {
            i += 1;
            continue;
        }
        let (n1, v1) = digits_at(chars, i, 4);
        let found = iso_date(chars, i, n1, v1)
            .or_else(|| numeric_date(chars, i, n1, v1))
            .or_else(|| spelled_date(chars, i, n1, v1));
        if let Some(span) = found {
            i = span.end;
            out.push(span);
            continue;
        }
        i = (i + n1).max(i + 1);
    }
    out
}

/// The span `[start, end)` of `chars`, a whole date.
fn full_date(chars: &[char], start: usize, end: usize, d: Date) -> DateSpan {
    DateSpan {
        start,
        end,
        text: chars[start..end].iter().collect(),
        date: Some(d),
        day_month: (d.day(), d.month()),
    }
}

/// `yyyy-mm-dd` at `i`, whose first `n1` digits read `v1`.
fn iso_date(chars: &[char], i: usize, n1: usize, v1: u32) -> Option<DateSpan> {
    let j = i + n1;
    if n1 == 4 && j < chars.len() && chars[j] == '-' {
        let (n2, v2) = digits_at(chars, j + 1, 2);
        let k = j + 1 + n2;
        if n2 > 0 && k < chars.len() && chars[k] == '-' {
            let (n3, v3) = digits_at(chars, k + 1, 2);
            if n3 > 0
                && let Some(d) = Date::from_ymd(v1 as i32, v2 as u8, v3 as u8)
            {
                return Some(full_date(chars, i, k + 1 + n3, d));
            }
        }
    }
    None
}

/// `dd/mm/yyyy` or `dd-mm-yyyy` (or a two-digit year) at `i`, whose first `n1` digits
/// read `v1`.
fn numeric_date(chars: &[char], i: usize, n1: usize, v1: u32) -> Option<DateSpan> {
    let j = i + n1;
    if (1..=2).contains(&n1) && j < chars.len() && (chars[j] == '/' || chars[j] == '-') {
        let sep = chars[j];
        let (n2, v2) = digits_at(chars, j + 1, 2);
        let k = j + 1 + n2;
        if n2 > 0 && k < chars.len() && chars[k] == sep {
            let (n3, v3) = digits_at(chars, k + 1, 4);
            if n3 == 4 || n3 == 2 {
                let year = if n3 == 2 { 2000 + v3 as i32 } else { v3 as i32 };
                if let Some(d) = Date::from_ymd(year, v2 as u8, v1 as u8) {
                    return Some(full_date(chars, i, k + 1 + n3, d));
                }
            }
        }
    }
    None
}

/// "15 de diciembre (de 2025)" at `i`, whose first `n1` digits read `v1`: the full date
/// when the year is written, else the day and month alone.
fn spelled_date(chars: &[char], i: usize, n1: usize, v1: u32) -> Option<DateSpan> {
    if !(1..=2).contains(&n1) {
        return None;
    }
    let j = i + n1;
    let rest: String = chars[j..chars.len().min(j + 30)].iter().collect();
    let f = fold(&rest);
    let after = f.strip_prefix(" de ")?;
    let month_word: String = after.chars().take_while(|c| c.is_alphabetic()).collect();
    let m = Date::month_from_name(&month_word)?;
    let mut end = j + 4 + month_word.chars().count();
    let tail: String = f.chars().skip(4 + month_word.chars().count()).collect();
    let mut date = None;
    if let Some(y) = tail
        .strip_prefix(" de ")
        .or_else(|| tail.strip_prefix(" del "))
    {
        let yd: String = y.chars().take_while(|c| c.is_ascii_digit()).collect();
        if yd.len() == 4 {
            let skip = if tail.starts_with(" del ") { 5 } else { 4 };
            end += skip + 4;
            date = Date::from_ymd(yd.parse().unwrap_or(0), m, v1 as u8);
        }
    }
    if !(1..=31).contains(&v1) {
        return None;
    }
    Some(DateSpan {
        start: i,
        end,
        text: chars[i..end].iter().collect(),
        date,
        day_month: (v1 as u8, m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(s: &str) -> Vec<(String, CodeShape)> {
        let c: Vec<char> = s.chars().collect();
        scan_codes(&c)
            .into_iter()
            .map(|x| (x.text, x.shape))
            .collect()
    }

    #[test]
    fn finds_codes_in_parentheses_and_distinctive_ones_anywhere() {
        assert_eq!(
            codes("neumonía (J18.9) y ceftriaxona (J01DD04), cirugía (48.52), HTA (I10)"),
            vec![
                ("J18.9".into(), CodeShape::Icd10Dotted),
                ("J01DD04".into(), CodeShape::AtcFull),
                ("48.52".into(), CodeShape::ProcedureLike),
                ("I10".into(), CodeShape::Icd10Short),
            ]
        );
        assert_eq!(
            codes("código J18.9 fuera"),
            vec![("J18.9".into(), CodeShape::Icd10Dotted)]
        );
        // Ambiguous shapes outside parentheses are not codes.
        assert!(codes("vitamina B12 y 48.52 ml").is_empty());
        // Decimal numbers with units inside parentheses are not codes.
        assert!(codes("(7.8 g/dL)").is_empty());
        assert_eq!(
            codes("(CIE-10 J189)"),
            vec![("J189".into(), CodeShape::AlnumCode)]
        );
    }

    #[test]
    fn finds_dates() {
        let c: Vec<char> =
            "ingresó el 15/12/2025 y egresó el 26 de diciembre de 2025; control 2026-01-05"
                .chars()
                .collect();
        let d = scan_dates(&c);
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0].date.unwrap().to_string(), "2025-12-15");
        assert_eq!(d[1].date.unwrap().to_string(), "2025-12-26");
        assert_eq!(d[1].text, "26 de diciembre de 2025");
        assert_eq!(d[2].date.unwrap().to_string(), "2026-01-05");
        let c: Vec<char> = "875/125 mg y 3-6 meses".chars().collect();
        assert!(scan_dates(&c).is_empty());
    }
}
