//! The dose of a drug: its amounts, its unit and its denominators (`mg/kg/h`), how two
//! doses compare and how a dose is written.

use crate::numbers::{format_es, same_value};
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
    pub(super) fn parse(word: &str) -> Option<Per> {
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
