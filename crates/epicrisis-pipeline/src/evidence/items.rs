//! The structured items of an episode (diagnoses, drugs, instructions, dates, …) and
//! how a sentence is found to name one: by its content words, its code, or its number.

use super::{ItemRef, ItemRefKind};
use epicrisis_domain::lexicon::term_keys;
use epicrisis_domain::text::fold;
use epicrisis_domain::{Allergies, Episode, ItemKind, Sex};
use epicrisis_embed::bm25::tokenize;

/// How an item is recognised in a sentence.
enum Matcher {
    /// By the content words of its name (see [`name_matches`]).
    Name { keys: Vec<String>, drug: bool },
    /// By a code, as whole terms (`j18.9`, `48.52`).
    Code(Vec<String>),
    /// By a literal piece of folded text (dates).
    Text(Vec<String>),
    /// By a number next to one of some words (`68 años`, `11 días`).
    Number { number: String, words: Vec<String> },
}

pub(super) struct Item {
    kind: ItemRefKind,
    field: &'static str,
    index: usize,
    name: String,
    matchers: Vec<Matcher>,
}

fn name_keys(name: &str) -> Vec<String> {
    // Digits and one- or two-letter words ("24 FR", "c/8h") say little about which item
    // is meant; the codes and doses have their own checks in the validator.
    term_keys(name)
        .into_iter()
        .filter(|k| k.chars().count() >= 3 && !k.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

fn named(kind: ItemRefKind, field: &'static str, index: usize, name: &str) -> Item {
    Item {
        kind,
        field,
        index,
        name: name.to_string(),
        matchers: vec![Matcher::Name {
            keys: name_keys(name),
            drug: false,
        }],
    }
}

fn with_code(mut item: Item, code: Option<String>) -> Item {
    if let Some(c) = code {
        let t = tokenize(&c);
        if !t.is_empty() {
            item.matchers.push(Matcher::Code(t));
        }
    }
    item
}

fn medication(field: &'static str, index: usize, m: &epicrisis_domain::Medication) -> Item {
    let mut item = named(ItemRefKind::Medication, field, index, &m.name);
    if let Some(Matcher::Name { drug, .. }) = item.matchers.first_mut() {
        *drug = m.kind == ItemKind::Drug;
    }
    if m.kind == ItemKind::Control {
        item.kind = ItemRefKind::Instruction;
    }
    with_code(item, m.code.as_ref().map(|c| c.display()))
}

pub(super) fn episode_items(ep: &Episode) -> Vec<Item> {
    let mut out = diagnosis_items(ep);
    out.extend(procedure_items(ep));
    out.extend(medication_items(ep));
    out.extend(instruction_items(ep));
    out.extend(lab_items(ep));
    out.extend(reason_item(ep));
    out.extend(history_items(ep));
    out.extend(allergy_items(ep));
    out.extend(age_item(ep));
    out.extend(sex_item(ep));
    out.extend(identity_items(ep));
    out.extend(date_items(ep));
    out
}

/// Admission, then discharge diagnoses, by name or code.
fn diagnosis_items(ep: &Episode) -> Vec<Item> {
    let mut out = Vec::new();
    for (field, list) in [
        ("diagnostico_ingreso", &ep.admission_diagnoses),
        ("diagnostico_egreso", &ep.discharge_diagnoses),
    ] {
        for (i, d) in list.iter().enumerate() {
            out.push(with_code(
                named(ItemRefKind::Diagnosis, field, i, &d.name),
                d.code.as_ref().map(|c| c.display()),
            ));
        }
    }
    out
}

fn procedure_items(ep: &Episode) -> Vec<Item> {
    ep.procedures
        .iter()
        .enumerate()
        .map(|(i, p)| {
            with_code(
                named(ItemRefKind::Procedure, "procedimientos", i, &p.name),
                p.code.as_ref().map(|c| c.display()),
            )
        })
        .collect()
}

/// In-hospital treatments, then the medications prescribed at discharge.
fn medication_items(ep: &Episode) -> Vec<Item> {
    let treatments = ep
        .treatments
        .iter()
        .enumerate()
        .map(|(i, m)| medication("tratamientos_intrahosp", i, m));
    let discharge = ep
        .discharge
        .medications
        .iter()
        .enumerate()
        .map(|(i, m)| medication("indicaciones_alta.medicamentos", i, m));
    treatments.chain(discharge).collect()
}

/// The discharge instructions other than medications.
fn instruction_items(ep: &Episode) -> Vec<Item> {
    let mut out = Vec::new();
    for (field, list) in [
        ("indicaciones_alta.controles", &ep.discharge.controls),
        ("indicaciones_alta.cuidados", &ep.discharge.care),
        (
            "indicaciones_alta.signos_alarma",
            &ep.discharge.warning_signs,
        ),
        (
            "indicaciones_alta.recomendaciones",
            &ep.discharge.recommendations,
        ),
    ] {
        for (i, x) in list.iter().enumerate() {
            out.push(named(ItemRefKind::Instruction, field, i, x));
        }
    }
    out
}

/// Lab tests by name, then qualitative results as «test: result».
fn lab_items(ep: &Episode) -> Vec<Item> {
    let mut out = Vec::new();
    for (i, l) in ep.labs.iter().enumerate() {
        out.push(named(ItemRefKind::Lab, "laboratorios", i, &l.test));
    }
    for (i, f) in ep.lab_findings.iter().enumerate() {
        let words = format!("{}: {}", f.test, f.result);
        out.push(named(
            ItemRefKind::Lab,
            "laboratorios.cualitativos",
            i,
            &words,
        ));
    }
    out
}

fn reason_item(ep: &Episode) -> Option<Item> {
    ep.reason
        .as_ref()
        .map(|r| named(ItemRefKind::Reason, "motivo_ingreso", 0, r))
}

/// Medical, surgical and other history (allergies apart: [`allergy_items`]).
fn history_items(ep: &Episode) -> Vec<Item> {
    let mut out = Vec::new();
    for (field, list) in [
        ("antecedentes.medicos", &ep.history.medical),
        ("antecedentes.quirurgicos", &ep.history.surgical),
        ("antecedentes.otros", &ep.history.other),
    ] {
        for (i, x) in list.iter().enumerate() {
            out.push(named(ItemRefKind::History, field, i, x));
        }
    }
    out
}

/// Each known allergy, or «sin alergias conocidas» when none is known.
fn allergy_items(ep: &Episode) -> Vec<Item> {
    let field = "antecedentes.alergias";
    match &ep.history.allergies {
        Allergies::NotRecorded => Vec::new(),
        Allergies::NoneKnown => vec![named(
            ItemRefKind::History,
            field,
            0,
            "sin alergias conocidas",
        )],
        Allergies::Known(list) => list
            .iter()
            .enumerate()
            .map(|(i, x)| named(ItemRefKind::History, field, i, x))
            .collect(),
    }
}

/// The age, as its number next to a word of age (`68 años`).
fn age_item(ep: &Episode) -> Option<Item> {
    let p = &ep.patient;
    let (Some(age), Some(name)) = (p.age_number(), p.age_es()) else {
        return None;
    };
    Some(Item {
        kind: ItemRefKind::Patient,
        field: "paciente.edad",
        index: 0,
        name,
        matchers: vec![Matcher::Number {
            number: age.to_string(),
            words: ["anos", "ano", "edad", "meses", "mes", "dias", "dia"]
                .map(String::from)
                .to_vec(),
        }],
    })
}

/// The sex, by any of its words.
fn sex_item(ep: &Episode) -> Option<Item> {
    let words: &[&str] = match ep.patient.sex? {
        Sex::Female => &["femenino", "femenina", "mujer"],
        Sex::Male => &["masculino", "hombre", "varon"],
        Sex::Other => &["otro"],
    };
    Some(Item {
        kind: ItemRefKind::Patient,
        field: "paciente.sexo",
        index: 0,
        name: words[0].to_string(),
        matchers: words
            .iter()
            .map(|w| Matcher::Name {
                keys: vec![(*w).to_string()],
                drug: false,
            })
            .collect(),
    })
}

/// Name, identifiers, service and physician, by their words or verbatim.
fn identity_items(ep: &Episode) -> Vec<Item> {
    let p = &ep.patient;
    let mut out = Vec::new();
    for (field, value) in [
        ("paciente.nombre", &p.name),
        ("paciente.identificador", &p.identifier),
        ("id_atencion", &ep.id),
        ("servicio", &ep.service),
        ("medico_tratante", &ep.physician),
    ] {
        if let Some(v) = value {
            let mut item = named(ItemRefKind::Patient, field, 0, v);
            let t = tokenize(v);
            if !t.is_empty() {
                item.matchers.push(Matcher::Code(t));
            }
            out.push(item);
        }
    }
    out
}

/// Admission and discharge dates, as written either way, and the length of stay.
fn date_items(ep: &Episode) -> Vec<Item> {
    let mut out = Vec::new();
    for (field, date) in [
        ("fecha_ingreso", ep.admission_date),
        ("fecha_alta", ep.discharge_date),
    ] {
        if let Some(d) = date {
            out.push(Item {
                kind: ItemRefKind::Date,
                field,
                index: 0,
                name: d.to_dmy(),
                matchers: vec![Matcher::Text(vec![d.to_dmy(), d.to_string()])],
            });
        }
    }
    if let (Some(a), Some(d)) = (ep.admission_date, ep.discharge_date) {
        let days = a.days_until(d);
        out.push(Item {
            kind: ItemRefKind::Date,
            field: "dias_hospitalizacion",
            index: 0,
            name: format!("{days} días"),
            matchers: vec![Matcher::Number {
                number: days.to_string(),
                words: vec!["dias".into(), "dia".into(), "hospitalizacion".into()],
            }],
        });
    }
    out
}

/// The items by the words that must be in a sentence for a matcher to hold, so that a
/// sentence is compared only with the items it could name: a long episode (thousands of
/// diagnoses and drugs, as the readers allow) with a long draft was sentences × items.
/// Each matcher needs one word at least: a name one of its content words
/// ([`name_matches`]), a code its first term, a number the number. Text pieces (dates)
/// are substrings and are always tried.
pub(super) struct ItemIndex<'a> {
    items: &'a [Item],
    by_key: std::collections::HashMap<&'a str, Vec<usize>>,
    by_token: std::collections::HashMap<&'a str, Vec<usize>>,
    always: Vec<usize>,
}

impl<'a> ItemIndex<'a> {
    pub(super) fn new(items: &'a [Item]) -> ItemIndex<'a> {
        let mut ix = ItemIndex {
            items,
            by_key: Default::default(),
            by_token: Default::default(),
            always: Vec::new(),
        };
        for (i, item) in items.iter().enumerate() {
            for m in &item.matchers {
                match m {
                    Matcher::Name { keys, .. } => {
                        for k in keys {
                            ix.by_key.entry(k.as_str()).or_default().push(i);
                        }
                    }
                    Matcher::Code(code) => {
                        if let Some(first) = code.first() {
                            ix.by_token.entry(first.as_str()).or_default().push(i);
                        }
                    }
                    Matcher::Number { number, .. } => {
                        ix.by_token.entry(number.as_str()).or_default().push(i);
                    }
                    Matcher::Text(_) => ix.always.push(i),
                }
            }
        }
        ix
    }

    /// The items `sentence` names, in the items' order.
    pub(super) fn named(&self, sentence: &str) -> Vec<ItemRef> {
        let keys = term_keys(sentence);
        let tokens = tokenize(sentence);
        let mut candidates: Vec<usize> = self.always.clone();
        for k in &keys {
            candidates.extend(self.by_key.get(k.as_str()).into_iter().flatten());
        }
        for t in &tokens {
            candidates.extend(self.by_token.get(t.as_str()).into_iter().flatten());
        }
        candidates.sort_unstable();
        candidates.dedup();
        let folded = fold(sentence);
        candidates
            .into_iter()
            .map(|i| &self.items[i])
            .filter(|item| names(item, &keys, &tokens, &folded))
            .map(item_ref)
            .collect()
    }
}

fn item_ref(item: &Item) -> ItemRef {
    ItemRef {
        kind: item.kind,
        field: item.field.to_string(),
        index: item.index,
        name: item.name.clone(),
    }
}

/// Whether a sentence (its content-word keys, terms and folded text) names `item`.
fn names(item: &Item, keys: &[String], tokens: &[String], folded: &str) -> bool {
    item.matchers.iter().any(|m| match m {
        Matcher::Name { keys: name, drug } => name_matches(name, *drug, keys),
        Matcher::Code(code) => contains_run(tokens, code),
        Matcher::Text(pieces) => pieces.iter().any(|p| folded.contains(&fold(p))),
        Matcher::Number { number, words } => {
            tokens.iter().any(|t| t == number)
                && tokens.iter().any(|t| words.iter().any(|w| w == t))
        }
    })
}

/// The items `sentence` names, in the items' order (every item tried; the reference for
/// [`ItemIndex::named`]).
#[cfg(test)]
pub(super) fn named_items(items: &[Item], sentence: &str) -> Vec<ItemRef> {
    let keys = term_keys(sentence);
    let tokens = tokenize(sentence);
    let folded = fold(sentence);
    items
        .iter()
        .filter(|item| names(item, &keys, &tokens, &folded))
        .map(item_ref)
        .collect()
}

/// An item's name is in a sentence when its content words appear in order, or (a drug)
/// its first word does, or most of its words (at least two, three fifths) do — sentences
/// reorder and shorten long names ("derrame pleural bilateral" for "Derrame pleural no
/// clasificado en otra parte" would not do, two of five words; "cirugía de Miles" for
/// "Cirugía de Miles (resección abdominoperineal)" does, in order).
fn name_matches(name: &[String], drug: bool, sentence: &[String]) -> bool {
    if name.is_empty() {
        return false;
    }
    if contains_run(sentence, name) {
        return true;
    }
    if drug && name[0].chars().count() >= 5 && sentence.contains(&name[0]) {
        return true;
    }
    let present = name.iter().filter(|k| sentence.contains(k)).count();
    present >= 2 && present * 5 >= name.len() * 3
}

/// True when `needle` occurs in `hay` as consecutive elements.
fn contains_run(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index finds exactly what trying every item finds, line by line, on the
    /// example episodes and their drafts, and on sentences that name items by code,
    /// number and date.
    #[test]
    fn the_index_names_what_every_item_tried_names() {
        let mut checked = 0;
        for file in [
            "episodio_1416169.json",
            "predecessor_neumonia.json",
            "compact_hernia.json",
        ] {
            let path = epicrisis_testkit::fixtures::testdata("episodes").join(file);
            let bytes = std::fs::read(&path).expect("example episode");
            let ep = epicrisis_ingest::read_episode(&bytes, file).expect("example reads");
            let items = episode_items(&ep);
            let index = ItemIndex::new(&items);
            let text =
                crate::writer::write(&ep, crate::Layout::Sections).render(crate::TextFormat::Plain);
            let extra = [
                "Se operó (48.52) el 15/12/2025, paciente de 68 años, 11 días de estadía.",
                "Meropenem 1 g EV c/8 h y derrame pleural bilateral resuelto.",
            ];
            for line in text.lines().chain(extra) {
                let a = index.named(line);
                let b = named_items(&items, line);
                let key = |v: &[ItemRef]| {
                    v.iter()
                        .map(|r| (r.field.clone(), r.index, r.name.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(key(&a), key(&b), "{line}");
                checked += usize::from(!b.is_empty());
            }
        }
        assert!(checked >= 20, "only {checked} lines named an item");
    }

    #[test]
    fn name_matching_table() {
        let k = |s: &str| name_keys(s);
        let cases: &[(&str, bool, &str, bool)] = &[
            (
                "Tumor maligno del recto",
                false,
                "Ingresa por tumor maligno del recto.",
                true,
            ),
            ("Meropenem 1g c/8h", true, "Recibe meropenem 1 g EV.", true),
            (
                "Derrame pleural no clasificado en otra parte",
                false,
                "Presentó drenaje pleural.",
                false,
            ),
            (
                "Pleurostomía 24 FR",
                false,
                "Se instala pleurostomía.",
                true,
            ),
            (
                "Control con cirugía de tórax",
                false,
                "Control con cirugía de tórax en 7 días",
                true,
            ),
            ("24 FR", false, "24 FR", false),
        ];
        for (name, drug, sentence, want) in cases {
            assert_eq!(
                name_matches(&k(name), *drug, &term_keys(sentence)),
                *want,
                "{name:?} in {sentence:?}"
            );
        }
    }
}
