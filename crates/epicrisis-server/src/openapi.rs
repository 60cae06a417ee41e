//! The API's OpenAPI 3.1 document and its reading page.
//!
//! Every JSON route is registered through `utoipa_axum`'s router together with its
//! `#[utoipa::path]` description, so the document is built from the same handlers and
//! types that serve the requests: a route cannot be served without being described.
//! `GET /api/v1/openapi.json` serves the document and `GET /api/v1/docs` a page that
//! lists every operation by tag with its parameters, body and answers (rendered on the
//! server: no script from outside the hospital). Both are public: they describe the
//! program, never a patient. `scripts/test.sh` checks the document with an independent
//! validator (openapi-spec-validator), and the tests below check that every documented
//! operation is routed and that no API route bypasses the description.

use crate::AppState;
use crate::error::ErrorBody;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "epicrisis",
        description = "Borradores de epicrisis (informes de alta hospitalaria) validados contra \
                       los datos del episodio. Autenticación: una sesión del navegador (cookie \
                       y X-CSRF-Token en cada cambio) o un token de API (Authorization: Bearer). \
                       Los errores responden siempre ErrorBody."
    ),
    tags(
        (name = "episodios", description = "Importar, listar y leer episodios; validar un texto"),
        (name = "redacción", description = "Borradores en cola, con su avance y eventos"),
        (name = "versiones", description = "Guardar, leer y firmar versiones"),
        (name = "documentos", description = "PDF, Word, FHIR; verificar la huella de una versión"),
        (name = "archivo", description = "Casos similares entre las epicrisis firmadas"),
        (name = "bitácora", description = "El registro de auditoría y su verificación"),
        (name = "usuarios", description = "Cuentas (administración)"),
        (name = "tokens", description = "Tokens de API"),
        (name = "predecesor", description = "Las rutas del sistema anterior, con sus formas"),
        (name = "openai", description = "Compatible con la API de OpenAI, con el modelo local"),
        (name = "documentación", description = "Este documento"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

/// The two ways to authenticate, and the requirement that every operation has one.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "sesion",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        doc.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("token", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("sesion", Vec::<String>::new()),
        ]);
    }
}

/// Every JSON route of the server with the document that describes them.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::api::routes())
        .merge(crate::drafting::routes())
        .merge(crate::batches::routes())
        .merge(crate::record::routes())
        .merge(crate::tokens::routes())
        .merge(crate::openai::routes())
        .routes(routes!(openapi_json))
        .routes(routes!(docs_page))
}

/// The document, built once (the routes never change while the program runs).
pub fn document() -> Arc<utoipa::openapi::OpenApi> {
    static DOC: std::sync::OnceLock<Arc<utoipa::openapi::OpenApi>> = std::sync::OnceLock::new();
    DOC.get_or_init(|| Arc::new(api_routes().into_openapi()))
        .clone()
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "documentación", security(()),
    summary = "Documento OpenAPI de esta API",
    description = "El documento OpenAPI 3.1 de esta API, generado desde los mismos \
                   manejadores y tipos que atienden las solicitudes. Público: describe \
                   el programa, nunca a un paciente.",
    responses((status = 200, description = "El documento OpenAPI 3.1", body = Object)))]
async fn openapi_json() -> Json<Arc<utoipa::openapi::OpenApi>> {
    Json(document())
}

/// A page that lists every operation of this API.
#[utoipa::path(get, path = "/api/v1/docs", tag = "documentación", security(()),
    summary = "Página de referencia de esta API",
    description = "Una página HTML que lista cada operación de esta API por etiqueta, \
                   con sus parámetros, su cuerpo y sus respuestas (generada en el \
                   servidor, sin scripts externos). Pública.",
    responses((status = 200, description = "Una página HTML", content_type = "text/html")))]
