//! Medication-like items: posology read with the domain's one parser, and the kind of
//! item (drug, therapy, control) decided from its code, its words and the lexicon.
//!
//! Medication lists in real data carry more than drugs: diets, transfusions, oxygen,
//! follow-up appointments. The writer needs them apart (a control appointment is not a
//! prescription), so every item is classified where it is read.

use crate::codes;
use crate::json::{self, Ctx};
use epicrisis_domain::lexicon::{self, ConceptKind};
use epicrisis_domain::posology::{Piece, modifier_at, parse_item, piece_at};
use epicrisis_domain::regimen;
use epicrisis_domain::text::{TokenKind, fold_words, tokenize_chars};
use epicrisis_domain::{Duration, Frequency, ItemKind, Medication, Phase, Route, WarningKind};

/// The posology pieces of a separate field (`"1 g"`, `"cada 8 horas"`) and the runs of
/// text between them that were not recognised. A field that gives a regimen in steps
/// (`"300 mg carga, luego 75 mg"`) has the first step's pieces in `pieces` and each
/// later step's in `then` (`epicrisis_domain::regimen`).
pub(crate) struct Scan {
    pub pieces: Vec<Piece>,
    pub then: Vec<Vec<Piece>>,
    pub leftover: Vec<String>,
}

pub(crate) fn scan(text: &str) -> Scan {
    let chars: Vec<char> = text.chars().collect();
    let tokens = tokenize_chars(&chars);
    let mut steps: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut leftover = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    let flush = |run: &mut Option<(usize, usize)>, leftover: &mut Vec<String>| {
        if let Some((s, e)) = run.take() {
            leftover.push(chars[s..e].iter().collect::<String>());
        }
    };
    let mut i = 0;
    while i < tokens.len() {
        let current = steps.last().map(Vec::as_slice).unwrap_or_default();
        if !current.is_empty() {
            let loading = current
                .iter()
                .any(|p| matches!(p, Piece::Modifier(m) if regimen::is_loading_note(m)));
            if let Some(next) = regimen::phase_start(&tokens, i, loading) {
                flush(&mut run, &mut leftover);
                steps.push(Vec::new());
                i = next;
                continue;
            }
        }
        let piece = piece_at(&tokens, i).or_else(|| {
            modifier_at(&tokens, i).filter(|p| !matches!(p.piece, Piece::Modifier("en" | "de")))
        });
        match piece {
            Some(p) => {
                flush(&mut run, &mut leftover);
                if let Some(step) = steps.last_mut() {
                    step.push(p.piece);
                }
                i = p.end.max(i + 1);
            }
            None => {
                let t = &tokens[i];
                let filler = t.kind == TokenKind::Punct
                    && matches!(t.norm.as_str(), "," | ";" | "+" | "-" | "." | ":");
                if filler {
                    flush(&mut run, &mut leftover);
                } else {
                    run = Some(match run {
                        Some((s, _)) => (s, t.end),
                        None => (t.start, t.end),
                    });
                }
                i += 1;
            }
        }
    }
    flush(&mut run, &mut leftover);
    let pieces = steps.remove(0);
    Scan {
        pieces,
        then: steps,
        leftover,
    }
}

/// Adds a piece to a medication's first step without overwriting what it already has.
fn fill(med: &mut Medication, piece: Piece) {
    let mut first = med.first_phase();
    if let Some(Piece::Duration(d)) = first.absorb(piece) {
        first.notes.push(d.to_string());
    }
    med.set_first_phase(first);
}

/// The later steps a field gave, each read like the first.
fn later_steps(steps: Vec<Vec<Piece>>) -> Vec<Phase> {
    steps
        .into_iter()
        .map(|pieces| {
            let mut phase = Phase::default();
            absorb_all(&mut phase, pieces);
            phase
        })
        .collect()
}

