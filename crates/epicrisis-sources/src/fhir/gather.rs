//! The FHIR source's requests: the listing of discharged encounters, and one episode's
//! resources (per-kind searches or `$everything`), page by page, with their text
//! attachments.

use super::bundle::{
    Gathered, assemble, attachment_data, diagnosis_refs, fhir_id, inline_attachment, is_bundle,
    kind, medication_refs, next_link, search_resources, select_discharges, summary,
    text_attachments, typed_id,
};
use super::client::{Answer, Http, Reply};
use crate::{Discharge, Fetched, Since, SourceError, settings};
use reqwest::Url;
use serde_json::Value;
use std::collections::HashSet;

/// The searches by encounter, in the order the Bundle lists them: the kind, its search
/// parameter for the encounter (R4 calls it `context` on MedicationStatement and
/// MedicationAdministration), and whether a server may lack it (then its 400/404/405/501
/// is noted in the summary instead of failing the episode).
const KINDS: [(&str, &str, bool); 7] = [
    ("Condition", "encounter", false),
    ("Procedure", "encounter", true),
    ("MedicationStatement", "context", true),
    ("MedicationAdministration", "context", true),
    ("MedicationRequest", "encounter", false),
    ("Observation", "encounter", false),
    ("DocumentReference", "encounter", true),
];

/// Every page of a search, or the 4xx answer to its first page.
enum Pages {
    All(Vec<Value>),
    Status(Answer),
}

/// The encounters discharged on or after `since`, oldest first.
pub(super) async fn discharges(http: &Http, since: Since) -> Result<Vec<Discharge>, SourceError> {
    let date = format!("ge{}", since.iso());
    let count = http.page_size.to_string();
    let url = http.url(
        &["Encounter"],
        &[("status", "finished"), ("date", &date), ("_count", &count)],
    );
    let what = "la búsqueda de Encounter dados de alta";
    match search(http, url, Some("Encounter"), what).await? {
        Pages::All(list) => Ok(select_discharges(&list, since)),
        Pages::Status(a) => Err(http.remote(&a, what)),
    }
}

/// Follows a search's `next` links; at most `max_pages` pages, none twice.
async fn search(
    http: &Http,
    first: Url,
    only: Option<&str>,
    what: &str,
) -> Result<Pages, SourceError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut next = Some(first);
    let mut pages = 0u32;
    while let Some(url) = next.take() {
        if !seen.insert(url.as_str().to_string()) {
            return Err(
                http.answer_error(what, "el servidor repite una página (enlace next circular)")
            );
        }
        pages += 1;
        if pages > http.max_pages {
            return Err(http.answer_error(
                what,
                &format!(
                    "más de {} páginas de {} resultados; se dejó de leer (¿una paginación que no \
                     termina, o una fecha demasiado antigua?)",
                    http.max_pages, http.page_size
                ),
            ));
        }
        let bundle = match http.get_json(&url, what).await? {
            Reply::Json(v) if is_bundle(&v) => v,
            Reply::Json(_) => return Err(http.answer_error(what, "la respuesta no es un Bundle")),
            Reply::Status(a) if pages == 1 => return Ok(Pages::Status(a)),
            Reply::Status(a) => return Err(http.remote(&a, what)),
        };
        out.extend(search_resources(&bundle, only));
        next = next_link(&bundle, http.base()).map_err(|d| http.answer_error(what, &d))?;
    }
    Ok(Pages::All(out))
}

/// One episode as a `collection` Bundle with its summary.
pub(super) async fn episode(
    http: &Http,
    id: &str,
    everything: bool,
) -> Result<Fetched, SourceError> {
    let id = id.trim();
    if !fhir_id(id) {
        let shown: String = id.chars().take(70).collect();
        return Err(SourceError::NotFound {
            detail: format!(
                "«{shown}» no es un id de Encounter FHIR (1 a 64 letras, dígitos, - o .)"
            ),
        });
    }
    let (mut got, skipped) = if everything {
        (everything_of(http, id).await?, Vec::new())
    } else {
        by_kind(http, id).await?
    };
    let inlined = inline_attachments(http, &mut got).await?;
    let bundle = assemble(http.base_text(), id, got.into_vec());
    let mut text = summary(&bundle);
    if inlined > 0 {
        text.push_str(&format!("; {inlined} adjunto(s) leído(s) del servidor"));
    }
    if !skipped.is_empty() {
        text.push_str(&format!(
            "; el servidor no ofrece la búsqueda de {}",
            skipped.join(", ")
        ));
    }
    let document =
        serde_json::to_vec(&bundle).map_err(|e| http.answer_error("el Bundle", &e.to_string()))?;
    Ok(Fetched {
        id: id.to_string(),
        document,
        summary: text,
    })
}