async fn docs_page(State(state): State<AppState>) -> Response {
    let doc = serde_json::to_value(&*document()).unwrap_or(Value::Null);
    let tmpl = state.templates.get_template("api-docs.html");
    let html = tmpl.and_then(|t| {
        t.render(context! {
            title => doc["info"]["title"], version => doc["info"]["version"],
            description => doc["info"]["description"], groups => groups(&doc),
        })
    });
    match html {
        Ok(html) => {
            let mut r = Html(html).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => crate::error::ApiError::internal(e).into_response(),
    }
}

/// One operation as the page shows it.
#[derive(Serialize)]
struct Operation {
    method: String,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<String>,
    body: Option<String>,
    responses: Vec<String>,
    public: bool,
}

/// The operations grouped by tag, in the document's tag order.
#[derive(Serialize)]
struct Group {
    name: String,
    description: String,
    operations: Vec<Operation>,
}

fn schema_name(content: &Value) -> Option<String> {
    let (mime, media) = content.as_object()?.iter().next()?;
    let schema = &media["schema"];
    let short = |r: &str| r.rsplit('/').next().unwrap_or(r).to_string();
    let name = if let Some(r) = schema["$ref"].as_str() {
        Some(short(r))
    } else if let Some(r) = schema["items"]["$ref"].as_str() {
        Some(format!("[{}]", short(r)))
    } else {
        schema["type"].as_str().map(str::to_string)
    };
    Some(match name {
        Some(n) => format!("{n} ({mime})"),
        None => mime.clone(),
    })
}

fn operation(path: &str, method: &str, op: &Value) -> Operation {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let parameters = op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let required = if p["required"] == true { "" } else { "?" };
                    let what = text(&p["description"]);
                    format!("{}{required} ({}) {what}", text(&p["name"]), text(&p["in"]))
                })
                .collect()
        })
        .unwrap_or_default();
    let responses = op["responses"]
        .as_object()
        .map(|rs| {
            rs.iter()
                .map(|(code, r)| match schema_name(&r["content"]) {
                    Some(s) => format!("{code}: {s}"),
                    None => format!("{code}: {}", text(&r["description"])),
                })
                .collect()
        })
        .unwrap_or_default();
    Operation {
        method: method.to_uppercase(),
        path: path.to_string(),
        summary: text(&op["summary"]),
        description: text(&op["description"]),
        parameters,
        body: schema_name(&op["requestBody"]["content"]),
        responses,
        public: op["security"].as_array().is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
        }),
    }
}