fn add_note(med: &mut Medication, note: &str) {
    if !med.notes.iter().any(|n| n == note) {
        med.notes.push(note.to_string());
    }
}

/// Which separate posology field a text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Dose,
    Route,
    Frequency,
    Duration,
}

impl Field {
    /// True when `p` is this field's own kind of piece (a dose in the dose field...).
    fn owns(self, p: &Piece) -> bool {
        matches!(
            (self, p),
            (Field::Dose, Piece::Dose(_))
                | (Field::Frequency, Piece::Frequency(_))
                | (Field::Duration, Piece::Duration(_))
        )
    }
}

/// Reads a separate posology field into `med`. The field's own kind of piece wins over
/// what the name said; other pieces found in it only fill gaps. Free text that is not
/// posology becomes `Frequency::Text` / `Duration::Text` / `Route::Other`, or a note for
/// a dose (a dose has no free-text form), with an `Unreadable` warning.
pub(crate) fn apply_field(
    ctx: &mut Ctx<'_>,
    med: &mut Medication,
    field: Field,
    text: &str,
    path: &str,
) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    if field == Field::Route {
        med.route = Some(Route::parse(text).unwrap_or_else(|| Route::Other(text.to_string())));
        return;
    }
    let Scan {
        pieces,
        then,
        leftover,
    } = scan(text);
    if !pieces.iter().any(|p| field.owns(p)) {
        apply_free_text(ctx, med, field, text, &pieces, &leftover, path);
        return;
    }
    // «dosis: 300 mg carga, luego 75 mg» with «frecuencia: c/24h»: the frequency is the
    // maintenance step's, not the loading dose's.
    if then.is_empty()
        && let Some(ph) = maintenance_lacking(med, field)
    {
        absorb_all(ph, pieces);
    } else {
        apply_own_pieces(med, field, pieces);
        med.then.extend(later_steps(then));
    }
    for l in leftover {
        add_note(med, &l);
    }
}

/// The maintenance step a frequency or duration field belongs to: the last step of a
/// regimen with a loading dose, when that step still lacks the field.
fn maintenance_lacking(med: &mut Medication, field: Field) -> Option<&mut Phase> {
    let lacks = |ph: &Phase| match field {
        Field::Frequency => ph.frequency.is_none(),
        Field::Duration => ph.duration.is_none(),
        Field::Dose | Field::Route => false,
    };
    med.maintenance_phase_mut().filter(|ph| lacks(ph))
}

/// Adds every piece to a step without overwriting it; a second duration becomes a note.
fn absorb_all(phase: &mut Phase, pieces: Vec<Piece>) {
    for p in pieces {
        if let Some(Piece::Duration(d)) = phase.absorb(p) {
            phase.notes.push(d.to_string());
        }
    }
}

/// A field without a piece of its own kind: free text kept as written (`Frequency::Text`,
/// `Duration::Text`), «SOS» alone as «if needed», or a dose kept as a note with a warning.
fn apply_free_text(
    ctx: &mut Ctx<'_>,
    med: &mut Medication,
    field: Field,
    text: &str,
    pieces: &[Piece],
    leftover: &[String],
    path: &str,
) {
    match field {
        Field::Frequency if leftover.is_empty() && pieces == [Piece::AsNeeded] => {
            med.as_needed = true;
        }
        Field::Frequency => {
            let f = Frequency::Text(text.to_string());
            // «SOS dolor torácico»: kept as written, and given only if needed.
            med.as_needed |= f.says_as_needed();
            med.frequency = Some(f);
        }
        Field::Duration => {
            med.duration = Some(Duration::Text {
                text: text.to_string(),
            })
        }
        Field::Dose => {
            add_note(med, text);
            ctx.warn(
                WarningKind::Unreadable,
                path,
                format!(
                    "{text:?} could not be read as a dose (expected an amount and a unit, \
                     e.g. 1 g or 500 mg); kept as a note"
                ),
                format!(
                    "No se pudo interpretar «{text}» como dosis (se espera una cantidad y \
                     una unidad, p. ej. 1 g o 500 mg); se conservó como nota."
                ),
            );
        }
        Field::Route => {}
    }
}

