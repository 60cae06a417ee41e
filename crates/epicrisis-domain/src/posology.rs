//! Doses, routes, frequencies and durations, and the parser that reads them from
//! clinical shorthand (`875mg VO c/12h 5d`) or prose (`875 mg vía oral cada 12 horas por
//! 5 días`).
//!
//! One parser serves both the compact records and the validator, which reads the
//! posology that follows a drug named in a draft: the two can never disagree on what
//! `c/8h` means.

use crate::numbers::{format_es, interpretations, same_value};
use crate::regimen::{Phase, phase_start};
use crate::text::{Token, TokenKind, tokenize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The unit of a dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoseUnit {
    Ng,
    Mcg,
    Mg,
    G,
    Kg,
    Ml,
    L,
    /// Units and international units (`U`, `UI`): insulin, heparin.
    Ui,
    /// Millions of units.
    Mui,
    MEq,
    Mmol,
    Percent,
    Puff,
    Drop,
    Ampoule,
    Tablet,
    Capsule,
    Sachet,
    Patch,
}

impl DoseUnit {
    /// Reads a folded unit word (`mg`, `gr`, `ug`, `cc`, `ui`, `amp`...).
    pub fn parse(word: &str) -> Option<DoseUnit> {
        use DoseUnit::*;
        Some(match word {
            "ng" => Ng,
            "mcg" | "ug" | "microgramos" | "microgramo" | "gama" | "gamas" | "mcgs" => Mcg,
            "mg" | "mgs" | "miligramos" | "miligramo" => Mg,
            "g" | "gr" | "grs" | "gramos" | "gramo" | "grm" => G,
            "kg" => Kg,
            "ml" | "cc" | "mililitros" | "mililitro" | "cm3" => Ml,
            "l" | "lt" | "lts" | "litro" | "litros" => L,
            "u" | "ui" | "uds" | "unidades" | "unidad" | "iu" => Ui,
            "mui" | "mu" => Mui,
            "meq" => MEq,
            "mmol" => Mmol,
            "puff" | "puffs" | "inhalaciones" | "inhalacion" => Puff,
            "gota" | "gotas" | "gts" | "gt" => Drop,
            "amp" | "ampolla" | "ampollas" | "amps" => Ampoule,
            "comp" | "comprimido" | "comprimidos" | "tab" | "tableta" | "tabletas" | "cp" => Tablet,
            "cap" | "caps" | "capsula" | "capsulas" => Capsule,
            "sobre" | "sobres" => Sachet,
            "parche" | "parches" => Patch,
            _ => return None,
        })
    }

    /// (dimension, factor to the dimension's base unit): mass in mg, volume in mL.
    fn base(self) -> (u8, f64) {
        use DoseUnit::*;
        match self {
            Ng => (0, 1e-6),
            Mcg => (0, 1e-3),
            Mg => (0, 1.0),
            G => (0, 1e3),
            Kg => (0, 1e6),
            Ml => (1, 1.0),
            L => (1, 1e3),
            Ui => (2, 1.0),
            Mui => (2, 1e6),
            MEq => (3, 1.0),
            Mmol => (4, 1.0),
            Percent => (5, 1.0),
            Puff => (6, 1.0),
            Drop => (7, 1.0),
            Ampoule => (8, 1.0),
            Tablet | Capsule => (9, 1.0),
            Sachet => (10, 1.0),
            Patch => (11, 1.0),
        }
    }

    fn symbol(self, plural: bool) -> &'static str {
        use DoseUnit::*;
        match (self, plural) {
            (Ng, _) => "ng",
            (Mcg, _) => "mcg",
            (Mg, _) => "mg",
            (G, _) => "g",
            (Kg, _) => "kg",
            (Ml, _) => "mL",
            (L, _) => "L",
            (Ui, _) => "UI",
            (Mui, _) => "MUI",
            (MEq, _) => "mEq",
            (Mmol, _) => "mmol",
            (Percent, _) => "%",
            (Puff, _) => "puff",
            (Drop, false) => "gota",
            (Drop, true) => "gotas",
            (Ampoule, false) => "ampolla",
            (Ampoule, true) => "ampollas",
            (Tablet, false) => "comprimido",
            (Tablet, true) => "comprimidos",
            (Capsule, false) => "cápsula",
            (Capsule, true) => "cápsulas",
            (Sachet, false) => "sobre",
            (Sachet, true) => "sobres",
            (Patch, false) => "parche",
            (Patch, true) => "parches",
        }
    }
}

