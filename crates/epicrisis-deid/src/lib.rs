//! De-identification of Spanish clinical text before it leaves the server.
//!
//! An external provider must never see who the patient is. A [`Deidentifier`] is made for
//! one episode: it knows the names and identifiers the episode carries, learns the names
//! its notes reveal by context ("atte SOTO", "Dr(a)|Pérez", "hija Carmen"), and replaces
//! in any text patient and staff names, RUT (with or without dots, with a valid or
//! invalid check digit), phone numbers, e-mails, addresses, episode numbers and exact
//! dates. Names and identifiers become consistent placeholders (`[PACIENTE]`,
//! `[NOMBRE_1]`, `[RUT_1]`…); dates are shifted by one secret offset per episode, so they
//! stay real dates and durations survive. [`Deidentifier::reidentify`] puts the real
//! values back into the answer (also when a model writes `[Nombre 1]` or `NOMBRE_1`).
//!
//! Clinical words are never replaced: a word the lexicon knows (drugs, diagnoses,
//! procedures, anatomy) is not a name, even after "Dr." ("cirugía de Miles" stays).
//!
//! The mapping lives only in memory: this type has no `Serialize`, its `Debug` shows
//! counts only, and nothing here logs.

mod names;
mod patterns;
/// The de-identification test set (`epicrisis-dev eval-deid`); a development tool, built
/// only with the `testset` feature.
#[cfg(feature = "testset")]
pub mod testset;

use epicrisis_domain::Episode;
use epicrisis_domain::date::Date;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

/// What kind of identifier a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Email,
    Rut,
    Phone,
    Address,
    EpisodeId,
    Date,
    Name,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Name,
        Kind::Rut,
        Kind::Phone,
        Kind::Email,
        Kind::Address,
        Kind::Date,
        Kind::EpisodeId,
    ];

    /// The name used in test sets and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Rut => "rut",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Address => "address",
            Kind::Date => "date",
            Kind::EpisodeId => "episode_id",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn placeholder_word(self) -> &'static str {
        match self {
            Kind::Name => "NOMBRE",
            Kind::Rut => "RUT",
            Kind::Phone => "TELEFONO",
            Kind::Email => "CORREO",
            Kind::Address => "DIRECCION",
            Kind::EpisodeId => "EPISODIO",
            Kind::Date => "FECHA",
        }
    }
}

/// An identifier found in a text: `[start, end)` in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// Whether a Chilean RUT's check digit is right (modulus 11); `body` may be written with
/// dots.
pub fn rut_check_digit_ok(body: &str, dv: char) -> bool {
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    epicrisis_domain::run::check_digit(&digits) == Some(dv.to_ascii_uppercase())
}

#[derive(Default)]
struct State {
    /// Full names known to belong to people (folded words), the patient's first.
    known: Vec<Vec<String>>,
    patient: Option<Vec<String>>,
    /// Single words that are names on their own (surnames learned by context…).
    tokens: HashSet<String>,
    ids: Vec<String>,
    forward: HashMap<(Kind, String), String>,
    back: HashMap<String, String>,
    counters: HashMap<Kind, usize>,
}

/// De-identifies texts of one episode and re-identifies the answers.
#[derive(Clone)]
pub struct Deidentifier {
    state: Arc<Mutex<State>>,
    shift_days: i64,
    ref_year: i32,
}

impl fmt::Debug for Deidentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.state.lock().map(|s| s.back.len()).unwrap_or(0);
        write!(f, "Deidentifier({n} values replaced)")
    }
}

impl Deidentifier {
    /// For one episode, with a fresh secret date offset.
    pub fn new(ep: &Episode) -> Self {
        Self::with_seed(ep, random_seed())
    }

    /// For one episode, with the date offset derived from `seed` (tests, benchmarks).
    pub fn with_seed(ep: &Episode, seed: u64) -> Self {
        let r = splitmix(seed);
        let magnitude = 30 + (r % 700) as i64;
        let shift_days = if (r >> 32) & 1 == 0 {
            magnitude
        } else {
            -magnitude
        };
        let ref_year = ep
            .admission_date
            .or(ep.discharge_date)
            .map(|d| d.year())
            .unwrap_or(2025);
        let d = Deidentifier {
            state: Arc::new(Mutex::new(State::default())),
            shift_days,
            ref_year,
        };
        {
            let mut s = d.lock();
            if let Some(n) = &ep.patient.name {
                let words = names::words(n);
                if !words.is_empty() {
                    s.patient = Some(words.clone());
                    add_known(&mut s, words);
                }
            }
            let staff = ep
                .physician
                .iter()
                .chain(ep.evolution.iter().filter_map(|n| n.author.as_ref()));
            for n in staff {
                add_known(&mut s, names::words(n));
            }
            for id in ep.id.iter().chain(ep.patient.identifier.iter()) {
                let id = id.trim().to_string();
                if !id.is_empty() {
                    s.ids.push(id);
                }
            }
        }
        // Names the notes reveal by context are names everywhere in the episode.
        for (_, text) in ep.texts() {
            d.learn(text);
        }
        d
    }