/// Sets the first piece of the field's own kind (it wins over the name's) and lets the
/// other pieces fill gaps in the first step.
fn apply_own_pieces(med: &mut Medication, field: Field, pieces: Vec<Piece>) {
    let mut first_own = true;
    for p in pieces {
        if field.owns(&p) && first_own {
            first_own = false;
            match p {
                Piece::Dose(d) => med.dose = Some(d),
                Piece::Frequency(f) => med.frequency = Some(f),
                Piece::Duration(d) => med.duration = Some(d),
                _ => {}
            }
        } else {
            fill(med, p);
        }
    }
}

/// True when a parsed item carried any posology besides its name.
fn has_posology(p: &epicrisis_domain::posology::ParsedItem) -> bool {
    p.dose.is_some()
        || p.route.is_some()
        || p.frequency.is_some()
        || p.duration.is_some()
        || p.as_needed
        || !p.modifiers.is_empty()
        || !p.extra_doses.is_empty()
        || !p.then.is_empty()
}

/// A medication from one compact string (`"Amoxicilina 875mg VO c/12h 5d (J01CR02)"`).
pub(crate) fn from_string(ctx: &mut Ctx<'_>, raw: &str, path: &str) -> Medication {
    let raw = raw.trim();
    let p = parse_item(raw);
    let mut med = Medication::named(p.name.clone(), ItemKind::Drug);
    med.dose = p.dose;
    med.extra_doses = p.extra_doses;
    med.route = p.route;
    med.frequency = p.frequency;
    med.duration = p.duration;
    med.as_needed = p.as_needed;
    med.notes = p.modifiers;
    med.notes.extend(p.unparsed);
    med.then = p.then;
    med.code = codes::atc(ctx, p.code.as_deref(), path, &p.name);
    med.raw = Some(raw.to_string());
    med.kind = classify(raw, &med);
    med
}