/// A denominator of a dose (`mg/kg`, `mL/h`, `U/kg/h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Kg,
    Hour,
    Minute,
    Day,
    SquareMetre,
}

impl Per {
    fn parse(word: &str) -> Option<Per> {
        Some(match word {
            "kg" | "kilo" => Per::Kg,
            "h" | "hr" | "hrs" | "hora" => Per::Hour,
            "min" | "minuto" => Per::Minute,
            "dia" | "d" => Per::Day,
            "m2" => Per::SquareMetre,
            _ => return None,
        })
    }
    fn symbol(self) -> &'static str {
        match self {
            Per::Kg => "kg",
            Per::Hour => "h",
            Per::Minute => "min",
            Per::Day => "día",
            Per::SquareMetre => "m²",
        }
    }
}

/// A dose: one amount, or several for fixed combinations (`875/125 mg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dose {
    pub amounts: Vec<f64>,
    pub unit: DoseUnit,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per: Vec<Per>,
}

impl Dose {
    /// Same quantity in the same dimension: `1 g` = `1000 mg` = `1.000 mg`; for
    /// combinations, the first (principal) amounts must agree.
    pub fn same_as(&self, other: &Dose) -> bool {
        let (da, fa) = self.unit.base();
        let (db, fb) = other.unit.base();
        if da != db || self.per != other.per {
            return false;
        }
        let n = self.amounts.len().min(other.amounts.len());
        n > 0 && (0..n).all(|i| same_value(self.amounts[i] * fa, other.amounts[i] * fb))
    }
}

impl fmt::Display for Dose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nums: Vec<String> = self.amounts.iter().map(|a| format_es(*a)).collect();
        let plural = self.amounts.first().is_some_and(|a| !same_value(*a, 1.0));
        let sep = if self.unit == DoseUnit::Percent {
            ""
        } else {
            " "
        };
        write!(f, "{}{}{}", nums.join("/"), sep, self.unit.symbol(plural))?;
        for p in &self.per {
            write!(f, "/{}", p.symbol())?;
        }
        Ok(())
    }
}

/// How a drug is given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Oral,
    Intravenous,
    Intramuscular,
    Subcutaneous,
    Sublingual,
    Inhaled,
    Topical,
    Rectal,
    Nasal,
    Ophthalmic,
    Transdermal,
    Intrathecal,
    Enteral,
    Vaginal,
    Other(String),
}

impl Route {
    /// Reads a route written alone (`VO`, `EV`, `IV`, `endovenoso`, `oral`, `NBZ`).
    pub fn parse(s: &str) -> Option<Route> {
        let f = crate::text::fold_words(s);
        Self::parse_words(&f.split(' ').collect::<Vec<_>>()).map(|(r, _)| r)
    }

    /// Reads a route at the start of folded words; returns it and how many words it used.
    pub fn parse_words(w: &[&str]) -> Option<(Route, usize)> {
        let first = *w.first()?;
        let (skip, rest) = if first == "via" && w.len() > 1 {
            (1, &w[1..])
        } else {
            (0, w)
        };
        let word = rest[0];
        let r = match word {
            "vo" | "oral" | "oralmente" => Route::Oral,
            "ev" | "iv" | "endovenoso" | "endovenosa" | "intravenoso" | "intravenosa"
            | "venosa" | "endovenosos" => Route::Intravenous,
            "im" | "intramuscular" => Route::Intramuscular,
            "sc" | "sbc" | "subcutaneo" | "subcutanea" | "sc." => Route::Subcutaneous,
            "sl" | "sublingual" => Route::Sublingual,
            "inh" | "inhalatoria" | "inhalatorio" | "inhalado" | "inhalada" | "nbz"
            | "nebulizado" | "nebulizada" | "nebulizaciones" | "nebulizacion" => Route::Inhaled,
            "topico" | "topica" | "cutanea" => Route::Topical,
            "rectal" => Route::Rectal,
            "nasal" | "intranasal" => Route::Nasal,
            "oftalmico" | "oftalmica" | "colirio" => Route::Ophthalmic,
            "transdermico" | "transdermica" => Route::Transdermal,
            "intratecal" => Route::Intrathecal,
            "sng" | "enteral" => Route::Enteral,
            "vaginal" => Route::Vaginal,
            _ => {
                // "v.o." / "e.v." arrive as single letters.
                if rest.len() >= 2 {
                    match (rest[0], rest[1]) {
                        ("v", "o") => return Some((Route::Oral, skip + 2)),
                        ("e", "v") | ("i", "v") => return Some((Route::Intravenous, skip + 2)),
                        _ => {}
                    }
                }
                if first == "via" && rest.len() == 1 && skip == 1 {
                    return None;
                }
                return None;
            }
        };
        Some((r, skip + 1))
    }

