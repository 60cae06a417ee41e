//! Spanish prose helpers: accents restored on accent-free source text, clinical
//! shorthand turned into words, lists joined the Spanish way, medications rendered with
//! their posology.

use epicrisis_domain::lexicon::lexicon;
use epicrisis_domain::posology::{Duration, Frequency};
use epicrisis_domain::text::{fold_char, lowercase_first};
use epicrisis_domain::{Diagnosis, Medication, Phase, Procedure};

/// Restores accents on words written without them (`neumonia` → `neumonía`,
/// `CIRUGIA` → `CIRUGÍA`), keeping case. Words that already carry accents and words the
/// dictionary does not know are left alone.
pub fn restore_accents(s: &str) -> String {
    let lx = lexicon();
    let mut out = String::with_capacity(s.len() + 8);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let has_accent = !word.is_ascii();
        let folded: String = word.chars().map(fold_char).collect();
        let rule;
        let replacement = if has_accent {
            None
        } else {
            match lx.accented(&folded) {
                Some(a) => Some(a),
                None => {
                    rule = accent_by_rule(&folded);
                    rule.as_deref()
                }
            }
        };
        match replacement {
            Some(acc) if acc.chars().count() == word.chars().count() => {
                for (orig, new) in word.chars().zip(acc.chars()) {
                    if orig.is_uppercase() {
                        out.extend(new.to_uppercase());
                    } else {
                        out.push(new);
                    }
                }
            }
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Accents that Spanish spelling rules fix for word endings the dictionary may lack:
/// `-ción`/`-sión` (singular), and the Greek clinical endings `-tomía`, `-stomía`,
/// `-scopía`, `-grafía`, `-patía`, `-logía`, `-metría`, `-plejía`.
fn accent_by_rule(folded: &str) -> Option<String> {
    if folded.len() < 6 || !folded.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    for (end, acc) in [("cion", "ción"), ("sion", "sión")] {
        if let Some(base) = folded.strip_suffix(end) {
            return Some(format!("{base}{acc}"));
        }
    }
    for (end, acc) in [
        ("tomia", "tomía"),
        ("scopia", "scopía"),
        ("grafia", "grafía"),
        ("patia", "patía"),
        ("logia", "logía"),
        ("metria", "metría"),
        ("plejia", "plejía"),
    ] {
        if let Some(base) = folded.strip_suffix(end) {
            return Some(format!("{base}{acc}"));
        }
    }
    None
}

/// Short Spanish words that go lower case when a shouted note is put in sentence case;
/// other short all-capitals words are abbreviations (TAC, KNT, MP, SEP).
const SHORT_WORDS: &[&str] = &[
    "a", "e", "o", "u", "y", "de", "del", "la", "el", "los", "las", "en", "con", "por", "sin",
    "al", "se", "su", "sus", "un", "una", "que", "es", "no", "si", "mas", "ya", "hoy", "dia",
    "ver", "mal", "muy", "ha", "fue", "son", "les", "le", "lo", "me", "mi", "te", "hay", "vez",
    "ni", "sra", "sr", "dos", "tres", "uno", "c", "cc", "ex", "pre", "post", "op", "hrs", "hr",
    "dias", "tos", "ojo", "pie", "eje", "red", "via", "bien", "poco", "leve", "solo", "sus",
];

/// Abbreviations kept in capitals when upper-case notes are put in sentence case.
fn keep_upper(word: &str) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    if word.chars().any(|c| c.is_ascii_digit()) {
        return true;
    }
    let folded: String = word.chars().map(fold_char).collect();
    if letters <= 3 {
        return !SHORT_WORDS.contains(&folded.as_str());
    }
    if letters == 4 {
        // Four letters: ordinary Spanish ("PARA", "CADA") goes lower case; the rest are
        // abbreviations (TRIFLO is not, but DHC+ and KNT are shorter anyway).
        return !lexicon().is_common_word(&folded) && lexicon().accented(&folded).is_none();
    }
    false
}

/// Turns an all-capitals note into sentence case, keeping abbreviations in capitals and
/// restoring accents: `SE INSTALA PLEUROSTOMIA 24 FR` → `Se instala pleurostomía 24 FR`.
pub fn sentence_case(s: &str) -> String {
    sentence_case_with(s, &std::collections::HashSet::new())
}

/// [`sentence_case`], keeping the capitals of proper names the episode writes in mixed
/// case elsewhere (`Miles` of "Cirugía de Miles").
pub fn sentence_case_with(s: &str, proper: &std::collections::HashSet<String>) -> String {
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    let uppers = s.chars().filter(|c| c.is_uppercase()).count();
    if letters == 0 || uppers * 10 < letters * 7 {
        return restore_accents(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let mut sentence_start = true;
    let flush = |word: &mut String, out: &mut String, sentence_start: &mut bool| {
        if word.is_empty() {
            return;
        }
        let folded: String = word.chars().map(fold_char).collect();
        if keep_upper(word) {
            out.push_str(word);
        } else if let Some(p) = proper
            .iter()
            .find(|p| p.chars().map(fold_char).collect::<String>() == folded)
        {
            out.push_str(p);
        } else {
            let lower = word.to_lowercase();
            if *sentence_start {
                let mut cs = lower.chars();
                if let Some(f) = cs.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(cs.as_str());
                }
            } else {
                out.push_str(&lower);
            }
        }
        *sentence_start = false;
        word.clear();
    };
    let mut last_word_len = 0usize;
    for c in s.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            if !word.is_empty() {
                last_word_len = word.chars().count();
            }
            flush(&mut word, &mut out, &mut sentence_start);
            // "AMOXICILINA/AC. CLAVULANICO": a dot after a short abbreviation ends nothing.
            if matches!(c, '|' | '!' | '?' | ':') || (c == '.' && last_word_len > 2) {
                sentence_start = true;
            }
            out.push(c);
        }
    }
    flush(&mut word, &mut out, &mut sentence_start);
    restore_accents(&out)
}