/// A medication from a `{codigo, nombre, dosis, via, frecuencia, duracion, inicio, fin}`
/// object. A name that carries posology (`"Meropenem 1g c/8h"`) is split into the clean
/// name and the pieces, which fill the fields the object leaves empty.
pub(crate) fn from_object(
    ctx: &mut Ctx<'_>,
    m: &serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Result<Medication, crate::IngestError> {
    let Some(nombre) = json::text(ctx, m, "nombre", path)? else {
        return Err(crate::json::missing(
            ctx,
            m,
            path,
            "nombre",
            "the medication's name, e.g. \"Ceftriaxona\"",
        ));
    };
    let p = parse_item(&nombre);
    let mut med;
    let mut codigo = json::text_or_number(ctx, m, "codigo", path)?;
    let mut code_path = json::key(path, "codigo");
    if has_posology(&p) || p.code.is_some() {
        med = Medication::named(p.name.clone(), ItemKind::Drug);
        med.dose = p.dose;
        med.extra_doses = p.extra_doses;
        med.route = p.route;
        med.frequency = p.frequency;
        med.duration = p.duration;
        med.as_needed = p.as_needed;
        med.notes = p.modifiers;
        med.notes.extend(p.unparsed);
        med.then = p.then;
        med.raw = Some(nombre.clone());
        if codigo.is_none() {
            codigo = p.code;
            code_path = json::key(path, "nombre");
        }
    } else {
        med = Medication::named(nombre.clone(), ItemKind::Drug);
    }
    let mut described = vec![nombre.clone()];
    for (k, field) in [
        ("dosis", Field::Dose),
        ("via", Field::Route),
        ("frecuencia", Field::Frequency),
        ("duracion", Field::Duration),
    ] {
        // A posology field that cannot be read leaves the drug standing, with a warning.
        let read = json::text_or_number(ctx, m, k, path);
        if let Some(t) = json::recover(ctx, read, None, "se omitió ese dato del medicamento") {
            apply_field(ctx, &mut med, field, &t, &json::key(path, k));
            described.push(t);
        }
    }
    med.start = crate::rich::date_field(ctx, m, "inicio", path)?;
    med.end = crate::rich::date_field(ctx, m, "fin", path)?;
    if let (Some(s), Some(e)) = (med.start, med.end)
        && e < s
    {
        ctx.warn(
            WarningKind::Inconsistent,
            &json::key(path, "fin"),
            format!("the treatment ends ({e}) before it starts ({s})"),
            format!(
                "La fecha de término del tratamiento ({e}) es anterior a la de inicio ({s}). \
                 Verifique ambas fechas."
            ),
        );
    }
    let name = med.name.clone();
    med.code = codes::atc(ctx, codigo.as_deref(), &code_path, &name);
    med.kind = classify(&described.join(" "), &med);
    Ok(med)
}

/// First words of items that are follow-up, not treatment.
const CONTROL_HEADS: &[&str] = &[
    "control",
    "controles",
    "interconsulta",
    "evaluacion",
    "reevaluacion",
    "derivacion",
    "citacion",
    "cita",
    "seguimiento",
    "policlinico",
    "consulta",
];

/// First words of non-drug therapy and care (uncoded fluids included, as DOMAIN.md asks).
const THERAPY_HEADS: &[&str] = &[
    "oxigeno",
    "o2",
    "oxigenoterapia",
    "dieta",
    "regimen",
    "alimentacion",
    "ayuno",
    "nutricion",
    "transfusion",
    "transfusiones",
    "hidratacion",
    "sueroterapia",
    "suero",
    "cristaloides",
    "coloides",
    "plasma",
    "plaquetas",
    "crioprecipitado",
    "globulos",
    "kinesioterapia",
    "knt",
    "kine",
    "fisioterapia",
    "fonoaudiologia",
    "terapia",
    "reposo",
    "curacion",
    "curaciones",
    "bano",
    "banos",
    "aseo",
    "hipotermia",
    "aislamiento",
    "ventilacion",
    "vmni",
    "cpap",
    "ejercicios",
    "movilizacion",
    "cuidados",
    "educacion",
];

/// Drug, therapy or control, from the item's text (name and posology) and its code.
///
/// Order matters: a parsed ATC code settles it; a leading "Control"/"Interconsulta" or a
/// therapy word beats a drug name inside ("Control de INR con acenocumarol"); anything
/// pending is a follow-up; then a drug or drug class the lexicon knows; then outpatient
/// or scheduled studies and procedures; an item with a dose is still a drug.
pub(crate) fn classify(text: &str, med: &Medication) -> ItemKind {
    if med.code.as_ref().is_some_and(|c| c.parsed.is_some()) {
        return ItemKind::Drug;
    }
    let folded = fold_words(text);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    let Some(first) = words.first() else {
        return ItemKind::Therapy;
    };
    if CONTROL_HEADS.contains(first) {
        return ItemKind::Control;
    }
    if THERAPY_HEADS.contains(first) {
        return ItemKind::Therapy;
    }
    if words.iter().any(|w| w.starts_with("pendiente")) {
        return ItemKind::Control;
    }
    let kinds = concept_kinds(&med.name);
    if kinds
        .iter()
        .any(|k| matches!(k, ConceptKind::Drug | ConceptKind::DrugClass))
    {
        return ItemKind::Drug;
    }
    if words
        .iter()
        .any(|w| w.contains("ambulatori") || w.contains("programad"))
        || kinds
            .iter()
            .any(|k| matches!(k, ConceptKind::Procedure | ConceptKind::Lab))
        || words.iter().any(|w| lexicon::is_procedure_word(w))
    {
        return ItemKind::Control;
    }
    if med.dose.is_some() || (med.route.is_some() && med.frequency.is_some()) {
        return ItemKind::Drug;
    }
    ItemKind::Therapy
}

fn concept_kinds(name: &str) -> Vec<ConceptKind> {
    let lx = lexicon::lexicon();
    let chars: Vec<char> = name.chars().collect();
    let tokens = tokenize_chars(&chars);
    let content = lexicon::content_tokens(&chars, &tokens);
    let all_caps = !chars.iter().any(|c| c.is_lowercase());
    lx.find_terms(&content, all_caps)
        .iter()
        .flat_map(|m| m.concepts.iter().map(|id| lx.concept(*id).kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use epicrisis_domain::{DoseUnit, TimeUnit};

    fn med(raw: &str) -> Medication {
        let mut ctx = Ctx::new("t", None);
        from_string(&mut ctx, raw, "med[0]")
    }

    #[test]
    fn compact_items_keep_raw_and_posology() {
        let m = med("Amoxicilina/Ac.clavulanico 875mg VO c/12h 5d (J01CR02)");
        assert_eq!(m.name, "Amoxicilina/Ac.clavulanico");
        assert_eq!(m.kind, ItemKind::Drug);
        assert_eq!(m.dose.as_ref().map(|d| d.unit), Some(DoseUnit::Mg));
        assert_eq!(m.route, Some(Route::Oral));
        assert_eq!(m.frequency, Some(Frequency::EveryHours(12.0)));
        assert_eq!(
            m.code.as_ref().map(|c| c.display()).as_deref(),
            Some("J01CR02")
        );
        assert_eq!(
            m.raw.as_deref(),
            Some("Amoxicilina/Ac.clavulanico 875mg VO c/12h 5d (J01CR02)")
        );
    }

    #[test]
    fn classifies_non_drug_items() {
        for (raw, kind) in [
            ("Control pediatria 48h", ItemKind::Control),
            ("Interconsulta nutricion", ItemKind::Control),
            ("Evaluacion por fonoaudiologia", ItemKind::Control),
            ("EEG ambulatorio", ItemKind::Control),
            ("Colecistectomia programada 6 semanas", ItemKind::Control),
            ("Vacuna neumococo pendiente", ItemKind::Control),
            ("Kinesioterapia intensiva", ItemKind::Therapy),
            ("Regimen liviano progresivo", ItemKind::Therapy),
            ("Transfusion 2U GR", ItemKind::Therapy),
            ("Oxigeno por naricera 2L/min", ItemKind::Therapy),
            ("Cristaloides EV", ItemKind::Therapy),
            ("Hidratacion oral abundante", ItemKind::Therapy),
            ("Fibra 5g VO c/24h", ItemKind::Drug),
            ("Complejo B VO c/24h", ItemKind::Drug),
            ("Paracetamol 1g VO c/8h (N02BE01)", ItemKind::Drug),
        ] {
            assert_eq!(med(raw).kind, kind, "{raw}");
        }
    }

    #[test]
    fn separate_fields_give_a_regimen_in_steps() {
        let mut ctx = Ctx::new("t", None);
        // A loading dose: the separate frequency is the maintenance step's.
        let mut m = Medication::named("Clopidogrel", ItemKind::Drug);
        apply_field(
            &mut ctx,
            &mut m,
            Field::Dose,
            "300 mg carga, luego 75 mg",
            "d",
        );
        apply_field(&mut ctx, &mut m, Field::Route, "VO", "v");
        apply_field(&mut ctx, &mut m, Field::Frequency, "c/24h", "f");
        assert_eq!(
            m.dose.as_ref().map(|d| d.amounts.clone()),
            Some(vec![300.0])
        );
        assert!(m.extra_doses.is_empty(), "{m:?}");
        assert_eq!(m.notes, vec!["carga".to_string()]);
        assert_eq!(m.frequency, None);
        assert_eq!(m.then.len(), 1, "{m:?}");
        assert_eq!(
            m.then[0].dose.as_ref().map(|d| d.amounts.clone()),
            Some(vec![75.0])
        );
        assert_eq!(m.then[0].frequency, Some(Frequency::EveryHours(24.0)));
        // The change after 21 days, written in the duration field.
        let mut m = Medication::named("Rivaroxaban", ItemKind::Drug);
        apply_field(&mut ctx, &mut m, Field::Dose, "15 mg", "d");
        apply_field(&mut ctx, &mut m, Field::Frequency, "cada 12 horas", "f");
        apply_field(
            &mut ctx,
            &mut m,
            Field::Duration,
            "Hasta completar 21 dias, luego 20 mg cada 24 horas por 3 meses",
            "u",
        );
        assert_eq!(m.frequency, Some(Frequency::EveryHours(12.0)));
        assert_eq!(
            m.duration,
            Some(Duration::Span {
                min: 21.0,
                max: None,
                unit: TimeUnit::Days
            })
        );
        assert_eq!(m.then.len(), 1, "{m:?}");
        let next = &m.then[0];
        assert_eq!(
            next.dose.as_ref().map(|d| d.amounts.clone()),
            Some(vec![20.0])
        );
        assert_eq!(next.frequency, Some(Frequency::EveryHours(24.0)));
        assert_eq!(
            next.duration,
            Some(Duration::Span {
                min: 3.0,
                max: None,
                unit: TimeUnit::Months
            })
        );
        assert!(m.notes.is_empty(), "{m:?}");
        // A taper without a loading dose: the separate frequency is the first step's.
        let mut m = Medication::named("Prednisona", ItemKind::Drug);
        apply_field(
            &mut ctx,
            &mut m,
            Field::Dose,
            "40 mg por 5 dias, luego 20 mg",
            "d",
        );
        apply_field(&mut ctx, &mut m, Field::Frequency, "c/24h", "f");
        assert_eq!(m.frequency, Some(Frequency::EveryHours(24.0)));
        assert_eq!(m.then.len(), 1);
    }

    #[test]
    fn separate_fields_parse_or_fall_back_to_text() {
        let mut ctx = Ctx::new("t", None);
        let mut m = Medication::named("Meropenem", ItemKind::Drug);
        apply_field(&mut ctx, &mut m, Field::Dose, "1 g", "d");
        apply_field(&mut ctx, &mut m, Field::Route, "endovenoso", "v");
        apply_field(&mut ctx, &mut m, Field::Frequency, "cada 8 horas", "f");
        apply_field(
            &mut ctx,
            &mut m,
            Field::Duration,
            "Completar esquema segun infectologia",
            "du",
        );
        assert_eq!(
            m.dose.as_ref().map(|d| d.to_string()).as_deref(),
            Some("1 g")
        );
        assert_eq!(m.route, Some(Route::Intravenous));
        assert_eq!(m.frequency, Some(Frequency::EveryHours(8.0)));
        assert_eq!(
            m.duration,
            Some(Duration::Text {
                text: "Completar esquema segun infectologia".into()
            })
        );
        assert!(ctx.warnings.is_empty());
        apply_field(&mut ctx, &mut m, Field::Duration, "por 7 días", "du");
        assert_eq!(
            m.duration,
            Some(Duration::Span {
                min: 7.0,
                max: None,
                unit: TimeUnit::Days
            })
        );
        apply_field(&mut ctx, &mut m, Field::Route, "intrapleural", "v");
        assert_eq!(m.route, Some(Route::Other("intrapleural".into())));
        apply_field(&mut ctx, &mut m, Field::Frequency, "SOS", "f");
        assert!(m.as_needed);
        apply_field(&mut ctx, &mut m, Field::Dose, "media tableta", "d");
        assert_eq!(ctx.warnings.len(), 1);
        assert!(m.notes.contains(&"media tableta".to_string()));
    }
}