    /// The secret date offset (never shown; tests check durations with it).
    pub fn shift_days(&self) -> i64 {
        self.shift_days
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a person's name known from elsewhere (a signature block, the ward list).
    pub fn add_name(&self, name: &str) {
        let mut s = self.lock();
        add_known(&mut s, names::words(name));
    }

    /// Learns the names a text reveals by context, without replacing anything.
    pub fn learn(&self, text: &str) {
        let found = names::by_context(text);
        let mut s = self.lock();
        for (a, b) in found {
            add_known(&mut s, names::words(&text[a..b]));
        }
    }

    /// Where the identifiers of `text` are (sorted, not overlapping).
    pub fn find(&self, text: &str) -> Vec<Found> {
        self.learn(text);
        let s = self.lock();
        let mut all = patterns::find(text, &s.ids);
        // A value replaced once is replaced everywhere, also where its context is gone: a
        // repair round sends the model's own answer back, re-identified («Evaluado por
        // 1416169» without the «episodio» that marked the number the first time).
        for ((kind, _), placeholder) in &s.forward {
            if matches!(kind, Kind::Name | Kind::Date) {
                continue;
            }
            let Some(surface) = s.back.get(placeholder) else {
                continue;
            };
            if surface.chars().count() < 4 {
                continue;
            }
            for (a, _) in text.match_indices(surface.as_str()) {
                all.push(Found {
                    start: a,
                    end: a + surface.len(),
                    kind: *kind,
                });
            }
        }
        for (a, b) in names::find(text, &s.known, &s.tokens) {
            all.push(Found {
                start: a,
                end: b,
                kind: Kind::Name,
            });
        }
        resolve(all)
    }

    /// The text with every identifier replaced.
    pub fn deidentify(&self, text: &str) -> String {
        let found = self.find(text);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for f in found {
            out.push_str(&text[at..f.start]);
            let surface = &text[f.start..f.end];
            if f.kind == Kind::Date {
                match patterns::shift_date(surface, self.shift_days, self.ref_year) {
                    Some(shifted) => out.push_str(&shifted),
                    None => out.push_str(&self.placeholder(Kind::Date, surface)),
                }
            } else {
                out.push_str(&self.placeholder(f.kind, surface));
            }
            at = f.end;
        }
        out.push_str(&text[at..]);
        out
    }

    fn placeholder(&self, kind: Kind, surface: &str) -> String {
        let key = normal_key(kind, surface);
        let mut s = self.lock();
        if let Some(p) = s.forward.get(&(kind, key.clone())) {
            return p.clone();
        }
        let is_patient = kind == Kind::Name
            && s.patient
                .as_ref()
                .is_some_and(|p| names::words(surface) == *p);
        let p = if is_patient {
            "[PACIENTE]".to_string()
        } else {
            let n = s.counters.entry(kind).or_insert(0);
            *n += 1;
            format!("[{}_{}]", kind.placeholder_word(), n)
        };
        s.forward.insert((kind, key), p.clone());
        s.back.insert(p.clone(), surface.to_string());
        p
    }

    /// The answer with the real values back: placeholders (also `[Nombre 1]`,
    /// `NOMBRE_1`) become what they replaced, shifted dates shift back.
    pub fn reidentify(&self, text: &str) -> String {
        let dates = patterns::find_dates(text);
        let mut shifted = String::with_capacity(text.len());
        let mut at = 0;
        for (a, b) in dates {
            shifted.push_str(&text[at..a]);
            match patterns::shift_date(&text[a..b], -self.shift_days, self.ref_year) {
                Some(d) => shifted.push_str(&d),
                None => shifted.push_str(&text[a..b]),
            }
            at = b;
        }
        shifted.push_str(&text[at..]);
        let s = self.lock();
        patterns::replace_placeholders(&shifted, |canonical| s.back.get(canonical).cloned())
    }

    /// How many distinct values were replaced, by kind (for provenance; no values).
    pub fn counts(&self) -> Vec<(Kind, usize)> {
        let s = self.lock();
        let mut out: Vec<(Kind, usize)> = Kind::ALL
            .into_iter()
            .map(|k| (k, s.forward.keys().filter(|(kk, _)| *kk == k).count()))
            .filter(|(_, n)| *n > 0)
            .collect();
        out.sort();
        out
    }
}

fn add_known(s: &mut State, words: Vec<String>) {
    if words.is_empty() {
        return;
    }
    for w in &words {
        if names::safe_alone(w) {
            s.tokens.insert(w.clone());
        }
    }
    if !s.known.contains(&words) {
        s.known.push(words);
        // Longest first: "Juan Pérez Soto" before "Pérez".
        s.known.sort_by_key(|w| std::cmp::Reverse(w.len()));
    }
}

fn normal_key(kind: Kind, surface: &str) -> String {
    match kind {
        Kind::Rut | Kind::Phone | Kind::EpisodeId => surface
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'k' || *c == 'K')
            .map(|c| c.to_ascii_uppercase())
            .collect(),
        Kind::Name => names::words(surface).join(" "),
        _ => epicrisis_domain::text::fold(surface),
    }
}