    /// Same route; `Other` routes compare by text.
    pub fn same_as(&self, other: &Route) -> bool {
        self == other
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Route::Oral => "VO",
            Route::Intravenous => "EV",
            Route::Intramuscular => "IM",
            Route::Subcutaneous => "SC",
            Route::Sublingual => "SL",
            Route::Inhaled => "vía inhalatoria",
            Route::Topical => "vía tópica",
            Route::Rectal => "vía rectal",
            Route::Nasal => "vía nasal",
            Route::Ophthalmic => "vía oftálmica",
            Route::Transdermal => "vía transdérmica",
            Route::Intrathecal => "vía intratecal",
            Route::Enteral => "por sonda enteral",
            Route::Vaginal => "vía vaginal",
            Route::Other(s) => s.as_str(),
        };
        f.write_str(s)
    }
}

/// How often a drug is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Frequency {
    /// Every N hours (`c/8h`, `cada 8 horas`); daily is every 24 hours.
    EveryHours(f64),
    /// Every N minutes (`c/20min`).
    EveryMinutes(f64),
    /// Once a week.
    Weekly,
    /// Once a month.
    Monthly,
    /// At night (`c/noche`).
    Nightly,
    /// In the morning.
    Morning,
    /// Continuous infusion.
    Continuous,
    /// A single dose (`dosis única`).
    Once,
    /// Anything else, as written.
    Text(String),
}

