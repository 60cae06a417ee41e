//! The embedding models of the catalogue: folders in Hugging Face's layout, in the
//! guide's order.

use super::{Artifacts, GB, MB, ModelSpec, Need, Pin, Recommendation, RepoFile, Role};

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

pub(super) const MULTILINGUAL_E5_SMALL: ModelSpec = ModelSpec {
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
};

pub(super) const BGE_M3: ModelSpec = ModelSpec {
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
};

pub(super) const MULTILINGUAL_E5_LARGE: ModelSpec = ModelSpec {
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
};

pub(super) const ALL_MINILM_L6_V2: ModelSpec = ModelSpec {
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
};
