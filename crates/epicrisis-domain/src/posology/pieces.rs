//! The reader of single posology pieces — a dose, a route, a frequency, a duration, «SOS»
//! or a modifier — at one token of a tokenized text, shorthand or prose alike.

use super::{Dose, DoseUnit, Duration, Frequency, Per, Route, TimeUnit};
use crate::numbers::{interpretations, same_value};
use crate::text::{Token, TokenKind};

/// One recognised piece of posology, with the token range it came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Dose(Dose),
    Route(Route),
    Frequency(Frequency),
    Duration(Duration),
    /// `SOS`, `PRN`, `si dolor`.
    AsNeeded,
    /// A recognised modifier kept as a note (`profilaxis`, `PCA`, `BIC`).
    Modifier(&'static str),
}

/// A piece and the tokens `[start, end)` it consumed.
#[derive(Debug, Clone, PartialEq)]
pub struct PieceAt {
    pub piece: Piece,
    pub start: usize,
    pub end: usize,
}

fn num_at(tokens: &[Token], i: usize) -> Option<f64> {
    let t = tokens.get(i)?;
    if t.kind != TokenKind::Number {
        return None;
    }
    interpretations(&t.norm).first().copied()
}

pub(super) fn word_at(tokens: &[Token], i: usize) -> Option<&str> {
    tokens
        .get(i)
        .filter(|t| t.kind == TokenKind::Word)
        .map(|t| t.norm.as_str())
}

fn punct_at(tokens: &[Token], i: usize, p: &str) -> bool {
    tokens.get(i).is_some_and(|t| t.is_punct(p))
}

const MODIFIERS: &[(&str, &str)] = &[
    ("profilaxis", "profilaxis"),
    ("profilactico", "profilaxis"),
    ("profilactica", "profilaxis"),
    ("preop", "preoperatorio"),
    ("preoperatorio", "preoperatorio"),
    ("pca", "PCA"),
    ("bic", "BIC"),
    ("bolo", "bolo"),
    ("bolos", "bolo"),
    ("carga", "carga"),
    ("mantencion", "mantención"),
    ("infusion", "infusión"),
    ("reposicion", "reposición"),
    ("correccion", "corrección"),
    ("titulable", "titulable"),
    ("titulado", "titulable"),
    ("ajustado", "ajustada"),
    ("ajustada", "ajustada"),
    ("segun", "según"),
    ("esquema", "esquema"),
    ("rescate", "rescate"),
    ("rescue", "rescate"),
    ("loading", "carga"),
    ("indefinido", "indefinido"),
    ("ambulatorio", "ambulatorio"),
    ("casa", "en casa"),
    ("tener", "en casa"),
    ("en", "en"),
    ("de", "de"),
];

/// Tries to read one posology piece at token `i`. Filler words (`por`, `durante`, `x`,
/// `vía`) are consumed with the piece they introduce.
pub fn piece_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let t = tokens.get(i)?;
    if let Some(p) = introduced_duration_at(tokens, i) {
        return Some(p);
    }
    match t.kind {
        TokenKind::Number => dose_at(tokens, i)
            .or_else(|| duration_at(tokens, i))
            .or_else(|| times_per_at(tokens, i)),
        TokenKind::Word => frequency_at(tokens, i)
            .or_else(|| route_at(tokens, i))
            .or_else(|| as_needed_at(tokens, i)),
        TokenKind::Punct => None,
    }
}

/// Durations introduced by a preposition: "por 5 días", "durante 2 semanas", "x 7d".
fn introduced_duration_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    if let Some(w) = word_at(tokens, i)
        && matches!(w, "por" | "durante" | "x" | "hasta")
    {
        // «hasta completar 21 días»
        let at = if w == "hasta" && word_at(tokens, i + 1) == Some("completar") {
            i + 2
        } else {
            i + 1
        };
        if let Some(p) = duration_at(tokens, at) {
            return Some(PieceAt { start: i, ..p });
        }
    }
    None
}

/// "2 veces al día", "1 vez por semana".
fn times_per_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    if let (Some(n), Some(w)) = (num_at(tokens, i), word_at(tokens, i + 1))
        && matches!(w, "veces" | "vez")
    {
        let mut j = i + 2;
        if matches!(word_at(tokens, j), Some("al" | "por" | "a" | "en")) {
            j += 1;
        }
        if matches!(word_at(tokens, j), Some("la")) {
            j += 1;
        }
        let per = word_at(tokens, j);
        let f = match per {
            Some("dia") if n > 0.0 => Some(Frequency::EveryHours(24.0 / n)),
            Some("semana") if same_value(n, 1.0) => Some(Frequency::Weekly),
            Some("mes") if same_value(n, 1.0) => Some(Frequency::Monthly),
            _ => None,
        };
        if let Some(f) = f {
            return Some(PieceAt {
                piece: Piece::Frequency(f),
                start: i,
                end: j + 1,
            });
        }
    }
    None
}

