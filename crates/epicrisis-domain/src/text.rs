//! Text normalisation and tokenisation shared by the validator and the writer.
//!
//! Clinical sources are upper-case and accent-free while the output is proper Spanish,
//! so every comparison happens on a *folded* form (lower case, no accents, `ñ` → `n`).
//! Tokens keep their offsets in Unicode characters of the original text, because
//! findings report spans in characters (not bytes).

use unicode_normalization::UnicodeNormalization;

/// Lower-cases one character and strips its diacritics (`Á` → `a`, `ñ` → `n`, `ü` → `u`).
pub fn fold_char(c: char) -> char {
    match c {
        'a'..='z' | '0'..='9' | ' ' => c,
        'A'..='Z' => c.to_ascii_lowercase(),
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        'µ' | 'μ' => 'u',
        c if c.is_ascii() => c.to_ascii_lowercase(),
        c => {
            // Rare letters: decompose and keep the base character.
            let lower = c.to_lowercase().next().unwrap_or(c);
            lower
                .to_string()
                .nfd()
                .find(|d| !is_combining(*d))
                .unwrap_or(lower)
        }
    }
}

fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036f}').contains(&c)
}

/// Folds a whole string (see [`fold_char`]).
pub fn fold(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// Folds a string and collapses every run of non-alphanumeric characters into one space,
/// e.g. `"Amoxicilina/Ac.clavulánico"` → `"amoxicilina ac clavulanico"`.
pub fn fold_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        let f = fold_char(c);
        if f.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(f);
        } else {
            pending_space = true;
        }
    }
    out
}

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Starts with a letter; may contain digits (`dm2`, `b12`, `fio2`).
    Word,
    /// Digits with optional inner `.`/`,` separators (`875`, `0,875`, `1.000`).
    Number,
    /// Any other visible character, one per token (`/`, `(`, `%`, `-`, `.`).
    Punct,
}

/// One token with its folded text and its character span in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    /// Folded text (lower case, accent-free).
    pub norm: String,
    /// Start, in characters, in the original text.
    pub start: usize,
    /// End (exclusive), in characters.
    pub end: usize,
    /// True when no whitespace separates this token from the previous one (`875mg`).
    pub glued: bool,
}

impl Token {
    pub fn is_word(&self) -> bool {
        self.kind == TokenKind::Word
    }
    pub fn is_number(&self) -> bool {
        self.kind == TokenKind::Number
    }
    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.norm == p
    }
}

/// Splits text into words, numbers and punctuation, keeping character offsets.
///
/// A number directly followed by letters is split (`875mg` → `875` `mg`) because the
/// letters are a unit; letters followed by digits stay one word (`DM2`, `B12`).
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    tokenize_chars(&chars)
}

/// [`tokenize`] over an already decoded character slice.
pub fn tokenize_chars(chars: &[char]) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(chars.len() / 4);
    let mut i = 0;
    let mut glued = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            glued = false;
            i += 1;
            continue;
        }
        let start = i;
        if c.is_ascii_digit() {
            i += 1;
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() {
                    i += 1;
                } else if (d == '.' || d == ',')
                    && i + 1 < chars.len()
                    && chars[i + 1].is_ascii_digit()
                {
                    i += 2;
                } else {
                    break;
                }
            }
            tokens.push(Token {
                kind: TokenKind::Number,
                norm: chars[start..i].iter().collect(),
                start,
                end: i,
                glued,
            });
        } else if c.is_alphabetic() {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric()) {
                i += 1;
            }
            tokens.push(Token {
                kind: TokenKind::Word,
                norm: chars[start..i].iter().map(|c| fold_char(*c)).collect(),
                start,
                end: i,
                glued,
            });
        } else {
            i += 1;
            tokens.push(Token {
                kind: TokenKind::Punct,
                norm: c.to_string(),
                start,
                end: i,
                glued,
            });
        }
        glued = true;
    }
    tokens
}

