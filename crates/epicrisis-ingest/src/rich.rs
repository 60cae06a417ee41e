//! The rich canonical episode and the predecessor backend's clinical JSON.
//!
//! The two share most keys (`motivo_ingreso`, `diagnostico_ingreso`, `procedimientos`,
//! `tratamientos_intrahosp`, `diagnostico_egreso`, `indicaciones_alta`), so one reader
//! handles both with per-field variants: evolution arrives as `evolucion_resumen[{dia,
//! texto}]` or `evolucion[{fecha, nota, profesional}]`, laboratory data as summaries
//! (`laboratorios_resumen`) or raw results (`laboratorios_relevantes`, summarised here).

use crate::codes;
use crate::error::{ErrorKind, IngestError};
use crate::evolution;
use crate::items;
use crate::json::{self, Ctx, get, idx, key};
use crate::labs;
use epicrisis_domain::posology::split_trailing_code;
use epicrisis_domain::text::fold_words;
use epicrisis_domain::{
    Allergies, Date, Diagnosis, Episode, ItemKind, Medication, Patient, Procedure, Sex,
    SourceShape, WarningKind, summarize_labs,
};
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

/// Keys that only the predecessor's clinical JSON uses.
pub(crate) const PREDECESSOR_KEYS: &[&str] = &["evolucion", "laboratorios_relevantes"];

/// Keys of the rich episode (and, most of them, of the predecessor's shape).
pub(crate) const RICH_KEYS: &[&str] = &[
    "id_atencion",
    "paciente",
    "atencion",
    "motivo_ingreso",
    "antecedentes",
    "diagnostico_ingreso",
    "procedimientos",
    "tratamientos_intrahosp",
    "evolucion_resumen",
    "laboratorios_resumen",
    "diagnostico_egreso",
    "indicaciones_alta",
];

/// Keys of flatter exports that put the stay's facts at the top level.
pub(crate) const FLAT_KEYS: &[&str] =
    &["servicio", "fecha_ingreso", "fecha_alta", "medico_tratante"];

/// Reads a rich or predecessor episode object. `predecessor` forces the predecessor
/// shape (the API wrapper); otherwise it is chosen by the keys used.
pub(crate) fn read(ctx: &mut Ctx<'_>, m: &Obj, predecessor: bool) -> Result<Episode, IngestError> {
    let predecessor = predecessor || PREDECESSOR_KEYS.iter().any(|k| get(m, k).is_some());
    let shape = if predecessor {
        SourceShape::Predecessor
    } else {
        SourceShape::Rich
    };
    let mut ep = Episode::empty(shape);
    read_stay(ctx, m, &mut ep)?;
    // From here on, a section or an item that cannot be read is a warning at its path
    // (`json::recover`), and the rest is read: one odd field of a hospital export must
    // not block a discharge. Only an episode without any diagnosis is refused.
    read_clinical(ctx, m, &mut ep);
    read_labs(ctx, m, &mut ep);
    read_discharge(ctx, m, &mut ep);
    require_a_diagnosis(ctx, &ep)?;
    Ok(ep)
}