/// `Encounter/{id}`; 404 or 410 is `NotFound`.
async fn read_encounter(http: &Http, id: &str) -> Result<Value, SourceError> {
    let what = format!("Encounter/{id}");
    match http
        .get_json(&http.url(&["Encounter", id], &[]), &what)
        .await?
    {
        Reply::Json(v) if kind(&v) == Some("Encounter") => Ok(v),
        Reply::Json(_) => Err(http.answer_error(&what, "la respuesta no es un Encounter")),
        Reply::Status(a) if matches!(a.status, 404 | 410) => Err(SourceError::NotFound {
            detail: format!("{what} no está en {} ({})", http.base_text(), a.describe()),
        }),
        Reply::Status(a) => Err(http.remote(&a, &what)),
    }
}

/// The encounter, its patient, one search per kind, the Conditions and Medications
/// referenced but not found, and the patient's allergies; with the kinds the server
/// does not offer.
async fn by_kind(http: &Http, id: &str) -> Result<(Gathered, Vec<&'static str>), SourceError> {
    let encounter = read_encounter(http, id).await?;
    let subject = encounter
        .pointer("/subject/reference")
        .and_then(Value::as_str);
    let subject = subject.map(str::to_string);
    let diagnoses = diagnosis_refs(&encounter);
    let mut got = Gathered::default();
    got.add(encounter);
    let mut patient = None;
    if let Some(r) = subject.as_deref()
        && typed_id(r).is_some_and(|(ty, _)| ty == "Patient")
    {
        patient = read_patient(http, r).await?;
    }
    let patient_id = patient
        .as_ref()
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str);
    let patient_id = patient_id.map(str::to_string);
    if let Some(p) = patient {
        got.add(p);
    }
    let mut skipped = searches(http, &mut got, id).await?;
    read_named(http, &mut got, "Condition", diagnoses).await?;
    let medications = medication_refs(got.resources());
    read_named(http, &mut got, "Medication", medications).await?;
    if let Some(pid) = patient_id {
        let patient = format!("Patient/{pid}");
        if !search_into(
            http,
            &mut got,
            "AllergyIntolerance",
            ("patient", &patient),
            true,
        )
        .await?
        {
            skipped.push("AllergyIntolerance");
        }
    }
    Ok((got, skipped))
}

/// The Patient a subject reference names, when it is on this server; 404 is an error
/// (the Encounter names a patient the server does not have).
async fn read_patient(http: &Http, reference: &str) -> Result<Option<Value>, SourceError> {
    let Some(url) = http.resolve(reference) else {
        return Ok(None);
    };
    let what = "el Patient del Encounter";
    match http.get_json(&url, what).await? {
        Reply::Json(v) if kind(&v) == Some("Patient") => Ok(Some(v)),
        Reply::Json(_) => Err(http.answer_error(what, "la respuesta no es un Patient")),
        Reply::Status(a) if matches!(a.status, 404 | 410) => Err(http.answer_error(
            what,
            &format!(
                "el Encounter nombra un Patient que el servidor no tiene ({})",
                a.describe()
            ),
        )),
        Reply::Status(a) => Err(http.remote(&a, what)),
    }
}

/// The searches by encounter ([`KINDS`]); gives back the kinds the server lacks.
async fn searches(
    http: &Http,
    got: &mut Gathered,
    id: &str,
) -> Result<Vec<&'static str>, SourceError> {
    let encounter = format!("Encounter/{id}");
    let mut skipped = Vec::new();
    for (kind, param, optional) in KINDS {
        if !search_into(http, got, kind, (param, &encounter), optional).await? {
            skipped.push(kind);
        }
    }
    Ok(skipped)
}

