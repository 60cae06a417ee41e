//! The one error type of the crate. Every message names the model, file or URL concerned
//! and says what to do next, because the reader is a hospital's IT staff following the
//! models guide, often on a machine without internet access.

use std::path::{Path, PathBuf};

use epicrisis_llm::gguf::GgufError;
use epicrisis_llm::system::human_bytes;

/// Where an expected sha256 came from (it changes what the fix is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOrigin {
    /// Pinned in this program's catalogue (the official release's hash).
    Pinned,
    /// Recorded in `manifest.json` when the model was first installed.
    Recorded,
    /// Announced by the hub for this file (`X-Linked-Etag`).
    Hub,
}

impl std::fmt::Display for HashOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HashOrigin::Pinned => "el sha256 fijado en el catálogo (el de la versión oficial)",
            HashOrigin::Recorded => {
                "el sha256 registrado en manifest.json en la primera instalación"
            }
            HashOrigin::Hub => "el sha256 que el hub anuncia para este archivo",
        })
    }
}

fn mismatch_fix(origin: &HashOrigin) -> &'static str {
    match origin {
        HashOrigin::Recorded => {
            "si el archivo se reemplazó a propósito en su origen, quite el registro antiguo con `epicrisis models remove NAME` y descárguelo de nuevo; si no, la copia está dañada o fue alterada: descárguela de nuevo"
        }
        _ => {
            "la copia está dañada, incompleta o no es el archivo oficial: descárguela de nuevo (del hub, de un espejo o de una copia de confianza); no se instaló nada"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error(
        "modelo desconocido {name:?}; el catálogo tiene: {known} (vea `epicrisis models list`)"
    )]
    UnknownModel { name: String, known: String },

    #[error(
        "el modelo {name:?} no tiene un archivo {quant} en el catálogo; cuantizaciones disponibles: {available}"
    )]
    UnknownQuant {
        name: String,
        quant: String,
        available: String,
    },

    #[error(
        "{name:?} es un modelo de tipo {actual}, no {wanted}; elija en `epicrisis models list` uno con rol {wanted}"
    )]
    WrongRole {
        name: String,
        actual: String,
        wanted: String,
    },

    #[error(
        "{url}: el hub negó el acceso (HTTP {status}); el modelo puede ser de acceso restringido o el token es incorrecto: abra https://huggingface.co/{repo}, acepte su licencia con su cuenta, cree un token de lectura y defina HF_TOKEN (o revise que HF_TOKEN esté vigente)"
    )]
    Unauthorized {
        url: String,
        status: u16,
        repo: String,
    },

    #[error(
        "{url}: no encontrado (HTTP 404); revise el nombre del modelo y del archivo, y que el servidor tenga la misma estructura que Hugging Face. Si desde esta máquina no se llega a huggingface.co, use un espejo (`--mirror URL` o HF_ENDPOINT=URL), o copie el archivo a mano y ejecute `epicrisis models import PATH`"
    )]
    NotFound { url: String },

    #[error(
        "{url}: el servidor respondió HTTP {status}{detail}; intente más tarde o use un espejo (`--mirror URL` o HF_ENDPOINT)"
    )]
    Http {
        url: String,
        status: u16,
        detail: String,
    },

    #[error(
        "{url}: se abandonó tras {attempts} intentos ({last}); lo descargado se guarda en {part} y el próximo `epicrisis models download` continúa desde ahí. Revise la red o el proxy (HTTPS_PROXY), aumente el tiempo de espera o use un espejo (`--mirror URL`)"
    )]
    RetriesExhausted {
        url: String,
        attempts: u32,
        last: String,
        part: PathBuf,
    },

    #[error(
        "no hay suficiente espacio libre en disco en {}: faltan {} por descargar más un margen de {}, pero solo hay {} libres; libere espacio o elija otra carpeta de modelos",
        path.display(), human_bytes(*needed), human_bytes(*margin), human_bytes(*available)
    )]
    InsufficientSpace {
        path: PathBuf,
        needed: u64,
        margin: u64,
        available: u64,
    },

    #[error(
        "{what}: mide {actual} bytes, pero se esperaban {expected}; el archivo está incompleto o no es el correcto; no se instaló nada: descárguelo de nuevo"
    )]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{what}: el sha256 es {actual}, pero {origin} es {expected}; {}",
        mismatch_fix(origin)
    )]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
        origin: HashOrigin,
    },

    #[error("{}: {detail}", path.display())]
    InvalidModelFile { path: PathBuf, detail: String },

    #[error(transparent)]
    Gguf(#[from] GgufError),

    #[error(
        "{}: carpeta de embeddings incompleta, falta {}; un modelo de embeddings necesita config.json, sus pesos (model.safetensors o pytorch_model.bin) y tokenizer.json: copie los archivos que faltan desde la página del modelo o descárguelo de nuevo",
        path.display(), missing.join(", ")
    )]
    IncompleteEmbeddings { path: PathBuf, missing: Vec<String> },

    #[error(
        "{}: no es un archivo ni una carpeta de modelo que este programa pueda importar (un archivo .gguf para un modelo de lenguaje, o una carpeta con config.json, model.safetensors o pytorch_model.bin y tokenizer.json para un modelo de embeddings)",
        path.display()
    )]
    NotImportable { path: PathBuf },

    #[error(
        "{}: el manifiesto de modelos no se puede leer ({detail}); muévalo a otro lugar y vuelva a importar los modelos con `epicrisis models import PATH`",
        path.display()
    )]
    Manifest { path: PathBuf, detail: String },

    #[error("{}: no se pudo {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("no se pudo preparar el cliente HTTP: {0}")]
    Client(String),

    #[error("{0}")]
    Invalid(String),
}

impl ModelsError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        ModelsError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

pub type Result<T, E = ModelsError> = std::result::Result<T, E>;