/// Identification and period: the episode number, the dates, service and physician (in
/// `atencion`, or at the top level in flatter exports), with warnings for ids and dates
/// that disagree.
fn read_stay(ctx: &mut Ctx<'_>, m: &Obj, ep: &mut Episode) -> Result<(), IngestError> {
    let atencion = match get(m, "atencion") {
        Some(v) => json::object(
            ctx,
            v,
            "atencion",
            "an object {id, fecha_ingreso, fecha_alta, servicio, medico_tratante}",
        )?
        .into_owned(),
        None => Obj::new(),
    };
    let top_id = json::text_or_number(ctx, m, "id_atencion", "")?;
    let att_id = json::text_or_number(ctx, &atencion, "id", "atencion")?;
    if let (Some(a), Some(b)) = (&top_id, &att_id)
        && a != b
    {
        ctx.warn(
            WarningKind::Inconsistent,
            "atencion.id",
            format!("{b:?} differs from id_atencion {a:?}; id_atencion is used"),
            format!(
                "El identificador «{b}» no coincide con id_atencion «{a}»; se usó id_atencion. \
                 Verifique que ambos correspondan a la misma atención."
            ),
        );
    }
    ep.id = top_id.or(att_id);
    // Dates, service and physician: in `atencion`, or at the top level in flatter exports.
    let (adm_path, adm) = first_date(ctx, &atencion, m, "fecha_ingreso")?;
    let (dis_path, dis) = first_date(ctx, &atencion, m, "fecha_alta")?;
    ep.admission_date = adm;
    ep.discharge_date = dis;
    ep.service = match json::text(ctx, &atencion, "servicio", "atencion")? {
        Some(s) => Some(s),
        None => json::text(ctx, m, "servicio", "")?,
    };
    ep.physician = match json::text(ctx, &atencion, "medico_tratante", "atencion")? {
        Some(s) => Some(s),
        None => json::text(ctx, m, "medico_tratante", "")?,
    };
    if let (Some(a), Some(d)) = (adm, dis)
        && d < a
    {
        ctx.warn(
            WarningKind::Inconsistent,
            &dis_path,
            format!("the discharge date {d} is before the admission date {a} ({adm_path})"),
            format!(
                "La fecha de alta ({d}) es anterior a la de ingreso ({a}, {adm_path}). \
                 Verifique ambas fechas."
            ),
        );
    }
    Ok(())
}

/// The patient, the reason, the history, the diagnoses, procedures, treatments and the
/// evolution notes.
fn read_clinical(ctx: &mut Ctx<'_>, m: &Obj, ep: &mut Episode) {
    let adm = ep.admission_date;
    if let Some(v) = get(m, "paciente") {
        let read = json::object(ctx, v, "paciente", "an object {sexo, edad, nombre, rut}")
            .map(|p| p.into_owned())
            .and_then(|p| read_patient(ctx, &p, "paciente", ep));
        json::recover(ctx, read, (), "se omitieron los datos del paciente");
    }

    let reason = json::text(ctx, m, "motivo_ingreso", "");
    ep.reason = json::recover(ctx, reason, None, "se omitió el motivo de ingreso");
    if let Some(v) = get(m, "antecedentes") {
        let read = read_history(ctx, v, ep);
        json::recover(ctx, read, (), "se omitieron los antecedentes");
    }
    ep.admission_diagnoses = diagnoses(ctx, m, "diagnostico_ingreso");
    ep.discharge_diagnoses = diagnoses(ctx, m, "diagnostico_egreso");
    if let Some(v) = get(m, "procedimientos") {
        ep.procedures = json::items(
            ctx,
            v,
            "procedimientos",
            "a list of {codigo, nombre, fecha} objects",
            (
                "se omitieron los procedimientos",
                "se omitió ese procedimiento",
            ),
            |ctx, item, p| procedure(ctx, item, p).map(Some),
        );
    }
    if let Some(v) = get(m, "tratamientos_intrahosp") {
        ep.treatments = medications(ctx, v, "tratamientos_intrahosp");
    }

    if let Some(v) = get(m, "evolucion_resumen") {
        let read = evolution::read(ctx, v, "evolucion_resumen", None, &mut ep.evolution);
        json::recover(ctx, read, (), "se omitieron las notas de evolución");
    }
    if let Some(v) = get(m, "evolucion") {
        let read = evolution::read(ctx, v, "evolucion", adm, &mut ep.evolution);
        json::recover(ctx, read, (), "se omitieron las notas de evolución");
    }
}

