//! Reading codes the way DOMAIN.md asks: parse into the typed code, say so when the
//! spelling was normalised, keep malformed codes as written with a warning, and flag
//! well-formed codes that probably do not fit their item. Never a silent correction.

use crate::json::Ctx;
use epicrisis_domain::codes::Parsed;
use epicrisis_domain::lexicon::{self, ConceptId, ConceptKind};
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{AtcCode, Icd10Code, ProcedureCode, SourceCode, WarningKind};
use std::collections::{HashMap, HashSet};

fn read<T>(
    ctx: &mut Ctx<'_>,
    raw: Option<&str>,
    path: &str,
    parse: fn(&str) -> Result<Parsed<T>, epicrisis_domain::CodeError>,
) -> Option<(SourceCode<T>, Option<T>)>
where
    T: Clone + std::fmt::Display,
{
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    match parse(raw) {
        Ok(p) => {
            if p.normalised {
                ctx.warn(
                    WarningKind::Normalised,
                    path,
                    format!("{raw:?} read as {}", p.code),
                    format!("El código «{raw}» se interpretó como {}.", p.code),
                );
            }
            let code = p.code.clone();
            Some((
                SourceCode {
                    raw: raw.to_string(),
                    parsed: Some(p.code),
                },
                Some(code),
            ))
        }
        Err(e) => {
            ctx.warn(
                WarningKind::MalformedCode,
                path,
                e.to_string(),
                format!("{}; se conservó tal como venía.", e.to_spanish()),
            );
            Some((
                SourceCode {
                    raw: raw.to_string(),
                    parsed: None,
                },
                None,
            ))
        }
    }
}

/// A CIE-10 code of a diagnosis; warns when it is not in the Spanish CIE-10 list.
pub(crate) fn icd10(
    ctx: &mut Ctx<'_>,
    raw: Option<&str>,
    path: &str,
) -> Option<SourceCode<Icd10Code>> {
    let (code, parsed) = read(ctx, raw, path, Icd10Code::parse)?;
    if let Some(c) = parsed
        && !lexicon::lexicon().icd10_exists(c.as_str())
    {
        let category = c.category();
        let (en, es) = match lexicon::lexicon().icd10_name(category) {
            Some(name) if category != c.as_str() => (
                format!(
                    "{c} is not in the Spanish CIE-10 list (its category {category} \"{name}\" \
                     is; the subcode may be wrong or come from a later WHO update); check the code"
                ),
                format!(
                    "El código {c} no figura en la CIE-10 en español (sí figura su categoría \
                     {category} «{name}»; la subcategoría puede ser incorrecta o provenir de una \
                     actualización posterior de la OMS). Verifique el código."
                ),
            ),
            _ => (
                format!(
                    "{c} is not in the Spanish CIE-10 list (it may be wrong or come from a later \
                     WHO update); check the code"
                ),
                format!(
                    "El código {c} no figura en la CIE-10 en español (puede ser incorrecto o \
                     provenir de una actualización posterior de la OMS). Verifique el código."
                ),
            ),
        };
        ctx.warn(WarningKind::SuspiciousCode, path, en, es);
    }
    Some(code)
}

/// A procedure code (opaque identifier).
pub(crate) fn procedure(
    ctx: &mut Ctx<'_>,
    raw: Option<&str>,
    path: &str,
) -> Option<SourceCode<ProcedureCode>> {
    read(ctx, raw, path, ProcedureCode::parse).map(|(c, _)| c)
}

/// An ATC code of a medication named `name`; warns when a substance code does not fit
/// the drug the name denotes, and remembers it for [`Ctx`]'s same-name check.
pub(crate) fn atc(
    ctx: &mut Ctx<'_>,
    raw: Option<&str>,
    path: &str,
    name: &str,
) -> Option<SourceCode<AtcCode>> {
    let (code, parsed) = read(ctx, raw, path, AtcCode::parse)?;
    if let Some(c) = parsed {
        if let Some((en, es)) = atc_mismatch(name, &c) {
            ctx.warn(WarningKind::SuspiciousCode, path, en, es);
        }
        ctx.seen_atc
            .push((fold_words(name), c, path.to_string(), name.to_string()));
    }
    Some(code)
}

/// The drug concepts the lexicon finds in a name.
pub(crate) fn drug_concepts(name: &str) -> Vec<ConceptId> {
    let lx = lexicon::lexicon();
    let all_caps = !name.chars().any(char::is_lowercase);
    lx.concepts_in(name, all_caps)
        .into_iter()
        .filter(|id| lx.concept(*id).kind == ConceptKind::Drug)
        .collect()
}