/// Searches `kind?param=value` into `got`; `false` when an optional kind is not offered.
async fn search_into(
    http: &Http,
    got: &mut Gathered,
    kind: &str,
    (param, value): (&str, &str),
    optional: bool,
) -> Result<bool, SourceError> {
    let count = http.page_size.to_string();
    let url = http.url(&[kind], &[(param, value), ("_count", &count)]);
    let what = format!("la búsqueda de {kind}");
    match search(http, url, Some(kind), &what).await? {
        Pages::All(list) => {
            list.into_iter().for_each(|r| got.add(r));
            Ok(true)
        }
        Pages::Status(a) if optional && matches!(a.status, 400 | 404 | 405 | 501) => Ok(false),
        Pages::Status(a) => Err(http.remote(&a, &what)),
    }
}

/// Reads the resources of type `ty` that `references` name and no search returned (on
/// this server only); one the server does not have is left out.
async fn read_named(
    http: &Http,
    got: &mut Gathered,
    ty: &str,
    references: Vec<String>,
) -> Result<(), SourceError> {
    for reference in references {
        let Some((t, rid)) = typed_id(&reference) else {
            continue;
        };
        if t != ty || got.has(ty, rid) || http.resolve(&reference).is_none() {
            continue;
        }
        let what = format!("un {ty} referenciado");
        match http.get_json(&http.url(&[ty, rid], &[]), &what).await? {
            Reply::Json(v) if kind(&v) == Some(ty) => got.add(v),
            Reply::Json(_) => {
                return Err(http.answer_error(&what, &format!("la respuesta no es un {ty}")));
            }
            Reply::Status(a) if matches!(a.status, 404 | 410) => {}
            Reply::Status(a) => return Err(http.remote(&a, &what)),
        }
    }
    Ok(())
}

/// `Encounter/{id}/$everything`, every page; the Encounter is read apart when the
/// answer lacks it.
async fn everything_of(http: &Http, id: &str) -> Result<Gathered, SourceError> {
    let count = http.page_size.to_string();
    let url = http.url(&["Encounter", id, "$everything"], &[("_count", &count)]);
    let what = format!("Encounter/{id}/$everything");
    let list = match search(http, url, None, &what).await? {
        Pages::All(list) => list,
        Pages::Status(a) => return Err(everything_refused(http, id, &a, &what).await),
    };
    let mut got = Gathered::default();
    let has_it = list
        .iter()
        .any(|r| kind(r) == Some("Encounter") && r.get("id").and_then(Value::as_str) == Some(id));
    if !has_it {
        got.add(read_encounter(http, id).await?);
    }
    list.into_iter().for_each(|r| got.add(r));
    Ok(got)
}

/// Why `$everything` failed: the encounter is missing (`NotFound`), or the server does
/// not offer the operation (an error naming the setting that asks for it).
async fn everything_refused(http: &Http, id: &str, a: &Answer, what: &str) -> SourceError {
    if matches!(a.status, 404 | 410)
        && let Err(e) = read_encounter(http, id).await
    {
        return e;
    }
    SourceError::Remote {
        setting: settings::FHIR_EVERYTHING,
        detail: format!(
            "{what}: {}; el servidor no parece ofrecer Encounter/$everything: desactive {} para \
             leer el episodio con una búsqueda por tipo de recurso",
            a.describe(),
            settings::FHIR_EVERYTHING
        ),
    }
}

/// Fetches the text attachments given by URL on this server and inlines them as base64
/// `data`; one the server does not have is left as it is (the reader says so). Gives back
/// how many were inlined.
async fn inline_attachments(http: &Http, got: &mut Gathered) -> Result<usize, SourceError> {
    let what = "un adjunto de DocumentReference";
    let mut inlined = 0;
    for doc in got.resources_mut() {
        if kind(doc) != Some("DocumentReference") {
            continue;
        }
        for (index, href) in text_attachments(doc) {
            let Some(url) = http.resolve(&href) else {
                continue;
            };
            let answer = http.fetch(&url, what).await?;
            if matches!(answer.status, 404 | 410) {
                continue;
            }
            if !answer.ok() {
                return Err(http.remote(&answer, what));
            }
            if let Some((data, ct)) = attachment_data(answer.content_type.as_deref(), &answer.body)
            {
                inline_attachment(doc, index, data, ct);
                inlined += 1;
            }
        }
    }
    Ok(inlined)
}
