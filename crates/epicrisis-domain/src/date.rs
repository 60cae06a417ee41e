//! Calendar dates as hospital exports write them (`2025-12-15`, `2025-12-25T07:11:09`,
//! `15/12/2025`), with day arithmetic for lengths of stay.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// Why a string is not a date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date (expected YYYY-MM-DD, optionally followed by a time, or DD/MM/YYYY)")]
pub struct DateError(pub String);

/// Spanish month names, January first, lower case.
pub const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date from its parts, if it exists (and the year is plausible: 1900–2200).
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1900..=2200).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses `2025-12-15`, `2025-12-15T07:11:09(Z|±hh:mm)`, `2025-12-15 07:11`,
    /// `15/12/2025`, `15-12-2025`.
    pub fn parse(raw: &str) -> Result<Date, DateError> {
        let s = raw.trim();
        let err = || DateError(raw.to_string());
        let date_part = s.split(['T', ' ']).next().unwrap_or("");
        let parts: Vec<&str> = date_part.split(['-', '/', '.']).collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(err());
        }
        let (y, m, d) = if parts[0].len() == 4 {
            (parts[0], parts[1], parts[2])
        } else if parts[2].len() == 4 {
            (parts[2], parts[1], parts[0])
        } else {
            return Err(err());
        };
        let year: i32 = y.parse().map_err(|_| err())?;
        let month: u8 = m.parse().map_err(|_| err())?;
        let day: u8 = d.parse().map_err(|_| err())?;
        Date::from_ymd(year, month, day).ok_or_else(err)
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (Howard Hinnant's civil algorithm).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// The date `days` after this one.
    pub fn add_days(self, days: i64) -> Date {
        let z = self.days_since_epoch() + days + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (y + i64::from(m <= 2)) as i32;
        Date {
            year,
            month: m,
            day: d,
        }
    }

    /// Whole days from `self` to `other` (negative if `other` is earlier).
    pub fn days_until(self, other: Date) -> i64 {
        other.days_since_epoch() - self.days_since_epoch()
    }

    /// `15/12/2025`, the way Chilean documents print dates.
    pub fn to_dmy(self) -> String {
        format!("{:02}/{:02}/{}", self.day, self.month, self.year)
    }

    /// `15 de diciembre de 2025`.
    pub fn to_long_es(self) -> String {
        format!(
            "{} de {} de {}",
            self.day,
            MONTHS_ES[usize::from(self.month - 1)],
            self.year
        )
    }

    /// The month number of a Spanish month name (`diciembre` → 12), folded input.
    pub fn month_from_name(folded: &str) -> Option<u8> {
        let name = if folded == "setiembre" {
            "septiembre"
        } else {
            folded
        };
        MONTHS_ES
            .iter()
            .position(|m| *m == name)
            .map(|i| (i + 1) as u8)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}
impl TryFrom<String> for Date {
    type Error = DateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Date::parse(&s)
    }
}
impl From<Date> for String {
    fn from(d: Date) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_export_formats() {
        let d = Date::parse("2025-12-15").unwrap();
        assert_eq!(Date::parse("2025-12-15T07:11:09").unwrap(), d);
        assert_eq!(Date::parse("15/12/2025").unwrap(), d);
        assert_eq!(Date::parse("15-12-2025").unwrap(), d);
        assert!(Date::parse("2025-02-30").is_err());
        assert!(Date::parse("ayer").is_err());
        assert!(Date::parse("").is_err());
    }

    #[test]
    fn arithmetic() {
        let a = Date::parse("2025-12-15").unwrap();
        let b = Date::parse("2025-12-26").unwrap();
        assert_eq!(a.days_until(b), 11);
        assert_eq!(a.add_days(11), b);
        assert_eq!(
            Date::parse("2024-02-28").unwrap().add_days(1).to_string(),
            "2024-02-29"
        );
        assert_eq!(b.to_dmy(), "26/12/2025");
        assert_eq!(a.to_long_es(), "15 de diciembre de 2025");
    }
}
