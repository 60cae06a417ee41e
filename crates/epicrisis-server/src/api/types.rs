//! The JSON the API sends and accepts, as types: every `/api/v1` body is camelCase, and
//! each type carries the schema the OpenAPI document (`/api/v1/openapi.json`) publishes.
//! Domain structures that have their own definitions (an episode, the validator's
//! findings, a draft's provenance) are described there as objects; their fields are
//! documented in `docs/api.md`.

use epicrisis_store::{ApiToken, AuditRow, EpisodeSummary, User, VersionCheck, VersionRow};
use epicrisis_validate::{Finding, Report};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// `GET /api/health` (signed-in callers see the rest; a probe only `status`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Respuesta de `GET /api/health` (quien tiene sesión ve todo; una \
                   sonda, solo `status`)."
)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    // Always `ok` while the server answers.
    /// Siempre `ok` mientras el servidor responde.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    // The drafting engine's name (`deterministic`, a model file, a provider).
    /// El nombre del motor de redacción (`deterministic`, un archivo de modelo, un
    /// proveedor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    // Whether the engine sends (de-identified) text outside the hospital.
    /// Si el motor envía texto (desidentificado) fuera del hospital.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    // `sqlite` or `postgres`.
    /// `sqlite` o `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub database: Option<epicrisis_store::Backend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueLoad>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
}

/// The drafting queue's load.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "La carga de la cola de redacción.")]
pub struct QueueLoad {
    pub waiting: usize,
    pub running: usize,
    pub capacity: usize,
}

/// `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `GET /api/v1/me`.")]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    // `medico`, `administrativo` or `admin`.
    /// `medico`, `administrativo` o `admin`.
    #[schema(value_type = String)]
    pub role: epicrisis_store::Role,
    // The token a browser session sends in `X-CSRF-Token` with every change; empty for
    // an API token.
    /// El valor que una sesión del navegador envía en la cabecera `X-CSRF-Token` con cada
    /// cambio; vacío con un token de API.
    pub csrf: String,
}

/// `POST /api/v1/episodes`: the stored episode.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `POST /api/v1/episodes`: el episodio guardado.")]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub episode_id: String,
    // The shape the file was read as (`compact`, `rich`, `predecessor`, `fhir`).
    /// La forma en que se leyó el archivo (`compact`, `rich`, `predecessor`, `fhir`).
    pub shape: String,
    // 1 for a new episode; one more each time its data changes.
    /// 1 para un episodio nuevo; uno más cada vez que cambian sus datos.
    pub revision: i64,
    // What the readers could not read, or normalised, in Spanish.
    /// Lo que la lectura no pudo leer o normalizó, en español.
    pub warnings: Vec<String>,
}

/// One line of the episode list.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Una fila de la lista de episodios.")]
#[serde(rename_all = "camelCase")]
pub struct EpisodeItem {
    pub episode_id: String,
    pub service: Option<String>,
    /// `AAAA-MM-DD`.
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    // Unix milliseconds.
    /// Milisegundos Unix.
    pub imported_at: i64,
    pub patient_name: Option<String>,
    pub diagnosis: Option<String>,
    // The treating physician as the episode's data names them.
    /// El médico tratante, como lo nombran los datos del episodio.
    pub physician: Option<String>,
    // The newest version's status (`draft`, `signed`), if a draft exists.
    /// El estado de la versión más reciente (`draft`, `signed`), si hay un borrador.
    #[schema(value_type = Option<String>)]
    pub latest_status: Option<epicrisis_store::VersionStatus>,
    pub latest_number: Option<i64>,
    // The newest signed version's number: the valid document while a later draft
    // (an amendment) is not signed.
    /// El número de la última versión firmada: el documento vigente mientras un borrador
    /// posterior (una enmienda) no se firme.
    pub signed_number: Option<i64>,
}

impl From<EpisodeSummary> for EpisodeItem {
    fn from(s: EpisodeSummary) -> Self {
        EpisodeItem {
            episode_id: s.episode_id,
            service: s.service,
            admission_date: s.admission_date,
            discharge_date: s.discharge_date,
            imported_at: s.imported_at,
            patient_name: s.patient_name,
            diagnosis: s.diagnosis,
            physician: s.physician,
            latest_status: s.latest_status,
            latest_number: s.latest_number,
            signed_number: s.signed_number,
        }
    }
}

/// `GET /api/v1/episodes`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `GET /api/v1/episodes`.")]
pub struct EpisodeList {
    pub episodes: Vec<EpisodeItem>,
}