fn groups(doc: &Value) -> Vec<Group> {
    let mut groups: Vec<Group> = doc["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| Group {
                    name: t["name"].as_str().unwrap_or_default().to_string(),
                    description: t["description"].as_str().unwrap_or_default().to_string(),
                    operations: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(paths) = doc["paths"].as_object() else {
        return groups;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let tag = op["tags"][0].as_str().unwrap_or("otros");
            let i = match groups.iter().position(|g| g.name == tag) {
                Some(i) => i,
                None => {
                    groups.push(Group {
                        name: tag.to_string(),
                        description: String::new(),
                        operations: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[i].operations.push(operation(path, method, op));
        }
    }
    groups.retain(|g| !g.operations.is_empty());
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_every_operation_is_described() {
        let doc = serde_json::to_value(&*document()).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 30, "{} paths", paths.len());
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["summary"].is_string() || op["description"].is_string(),
                    "{method} {path} has no description"
                );
                assert!(op["tags"].is_array(), "{method} {path} has no tag");
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
            }
        }
        // Every schema a body or an answer names is in the components.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in text.split("\"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(
                schemas.contains_key(name),
                "{name} is referenced but not defined"
            );
        }
    }

    #[test]
    fn no_api_route_bypasses_the_document() {
        // Axum cannot list a router's routes, so the sources are read: an API route added
        // with a plain axum `route` call would be served but not described.
        let src = epicrisis_testkit::fixtures::crate_path("epicrisis-server", "src");
        let mut files = vec![src.clone()];
        let mut offenders = Vec::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                // Built here, so that this file does not match itself.
                for prefix in ["api", "v1"].map(|p| format!(".route(\"/{p}")) {
                    if text.contains(&prefix) {
                        offenders.push(format!("{}: {prefix}", p.display()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "routes outside the OpenAPI router: {offenders:?}"
        );
    }

    #[test]
    fn the_page_lists_operations_by_tag() {
        let doc = serde_json::to_value(&*document()).unwrap();
        let groups = groups(&doc);
        let drafting = groups.iter().find(|g| g.name == "redacción").unwrap();
        let start = drafting
            .operations
            .iter()
            .find(|o| o.path == "/api/v1/episodes/{id}/drafts")
            .unwrap();
        assert_eq!(start.method, "POST");
        assert!(start.parameters.iter().any(|p| p.starts_with("id (path)")));
        assert!(
            start
                .responses
                .iter()
                .any(|r| r.starts_with("202: JobView")),
            "{:?}",
            start.responses
        );
        let docs = groups.iter().find(|g| g.name == "documentación").unwrap();
        assert!(docs.operations.iter().all(|o| o.public));
    }

    /// English words that give away a text written for developers rather than for the
    /// hospital's IT staff (whole words, any case).
    const ENGLISH: &[&str] = &[
        "the", "and", "of", "is", "are", "with", "without", "when", "which", "returns", "request",
        "response", "episode", "draft", "version", "signed", "user", "token", "list", "new", "one",
        "each", "from", "for", "by", "to", "an",
    ];

    /// The English words of `text`, leaving out `code` spans (names of fields, values and
    /// headers, such as `draft` or `X-CSRF-Token`) and the Spanish «token de API» («token»
    /// alone is English: the Spanish text always says «token de API»).
    fn english_words(text: &str) -> Vec<String> {
        let prose: String = text
            .split('`')
            .step_by(2)
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
            .replace("token de api", " ");
        // A hyphen joins a word (`X-CSRF-Token` is a header's name, not English prose).
        prose
            .split(|c: char| !c.is_alphanumeric() && c != '-')
            .filter(|w| ENGLISH.contains(w))
            .map(str::to_string)
            .collect()
    }

    /// Every `summary` and `description` text of the document, named by where it is
    /// (`GET /api/v1/me › summary`, `schemas › Me › properties › csrf › description`…).
    fn texts(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    let here = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at} › {k}")
                    };
                    match v {
                        Value::String(s) if k == "summary" || k == "description" => {
                            out.push((here, s.clone()))
                        }
                        _ => texts(v, &here, out),
                    }
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    // A parameter is named by its name rather than its position.
                    let name = v["name"].as_str().map_or(i.to_string(), str::to_string);
                    texts(v, &format!("{at} › {name}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn what_the_page_shows_is_in_spanish() {
        let doc = serde_json::to_value(&*document()).unwrap();
        let mut problems = Vec::new();
        let mut found = Vec::new();
        let paths = doc["paths"].as_object().unwrap();
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let name = format!("{} {path}", method.to_uppercase());
                if op["summary"].as_str().is_none_or(|s| s.trim().is_empty()) {
                    problems.push(format!("{name}: no summary"));
                }
                texts(op, &name, &mut found);
            }
        }
        texts(&doc["components"], "", &mut found);
        texts(&doc["info"], "info", &mut found);
        texts(&doc["tags"], "tags", &mut found);
        // The walk reaches what the page and the schemas show (not a vacuous pass).
        let count = |part: &str| found.iter().filter(|(at, _)| at.contains(part)).count();
        assert!(count("› parameters ›") >= 20, "{found:?}");
        assert!(count("› properties ›") >= 80, "{found:?}");
        for (at, text) in &found {
            let words = english_words(text);
            if !words.is_empty() {
                problems.push(format!("{at}: {words:?} in «{text}»"));
            }
        }
        assert!(
            problems.is_empty(),
            "{} texts in English:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }

    #[test]
    fn english_words_are_found_outside_code() {
        assert_eq!(
            english_words("Returns the episode"),
            ["returns", "the", "episode"]
        );
        assert!(english_words("`draft` o `signed`; cabecera X-CSRF-Token").is_empty());
        assert!(english_words("Crea un token de API para el usuario").is_empty());
        assert_eq!(english_words("Revoca un token"), ["token"]);
        assert!(english_words("Lista de episodios, versión firmada").is_empty());
    }
}
