//! Chile's RUN (the national identifier, also called RUT): its written shapes and its
//! check digit (modulus 11).
//!
//! One implementation for every crate: the FHIR mapping writes a valid RUN as CL Core's
//! typed identifier, and de-identification checks the digit of RUTs found in free text.

/// The check digit of a RUN body (its digits without the check digit): `0`–`9` or `K`;
/// `None` for an empty body or one with anything but digits.
pub fn check_digit(body: &str) -> Option<char> {
    if body.is_empty() {
        return None;
    }
    let mut sum = 0u32;
    for (i, c) in body.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        sum += d * (2 + (i as u32 % 6));
    }
    Some(match 11 - sum % 11 {
        11 => '0',
        10 => 'K',
        d => char::from_digit(d, 10)?,
    })
}

/// The digits of a RUN body written `12345678` or `12.345.678` (dots between groups of
/// three); 6 to 8 digits, no leading zero.
fn body_digits(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split('.').collect();
    let dotted = groups.len() > 1;
    let well_grouped =
        !dotted || (groups[0].len() <= 3 && groups[1..].iter().all(|g| g.len() == 3));
    let digits: String = groups.concat();
    let ok = well_grouped
        && (6..=8).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(digits)
}

/// A RUN as CL Core writes it (`12345678-5`, no dots, `K` upper case) when `s` is one:
/// a body of 6 to 8 digits (with or without the dots), a hyphen, and the right check
/// digit. Anything else, a record number for instance, is `None`: without the hyphen a
/// number cannot be told from a record number whose last digit happens to match.
pub fn normalise(s: &str) -> Option<String> {
    let (body, dv) = s.trim().rsplit_once('-')?;
    let mut dv_chars = dv.trim().chars();
    let dv = dv_chars.next()?.to_ascii_uppercase();
    if dv_chars.next().is_some() {
        return None;
    }
    let digits = body_digits(body.trim())?;
    (check_digit(&digits)? == dv).then(|| format!("{digits}-{dv}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits() {
        assert_eq!(check_digit("12345678"), Some('5'));
        assert_eq!(check_digit("11111111"), Some('1'));
        assert_eq!(check_digit("10000013"), Some('K'));
        assert_eq!(check_digit("9876543"), Some('3'));
        assert_eq!(check_digit(""), None);
        assert_eq!(check_digit("12.345"), None);
    }

    #[test]
    fn normalises_the_written_shapes() {
        for s in ["12.345.678-5", "12345678-5", " 12345678 - 5 "] {
            assert_eq!(normalise(s).as_deref(), Some("12345678-5"), "{s}");
        }
        assert_eq!(normalise("10.000.013-k").as_deref(), Some("10000013-K"));
        assert_eq!(normalise("9.876.543-3").as_deref(), Some("9876543-3"));
        assert_eq!(normalise("800.123-5").as_deref(), Some("800123-5"));
    }

    #[test]
    fn refuses_what_is_not_a_run() {
        for s in [
            "12.345.678-9", // wrong check digit
            "15.236.327-k", // CL Core's own example: invented, and its digit is wrong
            "123456785",    // no hyphen: could be a record number
            "1416169",
            "12.34.5678-5", // dots in the wrong places
            "012345678-5",  // leading zero
            "12345-5",      // too short
            "123456789-2",  // too long
            "12345678-55",
            "RUT 12345678-5",
            "",
            "-",
        ] {
            assert_eq!(normalise(s), None, "{s}");
        }
    }
}