/// Routes, possibly "vía oral" / "v.o.".
fn route_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let words: Vec<&str> = tokens[i..tokens.len().min(i + 4)]
        .iter()
        .filter(|t| t.kind == TokenKind::Word)
        .map(|t| t.norm.as_str())
        .collect();
    let (r, used) = Route::parse_words(&words)?;
    // Count tokens (words plus dots in "v.o.") consumed.
    let mut end = i;
    let mut seen = 0;
    while end < tokens.len() && seen < used {
        if tokens[end].kind == TokenKind::Word {
            seen += 1;
        }
        end += 1;
    }
    while punct_at(tokens, end, ".") && used > 1 {
        end += 1;
    }
    Some(PieceAt {
        piece: Piece::Route(r),
        start: i,
        end,
    })
}

/// `SOS`, `PRN`, `si dolor`, `según necesidad`: the drug is given only if needed.
fn as_needed_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let w = tokens.get(i)?.norm.as_str();
    match w {
        "sos" | "prn" => {
            // "SOS fiebre": the symptom belongs to the condition, as in "si fiebre".
            let symptom = word_at(tokens, i + 1).is_some_and(|n| n != "a" && is_prn_symptom(n));
            return Some(PieceAt {
                piece: Piece::AsNeeded,
                start: i,
                end: if symptom { i + 2 } else { i + 1 },
            });
        }
        "si" | "condicional" => {
            if let Some(n) = word_at(tokens, i + 1)
                && is_prn_symptom(n)
            {
                let end = if n == "a" { i + 3 } else { i + 2 };
                return Some(PieceAt {
                    piece: Piece::AsNeeded,
                    start: i,
                    end,
                });
            }
        }
        "segun" => {
            if matches!(word_at(tokens, i + 1), Some("necesidad" | "dolor")) {
                return Some(PieceAt {
                    piece: Piece::AsNeeded,
                    start: i,
                    end: i + 2,
                });
            }
        }
        _ => {}
    }
    None
}

/// Words that may follow `si` / `SOS` as the condition of an as-needed dose.
fn is_prn_symptom(w: &str) -> bool {
    matches!(
        w,
        "dolor"
            | "fiebre"
            | "nauseas"
            | "vomitos"
            | "necesario"
            | "precisa"
            | "agitacion"
            | "insomnio"
            | "disnea"
            | "prurito"
            | "a"
    )
}

/// A modifier word that is part of posology but carries no quantity.
pub fn modifier_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let w = word_at(tokens, i)?;
    MODIFIERS
        .iter()
        .find(|(k, _)| *k == w)
        .map(|(_, v)| PieceAt {
            piece: Piece::Modifier(v),
            start: i,
            end: i + 1,
        })
}

fn dose_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let mut amounts = vec![num_at(tokens, i)?];
    let mut j = i + 1;
    // Combinations: 875/125mg, 160/4.5ug
    while punct_at(tokens, j, "/") && num_at(tokens, j + 1).is_some() {
        amounts.push(num_at(tokens, j + 1)?);
        j += 2;
    }
    if punct_at(tokens, j, "%") {
        return Some(PieceAt {
            piece: Piece::Dose(Dose {
                amounts,
                unit: DoseUnit::Percent,
                per: Vec::new(),
            }),
            start: i,
            end: j + 1,
        });
    }
    let unit = DoseUnit::parse(word_at(tokens, j)?)?;
    j += 1;
    let mut per = Vec::new();
    // "/kg", "/h", "/kg/h", and in prose "por kg por hora"; but not "/ 8" (frequency),
    // "/noche", nor "por 5 días" (duration).
    while punct_at(tokens, j, "/") || word_at(tokens, j) == Some("por") {
        match word_at(tokens, j + 1).and_then(Per::parse) {
            Some(p) => {
                per.push(p);
                j += 2;
            }
            None => break,
        }
    }
    Some(PieceAt {
        piece: Piece::Dose(Dose { amounts, unit, per }),
        start: i,
        end: j,
    })
}

fn duration_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let min = num_at(tokens, i)?;
    let mut j = i + 1;
    let mut max = None;
    if (punct_at(tokens, j, "-") || matches!(word_at(tokens, j), Some("a" | "o")))
        && let Some(m) = num_at(tokens, j + 1)
    {
        // "3 a 6 meses": make sure a unit follows, else "a" was something else.
        if word_at(tokens, j + 2).and_then(TimeUnit::parse).is_some() {
            max = Some(m);
            j += 2;
        }
    }
    let unit = TimeUnit::parse(word_at(tokens, j)?)?;
    // "24h" right after "c/" is a frequency, handled by the caller's order of attempts.
    Some(PieceAt {
        piece: Piece::Duration(Duration::Span { min, max, unit }),
        start: i,
        end: j + 1,
    })
}

