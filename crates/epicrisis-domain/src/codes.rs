//! Typed clinical codes: CIE-10 (ICD-10), ATC and procedure codes.
//!
//! "Parse, don't validate": once a program holds an [`Icd10Code`] it is well formed and in
//! canonical form (`J18.9`). Parsing accepts the variants real exports deliver (`J189`,
//! `ATC:J01DH02`, lower case) and says whether it had to normalise, so readers can warn
//! instead of correcting silently.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a code of the expected system. The message names the value and
/// the expected shape, so it can be shown to a person as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "{0:?} is not a CIE-10 code (expected a letter, two digits, optional . and one or two digits, e.g. J18.9)"
    )]
    Icd10(String),
    #[error(
        "{0:?} is not an ATC code (expected a letter, two digits, two letters, two digits, e.g. J01DD04, or a valid prefix such as J01)"
    )]
    Atc(String),
    #[error(
        "{0:?} is not a procedure code (expected one word of letters, digits, '.' or '-', e.g. 48.52 or K492)"
    )]
    Procedure(String),
}

impl CodeError {
    /// The same message in Spanish, for clinicians: names the value as written and the
    /// expected shape, like the English [`Display`](fmt::Display).
    pub fn to_spanish(&self) -> String {
        match self {
            CodeError::Icd10(raw) => format!(
                "El código «{raw}» no tiene formato CIE-10 (una letra, dos dígitos y \
                 opcionalmente un punto y uno o dos dígitos, p. ej. J18.9)"
            ),
            CodeError::Atc(raw) => format!(
                "El código «{raw}» no tiene formato ATC (una letra, dos dígitos, dos letras y \
                 dos dígitos, p. ej. J01DD04, o un prefijo válido como J01)"
            ),
            CodeError::Procedure(raw) => format!(
                "El código «{raw}» no tiene formato de código de procedimiento (una sola \
                 palabra de letras, dígitos, «.» o «-», p. ej. 48.52 o K492)"
            ),
        }
    }
}

/// A parsed code plus whether the source spelled it differently (dot missing, prefix, case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    pub code: T,
    /// True when the canonical form differs from what the source wrote.
    pub normalised: bool,
}

fn strip_prefix_ci<'a>(s: &'a str, prefixes: &[&str]) -> &'a str {
    for p in prefixes {
        // `get` because the text may hold multi-byte characters where the prefix would end.
        if let (Some(head), Some(rest)) = (s.get(..p.len()), s.get(p.len()..))
            && head.eq_ignore_ascii_case(p)
        {
            return rest.trim_start_matches([':', ' ', '-']).trim();
        }
    }
    s
}

/// A CIE-10 code in canonical form: a letter, two digits, optionally `.` and one or two
/// digits (`J18.9`, `K74.6`, `C20`, `U07.1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Icd10Code(String);