/// `GET /api/v1/episodes/{id}`: the episode as read, and its newest version.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Respuesta de `GET /api/v1/episodes/{id}`: el episodio tal como se \
                   leyó y su versión más reciente."
)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeDetail {
    pub episode_id: String,
    pub shape: String,
    pub imported_at: i64,
    pub revision: i64,
    // The episode in the program's own model (see `docs/domain.md`).
    /// El episodio en el modelo propio del programa (ver `docs/domain.md`).
    #[schema(value_type = Object)]
    pub episode: epicrisis_domain::Episode,
    pub latest_version: Option<Version>,
}

/// A version without its text: what lists show.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Una versión sin su texto: lo que muestran las listas.")]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    pub id: i64,
    // 1, 2, 3… per episode.
    /// 1, 2, 3… por episodio.
    pub number: i64,
    // `generated`, `edited` or `amendment`.
    /// `generated`, `edited` o `amendment`.
    #[schema(value_type = String)]
    pub kind: epicrisis_store::VersionKind,
    // `draft` or `signed`.
    /// `draft` (borrador) o `signed` (firmada).
    #[schema(value_type = String)]
    pub status: epicrisis_store::VersionStatus,
    pub engine: Option<String>,
    pub author: Option<String>,
    pub parent_id: Option<i64>,
    // For an amendment: the signed version it amends.
    /// En una enmienda: la versión firmada que enmienda.
    pub amends: Option<i64>,
    // SHA-256 (hex) of the signed record under `hashScheme`.
    /// SHA-256 (hex) del registro firmado según `hashScheme`.
    pub content_hash: String,
    pub hash_scheme: i64,
    // The revision of the episode's data this version was written from.
    /// La revisión de los datos del episodio desde la que se escribió esta versión.
    pub episode_revision: i64,
    pub created_at: i64,
    // Findings of the validator that are errors, and the rest.
    /// Hallazgos del validador que son errores; `warnings`, el resto.
    pub errors: usize,
    pub warnings: usize,
}

impl VersionSummary {
    pub fn of(v: &VersionRow, report: &Report) -> VersionSummary {
        let errors = report.error_count();
        VersionSummary {
            id: v.id,
            number: v.number,
            kind: v.kind,
            status: v.status,
            engine: v.engine.clone(),
            author: v.author_name.clone(),
            parent_id: v.parent_id,
            amends: v.amends,
            content_hash: v.content_hash.clone(),
            hash_scheme: v.hash_scheme,
            episode_revision: v.episode_revision,
            created_at: v.created_at,
            errors,
            warnings: report.findings.len() - errors,
        }
    }
}

/// A version with its text, the validator's report and how it was written.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Una versión con su texto, el informe del validador y cómo se \
                   escribió."
)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub text: String,
    // `{ok, findings}`: every claim the data does not support, every omission.
    /// `{ok, findings}`: cada afirmación que los datos no respaldan, cada omisión.
    #[schema(value_type = Object)]
    pub report: Report,
    // The parts with their origin, the engine's rounds and timings (see `docs/api.md`).
    /// Las partes con su origen, las rondas del motor y los tiempos (ver `docs/api.md`).
    #[schema(value_type = Object)]
    pub provenance: Value,
    // Each sentence's support in the notes and the data (absent in lists).
    /// El respaldo de cada oración en las notas y los datos (no viene en las listas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<SentenceEvidence>>,
    // The episode's current data revision (only `GET /api/v1/versions/{id}`).
    /// La revisión actual de los datos del episodio (solo en `GET
    /// /api/v1/versions/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_episode_revision: Option<i64>,
    // Whether the data changed since the version was written.
    /// Si los datos cambiaron desde que se escribió la versión.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_from_older_revision: Option<bool>,
}

impl Version {
    /// A stored version, without its evidence.
    pub fn of(v: &VersionRow) -> Version {
        let report = super::report_of(v);
        Version {
            summary: VersionSummary::of(v, &report),
            text: v.text.clone(),
            report,
            provenance: serde_json::from_str(&v.provenance_json).unwrap_or(Value::Null),
            evidence: None,
            current_episode_revision: None,
            written_from_older_revision: None,
        }
    }
}

/// `GET /api/v1/episodes/{id}/versions`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `GET /api/v1/episodes/{id}/versions`.")]
#[serde(rename_all = "camelCase")]
pub struct VersionList {
    pub episode_id: String,
    pub versions: Vec<VersionSummary>,
}