/// Laboratory data never blocks an episode: what cannot be read is a warning.
fn read_labs(ctx: &mut Ctx<'_>, m: &Obj, ep: &mut Episode) {
    if let Some(v) = get(m, "laboratorios_resumen") {
        ep.labs = json::items(
            ctx,
            v,
            "laboratorios_resumen",
            "a list of {prueba, unidad, ingreso, ultimo, periodo} objects",
            ("se omitieron los exámenes", "se omitió ese examen"),
            labs::lab_summary,
        );
    }
    if let Some(v) = get(m, "laboratorios_relevantes") {
        let raw = json::items(
            ctx,
            v,
            "laboratorios_relevantes",
            "a list of {parametro, valor, fecha} objects",
            ("se omitieron los exámenes", "se omitió ese resultado"),
            labs::lab_result,
        );
        ep.labs.extend(summarize_labs(&raw));
    }
    ep.lab_findings.append(&mut ctx.lab_findings);
}

/// `indicaciones_alta`: its lists, and its drugs routed to where they belong.
fn read_discharge(ctx: &mut Ctx<'_>, m: &Obj, ep: &mut Episode) {
    if let Some(v) = get(m, "indicaciones_alta") {
        let ia = json::object(
            ctx,
            v,
            "indicaciones_alta",
            "an object {medicamentos, controles, cuidados, signos_alarma, recomendaciones}",
        )
        .map(|o| o.into_owned());
        let ia = json::recover(ctx, ia, Obj::new(), "se omitieron las indicaciones al alta");
        let mut list = |k: &str| {
            let read = json::string_list(ctx, &ia, k, "indicaciones_alta");
            json::recover(ctx, read, Vec::new(), "se omitió esa lista")
        };
        let d = &mut ep.discharge;
        d.controls = list("controles");
        d.care = list("cuidados");
        d.warning_signs = list("signos_alarma");
        d.recommendations = list("recomendaciones");
        if let Some((_, v)) = json::get_any(&ia, &["medicamentos", "farmacos", "medicamentos_alta"])
        {
            let meds = medications(ctx, v, "indicaciones_alta.medicamentos");
            route_discharge_items(meds, &mut ep.discharge);
        }
    }
}

/// Refuses an episode without any diagnosis, saying why when the diagnoses were there
/// but could not be read.
fn require_a_diagnosis(ctx: &mut Ctx<'_>, ep: &Episode) -> Result<(), IngestError> {
    if ep.admission_diagnoses.is_empty() && ep.discharge_diagnoses.is_empty() {
        let unread: Vec<String> = ctx
            .warnings
            .iter()
            .filter(|w| w.path.starts_with("diagnostico_"))
            .map(|w| w.message.clone())
            .collect();
        let why = if unread.is_empty() {
            "both missing or empty".to_string()
        } else {
            unread.join("; ")
        };
        return Err(ctx.err(
            ErrorKind::Missing,
            "",
            format!(
                "no diagnosis found: looked for diagnostico_ingreso and diagnostico_egreso \
                 ({why}); an episode needs at least one admission or discharge diagnosis"
            ),
        ));
    }
    Ok(())
}

/// Sends discharge items to where they belong: drugs to medications, follow-up to
/// controls, other care to care (as the item's text).
pub(crate) fn route_discharge_items(
    meds: Vec<Medication>,
    d: &mut epicrisis_domain::DischargeInstructions,
) {
    for med in meds {
        match med.kind {
            ItemKind::Drug => d.medications.push(med),
            ItemKind::Control => d.controls.push(item_text(&med)),
            ItemKind::Therapy => d.care.push(item_text(&med)),
        }
    }
}

/// The item as one line of text: the source string when it came as one, otherwise the
/// name followed by what was read from the separate fields.
fn item_text(med: &Medication) -> String {
    if let Some(raw) = &med.raw {
        return raw.clone();
    }
    let steps: Vec<String> = med
        .phases()
        .iter()
        .map(|p| {
            let mut parts: Vec<String> = p.doses().map(ToString::to_string).collect();
            parts.extend(p.route.iter().map(ToString::to_string));
            parts.extend(p.frequency.iter().map(ToString::to_string));
            parts.extend(p.duration.iter().map(ToString::to_string));
            if p.as_needed {
                parts.push("SOS".to_string());
            }
            parts.extend(p.notes.iter().cloned());
            parts.join(" ")
        })
        .filter(|s| !s.is_empty())
        .collect();
    if steps.is_empty() {
        med.name.clone()
    } else {
        format!("{} {}", med.name, steps.join(", luego "))
    }
}

