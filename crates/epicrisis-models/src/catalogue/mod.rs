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

mod embeddings;
mod llm;
mod spec;

pub use spec::{Artifacts, ModelSpec, Need, Pin, QuantFile, Recommendation, RepoFile, Role};

use crate::error::ModelsError;

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

static CATALOGUE: &[ModelSpec] = &[
    llm::TINYLLAMA_1_1B_CHAT,
    llm::LLAMA_3_2_3B_INSTRUCT,
    llm::MISTRAL_7B_INSTRUCT_V0_2,
    llm::LLAMA_3_1_8B_INSTRUCT,
    llm::QWEN2_5_CODER_0_5B_INSTRUCT,
    llm::QWEN2_5_CODER_1_5B_INSTRUCT,
    llm::SMOLLM2_135M_INSTRUCT,
    embeddings::MULTILINGUAL_E5_SMALL,
    embeddings::BGE_M3,
    embeddings::MULTILINGUAL_E5_LARGE,
    embeddings::ALL_MINILM_L6_V2,
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