/// One sentence of a text and what supports it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Una oración de un texto y lo que la respalda.")]
pub struct SentenceEvidence {
    // Character offsets `[start, end)` of the sentence in the text.
    /// Posiciones de carácter `[inicio, fin)` de la oración en el texto.
    pub span: [usize; 2],
    // Whether the sentence makes a claim that was checked.
    /// Si la oración hace una afirmación que se verificó.
    pub checked: bool,
    pub passages: Vec<EvidencePassage>,
    pub items: Vec<EvidenceItem>,
}

/// A passage of an evolution note that supports a sentence.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un pasaje de una nota de evolución que respalda una oración.")]
pub struct EvidencePassage {
    pub id: usize,
    // The note's index in the episode's evolution.
    /// El índice de la nota en la evolución del episodio.
    pub note: usize,
    // The day of stay, when known.
    /// El día de estadía, si se conoce.
    pub day: Option<u32>,
    // Character offsets of the passage in the note.
    /// Posiciones de carácter del pasaje en la nota.
    pub start: usize,
    pub end: usize,
    pub score: f32,
    pub text: String,
}

/// An item of the episode's data (a diagnosis, a drug…) that supports a sentence.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Un elemento de los datos del episodio (un diagnóstico, un fármaco…) \
                   que respalda una oración."
)]
pub struct EvidenceItem {
    #[schema(value_type = String)]
    pub kind: epicrisis_pipeline::evidence::ItemRefKind,
    // In Spanish, for the reader.
    /// En español, para el lector.
    pub label: &'static str,
    pub field: String,
    pub index: usize,
    pub name: String,
}

/// `POST /api/v1/episodes/{id}/validate`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `POST /api/v1/episodes/{id}/validate`.")]
pub struct Validation {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
    pub evidence: Vec<SentenceEvidence>,
}

/// `POST /api/v1/episodes/{id}/versions`: an edited text (or an amendment of a signed
/// version) to save as a new version.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(
    description = "Cuerpo de `POST /api/v1/episodes/{id}/versions`: un texto editado (o \
                   una enmienda de una versión firmada) que se guarda como versión \
                   nueva."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveBody {
    pub text: String,
    // The version the edit starts from (its parts and origins are kept).
    /// La versión desde la que parte la edición (se conservan sus partes y orígenes).
    pub parent_id: Option<i64>,
    // Amends the signed version (a new draft that must be signed in turn).
    /// Enmienda la versión firmada (un borrador nuevo que a su vez debe firmarse).
    #[serde(default)]
    pub amend: bool,
}

/// `POST /api/v1/episodes/{id}/validate`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Cuerpo de `POST /api/v1/episodes/{id}/validate`.")]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    pub text: String,
}

/// `POST /api/v1/versions/{id}/sign` (the body may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(description = "Cuerpo de `POST /api/v1/versions/{id}/sign` (puede ir vacío).")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignBody {
    // Signs although the text has errors or the data has wrong codes (the answer
    // without it is a 409 with `needsConfirmation`).
    /// Firma aunque el texto tenga errores o los datos tengan códigos que no corresponden
    /// (sin esto, la respuesta es un 409 con `needsConfirmation`).
    #[serde(default)]
    pub acknowledge_findings: bool,
}

/// `GET /api/v1/archive/search`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `GET /api/v1/archive/search`.")]
pub struct ArchiveSearch {
    // The embeddings model that ranked the results.
    /// El modelo de embeddings que ordenó los resultados.
    pub model: Option<String>,
    pub results: Vec<super::search::ArchiveResult>,
    // Signed epicrisis not indexed yet (not searched this time).
    /// Epicrisis firmadas aún sin indexar (no se buscaron esta vez).
    pub pending: usize,
}

/// One row of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Una fila de la bitácora.")]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub user: Option<String>,
    // `view`, `import`, `generate`, `edit`, `approve`, `export`, `search`, …
    /// `view`, `import`, `generate`, `edit`, `approve`, `export`, `search`, …
    pub action: String,
    pub episode_id: Option<String>,
    pub version_id: Option<i64>,
    // Counts, formats and ids: never patient text.
    /// Conteos, formatos e ids: nunca texto del paciente.
    #[schema(value_type = Object)]
    pub detail: Value,
    // This row's link in the hash chain.
    /// El eslabón de esta fila en la cadena de hashes.
    pub hash: String,
}

impl AuditItem {
    pub fn of(r: AuditRow) -> AuditItem {
        AuditItem {
            id: r.id,
            at: super::rfc3339(r.at),
            user: r.username,
            action: r.action,
            episode_id: r.episode_id,
            version_id: r.version_id,
            detail: serde_json::from_str(&r.detail).unwrap_or(Value::Null),
            hash: r.hash,
        }
    }
}