fn first_date(
    ctx: &mut Ctx<'_>,
    atencion: &Obj,
    top: &Obj,
    k: &str,
) -> Result<(String, Option<Date>), IngestError> {
    if get(atencion, k).is_some() {
        Ok((
            key("atencion", k),
            date_field(ctx, atencion, k, "atencion")?,
        ))
    } else {
        Ok((k.to_string(), date_field(ctx, top, k, "")?))
    }
}

/// A date field; an unreadable date is a warning and `None`, never an error.
pub(crate) fn date_field(
    ctx: &mut Ctx<'_>,
    m: &Obj,
    k: &str,
    path: &str,
) -> Result<Option<Date>, IngestError> {
    let Some(raw) = json::text_or_number(ctx, m, k, path)? else {
        return Ok(None);
    };
    Ok(parse_date(ctx, &raw, &key(path, k)))
}

pub(crate) fn parse_date(ctx: &mut Ctx<'_>, raw: &str, path: &str) -> Option<Date> {
    match Date::parse(raw) {
        Ok(d) => Some(d),
        Err(e) => {
            ctx.warn(
                WarningKind::Unreadable,
                path,
                format!("{e}; left out"),
                format!(
                    "«{}» no es una fecha válida (se espera AAAA-MM-DD, opcionalmente seguida de \
                     la hora, o DD/MM/AAAA); se omitió.",
                    e.0
                ),
            );
            None
        }
    }
}

/// Reads patient fields from `paciente` or the wrapper's `patientInfo`, filling only what
/// is still empty.
pub(crate) fn read_patient(
    ctx: &mut Ctx<'_>,
    p: &Obj,
    path: &str,
    ep: &mut Episode,
) -> Result<(), IngestError> {
    // Each field is read on its own: a field of the wrong type is a warning at its path
    // and the others are still read.
    let pat = &mut ep.patient;
    if pat.name.is_none() {
        let name = match json::get_any(p, &["nombre", "name", "nombre_completo"]) {
            Some((k, v)) => json::text_value(ctx, v, &key(path, k)),
            None => Ok(None),
        };
        pat.name = json::recover(ctx, name, None, "se omitió el nombre");
    }
    if pat.identifier.is_none() {
        for k in ["rut", "run", "identificador", "ficha"] {
            let id = json::text_or_number(ctx, p, k, path);
            if let Some(s) = json::recover(ctx, id, None, "se omitió el identificador") {
                pat.identifier = Some(s);
                break;
            }
        }
    }
    if pat.sex.is_none()
        && let Some((k, v)) = json::get_any(p, &["sexo", "sex", "genero", "gender"])
    {
        read_sex(ctx, v, &key(path, k), pat);
    }
    if pat.age.is_none()
        && let Some((k, v)) = json::get_any(p, &["edad", "age"])
    {
        read_age(ctx, v, &key(path, k), pat);
    }
    age_from_birth_date(ctx, p, path, ep);
    Ok(())
}

/// The sex: F, M, femenino, masculino or otro; anything else is a warning at `kp`.
fn read_sex(ctx: &mut Ctx<'_>, v: &Value, kp: &str, pat: &mut Patient) {
    let sex = json::text_value(ctx, v, kp);
    if let Some(s) = json::recover(ctx, sex, None, "se omitió el sexo") {
        pat.sex = parse_sex(&s);
        if pat.sex.is_none() {
            ctx.warn(
                WarningKind::Unreadable,
                kp,
                format!(
                    "{s:?} is not a sex (expected F, M, femenino, masculino or otro); left out"
                ),
                format!(
                    "«{s}» no es un valor de sexo reconocido (se espera F, M, femenino, \
                     masculino u otro); se omitió."
                ),
            );
        }
    }
}