/// Joins items the Spanish way: `a`, `a y b`, `a, b y c` (`e` before words starting
/// with an "i" sound).
pub fn join_es(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => {
            let last = &items[n - 1];
            let f: String = last.chars().take(3).map(fold_char).collect();
            let conj = if (f.starts_with('i') || f.starts_with("hi"))
                && !f.starts_with("ie")
                && !f.starts_with("hie")
            {
                "e"
            } else {
                "y"
            };
            format!("{} {} {}", items[..n - 1].join(", "), conj, last)
        }
    }
}

/// A name from the data as it should read inside a sentence: first letter lower case
/// unless it is an acronym, `Ac.` expanded, accents restored.
pub fn inline_name(name: &str) -> String {
    let expanded = expand_name_shorthand(name.trim());
    restore_accents(&lowercase_first(&expanded))
}

/// A name from the data as a list entry: first letter upper case, accents restored.
pub fn list_name(name: &str) -> String {
    let expanded = expand_name_shorthand(name.trim());
    restore_accents(&epicrisis_domain::text::capitalize_first(&expanded))
}

fn expand_name_shorthand(name: &str) -> String {
    // "Amoxicilina/Ac.clavulanico" → "Amoxicilina/ácido clavulanico"
    let mut out = String::with_capacity(name.len() + 8);
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let at_word_start = i == 0 || !chars[i - 1].is_alphanumeric();
        if at_word_start
            && i + 2 < chars.len()
            && (chars[i] == 'A' || chars[i] == 'a')
            && (chars[i + 1] == 'c' || chars[i + 1] == 'C')
            && chars[i + 2] == '.'
        {
            out.push_str(if chars[i] == 'A' && i == 0 {
                "Ácido "
            } else {
                "ácido "
            });
            i += 3;
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// `neumonía lobar (J18.1)`
pub fn diagnosis_inline(d: &Diagnosis) -> String {
    with_code(&inline_name(&d.name), d.code.as_ref().map(|c| c.display()))
}

/// `Neumonía lobar (J18.1)`
pub fn diagnosis_item(d: &Diagnosis) -> String {
    with_code(&list_name(&d.name), d.code.as_ref().map(|c| c.display()))
}

/// `colecistectomía laparoscópica (51.23)`, with its date when known.
pub fn procedure_inline(p: &Procedure, with_date: bool) -> String {
    let mut s = with_code(&inline_name(&p.name), p.code.as_ref().map(|c| c.display()));
    if with_date && let Some(d) = p.date {
        s.push_str(&format!(" el {}", d.to_dmy()));
    }
    s
}

fn with_code(name: &str, code: Option<String>) -> String {
    match code {
        Some(c) if !c.is_empty() => format!("{name} ({c})"),
        _ => name.to_string(),
    }
}

/// The posology of a medication in words: `1 g EV cada 24 horas por 3 días, SOS`; a
/// regimen in steps joined by «luego» (`600 mg VO de carga, luego 75 mg cada 24 horas`).
pub fn posology(m: &Medication) -> String {
    let mut steps = vec![phase_posology(&m.first_phase())];
    steps.extend(m.then.iter().map(phase_posology));
    steps.retain(|s| !s.is_empty());
    steps.join(", luego ")
}

/// One step of a posology in words.
fn phase_posology(m: &Phase) -> String {
    let mut parts: Vec<String> = m.doses().map(|d| d.to_string()).collect();
    if let Some(r) = &m.route {
        parts.push(r.to_string());
    }
    if let Some(f) = &m.frequency {
        parts.push(match f {
            Frequency::Text(t) => restore_accents(&lowercase_first(t)),
            f => f.to_string(),
        });
    }
    for n in &m.notes {
        let nf: String = n.chars().map(fold_char).collect();
        match nf.as_str() {
            "carga" => parts.push("de carga".to_string()),
            "bolo" => parts.push("en bolo".to_string()),
            "profilaxis" | "pca" | "bic" | "preoperatorio" | "en casa" | "rescate" => {
                parts.push(restore_accents(n))
            }
            _ => {}
        }
    }
    if m.as_needed && !m.frequency.as_ref().is_some_and(Frequency::says_as_needed) {
        parts.push("SOS".to_string());
    }
    let mut s = parts.join(" ");
    if let Some(d) = &m.duration {
        let text = match d {
            Duration::Text { text } => restore_accents(&lowercase_first(text)),
            d => d.to_string(),
        };
        if s.is_empty() {
            s = text;
        } else if matches!(d, Duration::Text { .. }) {
            s = format!("{s}, {text}");
        } else {
            s = format!("{s} {text}");
        }
    }
    s
}

/// A drug name inside a sentence: every word lower case except abbreviations and single
/// letters (`Piperacilina/Tazobactam` → `piperacilina/tazobactam`, `Insulina NPH` →
/// `insulina NPH`, `Complejo B` → `complejo B`).
pub fn drug_name(name: &str) -> String {
    let expanded = expand_name_shorthand(name.trim());
    let mut out = String::with_capacity(expanded.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
        let acronym =
            letters.len() <= 1 || (letters.iter().all(|c| c.is_uppercase()) && letters.len() <= 4);
        if acronym {
            out.push_str(word);
        } else {
            out.push_str(&word.to_lowercase());
        }
        word.clear();
    };
    for c in expanded.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    restore_accents(&out)
}

/// `ceftriaxona 1 g EV cada 24 horas por 3 días (J01DD04)`; non-drug items keep their
/// source wording.
pub fn medication_inline(m: &Medication) -> String {
    let name = drug_name(&m.name);
    let pos = posology(m);
    let base = if pos.is_empty() {
        name
    } else {
        format!("{name} {pos}")
    };
    with_code(&base, m.code.as_ref().map(|c| c.display()))
}

/// As [`medication_inline`], starting with a capital letter.
pub fn medication_item(m: &Medication) -> String {
    epicrisis_domain::text::capitalize_first(&medication_inline(m))
}

/// A whole source sentence, cleaned for quoting: sentence case if shouted, accents
/// restored, spaces normalised.
pub fn clean_note(s: &str, proper: &std::collections::HashSet<String>) -> String {
    let collapsed: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    sentence_case_with(&collapsed, proper)
}

/// Words an episode writes capitalised inside mixed-case phrases ("Cirugia de Miles"):
/// proper names to keep when shouted notes are put in sentence case.
pub fn proper_words(ep: &epicrisis_domain::Episode) -> std::collections::HashSet<String> {
    // A word capitalised mid-phrase in at least two fields is a name ("Miles"); once may
    // be a stray capital ("- Post operatorio").
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for (_, text) in ep.texts() {
        let letters = text.chars().filter(|c| c.is_alphabetic()).count();
        let uppers = text.chars().filter(|c| c.is_uppercase()).count();
        if letters == 0 || uppers * 2 > letters {
            continue;
        }
        let words = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty());
        for (i, w) in words.enumerate() {
            let mut cs = w.chars();
            let first_upper = cs.next().is_some_and(|c| c.is_uppercase());
            if i > 0 && first_upper && w.chars().count() > 3 && cs.all(|c| c.is_lowercase()) {
                *counts.entry(w.to_string()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(w, _)| w)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lists() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_es(&v(&["a"])), "a");
        assert_eq!(join_es(&v(&["a", "b"])), "a y b");
        assert_eq!(join_es(&v(&["a", "b", "c"])), "a, b y c");
        assert_eq!(
            join_es(&v(&["ceftriaxona", "ibuprofeno"])),
            "ceftriaxona e ibuprofeno"
        );
        assert_eq!(join_es(&v(&["a", "hierro"])), "a y hierro");
    }

    #[test]
    fn names_read_well() {
        assert_eq!(
            inline_name("Amoxicilina/Ac.clavulanico"),
            "amoxicilina/ácido clavulánico"
        );
        assert_eq!(inline_name("HTA"), "HTA");
        assert_eq!(inline_name("Neumonia lobar"), "neumonía lobar");
    }

    #[test]
    fn a_regimen_in_steps_reads_in_order() {
        use epicrisis_domain::posology::parse_item;
        let p = parse_item("Clopidogrel 600mg VO carga + 75mg c/24h");
        let mut m = Medication::named(p.name, epicrisis_domain::ItemKind::Drug);
        m.dose = p.dose;
        m.route = p.route;
        m.notes = p.modifiers;
        m.then = p.then;
        assert_eq!(
            medication_inline(&m),
            "clopidogrel 600 mg VO de carga, luego 75 mg cada 24 horas"
        );
        m.then.clear();
        m.notes = vec!["bolo".into()];
        assert_eq!(medication_inline(&m), "clopidogrel 600 mg VO en bolo");
    }

    #[test]
    fn shouted_notes_become_sentences() {
        let s = sentence_case("SE INSTALA PLEUROSTOMIA 24 FR. CONTROL DE RX MANANA");
        assert!(s.starts_with("Se instala pleurostomía 24 FR."), "{s}");
        assert!(s.contains("RX"), "{s}");
    }
}
