//! BERT-family encoders (BERT, XLM-RoBERTa) from a standard Hugging Face folder, on the CPU
//! through candle, tokenised with the folder's own `tokenizer.json`.
//!
//! The folder is exactly what users download (`models/embeddings/multilingual-e5-small`):
//! `config.json`, `model.safetensors` or `pytorch_model.bin`, `tokenizer.json`, and, when
//! present, the sentence-transformers files that say how to pool (`1_Pooling/config.json`),
//! how long an input may be (`sentence_bert_config.json`) and which prompts the model
//! expects (`config_sentence_transformers.json`). Where those are missing we follow the
//! model family's published conventions: e5 models take `query: ` / `passage: ` and are
//! mean-pooled, BGE models are CLS-pooled.
//!
//! Two things every vector depends on, learnt the hard way (docs/design.md): the
//! tokenizer's own padding and truncation settings are switched off (we pad per batch and
//! pool with the attention mask, otherwise every pair of sentences looks alike), and a text
//! longer than the window is embedded window by window and averaged instead of being cut.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::{EmbedError, Embedder, Role};

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average of the token vectors under the attention mask (e5, MiniLM).
    Mean,
    /// The first token's vector (BGE).
    Cls,
}

/// Options for [`BertEmbedder::load`]; the defaults read everything from the folder.
#[derive(Debug, Clone, Default)]
pub struct BertOptions {
    /// Overrides the pooling the folder declares.
    pub pooling: Option<Pooling>,
    /// Overrides the prompts (`query`, `passage`) the folder declares.
    pub prompts: Option<(String, String)>,
    /// Tokens per forward pass (sum over the batch of the padded length); default 8192.
    pub batch_tokens: Option<usize>,
    /// At most this many sequences per forward pass; default 64.
    pub max_batch: Option<usize>,
}

use crate::encoder::Encoder;

/// A BERT-family sentence encoder. Cheap to share (`Arc`); `embed` may be called from
/// several threads (each forward pass runs on all cores through rayon).
pub struct BertEmbedder {
    name: String,
    encoder: Encoder,
    tokenizer: Tokenizer,
    dim: usize,
    max_tokens: usize,
    pooling: Pooling,
    query_prompt: String,
    passage_prompt: String,
    batch_tokens: usize,
    max_batch: usize,
}

fn model_err(path: &Path, problem: impl Into<String>, fix: impl Into<String>) -> EmbedError {
    EmbedError::Model {
        path: path.to_path_buf(),
        problem: problem.into(),
        fix: fix.into(),
    }
}

const REFETCH: &str = "Download the model folder again (`epicrisis models download multilingual-e5-small`) or point EMBEDDINGS_MODEL at a complete Hugging Face folder";