/// `GET /api/v1/audit` and `GET /api/v1/episodes/{id}/audit`, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Respuesta de `GET /api/v1/audit` y `GET /api/v1/episodes/{id}/audit`, \
                   lo más reciente primero."
)]
pub struct AuditTrail {
    pub audit: Vec<AuditItem>,
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `GET /api/v1/audit/verify`.")]
pub struct AuditVerification {
    pub ok: bool,
    pub rows: i64,
    // Each row found changed, deleted or cut, by id.
    /// Cada fila modificada, borrada o cortada, por id.
    pub problems: Vec<String>,
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Una cuenta.")]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    pub username: String,
    pub display_name: String,
    #[schema(value_type = String)]
    pub role: epicrisis_store::Role,
    pub disabled: bool,
    pub created_at: i64,
}

impl From<&User> for UserItem {
    fn from(u: &User) -> Self {
        UserItem {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

/// `GET /api/v1/users`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `GET /api/v1/users`.")]
pub struct UserList {
    pub users: Vec<UserItem>,
}

/// `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Cuerpo de `POST /api/v1/users`.")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUserBody {
    pub username: String,
    pub display_name: Option<String>,
    // `medico`, `administrativo` or `admin`.
    /// `medico`, `administrativo` o `admin`.
    pub role: String,
    pub password: String,
}

/// `POST /api/v1/users/{name}/disable` and `…/enable`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Respuesta de `POST /api/v1/users/{name}/disable` y `…/enable`.")]
pub struct UserState {
    pub username: String,
    pub disabled: bool,
}

/// `POST /api/v1/users/{name}/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Cuerpo de `POST /api/v1/users/{name}/password`.")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
    // Required when the account is the caller's own.
    /// Obligatoria cuando la cuenta es la propia.
    pub current_password: Option<String>,
}

/// The answer to a password change.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "La respuesta a un cambio de contraseña.")]
pub struct PasswordChanged {
    pub username: String,
    pub changed: bool,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(description = "Cuerpo de `POST /api/v1/tokens`.")]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    // 1 to 365 (90 by default).
    /// De 1 a 365 (predeterminado: 90).
    pub days: Option<i64>,
}

/// A new API token: the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un token de API nuevo: el secreto se muestra solo aquí.")]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    pub id: i64,
    pub token: String,
    pub expires_at: i64,
    pub note: &'static str,
}

/// An API token as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[schema(description = "Un token de API como se lista (nunca su secreto).")]
#[serde(rename_all = "camelCase")]
pub struct TokenItem {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<ApiToken> for TokenItem {
    fn from(t: ApiToken) -> Self {
        TokenItem {
            id: t.id,
            username: t.username,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// `GET /api/v1/versions/{id}/verify`: the version's hash recomputed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(
    description = "Respuesta de `GET /api/v1/versions/{id}/verify`: la huella de la \
                   versión, recalculada."
)]
#[serde(rename_all = "camelCase")]
pub struct VerifyAnswer {
    // Whether the recomputed hash matches the stored one.
    /// Si la huella recalculada coincide con la guardada.
    pub ok: bool,
    // One sentence naming the version and the verdict (and what to do when it does
    // not match).
    /// Una oración que nombra la versión y el resultado (y qué hacer si no coincide).
    pub message: String,
    pub version_id: i64,
    pub episode_id: String,
    pub number: i64,
    #[schema(value_type = String)]
    pub status: epicrisis_store::VersionStatus,
    pub hash_scheme: i64,
    pub episode_revision: i64,
    // What the hash covers, in words.
    /// Lo que cubre la huella, en palabras.
    pub covers: String,
    pub stored_hash: String,
    // Empty when the hash could not be recomputed (an unknown scheme).
    /// Vacío si la huella no se pudo recalcular (un esquema desconocido).
    pub computed_hash: String,
    pub matches: bool,
    pub problems: Vec<String>,
}

impl From<VersionCheck> for VerifyAnswer {
    fn from(c: VersionCheck) -> Self {
        VerifyAnswer {
            ok: c.matches,
            message: c.message(),
            version_id: c.version_id,
            episode_id: c.episode_id,
            number: c.number,
            status: c.status,
            hash_scheme: c.hash_scheme,
            episode_revision: c.episode_revision,
            covers: c.covers,
            stored_hash: c.stored_hash,
            computed_hash: c.computed_hash,
            matches: c.matches,
            problems: c.problems,
        }
    }
}