impl Icd10Code {
    /// Parses and canonicalises: `j18.9`, `J189`, `CIE10:J18.9` all give `J18.9`.
    pub fn parse(raw: &str) -> Result<Parsed<Self>, CodeError> {
        let trimmed = raw.trim();
        let s = strip_prefix_ci(trimmed, &["CIE-10", "CIE10", "ICD-10", "ICD10"]);
        let up: String = s.chars().map(|c| c.to_ascii_uppercase()).collect();
        let b = up.as_bytes();
        let err = || CodeError::Icd10(raw.to_string());
        if b.len() < 3 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_digit() {
            return Err(err());
        }
        // The third character is a digit, except in a few WHO codes such as U07.1 (still a digit)
        // and ICD-10-CM extensions like O9A which some lists carry.
        if !(b[2].is_ascii_digit() || (b[2] == b'A' && b[0] == b'O')) {
            return Err(err());
        }
        let rest = &up[3..];
        let canonical = if rest.is_empty() {
            up[..3].to_string()
        } else if let Some(sub) = rest.strip_prefix('.') {
            if sub.is_empty() || sub.len() > 2 || !sub.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            format!("{}.{}", &up[..3], sub)
        } else {
            // Dotless form: J189 / J1890.
            if rest.len() > 2 || !rest.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            format!("{}.{}", &up[..3], rest)
        };
        Ok(Parsed {
            normalised: canonical != trimmed,
            code: Icd10Code(canonical),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The three-character category (`J18` for `J18.9`).
    pub fn category(&self) -> &str {
        &self.0[..3]
    }

    /// The code without its dot (`J189`), the key some lists use.
    pub fn dotless(&self) -> String {
        self.0.replace('.', "")
    }
}

impl fmt::Display for Icd10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for Icd10Code {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Icd10Code::parse(&s).map(|p| p.code)
    }
}
impl From<Icd10Code> for String {
    fn from(c: Icd10Code) -> String {
        c.0
    }
}

/// The first-level (anatomical main group) letters of the WHO ATC classification.
pub const ATC_GROUPS: &str = "ABCDGHJLMNPRSV";

/// A WHO ATC code: 7 characters (`J01DD04`) or a valid group prefix (`J`, `J01`, `J01D`,
/// `J01DD`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AtcCode(String);

impl AtcCode {
    /// Parses `J01DD04`, `ATC:J01DH02`, `atc j01dh02`, `J01`.
    pub fn parse(raw: &str) -> Result<Parsed<Self>, CodeError> {
        let trimmed = raw.trim();
        let s = strip_prefix_ci(trimmed, &["ATC"]);
        let up: String = s.chars().map(|c| c.to_ascii_uppercase()).collect();
        let b = up.as_bytes();
        let ok_shape = match b.len() {
            1 | 3 | 4 | 5 | 7 => b.iter().enumerate().all(|(i, c)| match i {
                0 | 3 | 4 => c.is_ascii_uppercase(),
                _ => c.is_ascii_digit(),
            }),
            _ => false,
        };
        if !ok_shape || !ATC_GROUPS.as_bytes().contains(&b[0]) {
            return Err(CodeError::Atc(raw.to_string()));
        }
        Ok(Parsed {
            normalised: up != trimmed,
            code: AtcCode(up),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for a full 7-character substance code.
    pub fn is_substance(&self) -> bool {
        self.0.len() == 7
    }

    /// The ATC level (1–5) this code denotes.
    pub fn level(&self) -> u8 {
        match self.0.len() {
            1 => 1,
            3 => 2,
            4 => 3,
            5 => 4,
            _ => 5,
        }
    }
}

impl fmt::Display for AtcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for AtcCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AtcCode::parse(&s).map(|p| p.code)
    }
}
impl From<AtcCode> for String {
    fn from(c: AtcCode) -> String {
        c.0
    }
}

/// A procedure code. Hospitals mix ICD-9-CM (`48.52`) with local codes (`K492`), so it is
/// an opaque identifier that must match the data exactly (case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcedureCode(String);

impl ProcedureCode {
    pub fn parse(raw: &str) -> Result<Parsed<Self>, CodeError> {
        let trimmed = raw.trim();
        let ok = !trimmed.is_empty()
            && trimmed.chars().count() <= 20
            && trimmed.chars().any(|c| c.is_ascii_alphanumeric())
            && trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return Err(CodeError::Procedure(raw.to_string()));
        }
        let up = trimmed.to_ascii_uppercase();
        Ok(Parsed {
            normalised: up != trimmed,
            code: ProcedureCode(up),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the ICD-9-CM shape `dd.d(d)` / `dd`.
    pub fn is_icd9_shape(&self) -> bool {
        let b = self.0.as_bytes();
        match self.0.split_once('.') {
            Some((a, c)) => {
                (1..=2).contains(&a.len())
                    && a.bytes().all(|x| x.is_ascii_digit())
                    && (1..=2).contains(&c.len())
                    && c.bytes().all(|x| x.is_ascii_digit())
            }
            None => b.len() == 2 && b.iter().all(|x| x.is_ascii_digit()),
        }
    }
}

impl fmt::Display for ProcedureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl TryFrom<String> for ProcedureCode {
    type Error = CodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ProcedureCode::parse(&s).map(|p| p.code)
    }
}
impl From<ProcedureCode> for String {
    fn from(c: ProcedureCode) -> String {
        c.0
    }
}

/// A code as the source wrote it, with its typed form when it parsed.
///
/// Malformed codes are kept (`parsed: None`) and reported as warnings by the reader:
/// the program never drops or silently rewrites what the hospital sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCode<T> {
    /// Exactly as in the source, trimmed.
    pub raw: String,
    /// The canonical typed code, when the raw text is a valid code.
    pub parsed: Option<T>,
}

impl<T: fmt::Display> SourceCode<T> {
    /// The canonical form when parsed, otherwise the raw text.
    pub fn display(&self) -> String {
        match &self.parsed {
            Some(c) => c.to_string(),
            None => self.raw.clone(),
        }
    }
}

/// Canonical comparison key for any code seen in free text or data: upper case, no
/// `ATC:`/`CIE-10` prefix, no dot. `J18.9`, `J189`, `j18.9` share the key `J189`.
pub fn code_key(s: &str) -> String {
    let t = strip_prefix_ci(s.trim(), &["CIE-10", "CIE10", "ICD-10", "ICD10", "ATC"]);
    t.chars()
        .filter(|c| *c != '.' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_accepts_common_spellings() {
        for (raw, canon, norm) in [
            ("J18.9", "J18.9", false),
            ("J189", "J18.9", true),
            ("j18.9", "J18.9", true),
            ("C20", "C20", false),
            ("U07.1", "U07.1", false),
            (" CIE10: K74.6", "K74.6", true),
            ("S82.21", "S82.21", false),
        ] {
            let p = Icd10Code::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(p.code.as_str(), canon, "{raw}");
            assert_eq!(p.normalised, norm, "{raw}");
        }
    }

    #[test]
    fn icd10_rejects_malformed() {
        for raw in [
            "J18-9", "18.9", "J1", "JJ8.9", "J18.", "J18.999", "", "J18.9x",
        ] {
            let e = Icd10Code::parse(raw).unwrap_err();
            assert!(e.to_string().contains("not a CIE-10 code"), "{raw}");
        }
    }

    #[test]
    fn code_errors_have_a_spanish_message() {
        let e = Icd10Code::parse("J18-9").unwrap_err();
        assert_eq!(
            e.to_spanish(),
            "El código «J18-9» no tiene formato CIE-10 (una letra, dos dígitos y opcionalmente \
             un punto y uno o dos dígitos, p. ej. J18.9)"
        );
        let e = AtcCode::parse("J01D04").unwrap_err();
        assert!(
            e.to_spanish()
                .starts_with("El código «J01D04» no tiene formato ATC (")
        );
        let e = ProcedureCode::parse("48 52").unwrap_err();
        assert!(e.to_spanish().contains("código de procedimiento"));
    }

    #[test]
    fn atc_accepts_prefixes_and_levels() {
        assert_eq!(
            AtcCode::parse("ATC:J01DH02").unwrap().code.as_str(),
            "J01DH02"
        );
        assert!(AtcCode::parse("ATC:J01DH02").unwrap().normalised);
        assert_eq!(AtcCode::parse("A11E").unwrap().code.level(), 3);
        assert_eq!(AtcCode::parse("J01").unwrap().code.level(), 2);
        for raw in ["J01D04", "X01DD04", "J01DD0", "J0IDD04", "48.52", ""] {
            assert!(AtcCode::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn procedure_codes_are_opaque_words() {
        assert!(ProcedureCode::parse("48.52").unwrap().code.is_icd9_shape());
        assert!(!ProcedureCode::parse("K492").unwrap().code.is_icd9_shape());
        assert!(ProcedureCode::parse("48 52").is_err());
        assert!(ProcedureCode::parse("").is_err());
    }

    #[test]
    fn multibyte_text_where_a_prefix_would_end_is_not_a_code() {
        for raw in ["ab\u{202e}", "abcd\u{e9}x", "'<2\u{202e}:$T"] {
            assert!(AtcCode::parse(raw).is_err(), "{raw}");
            assert!(Icd10Code::parse(raw).is_err(), "{raw}");
            let _ = code_key(raw);
        }
    }

    #[test]
    fn code_keys_ignore_dots_and_prefixes() {
        assert_eq!(code_key("J18.9"), code_key("j189"));
        assert_eq!(code_key("ATC:J01DH02"), "J01DH02");
    }
}