/// The age: whole years (68) or a text («8 meses», «12 días»: in days under two years);
/// anything else but null is a warning at `kp`.
fn read_age(ctx: &mut Ctx<'_>, v: &Value, kp: &str, pat: &mut Patient) {
    let age = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|a| a.fract() == 0.0)
            .map(|a| (a as i64, None)),
        Value::String(s) => age_text(s),
        _ => None,
    };
    match age.filter(|(a, _)| (0..=130).contains(a)) {
        Some((a, days)) => {
            pat.age = u32::try_from(a).ok();
            pat.age_days = days;
        }
        None if v.is_null() => {}
        None => ctx.warn(
            WarningKind::Unreadable,
            kp,
            format!(
                "{} is not an age (expected a whole number of years such as 68, or \"8 meses\", \"12 días\"); left out",
                json::describe(v)
            ),
            format!(
                "Se recibió {}, que no es una edad válida (se espera un número entero de \
                 años, p. ej. 68, o «8 meses», «12 días»); se omitió.",
                json::describe_es(v)
            ),
        ),
    }
}

/// The birth date when no age was read, or when the age says less than two years («0
/// años» for an infant): age at admission, in days under two years.
fn age_from_birth_date(ctx: &mut Ctx<'_>, p: &Obj, path: &str, ep: &mut Episode) {
    if ep.patient.age.is_none_or(|a| a < 2)
        && ep.patient.age_days.is_none()
        && let Some((k, v)) = json::get_any(p, &["fechaNacimiento", "fecha_nacimiento"])
        && let birth = json::text_value(ctx, v, &key(path, k))
        && let Some(raw) = json::recover(ctx, birth, None, "se omitió la fecha de nacimiento")
        && let Some(birth) = parse_date(ctx, &raw, &key(path, k))
        && let Some(at) = ep.admission_date.or(ep.discharge_date)
    {
        let mut years = at.year() - birth.year();
        if (at.month(), at.day()) < (birth.month(), birth.day()) {
            years -= 1;
        }
        ep.patient.age = u32::try_from(years).ok();
        let days = birth.days_until(at);
        ep.patient.age_days = u32::try_from(days).ok().filter(|d| *d < 730);
    }
}

/// An age as text: «68», «68 años», «8 meses», «3 semanas», «12 días», «1 año 3 meses».
/// Returns whole years and, under two years, the age in days.
fn age_text(s: &str) -> Option<(i64, Option<u32>)> {
    let f = fold_words(s);
    let words: Vec<&str> = f.split(' ').filter(|w| !w.is_empty()).collect();
    let mut days = 0f64;
    let mut any = false;
    let mut finer = false;
    let mut i = 0;
    while i < words.len() {
        // «8m» and «8 m» alike.
        let w = words[i];
        let digits: String = w.chars().take_while(char::is_ascii_digit).collect();
        let n: f64 = digits.parse().ok()?;
        let glued = &w[digits.len()..];
        let unit = if glued.is_empty() {
            i += 1;
            words.get(i).copied().unwrap_or("anos")
        } else {
            glued
        };
        let per = match unit {
            "anos" | "ano" | "a" | "y" => 365.25,
            "meses" | "mes" | "m" => 30.4375,
            "semanas" | "semana" | "sem" | "s" => 7.0,
            "dias" | "dia" | "d" => 1.0,
            _ => return None,
        };
        days += n * per;
        any = true;
        finer |= per < 365.0;
        i += 1;
        if words.get(i) == Some(&"y") {
            i += 1;
        }
    }
    if !any {
        return None;
    }
    let years = (days / 365.25).floor() as i64;
    // Years alone say nothing finer than years.
    let under_two = (finer && days < 730.0).then(|| days.round() as u32);
    Some((years, under_two))
}