/// Why a 7-character ATC code does not fit `name`, if it does not: the reason in English
/// and in Spanish.
///
/// Only drugs whose official codes the lexicon knows are judged. A code shared by a
/// combination (`J01CR05` piperacillin and tazobactam) fits when its owner's name shares
/// a word with the item's name.
fn atc_mismatch(name: &str, code: &AtcCode) -> Option<(String, String)> {
    if !code.is_substance() {
        return None;
    }
    let lx = lexicon::lexicon();
    let drugs = drug_concepts(name);
    let official: Vec<&str> = drugs
        .iter()
        .flat_map(|id| lx.concept(*id).codes.iter().map(String::as_str))
        .collect();
    if official.is_empty() || official.contains(&code.as_str()) {
        return None;
    }
    let owners = lx.drugs_with_atc(code.as_str());
    let name_keys: HashSet<String> = lexicon::term_keys(name).into_iter().collect();
    let shares_word = |id: &ConceptId| {
        lexicon::term_keys(&lx.concept(*id).canonical)
            .iter()
            .any(|k| k.len() > 3 && name_keys.contains(k))
    };
    if owners.iter().any(shares_word) {
        return None;
    }
    if owners.is_empty() && drugs.len() > 1 {
        // A combination whose code the lexicon does not know: no evidence either way.
        return None;
    }
    let mut described: Vec<String> = Vec::new();
    let mut described_es: Vec<String> = Vec::new();
    for id in &drugs {
        let c = lx.concept(*id);
        if !c.codes.is_empty() {
            described.push(format!("{} is {}", c.canonical, c.codes.join(" or ")));
            described_es.push(format!(
                "el de {} es {}",
                c.canonical,
                join_es(&c.codes, "o")
            ));
        }
    }
    let owner_names: Vec<&str> = owners
        .iter()
        .map(|id| lx.concept(*id).canonical.as_str())
        .collect();
    let belongs = if owners.is_empty() {
        String::new()
    } else {
        format!(", which is the code of {}", owner_names.join(" / "))
    };
    let en = format!(
        "ATC {code} does not fit \"{name}\"{belongs}; {} (check the code)",
        described.join(", ")
    );
    let head = if owners.is_empty() {
        format!("El código ATC {code} no corresponde a «{name}»")
    } else {
        format!(
            "El código ATC {code} de «{name}» corresponde a {}",
            owner_names.join(" / ")
        )
    };
    let es = format!(
        "{head}; {}. Verifique el código en la fuente.",
        join_es(&described_es, "y")
    );
    Some((en, es))
}

/// A Spanish enumeration with `conj` ("y" or "o"): `a`, `a y b`, `a, b y c`.
fn join_es<S: AsRef<str>>(items: &[S], conj: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} {conj} {}", init.join(", "), last.as_ref())
        }
    }
}

/// Codes that are compatible: equal, or one is a group prefix of the other.
fn compatible(a: &AtcCode, b: &AtcCode) -> bool {
    a.as_str().starts_with(b.as_str()) || b.as_str().starts_with(a.as_str())
}

/// Both codes are official codes of the drug the name denotes (metronidazole is J01XD01
/// and P01AB01, by route): different, but both right.
fn both_official(name: &str, a: &AtcCode, b: &AtcCode) -> bool {
    let lx = lexicon::lexicon();
    let official: Vec<&str> = drug_concepts(name)
        .iter()
        .flat_map(|id| lx.concept(*id).codes.iter().map(String::as_str))
        .collect();
    official.contains(&a.as_str()) && official.contains(&b.as_str())
}

