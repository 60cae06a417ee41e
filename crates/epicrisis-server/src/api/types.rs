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
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Always `ok` while the server answers.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// The drafting engine's name (`deterministic`, a model file, a provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Whether the engine sends (de-identified) text outside the hospital.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    /// `sqlite` or `postgres`.
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
pub struct QueueLoad {
    pub waiting: usize,
    pub running: usize,
    pub capacity: usize,
}

/// `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// `medico`, `administrativo` or `admin`.
    #[schema(value_type = String)]
    pub role: epicrisis_store::Role,
    /// The token a browser session sends in `X-CSRF-Token` with every change; empty for
    /// an API token.
    pub csrf: String,
}

/// `POST /api/v1/episodes`: the stored episode.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub episode_id: String,
    /// The shape the file was read as (`compact`, `rich`, `predecessor`, `fhir`).
    pub shape: String,
    /// 1 for a new episode; one more each time its data changes.
    pub revision: i64,
    /// What the readers could not read, or normalised, in Spanish.
    pub warnings: Vec<String>,
}

/// One line of the episode list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeItem {
    pub episode_id: String,
    pub service: Option<String>,
    /// `AAAA-MM-DD`.
    pub admission_date: Option<String>,
    pub discharge_date: Option<String>,
    /// Unix milliseconds.
    pub imported_at: i64,
    pub patient_name: Option<String>,
    pub diagnosis: Option<String>,
    /// The treating physician as the episode's data names them.
    pub physician: Option<String>,
    /// The newest version's status (`draft`, `signed`), if a draft exists.
    #[schema(value_type = Option<String>)]
    pub latest_status: Option<epicrisis_store::VersionStatus>,
    pub latest_number: Option<i64>,
    /// The newest signed version's number: the valid document while a later draft
    /// (an amendment) is not signed.
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
pub struct EpisodeList {
    pub episodes: Vec<EpisodeItem>,
}

/// `GET /api/v1/episodes/{id}`: the episode as read, and its newest version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpisodeDetail {
    pub episode_id: String,
    pub shape: String,
    pub imported_at: i64,
    pub revision: i64,
    /// The episode in the program's own model (see `docs/domain.md`).
    #[schema(value_type = Object)]
    pub episode: epicrisis_domain::Episode,
    pub latest_version: Option<Version>,
}

/// A version without its text: what lists show.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    pub id: i64,
    /// 1, 2, 3… per episode.
    pub number: i64,
    /// `generated`, `edited` or `amendment`.
    #[schema(value_type = String)]
    pub kind: epicrisis_store::VersionKind,
    /// `draft` or `signed`.
    #[schema(value_type = String)]
    pub status: epicrisis_store::VersionStatus,
    pub engine: Option<String>,
    pub author: Option<String>,
    pub parent_id: Option<i64>,
    /// For an amendment: the signed version it amends.
    pub amends: Option<i64>,
    /// SHA-256 (hex) of the signed record under `hashScheme`.
    pub content_hash: String,
    pub hash_scheme: i64,
    /// The revision of the episode's data this version was written from.
    pub episode_revision: i64,
    pub created_at: i64,
    /// Findings of the validator that are errors, and the rest.
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
#[serde(rename_all = "camelCase")]
pub struct Version {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub text: String,
    /// `{ok, findings}`: every claim the data does not support, every omission.
    #[schema(value_type = Object)]
    pub report: Report,
    /// The parts with their origin, the engine's rounds and timings (see `docs/api.md`).
    #[schema(value_type = Object)]
    pub provenance: Value,
    /// Each sentence's support in the notes and the data (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<SentenceEvidence>>,
    /// The episode's current data revision (only `GET /api/v1/versions/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_episode_revision: Option<i64>,
    /// Whether the data changed since the version was written.
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
#[serde(rename_all = "camelCase")]
pub struct VersionList {
    pub episode_id: String,
    pub versions: Vec<VersionSummary>,
}

/// One sentence of a text and what supports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentenceEvidence {
    /// Character offsets `[start, end)` of the sentence in the text.
    pub span: [usize; 2],
    /// Whether the sentence makes a claim that was checked.
    pub checked: bool,
    pub passages: Vec<EvidencePassage>,
    pub items: Vec<EvidenceItem>,
}