fn read_json(path: &Path) -> Result<Option<Value>, EmbedError> {
    match std::fs::read_to_string(path) {
        Ok(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| model_err(path, format!("is not valid JSON ({e})"), REFETCH)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(model_err(
            path,
            format!("cannot be read ({e})"),
            "Check the file's permissions (chmod 644)",
        )),
    }
}

/// Fills the keys candle's config structs require but real `config.json` files often
/// leave out (dropout probabilities, initialiser range) with Hugging Face's defaults.
fn with_defaults(mut cfg: Value, family: &str) -> Value {
    let defaults: &[(&str, Value)] = &[
        ("hidden_act", Value::from("gelu")),
        ("hidden_dropout_prob", Value::from(0.1)),
        ("attention_probs_dropout_prob", Value::from(0.1)),
        ("initializer_range", Value::from(0.02)),
        ("layer_norm_eps", Value::from(1e-12)),
        ("type_vocab_size", Value::from(2)),
        ("max_position_embeddings", Value::from(512)),
        ("position_embedding_type", Value::from("absolute")),
        (
            "pad_token_id",
            Value::from(if family == "bert" { 0 } else { 1 }),
        ),
    ];
    if let Value::Object(map) = &mut cfg {
        for (k, v) in defaults {
            if !map.contains_key(*k) || map[*k].is_null() {
                map.insert((*k).to_string(), v.clone());
            }
        }
    }
    cfg
}

/// What loading needs from `config.json`: the JSON with defaults filled in, the family
/// and the sizes.
struct ModelConfig {
    path: PathBuf,
    json: Value,
    /// An XLM-RoBERTa encoder (positions numbered from `pad_id + 1`), not a BERT one.
    roberta: bool,
    dim: usize,
    max_positions: usize,
    pad_id: u32,
}

/// Reads `config.json` and checks that it declares an encoder this backend runs.
fn read_config(dir: &Path) -> Result<ModelConfig, EmbedError> {
    let config_path = dir.join("config.json");
    let config =
        read_json(&config_path)?.ok_or_else(|| model_err(&config_path, "is missing", REFETCH))?;
    let model_type = config
        .get("model_type")
        .and_then(Value::as_str)
        .unwrap_or("bert")
        .to_ascii_lowercase();
    let family = match model_type.as_str() {
        "bert" => "bert",
        "xlm-roberta" | "roberta" | "xlm_roberta" => "roberta",
        other => {
            return Err(model_err(
                &config_path,
                format!("declares model_type \"{other}\", which this backend does not run"),
                "Use a BERT or XLM-RoBERTa encoder (multilingual-e5-small/-large, all-MiniLM-L6-v2, BGE-M3)",
            ));
        }
    };
    let config = with_defaults(config, family);
    let dim = config
        .get("hidden_size")
        .and_then(Value::as_u64)
        .ok_or_else(|| model_err(&config_path, "has no hidden_size", REFETCH))?
        as usize;
    let max_positions = config["max_position_embeddings"].as_u64().unwrap_or(512) as usize;
    let pad_id = config["pad_token_id"].as_u64().unwrap_or(0) as u32;
    Ok(ModelConfig {
        path: config_path,
        json: config,
        roberta: family == "roberta",
        dim,
        max_positions,
        pad_id,
    })
}

/// Loads the weights (safetensors, memory-mapped, or a PyTorch pickle) into the encoder.
fn load_encoder(dir: &Path, config: &ModelConfig) -> Result<Encoder, EmbedError> {
    let device = Device::Cpu;
    let st = dir.join("model.safetensors");
    let pth = dir.join("pytorch_model.bin");
    let vb = if st.is_file() {
        // SAFETY: the file is memory-mapped read-only; like every mmap it must not be
        // truncated while the program runs (the models folder is ours).
        unsafe { VarBuilder::from_mmaped_safetensors(&[&st], DType::F32, &device) }
            .map_err(|e| model_err(&st, format!("cannot be loaded ({e})"), REFETCH))?
    } else if pth.is_file() {
        VarBuilder::from_pth(&pth, DType::F32, &device)
            .map_err(|e| model_err(&pth, format!("cannot be loaded ({e})"), REFETCH))?
    } else {
        return Err(model_err(
            dir,
            "has neither model.safetensors nor pytorch_model.bin",
            REFETCH,
        ));
    };
    Encoder::load(vb, &config.json, config.roberta)
        .map_err(|problem| model_err(&config.path, problem, REFETCH))?
        .map_err(|e| {
            model_err(
                dir,
                format!("weights do not match config.json ({e})"),
                REFETCH,
            )
        })
}

/// Reads `tokenizer.json` with its own padding and truncation switched off.
fn load_tokenizer(dir: &Path) -> Result<Tokenizer, EmbedError> {
    let tok_path = dir.join("tokenizer.json");
    if !tok_path.is_file() {
        return Err(model_err(&tok_path, "is missing", REFETCH));
    }
    let mut tokenizer = Tokenizer::from_file(&tok_path)
        .map_err(|e| model_err(&tok_path, format!("cannot be read ({e})"), REFETCH))?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(|e| {
        model_err(
            &tok_path,
            format!("truncation cannot be disabled ({e})"),
            REFETCH,
        )
    })?;
    Ok(tokenizer)
}

/// The longest input in tokens: the positions the model has, or less when
/// `sentence_bert_config.json` says so.
fn max_tokens(dir: &Path, config: &ModelConfig) -> Result<usize, EmbedError> {
    // XLM-RoBERTa numbers positions from pad_id + 1, so two positions are unusable.
    let positional_max = if config.roberta {
        config
            .max_positions
            .saturating_sub(config.pad_id as usize + 1)
    } else {
        config.max_positions
    };
    let st_config = read_json(&dir.join("sentence_bert_config.json"))?;
    Ok(st_config
        .as_ref()
        .and_then(|v| v.get("max_seq_length"))
        .and_then(Value::as_u64)
        .map(|m| (m as usize).min(positional_max))
        .unwrap_or(positional_max))
}

impl BertEmbedder {
    /// Loads the model in `dir`. Every missing or broken file is named in the error.
    pub fn load(dir: &Path, options: BertOptions) -> Result<BertEmbedder, EmbedError> {
        if !dir.is_dir() {
            return Err(model_err(
                dir,
                "is not a folder",
                "Set EMBEDDINGS_MODEL to the model folder (the one holding config.json, model.safetensors and tokenizer.json)",
            ));
        }
        let config = read_config(dir)?;
        let encoder = load_encoder(dir, &config)?;
        let tokenizer = load_tokenizer(dir)?;
        let max_tokens = max_tokens(dir, &config)?;

        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "embeddings".into());
        let lname = name.to_ascii_lowercase();
        let pooling = match options.pooling {
            Some(p) => p,
            None => declared_pooling(dir)?.unwrap_or(if lname.contains("bge") {
                Pooling::Cls
            } else {
                Pooling::Mean
            }),
        };
        let (query_prompt, passage_prompt) = match options.prompts {
            Some(p) => p,
            None => folder_prompts(dir)?,
        };
        Ok(BertEmbedder {
            name,
            encoder,
            tokenizer,
            dim: config.dim,
            max_tokens: max_tokens.max(8),
            pooling,
            query_prompt,
            passage_prompt,
            batch_tokens: options.batch_tokens.unwrap_or(8192).max(64),
            max_batch: options.max_batch.unwrap_or(64).max(1),
        })
    }

    /// The pooling in use.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Token ids of `text` with the role's prompt and the special tokens, cut into windows
    /// of at most `max_tokens` (one window for any text that fits).
    fn windows(&self, text: &str, role: Role) -> Result<Vec<Vec<u32>>, EmbedError> {
        let prompt = self.prompt(role);
        let full = format!("{prompt}{text}");
        let enc = self
            .tokenizer
            .encode(full.as_str(), true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        let ids = enc.get_ids();
        if ids.len() <= self.max_tokens {
            return Ok(vec![ids.to_vec()]);
        }
        // Single-sequence templates of BERT and XLM-R are `CLS text SEP`: keep the two
        // specials and the prompt's tokens on every window.
        let special = enc.get_special_tokens_mask();
        let (head, tail) = if special.first() == Some(&1) && special.last() == Some(&1) {
            (vec![ids[0]], vec![ids[ids.len() - 1]])
        } else {
            (Vec::new(), Vec::new())
        };
        let prompt_ids: Vec<u32> = if prompt.is_empty() {
            Vec::new()
        } else {
            self.tokenizer
                .encode(prompt.trim_end(), false)
                .map_err(|e| EmbedError::Tokenize(e.to_string()))?
                .get_ids()
                .to_vec()
        };
        let body_start = head.len() + prompt_ids.len();
        let body_end = ids.len() - tail.len();
        let room = self
            .max_tokens
            .saturating_sub(head.len() + tail.len() + prompt_ids.len())
            .max(1);
        let body = &ids[body_start.min(body_end)..body_end];
        Ok(body
            .chunks(room)
            .map(|chunk| {
                let mut w = head.clone();
                w.extend_from_slice(&prompt_ids);
                w.extend_from_slice(chunk);
                w.extend_from_slice(&tail);
                w
            })
            .collect())
    }

    /// One forward pass over the sequences (packed, no padding); returns pooled,
    /// unnormalised rows.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let hidden = self.encoder.forward(batch).map_err(EmbedError::Compute)?;
        let h = self.dim;
        let mut start = 0;
        Ok(batch
            .iter()
            .map(|s| {
                let rows = &hidden[start * h..(start + s.len()) * h];
                start += s.len();
                match self.pooling {
                    Pooling::Cls => rows[..h].to_vec(),
                    Pooling::Mean => {
                        let mut sum = vec![0f64; h];
                        for row in rows.chunks(h) {
                            sum.iter_mut()
                                .zip(row)
                                .for_each(|(a, b)| *a += f64::from(*b));
                        }
                        let n = s.len().max(1) as f64;
                        sum.into_iter().map(|v| (v / n) as f32).collect()
                    }
                }
            })
            .collect())
    }
}