fn parse_sex(s: &str) -> Option<Sex> {
    match fold_words(s).as_str() {
        "f" | "fem" | "femenino" | "femenina" | "mujer" | "female" | "woman" => Some(Sex::Female),
        "m" | "masc" | "masculino" | "hombre" | "male" | "man" => Some(Sex::Male),
        "o" | "x" | "otro" | "otra" | "other" | "indeterminado" | "intersexual" => Some(Sex::Other),
        _ => None,
    }
}

fn read_history(ctx: &mut Ctx<'_>, v: &Value, ep: &mut Episode) -> Result<(), IngestError> {
    let path = "antecedentes";
    if let Value::String(s) = v
        && !s.trim_start().starts_with('{')
    {
        if let Some(t) = json::non_empty(s) {
            ep.history.other.push(t);
        }
        return Ok(());
    }
    let a = json::object(ctx, v, path, "an object {medicos, quirurgicos, alergias}")?;
    ep.history.medical = json::string_list(ctx, &a, "medicos", path)?;
    ep.history.surgical = json::string_list(ctx, &a, "quirurgicos", path)?;
    if let Some(al) = get(&a, "alergias") {
        let items = json::list(
            ctx,
            al,
            &key(path, "alergias"),
            "a string or a list of strings",
            true,
        )?;
        let mut known = Vec::new();
        let mut none_known = false;
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = json::text_value(ctx, item, &idx(&key(path, "alergias"), i))? {
                if is_no_allergy(&s) {
                    none_known = true;
                } else {
                    known.push(s);
                }
            }
        }
        ep.history.allergies = if !known.is_empty() {
            Allergies::Known(known)
        } else if none_known {
            Allergies::NoneKnown
        } else {
            Allergies::NotRecorded
        };
    }
    // Anything else recorded (habits, usual medication): kept as written.
    for (k, v) in a.iter() {
        if matches!(k.as_str(), "medicos" | "quirurgicos" | "alergias") {
            continue;
        }
        match v {
            Value::String(s) => ep.history.other.extend(json::non_empty(s)),
            Value::Array(items) => ep.history.other.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(json::non_empty),
            ),
            _ => {}
        }
    }
    Ok(())
}

/// "Sin alergias conocidas", "No refiere", "niega", "no", "ninguna" and the like.
pub(crate) fn is_no_allergy(s: &str) -> bool {
    const FILLER: &[&str] = &[
        "alergia",
        "alergias",
        "conocida",
        "conocidas",
        "conocido",
        "conocidos",
        "medicamentosa",
        "medicamentosas",
        "a",
        "medicamentos",
        "farmacos",
        "de",
        "refiere",
        "presenta",
        "tiene",
        "registra",
    ];
    let folded = fold_words(s);
    let core: Vec<&str> = folded
        .split(' ')
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .collect();
    matches!(
        core.join(" ").as_str(),
        "sin" | "niega" | "no" | "ninguna" | "ninguno" | "nada" | "negativo" | "nkda"
    ) || matches!(
        folded.as_str(),
        "no refiere" | "no presenta" | "no tiene" | "no registra"
    )
}

fn diagnoses(ctx: &mut Ctx<'_>, m: &Obj, k: &str) -> Vec<Diagnosis> {
    match get(m, k) {
        Some(v) => json::items(
            ctx,
            v,
            k,
            "a list of {codigo, nombre} objects",
            (
                "se omitieron esos diagnósticos",
                "se omitió ese diagnóstico",
            ),
            diagnosis,
        ),
        None => Vec::new(),
    }
}

/// One diagnosis: an object `{codigo, nombre}` or a string `"Nombre (CODIGO)"`.
fn diagnosis(ctx: &mut Ctx<'_>, item: &Value, p: &str) -> Result<Option<Diagnosis>, IngestError> {
    if let Value::String(s) = item {
        return Ok(diagnosis_from_string(ctx, s, p));
    }
    let o = json::object(ctx, item, p, "a {codigo, nombre} object")?;
    let Some(name) = json::text(ctx, &o, "nombre", p)? else {
        return Err(json::missing(
            ctx,
            &o,
            p,
            "nombre",
            "the diagnosis as written, e.g. \"Neumonía adquirida en la comunidad\"",
        ));
    };
    let raw = json::text_or_number(ctx, &o, "codigo", p)?;
    let code_path = key(p, "codigo");
    note_numeric_code(ctx, &o, &code_path);
    Ok(Some(Diagnosis {
        name,
        code: codes::icd10(ctx, raw.as_deref(), &code_path),
    }))
}