/// A passage of an evolution note that supports a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidencePassage {
    pub id: usize,
    /// The note's index in the episode's evolution.
    pub note: usize,
    /// The day of stay, when known.
    pub day: Option<u32>,
    /// Character offsets of the passage in the note.
    pub start: usize,
    pub end: usize,
    pub score: f32,
    pub text: String,
}

/// An item of the episode's data (a diagnosis, a drug…) that supports a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceItem {
    #[schema(value_type = String)]
    pub kind: epicrisis_pipeline::evidence::ItemRefKind,
    /// In Spanish, for the reader.
    pub label: &'static str,
    pub field: String,
    pub index: usize,
    pub name: String,
}

/// `POST /api/v1/episodes/{id}/validate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    pub ok: bool,
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
    pub evidence: Vec<SentenceEvidence>,
}

/// `POST /api/v1/episodes/{id}/versions`: an edited text (or an amendment of a signed
/// version) to save as a new version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SaveBody {
    pub text: String,
    /// The version the edit starts from (its parts and origins are kept).
    pub parent_id: Option<i64>,
    /// Amends the signed version (a new draft that must be signed in turn).
    #[serde(default)]
    pub amend: bool,
}

/// `POST /api/v1/episodes/{id}/validate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    pub text: String,
}

/// `POST /api/v1/versions/{id}/sign` (the body may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignBody {
    /// Signs although the text has errors or the data has wrong codes (the answer
    /// without it is a 409 with `needsConfirmation`).
    #[serde(default)]
    pub acknowledge_findings: bool,
}

/// `GET /api/v1/archive/search`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArchiveSearch {
    /// The embeddings model that ranked the results.
    pub model: Option<String>,
    pub results: Vec<super::search::ArchiveResult>,
    /// Signed epicrisis not indexed yet (not searched this time).
    pub pending: usize,
}

/// One row of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub user: Option<String>,
    /// `view`, `import`, `generate`, `edit`, `approve`, `export`, `search`, …
    pub action: String,
    pub episode_id: Option<String>,
    pub version_id: Option<i64>,
    /// Counts, formats and ids: never patient text.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// This row's link in the hash chain.
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
pub struct AuditTrail {
    pub audit: Vec<AuditItem>,
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    pub ok: bool,
    pub rows: i64,
    /// Each row found changed, deleted or cut, by id.
    pub problems: Vec<String>,
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
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
pub struct UserList {
    pub users: Vec<UserItem>,
}

/// `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUserBody {
    pub username: String,
    pub display_name: Option<String>,
    /// `medico`, `administrativo` or `admin`.
    pub role: String,
    pub password: String,
}

/// `POST /api/v1/users/{name}/disable` and `…/enable`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserState {
    pub username: String,
    pub disabled: bool,
}

/// `POST /api/v1/users/{name}/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
    /// Required when the account is the caller's own.
    pub current_password: Option<String>,
}

/// The answer to a password change.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    pub username: String,
    pub changed: bool,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub name: String,
    /// 1 to 365 (90 by default).
    pub days: Option<i64>,
}

/// A new API token: the secret is shown only here.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    pub id: i64,
    pub token: String,
    pub expires_at: i64,
    pub note: &'static str,
}

/// An API token as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
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
#[serde(rename_all = "camelCase")]
pub struct VerifyAnswer {
    /// Whether the recomputed hash matches the stored one.
    pub ok: bool,
    /// One sentence naming the version and the verdict (and what to do when it does
    /// not match).
    pub message: String,
    pub version_id: i64,
    pub episode_id: String,
    pub number: i64,
    #[schema(value_type = String)]
    pub status: epicrisis_store::VersionStatus,
    pub hash_scheme: i64,
    pub episode_revision: i64,
    /// What the hash covers, in words.
    pub covers: String,
    pub stored_hash: String,
    /// Empty when the hash could not be recomputed (an unknown scheme).
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