impl Frequency {
    /// Equivalent schedules: `cada 12 horas` = `2 veces al día` = `c/12h`.
    pub fn same_as(&self, other: &Frequency) -> bool {
        use Frequency::*;
        match (self, other) {
            (EveryHours(a), EveryHours(b)) | (EveryMinutes(a), EveryMinutes(b)) => {
                same_value(*a, *b)
            }
            (EveryHours(a), EveryMinutes(b)) | (EveryMinutes(b), EveryHours(a)) => {
                same_value(*a * 60.0, *b)
            }
            (EveryHours(h), Nightly) | (Nightly, EveryHours(h)) => same_value(*h, 24.0),
            (EveryHours(h), Morning) | (Morning, EveryHours(h)) => same_value(*h, 24.0),
            (EveryHours(h), Weekly) | (Weekly, EveryHours(h)) => same_value(*h, 168.0),
            (Text(a), Text(b)) => crate::text::fold_words(a) == crate::text::fold_words(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// True for a frequency written in words that says «SOS», «PRN» or «si dolor»
    /// itself (`SOS dolor torácico`): the drug is given only if needed, and a writer
    /// must not add «SOS» a second time.
    pub fn says_as_needed(&self) -> bool {
        let Frequency::Text(t) = self else {
            return false;
        };
        let toks = tokenize(t);
        (0..toks.len()).any(|i| {
            matches!(
                piece_at(&toks, i),
                Some(PieceAt {
                    piece: Piece::AsNeeded,
                    ..
                })
            )
        })
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frequency::EveryHours(h) => {
                if same_value(*h, 1.0) {
                    write!(f, "cada 1 hora")
                } else {
                    write!(f, "cada {} horas", format_es(*h))
                }
            }
            Frequency::EveryMinutes(m) => write!(f, "cada {} minutos", format_es(*m)),
            Frequency::Weekly => f.write_str("una vez a la semana"),
            Frequency::Monthly => f.write_str("una vez al mes"),
            Frequency::Nightly => f.write_str("cada noche"),
            Frequency::Morning => f.write_str("cada mañana"),
            Frequency::Continuous => f.write_str("en infusión continua"),
            Frequency::Once => f.write_str("en dosis única"),
            Frequency::Text(t) => f.write_str(t),
        }
    }
}

/// The unit of a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl TimeUnit {
    fn parse(word: &str) -> Option<TimeUnit> {
        Some(match word {
            "min" | "mins" | "minuto" | "minutos" => TimeUnit::Minutes,
            "h" | "hr" | "hrs" | "hora" | "horas" => TimeUnit::Hours,
            "d" | "dia" | "dias" | "ds" => TimeUnit::Days,
            "sem" | "semana" | "semanas" | "sems" => TimeUnit::Weeks,
            "m" | "mes" | "meses" => TimeUnit::Months,
            "ano" | "anos" => TimeUnit::Years,
            _ => return None,
        })
    }
    fn hours(self) -> f64 {
        match self {
            TimeUnit::Minutes => 1.0 / 60.0,
            TimeUnit::Hours => 1.0,
            TimeUnit::Days => 24.0,
            TimeUnit::Weeks => 168.0,
            TimeUnit::Months => 720.0,
            TimeUnit::Years => 8760.0,
        }
    }
    fn word(self, plural: bool) -> &'static str {
        match (self, plural) {
            (TimeUnit::Minutes, false) => "minuto",
            (TimeUnit::Minutes, true) => "minutos",
            (TimeUnit::Hours, false) => "hora",
            (TimeUnit::Hours, true) => "horas",
            (TimeUnit::Days, false) => "día",
            (TimeUnit::Days, true) => "días",
            (TimeUnit::Weeks, false) => "semana",
            (TimeUnit::Weeks, true) => "semanas",
            (TimeUnit::Months, false) => "mes",
            (TimeUnit::Months, true) => "meses",
            (TimeUnit::Years, false) => "año",
            (TimeUnit::Years, true) => "años",
        }
    }
}

/// How long a drug is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Duration {
    /// `5d`, `por 5 días`; `max` is set for ranges such as `3-5d`.
    Span {
        min: f64,
        max: Option<f64>,
        unit: TimeUnit,
    },
    /// Free text such as "Completar esquema según infectología".
    Text { text: String },
}