/// A code sent as a JSON number may have lost trailing zeros (`48.50` → `48.5`).
fn note_numeric_code(ctx: &mut Ctx<'_>, o: &Obj, path: &str) {
    if let Some(Value::Number(n)) = get(o, "codigo") {
        ctx.warn(
            WarningKind::Normalised,
            path,
            format!(
                "the code is a JSON number, read as \"{n}\" (a trailing zero may have been \
                 lost; export codes as strings)"
            ),
            format!(
                "El código viene como número y se leyó como «{n}»; pudo perderse un cero final. \
                 Verifique el código en la fuente (los códigos deben exportarse como texto)."
            ),
        );
    }
}

/// A diagnosis written as one string, `"Neumonia lobar (J18.1)"`. Empty strings are skipped.
pub(crate) fn diagnosis_from_string(ctx: &mut Ctx<'_>, s: &str, path: &str) -> Option<Diagnosis> {
    let (name, code) = split_trailing_code(s.trim());
    let name = json::non_empty(name)?;
    Some(Diagnosis {
        name,
        code: codes::icd10(ctx, code, path),
    })
}

/// A procedure written as one string, `"Hernioplastia umbilical (53.49)"`.
pub(crate) fn procedure_from_string(ctx: &mut Ctx<'_>, s: &str, path: &str) -> Option<Procedure> {
    let (name, code) = split_trailing_code(s.trim());
    let name = json::non_empty(name)?;
    Some(Procedure {
        name,
        code: codes::procedure(ctx, code, path),
        date: None,
    })
}

fn procedure(ctx: &mut Ctx<'_>, item: &Value, p: &str) -> Result<Procedure, IngestError> {
    if let Value::String(s) = item
        && !s.trim_start().starts_with('{')
    {
        return procedure_from_string(ctx, s, p).ok_or_else(|| {
            ctx.err(
                ErrorKind::Missing,
                p,
                "empty procedure; remove it or write its name",
            )
        });
    }
    let o = json::object(ctx, item, p, "a {codigo, nombre, fecha} object")?;
    let Some(name) = json::text(ctx, &o, "nombre", p)? else {
        return Err(json::missing(
            ctx,
            &o,
            p,
            "nombre",
            "the procedure as written, e.g. \"Colecistectomía laparoscópica\"",
        ));
    };
    let raw = json::text_or_number(ctx, &o, "codigo", p)?;
    let code_path = key(p, "codigo");
    note_numeric_code(ctx, &o, &code_path);
    Ok(Procedure {
        name,
        code: codes::procedure(ctx, raw.as_deref(), &code_path),
        date: date_field(ctx, &o, "fecha", p)?,
    })
}

/// A list of medications: objects, or compact strings.
fn medications(ctx: &mut Ctx<'_>, v: &Value, path: &str) -> Vec<Medication> {
    json::items(
        ctx,
        v,
        path,
        "a list of {codigo, nombre, dosis, via, frecuencia} objects",
        (
            "se omitieron esos medicamentos",
            "se omitió ese medicamento",
        ),
        |ctx, item, p| match item {
            Value::String(s) if !s.trim_start().starts_with('{') => {
                Ok((!s.trim().is_empty()).then(|| items::from_string(ctx, s, p)))
            }
            _ => {
                let o = json::object(
                    ctx,
                    item,
                    p,
                    "a {codigo, nombre, dosis, via, frecuencia} object",
                )?;
                items::from_object(ctx, &o, p).map(Some)
            }
        },
    )
}

#[cfg(test)]
mod tests;