/// Warns when one drug name carries different codes in one episode (`tto[0]` says
/// B01AB01, `med[1]` says B01AB05): one of them is wrong.
pub(crate) fn same_name_different_codes(ctx: &mut Ctx<'_>) {
    let seen = std::mem::take(&mut ctx.seen_atc);
    let mut reported: HashSet<(String, String)> = HashSet::new();
    // Per name, the first entry of each distinct code: an export that repeats one drug
    // thousands of times is compared against one code, not against every earlier row.
    let mut firsts: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, (name, code, path, written)) in seen.iter().enumerate() {
        let earlier = firsts.entry(name.as_str()).or_default();
        let clash = earlier
            .iter()
            .map(|&i| &seen[i])
            .find(|(_, c, _, _)| !compatible(c, code) && !both_official(name, c, code));
        if let Some((_, first, first_path, _)) = clash {
            let pair = (name.clone(), format!("{first}|{code}"));
            if reported.insert(pair) {
                ctx.warn(
                    WarningKind::Inconsistent,
                    path,
                    format!(
                        "\"{name}\" is coded {code} here but {first} at {first_path}; \
                         one of the two codes is wrong"
                    ),
                    format!(
                        "«{written}» figura aquí con el código {code}, pero con {first} en \
                         {first_path}; uno de los dos códigos es incorrecto. Verifique cuál \
                         corresponde en la fuente."
                    ),
                );
            }
        }
        if !earlier.iter().any(|&i| seen[i].1 == *code) {
            earlier.push(j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_and_malformed_codes_warn() {
        let mut ctx = Ctx::new("e.json", None);
        let c = icd10(&mut ctx, Some("J189"), "dx[0]").unwrap();
        assert_eq!(c.display(), "J18.9");
        assert!(
            ctx.warnings
                .iter()
                .any(|w| w.kind == WarningKind::Normalised)
        );
        let c = icd10(&mut ctx, Some("J18-9"), "diagnostico_ingreso[2].codigo").unwrap();
        assert_eq!(c.raw, "J18-9");
        assert!(c.parsed.is_none());
        let w = ctx
            .warnings
            .iter()
            .find(|w| w.kind == WarningKind::MalformedCode)
            .unwrap();
        assert_eq!(
            w.message,
            "diagnostico_ingreso[2].codigo: \"J18-9\" is not a CIE-10 code (expected a letter, \
             two digits, optional . and one or two digits, e.g. J18.9)"
        );
        assert_eq!(
            w.message_es,
            "diagnostico_ingreso[2].codigo: El código «J18-9» no tiene formato CIE-10 (una \
             letra, dos dígitos y opcionalmente un punto y uno o dos dígitos, p. ej. J18.9); se \
             conservó tal como venía."
        );
        assert!(icd10(&mut ctx, Some("  "), "x").is_none());
    }

    #[test]
    fn suspicious_codes_warn_in_spanish() {
        let mut ctx = Ctx::new("e.json", None);
        atc(&mut ctx, Some("J01XA01"), "tto[0].codigo", "Ceftriaxona");
        assert_eq!(ctx.warnings.len(), 1, "{:?}", ctx.warnings);
        let w = &ctx.warnings[0];
        assert_eq!(w.kind, WarningKind::SuspiciousCode);
        assert_eq!(
            w.message,
            "tto[0].codigo: ATC J01XA01 does not fit \"Ceftriaxona\", which is the code of \
             vancomicina; ceftriaxona is J01DD04 (check the code)"
        );
        assert_eq!(
            w.message_es,
            "tto[0].codigo: El código ATC J01XA01 de «Ceftriaxona» corresponde a vancomicina; \
             el de ceftriaxona es J01DD04. Verifique el código en la fuente."
        );

        // A drug with several official codes lists them all.
        ctx.warnings.clear();
        atc(&mut ctx, Some("B01AB01"), "med[0].codigo", "Metronidazol");
        let es = &ctx.warnings[0].message_es;
        assert!(
            es.contains("el de metronidazol es J01XD01, P01AB01, G01AF01 o D06BX01."),
            "{es}"
        );

        ctx.warnings.clear();
        icd10(&mut ctx, Some("J18.7"), "diagnostico_egreso[0].codigo");
        assert_eq!(
            ctx.warnings[0].message_es,
            "diagnostico_egreso[0].codigo: El código J18.7 no figura en la CIE-10 en español \
             (sí figura su categoría J18 «Neumonía, organismo no especificado»; la subcategoría \
             puede ser incorrecta o provenir de una actualización posterior de la OMS). \
             Verifique el código."
        );
    }

    #[test]
    fn spanish_enumerations() {
        assert_eq!(join_es(&["A"], "o"), "A");
        assert_eq!(join_es(&["A", "B"], "y"), "A y B");
        assert_eq!(join_es(&["A", "B", "C"], "o"), "A, B o C");
    }

    #[test]
    fn same_name_with_two_codes_is_inconsistent() {
        let mut ctx = Ctx::new("e.json", None);
        atc(&mut ctx, Some("B01AB01"), "tto[0]", "Enoxaparina");
        atc(&mut ctx, Some("B01AB05"), "med[0]", "Enoxaparina");
        atc(&mut ctx, Some("B01AB05"), "med[1]", "enoxaparina");
        atc(&mut ctx, Some("J06BA"), "tto[1]", "Inmunoglobulina");
        atc(&mut ctx, Some("J06BA02"), "med[2]", "Inmunoglobulina");
        atc(&mut ctx, Some("J01XD01"), "tto[2]", "Metronidazol");
        atc(&mut ctx, Some("P01AB01"), "med[3]", "Metronidazol");
        ctx.warnings.clear();
        same_name_different_codes(&mut ctx);
        assert_eq!(ctx.warnings.len(), 1, "{:?}", ctx.warnings);
        assert_eq!(ctx.warnings[0].kind, WarningKind::Inconsistent);
        assert_eq!(ctx.warnings[0].path, "med[0]");
        assert_eq!(
            ctx.warnings[0].message_es,
            "med[0]: «Enoxaparina» figura aquí con el código B01AB05, pero con B01AB01 en \
             tto[0]; uno de los dos códigos es incorrecto. Verifique cuál corresponde en la \
             fuente."
        );
    }
}