/// Light Spanish plural stemming for matching: `calculos` → `calculo`,
/// `infecciones` → `infeccion`, `diagnosticos` → `diagnostico`. Only applied to folded words.
pub fn stem(word: &str) -> &str {
    let n = word.len();
    if n > 5 && (word.ends_with("ones") || word.ends_with("ores") || word.ends_with("ales")) {
        return &word[..n - 2];
    }
    if n > 4 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("sis") {
        let prev = word.as_bytes()[n - 2];
        if matches!(prev, b'a' | b'e' | b'o') {
            return &word[..n - 1];
        }
    }
    word
}

/// Character offsets → byte offsets, for slicing a `&str` with a span from a [`Token`].
pub fn char_slice(text: &str, start: usize, end: usize) -> &str {
    let mut it = text.char_indices();
    let b_start = it.nth(start).map(|(b, _)| b).unwrap_or(text.len());
    let b_end = if end <= start {
        b_start
    } else {
        text.char_indices()
            .nth(end)
            .map(|(b, _)| b)
            .unwrap_or(text.len())
    };
    &text[b_start..b_end]
}

/// Upper-cases the first letter of a sentence-like string.
pub fn capitalize_first(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && c.is_alphabetic() {
            out.extend(c.to_uppercase());
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Lower-cases the first letter unless the first word looks like an acronym (`TAC`, `HTA`).
pub fn lowercase_first(s: &str) -> String {
    let first_word: String = s.chars().take_while(|c| c.is_alphanumeric()).collect();
    let letters: Vec<char> = first_word.chars().filter(|c| c.is_alphabetic()).collect();
    let acronym = letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase())
        || first_word
            .chars()
            .skip(1)
            .any(|c| c.is_uppercase() || c.is_ascii_digit());
    if acronym {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut done = false;
    for c in s.chars() {
        if !done && c.is_alphabetic() {
            out.extend(c.to_lowercase());
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_accents_and_case() {
        assert_eq!(fold("Neumonía ÁRBOL Ñandú"), "neumonia arbol nandu");
        assert_eq!(
            fold_words("Amoxicilina/Ac.clavulánico 875mg"),
            "amoxicilina ac clavulanico 875mg"
        );
    }

    #[test]
    fn tokens_split_numbers_from_units_but_not_words_from_digits() {
        let t = tokenize("Ceftriaxona 2g c/8h DM2 0,875 g 1.000");
        let v: Vec<(&str, TokenKind)> = t.iter().map(|t| (t.norm.as_str(), t.kind)).collect();
        assert_eq!(
            v,
            vec![
                ("ceftriaxona", TokenKind::Word),
                ("2", TokenKind::Number),
                ("g", TokenKind::Word),
                ("c", TokenKind::Word),
                ("/", TokenKind::Punct),
                ("8", TokenKind::Number),
                ("h", TokenKind::Word),
                ("dm2", TokenKind::Word),
                ("0,875", TokenKind::Number),
                ("g", TokenKind::Word),
                ("1.000", TokenKind::Number),
            ]
        );
        assert!(t[2].glued);
        assert!(!t[1].glued);
    }

    #[test]
    fn spans_count_characters_not_bytes() {
        let text = "Neumonía (J18.9)";
        let t = tokenize(text);
        assert_eq!((t[0].start, t[0].end), (0, 8));
        assert_eq!(char_slice(text, t[0].start, t[0].end), "Neumonía");
        assert_eq!(t[1].start, 9);
    }

    #[test]
    fn stemming_handles_plurals() {
        assert_eq!(stem("calculos"), "calculo");
        assert_eq!(stem("infecciones"), "infeccion");
        assert_eq!(stem("dosis"), "dosis");
        assert_eq!(stem("gas"), "gas");
        assert_eq!(stem("fracturas"), "fractura");
    }

    #[test]
    fn case_helpers_respect_acronyms() {
        assert_eq!(lowercase_first("Neumonia lobar"), "neumonia lobar");
        assert_eq!(lowercase_first("TAC de torax"), "TAC de torax");
        assert_eq!(lowercase_first("DM2"), "DM2");
        assert_eq!(capitalize_first("ingresa por"), "Ingresa por");
    }
}
