//! The route of a drug (`VO`, `EV`, `vía inhalatoria`): how it is read and written.

use serde::{Deserialize, Serialize};
use std::fmt;

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