fn declared_pooling(dir: &Path) -> Result<Option<Pooling>, EmbedError> {
    // modules.json names the pooling folder; 1_Pooling is the usual one.
    let mut folder = PathBuf::from("1_Pooling");
    if let Some(Value::Array(modules)) = read_json(&dir.join("modules.json"))? {
        for m in modules {
            if m.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("Pooling"))
                && let Some(p) = m.get("path").and_then(Value::as_str)
            {
                folder = PathBuf::from(p);
            }
        }
    }
    let Some(cfg) = read_json(&dir.join(folder).join("config.json"))? else {
        return Ok(None);
    };
    let flag = |k: &str| cfg.get(k).and_then(Value::as_bool).unwrap_or(false);
    Ok(if flag("pooling_mode_cls_token") {
        Some(Pooling::Cls)
    } else if flag("pooling_mode_mean_tokens") {
        Some(Pooling::Mean)
    } else {
        None
    })
}

/// The prompts (query, passage) the folder's model expects, without loading it: those
/// `config_sentence_transformers.json` declares, else e5's `query: ` / `passage: ` for a
/// folder named like an e5 model, else none.
pub fn folder_prompts(dir: &Path) -> Result<(String, String), EmbedError> {
    if let Some(p) = declared_prompts(dir)? {
        return Ok(p);
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(if name.contains("e5") {
        ("query: ".into(), "passage: ".into())
    } else {
        (String::new(), String::new())
    })
}

fn declared_prompts(dir: &Path) -> Result<Option<(String, String)>, EmbedError> {
    let Some(cfg) = read_json(&dir.join("config_sentence_transformers.json"))? else {
        return Ok(None);
    };
    let Some(prompts) = cfg.get("prompts").and_then(Value::as_object) else {
        return Ok(None);
    };
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| prompts.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    };
    let query = get(&["query"]);
    let passage = get(&["passage", "document", "corpus"]);
    if query.is_none() && passage.is_none() {
        return Ok(None);
    }
    Ok(Some((
        query.unwrap_or_default(),
        passage.unwrap_or_default(),
    )))
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Groups sequence indices (sorted longest first) into batches whose padded size,
/// `count × longest`, stays within `budget` tokens and whose count stays within
/// `max_batch`. Sorting by length keeps padding (wasted work) small.
pub fn token_batches(lengths: &[usize], budget: usize, max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    for i in order {
        let l = lengths[i].max(1);
        let new_longest = longest.max(l);
        if !current.is_empty()
            && (new_longest * (current.len() + 1) > budget || current.len() >= max_batch)
        {
            batches.push(std::mem::take(&mut current));
            longest = 0;
        }
        longest = longest.max(l);
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

impl Embedder for BertEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn prompt(&self, role: Role) -> &str {
        match role {
            Role::Query => &self.query_prompt,
            Role::Passage => &self.passage_prompt,
        }
    }

    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        let full = format!("{}{text}", self.passage_prompt);
        Ok(self
            .tokenizer
            .encode(full.as_str(), true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?
            .len())
    }

    fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Every window of every text, remembering whose it is.
        let mut seqs: Vec<Vec<u32>> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            for w in self.windows(t, role)? {
                seqs.push(w);
                owner.push(i);
            }
        }
        let lengths: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let mut sums = vec![vec![0f32; self.dim]; texts.len()];
        for batch in token_batches(&lengths, self.batch_tokens, self.max_batch) {
            let refs: Vec<&[u32]> = batch.iter().map(|&i| seqs[i].as_slice()).collect();
            let rows = self.forward(&refs)?;
            for (&i, row) in batch.iter().zip(rows) {
                // Windows are averaged as unit vectors, so each counts the same.
                let mut row = row;
                normalise(&mut row);
                for (s, x) in sums[owner[i]].iter_mut().zip(row) {
                    *s += x;
                }
            }
        }
        for v in &mut sums {
            normalise(v);
        }
        Ok(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_token_budget_and_keep_every_index() {
        let lengths = [10, 500, 30, 30, 7, 512, 3];
        let batches = token_batches(&lengths, 1024, 64);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for b in &batches {
            let longest = b.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(longest * b.len() <= 1024 || b.len() == 1, "{b:?}");
        }
        // Longest first: the two long ones share a batch, the short ones another.
        assert_eq!(batches[0], vec![5, 1]);
    }

    #[test]
    fn a_sequence_longer_than_the_budget_gets_its_own_batch() {
        let batches = token_batches(&[5000, 4], 1000, 64);
        assert_eq!(batches, vec![vec![0], vec![1]]);
        // The count limit holds even when the budget would allow more.
        let batches = token_batches(&[3; 10], 1 << 20, 4);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
    }

    #[test]
    fn missing_folder_and_files_are_named() {
        let tmp = std::env::temp_dir().join(format!("epicrisis-embed-{}", std::process::id()));
        let err = BertEmbedder::load(&tmp.join("nope"), BertOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("is not a folder") && err.contains("EMBEDDINGS_MODEL"),
            "{err}"
        );
        std::fs::create_dir_all(&tmp).unwrap();
        let err = BertEmbedder::load(&tmp, BertOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("config.json") && err.contains("missing"),
            "{err}"
        );
        std::fs::write(tmp.join("config.json"), "{not json").unwrap();
        let err = BertEmbedder::load(&tmp, BertOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
        std::fs::write(
            tmp.join("config.json"),
            r#"{"model_type":"gpt2","hidden_size":8}"#,
        )
        .unwrap();
        let err = BertEmbedder::load(&tmp, BertOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("gpt2"), "{err}");
        std::fs::write(
            tmp.join("config.json"),
            r#"{"model_type":"bert","hidden_size":8}"#,
        )
        .unwrap();
        let err = BertEmbedder::load(&tmp, BertOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("model.safetensors"), "{err}");
        std::fs::remove_dir_all(&tmp).ok();
    }
}