impl Duration {
    /// Same length of time (`14 días` = `2 semanas`), or the same text.
    pub fn same_as(&self, other: &Duration) -> bool {
        match (self, other) {
            (
                Duration::Span {
                    min: a,
                    max: am,
                    unit: au,
                },
                Duration::Span {
                    min: b,
                    max: bm,
                    unit: bu,
                },
            ) => {
                let months = |u: &TimeUnit| matches!(u, TimeUnit::Months);
                if months(au) != months(bu) {
                    // Months are not a whole number of days; only compare like with like.
                    return false;
                }
                same_value(a * au.hours(), b * bu.hours())
                    && match (am, bm) {
                        (Some(x), Some(y)) => same_value(x * au.hours(), y * bu.hours()),
                        (None, None) => true,
                        _ => false,
                    }
            }
            (Duration::Text { text: a }, Duration::Text { text: b }) => {
                crate::text::fold_words(a) == crate::text::fold_words(b)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Duration::Span { min, max, unit } => match max {
                Some(m) => write!(
                    f,
                    "por {} a {} {}",
                    format_es(*min),
                    format_es(*m),
                    unit.word(true)
                ),
                None => write!(
                    f,
                    "por {} {}",
                    format_es(*min),
                    unit.word(!same_value(*min, 1.0))
                ),
            },
            Duration::Text { text } => f.write_str(text),
        }
    }
}

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

fn word_at(tokens: &[Token], i: usize) -> Option<&str> {
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
    // Durations introduced by a preposition: "por 5 días", "durante 2 semanas", "x 7d".
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
    match t.kind {
        TokenKind::Number => {
            if let Some(p) = dose_at(tokens, i) {
                return Some(p);
            }
            if let Some(p) = duration_at(tokens, i) {
                return Some(p);
            }
            // "2 veces al día", "1 vez por semana"
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
        TokenKind::Word => {
            let w = t.norm.as_str();
            if let Some(p) = frequency_at(tokens, i) {
                return Some(p);
            }
            // Routes, possibly "vía oral" / "v.o.".
            let words: Vec<&str> = tokens[i..tokens.len().min(i + 4)]
                .iter()
                .filter(|t| t.kind == TokenKind::Word)
                .map(|t| t.norm.as_str())
                .collect();
            if let Some((r, used)) = Route::parse_words(&words) {
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
                return Some(PieceAt {
                    piece: Piece::Route(r),
                    start: i,
                    end,
                });
            }
            match w {
                "sos" | "prn" => {
                    // "SOS fiebre": the symptom belongs to the condition, as in "si fiebre".
                    let symptom =
                        word_at(tokens, i + 1).is_some_and(|n| n != "a" && is_prn_symptom(n));
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
        TokenKind::Punct => None,
    }
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
    let every = |n: f64, unit: &str| -> Option<Frequency> {
        match TimeUnit::parse(unit)? {
            TimeUnit::Minutes => Some(Frequency::EveryMinutes(n)),
            TimeUnit::Hours => Some(Frequency::EveryHours(n)),
            TimeUnit::Days => Some(Frequency::EveryHours(n * 24.0)),
            TimeUnit::Weeks if same_value(n, 1.0) => Some(Frequency::Weekly),
            TimeUnit::Months if same_value(n, 1.0) => Some(Frequency::Monthly),
            _ => None,
        }
    };
    let named = |word: &str| -> Option<Frequency> {
        Some(match word {
            "noche" | "noches" => Frequency::Nightly,
            "manana" => Frequency::Morning,
            "dia" => Frequency::EveryHours(24.0),
            "semana" => Frequency::Weekly,
            "mes" => Frequency::Monthly,
            _ => return None,
        })
    };
    let at = |f: Frequency, end: usize| {
        Some(PieceAt {
            piece: Piece::Frequency(f),
            start: i,
            end,
        })
    };
    match w {
        "c" | "cada" => {
            let mut j = i + 1;
            if w == "c" {
                if !punct_at(tokens, j, "/") {
                    return None;
                }
                j += 1;
            }
            if let Some(n) = num_at(tokens, j) {
                if let Some(f) = word_at(tokens, j + 1).and_then(|u| every(n, u)) {
                    return at(f, j + 2);
                }
                // "cada 8" with no unit: hours, as clinicians write it.
                return at(Frequency::EveryHours(n), j + 1);
            }
            let mut k = j;
            if matches!(word_at(tokens, k), Some("la" | "el")) {
                k += 1;
            }
            if let Some(f) = word_at(tokens, k).and_then(named) {
                return at(f, k + 1);
            }
            None
        }
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

    #[test]
    fn equivalences() {
        let g = Dose {
            amounts: vec![1.0],
            unit: DoseUnit::G,
            per: vec![],
        };
        let mg = Dose {
            amounts: vec![1000.0],
            unit: DoseUnit::Mg,
            per: vec![],
        };
        assert!(g.same_as(&mg));
        assert!(Frequency::EveryHours(24.0).same_as(&Frequency::Nightly));
        let d14 = Duration::Span {
            min: 14.0,
            max: None,
            unit: TimeUnit::Days,
        };
        let w2 = Duration::Span {
            min: 2.0,
            max: None,
            unit: TimeUnit::Weeks,
        };
        assert!(d14.same_as(&w2));
        let t = tokenize("2 veces al dia");
        assert_eq!(
            piece_at(&t, 0).unwrap().piece,
            Piece::Frequency(Frequency::EveryHours(12.0))
        );
    }

    #[test]
    fn displays_in_spanish() {
        assert_eq!(Frequency::EveryHours(8.0).to_string(), "cada 8 horas");
        let d = Duration::Span {
            min: 1.0,
            max: None,
            unit: TimeUnit::Days,
        };
        assert_eq!(d.to_string(), "por 1 día");
        let p = parse_item("Bisoprolol 2.5mg VO c/24h (C07AB07)");
        assert_eq!(p.dose.unwrap().to_string(), "2,5 mg");
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