/// Keeps the earliest, then longest, span of overlapping ones.
fn resolve(mut all: Vec<Found>) -> Vec<Found> {
    all.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end), f.kind));
    let mut out: Vec<Found> = Vec::new();
    for f in all {
        if out.last().is_none_or(|l| f.start >= l.end) {
            out.push(f);
        }
    }
    out
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Shifts a date by whole days (used by tests to check durations).
pub fn shift(date: Date, days: i64) -> Date {
    date.add_days(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> Episode {
        let mut e = Episode::empty(epicrisis_domain::SourceShape::Rich);
        e.id = Some("1416169".into());
        e.patient.name = Some("María José Pérez Soto".into());
        e.physician = Some("Dr. Hernán Vidal".into());
        e.admission_date = Date::from_ymd(2025, 12, 15);
        e
    }

    /// A repair round sends the model's answer back re-identified: a value that went out as
    /// a placeholder once goes out as one again, even where its context («episodio»,
    /// «fono») is gone.
    #[test]
    fn a_value_replaced_once_is_replaced_without_its_context() {
        let d = Deidentifier::with_seed(&Episode::empty(epicrisis_domain::SourceShape::Rich), 3);
        let first = d.deidentify("Episodio 7654321. Fono +56 9 8765 4321.");
        assert!(
            !first.contains("7654321") && !first.contains("8765"),
            "{first}"
        );
        let answer = d.reidentify(&first.replace("Episodio", "Evaluado por"));
        assert!(answer.contains("7654321"), "{answer}");
        let again = d.deidentify(&answer);
        assert!(!again.contains("7654321"), "{again}");
        assert!(!again.contains("8765 4321"), "{again}");
        assert_eq!(d.reidentify(&again), answer);
    }

    #[test]
    fn rut_check_digits() {
        assert!(rut_check_digit_ok("12345678", '5'));
        assert!(rut_check_digit_ok("10000013", 'K'));
        assert!(!rut_check_digit_ok("12345678", '9'));
    }

    #[test]
    fn replaces_and_puts_back() {
        let d = Deidentifier::with_seed(&ep(), 7);
        let t = "Paciente María José Pérez Soto, RUT 12.345.678-5 (12345678-5), fono +56 9 8765 4321, \
                 correo mjperez@gmail.com, domicilio Calle Los Aromos 1234 depto 5B. Ingresa el 15/12/2025, \
                 alta 2025-12-26. Episodio 1416169. Atte SOTO. Dr(a)|Vidal. Hija Carmen acompaña. \
                 Neumonía tratada con ceftriaxona 2 g EV.";
        let out = d.deidentify(t);
        for leak in [
            "María",
            "Pérez",
            "12.345.678",
            "12345678",
            "8765",
            "mjperez",
            "Aromos",
            "15/12/2025",
            "2025-12-26",
            "1416169",
            "SOTO",
            "Vidal",
            "Carmen",
        ] {
            assert!(!out.contains(leak), "{leak} leaked: {out}");
        }
        for kept in ["Neumonía", "ceftriaxona 2 g EV", "Ingresa el"] {
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
        assert!(out.contains("[PACIENTE]"), "{out}");
        // Consistent: both RUT spellings are one placeholder.
        assert_eq!(out.matches("[RUT_1]").count(), 2, "{out}");
        // Both spellings of the RUT come back as the first one seen.
        assert_eq!(
            d.reidentify(&out),
            t.replace("(12345678-5)", "(12.345.678-5)")
        );
    }

    #[test]
    fn durations_survive_the_shift() {
        let d = Deidentifier::with_seed(&ep(), 3);
        let out = d.deidentify("Ingreso 15/12/2025, alta 26/12/2025.");
        let dates = patterns::find_dates(&out);
        let parse = |(a, b): (usize, usize)| {
            let s = &out[a..b];
            Date::from_ymd(
                s[6..].parse().unwrap(),
                s[3..5].parse().unwrap(),
                s[..2].parse().unwrap(),
            )
            .unwrap()
        };
        assert_eq!(parse(dates[0]).days_until(parse(dates[1])), 11);
        assert_ne!(parse(dates[0]), Date::from_ymd(2025, 12, 15).unwrap());
    }

    #[test]
    fn reidentifies_what_models_write() {
        let d = Deidentifier::with_seed(&ep(), 1);
        let out = d.deidentify("Control con Dr. Vidal.");
        assert!(out.contains("[NOMBRE_1]"), "{out}");
        assert_eq!(
            d.reidentify("Control con [Nombre 1]."),
            "Control con Vidal."
        );
        assert_eq!(d.reidentify("Control con NOMBRE_1."), "Control con Vidal.");
        let shifted = d.deidentify("el 20 de diciembre de 2025");
        assert_eq!(d.reidentify(&shifted), "el 20 de diciembre de 2025");
    }

    #[test]
    fn debug_shows_no_values() {
        let d = Deidentifier::with_seed(&ep(), 1);
        let _ = d.deidentify("Atte SOTO");
        assert!(!format!("{d:?}").contains("SOTO"));
    }
}