fn frequency_at(tokens: &[Token], i: usize) -> Option<PieceAt> {
    let w = word_at(tokens, i)?;
    let at = |f: Frequency, end: usize| frequency_piece(f, i, end);
    match w {
        "c" | "cada" => every_at(tokens, i, w),
        "q" => None,
        _ if w.len() >= 3 && w.starts_with('q') && w.ends_with('h') => {
            // q8h, q12h
            let n: f64 = w[1..w.len() - 1].parse().ok()?;
            at(Frequency::EveryHours(n), i + 1)
        }
        "diario" | "diaria" | "diarios" | "diarias" | "diariamente" => {
            at(Frequency::EveryHours(24.0), i + 1)
        }
        "semanal" | "semanalmente" => at(Frequency::Weekly, i + 1),
        "mensual" => at(Frequency::Monthly, i + 1),
        "nocturno" | "nocturna" => at(Frequency::Nightly, i + 1),
        "continua" | "continuo" => at(Frequency::Continuous, i + 1),
        "stat" | "du" => at(Frequency::Once, i + 1),
        "dosis" | "unica" => {
            let n = word_at(tokens, i + 1);
            if w == "dosis" && n == Some("unica") || w == "unica" && n == Some("dosis") {
                at(Frequency::Once, i + 2)
            } else {
                None
            }
        }
        "en" | "al" | "por" => {
            // "en la noche", "al día", "por la mañana"
            let mut k = i + 1;
            if matches!(word_at(tokens, k), Some("la" | "el")) {
                k += 1;
            }
            match word_at(tokens, k) {
                Some("noche") => at(Frequency::Nightly, k + 1),
                Some("manana") if w != "al" => at(Frequency::Morning, k + 1),
                Some("dia") if w == "al" => at(Frequency::EveryHours(24.0), k + 1),
                _ => None,
            }
        }
        "infusion" if matches!(word_at(tokens, i + 1), Some("continua")) => {
            at(Frequency::Continuous, i + 2)
        }
        _ => None,
    }
}

/// `c/8h`, `cada 12 horas`, `cada 8`, `c/noche`, `cada la mañana`: a frequency at token
/// `i`, whose word `w` is `c` or `cada`.
fn every_at(tokens: &[Token], i: usize, w: &str) -> Option<PieceAt> {
    let at = |f: Frequency, end: usize| frequency_piece(f, i, end);
    let mut j = i + 1;
    if w == "c" {
        if !punct_at(tokens, j, "/") {
            return None;
        }
        j += 1;
    }
    if let Some(n) = num_at(tokens, j) {
        if let Some(f) = word_at(tokens, j + 1).and_then(|u| every_unit(n, u)) {
            return at(f, j + 2);
        }
        // "cada 8" with no unit: hours, as clinicians write it.
        return at(Frequency::EveryHours(n), j + 1);
    }
    let mut k = j;
    if matches!(word_at(tokens, k), Some("la" | "el")) {
        k += 1;
    }
    if let Some(f) = word_at(tokens, k).and_then(named_frequency) {
        return at(f, k + 1);
    }
    None
}

/// Every `n` of a unit of time (`8` `h`, `2` `dias`), when that makes a frequency.
fn every_unit(n: f64, unit: &str) -> Option<Frequency> {
    match TimeUnit::parse(unit)? {
        TimeUnit::Minutes => Some(Frequency::EveryMinutes(n)),
        TimeUnit::Hours => Some(Frequency::EveryHours(n)),
        TimeUnit::Days => Some(Frequency::EveryHours(n * 24.0)),
        TimeUnit::Weeks if same_value(n, 1.0) => Some(Frequency::Weekly),
        TimeUnit::Months if same_value(n, 1.0) => Some(Frequency::Monthly),
        _ => None,
    }
}

/// The frequency a word after `cada` names (`noche`, `manana`, `dia`, `semana`, `mes`).
fn named_frequency(word: &str) -> Option<Frequency> {
    Some(match word {
        "noche" | "noches" => Frequency::Nightly,
        "manana" => Frequency::Morning,
        "dia" => Frequency::EveryHours(24.0),
        "semana" => Frequency::Weekly,
        "mes" => Frequency::Monthly,
        _ => return None,
    })
}

/// A frequency read from tokens `[start, end)`.
fn frequency_piece(f: Frequency, start: usize, end: usize) -> Option<PieceAt> {
    Some(PieceAt {
        piece: Piece::Frequency(f),
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize;

    #[test]
    fn prose_posology_reads_like_shorthand() {
        let t = tokenize("875 mg vía oral cada 12 horas por 5 días SOS");
        let mut i = 0;
        let mut pieces = Vec::new();
        while i < t.len() {
            let p = piece_at(&t, i).expect("piece");
            i = p.end;
            pieces.push(p.piece);
        }
        assert_eq!(pieces.len(), 5, "{pieces:?}");
        assert_eq!(pieces[1], Piece::Route(Route::Oral));
        assert!(matches!(pieces[2], Piece::Frequency(Frequency::EveryHours(h)) if h == 12.0));
    }
}
