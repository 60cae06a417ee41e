//! The BERT / XLM-RoBERTa encoder's forward pass on plain `f32` buffers.
//!
//! candle loads the weights (safetensors or a PyTorch pickle); the arithmetic is ours,
//! because candle's general tensor ops cost more here than the matrix products themselves
//! (a profile of candle-transformers' BERT on 2 cores: a third of the time in the matrix
//! kernel, the rest in allocations, page faults and element-wise passes). Here:
//!
//! - the sequences of a batch are **packed** one after another (no padding, no mask): the
//!   token-wise layers (the Q/K/V projection fused into one product, the attention output,
//!   the feed-forward pair) are each one large matrix product over every token of the
//!   batch, through OpenBLAS (`blas`), its rows split across rayon's threads;
//! - attention runs per sequence, in parallel, each head through OpenBLAS;
//! - bias, residual, GELU and layer norm are fused passes over buffers allocated once per
//!   forward pass, vectorised and picked per CPU at run time (`fastmath`).
//!
//! The result equals the reference implementation's to float rounding (the embeddings
//! crate's reference test holds cosine ≥ 0.999 against sentence-transformers).

use crate::blas::{Mat, sgemm};
use crate::fastmath::{gelu_erf, layer_norm, softmax_unnormalized};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use serde_json::Value;

/// The activation of the feed-forward layer, as `hidden_act` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// `gelu`: x·Φ(x) with the exact error function.
    GeluErf,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    Relu,
}

struct Layer {
    /// Query, key and value weights stacked: `[3H, H]`, and their biases `[3H]`.
    qkv_w: Vec<f32>,
    qkv_b: Vec<f32>,
    out_w: Vec<f32>,
    out_b: Vec<f32>,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    up_w: Vec<f32>,
    up_b: Vec<f32>,
    down_w: Vec<f32>,
    down_b: Vec<f32>,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// A loaded encoder.
pub(crate) struct Encoder {
    hidden: usize,
    heads: usize,
    inter: usize,
    eps: f32,
    act: Act,
    vocab: usize,
    max_positions: usize,
    /// First position id (XLM-RoBERTa counts from `pad_token_id + 1`).
    position_offset: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type embeddings (every input is one segment).
    token_type: Vec<f32>,
    emb_g: Vec<f32>,
    emb_b: Vec<f32>,
    layers: Vec<Layer>,
}

fn flat(t: Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    flat(vb.get(shape, name)?)
}

/// A layer norm's scale and shift (`weight`/`bias`, or old checkpoints' `gamma`/`beta`).
fn norm(vb: &VarBuilder, h: usize) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
    if vb.contains_tensor("weight") {
        Ok((get(vb, &[h], "weight")?, get(vb, &[h], "bias")?))
    } else {
        Ok((get(vb, &[h], "gamma")?, get(vb, &[h], "beta")?))
    }
}

fn usize_of(cfg: &Value, key: &str) -> Result<usize, String> {
    cfg.get(key)
        .and_then(Value::as_u64)
        .map(|v| v as usize)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("has no positive integer \"{key}\""))
}

/// The sizes and settings an encoder's `config.json` gives.
struct Config {
    hidden: usize,
    heads: usize,
    inter: usize,
    layers: usize,
    vocab: usize,
    max_positions: usize,
    types: usize,
    eps: f32,
    act: Act,
    position_offset: usize,
}

impl Config {
    /// Reads and checks the configuration; the error is a problem of config.json.
    fn read(cfg: &Value, roberta: bool) -> Result<Config, String> {
        let hidden = usize_of(cfg, "hidden_size")?;
        let heads = usize_of(cfg, "num_attention_heads")?;
        if hidden % heads != 0 {
            return Err(format!(
                "has hidden_size {hidden}, not a multiple of num_attention_heads {heads}"
            ));
        }
        let inter = usize_of(cfg, "intermediate_size")?;
        let layers = usize_of(cfg, "num_hidden_layers")?;
        let vocab = usize_of(cfg, "vocab_size")?;
        let max_positions = usize_of(cfg, "max_position_embeddings")?;
        let types = usize_of(cfg, "type_vocab_size")?;
        let eps = cfg
            .get("layer_norm_eps")
            .and_then(Value::as_f64)
            .unwrap_or(1e-12) as f32;
        let act = activation(cfg)?;
        match cfg.get("position_embedding_type").and_then(Value::as_str) {
            None | Some("absolute") => {}
            Some(other) => {
                return Err(format!(
                    "has position_embedding_type \"{other}\"; only absolute positions are supported"
                ));
            }
        }
        let pad = cfg.get("pad_token_id").and_then(Value::as_u64).unwrap_or(1) as usize;
        let position_offset = if roberta { pad + 1 } else { 0 };
        Ok(Config {
            hidden,
            heads,
            inter,
            layers,
            vocab,
            max_positions,
            types,
            eps,
            act,
            position_offset,
        })
    }
}

/// The feed-forward activation that `hidden_act` names (`gelu` when it is absent).
fn activation(cfg: &Value) -> Result<Act, String> {
    match cfg
        .get("hidden_act")
        .and_then(Value::as_str)
        .unwrap_or("gelu")
    {
        "gelu" => Ok(Act::GeluErf),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Act::GeluTanh),
        "relu" => Ok(Act::Relu),
        other => Err(format!(
            "has hidden_act \"{other}\", which this backend does not run (gelu, gelu_new, relu)"
        )),
    }
}

/// The weights of encoder layer `i`, the query, key and value projections stacked.
fn load_layer(
    vb: &VarBuilder,
    i: usize,
    hidden: usize,
    inter: usize,
) -> candle_core::Result<Layer> {
    let l = vb.pp(format!("encoder.layer.{i}"));
    let a = l.pp("attention");
    let s = a.pp("self");
    let mut qkv_w = Vec::with_capacity(3 * hidden * hidden);
    let mut qkv_b = Vec::with_capacity(3 * hidden);
    for part in ["query", "key", "value"] {
        qkv_w.extend(get(&s, &[hidden, hidden], &format!("{part}.weight"))?);
        qkv_b.extend(get(&s, &[hidden], &format!("{part}.bias"))?);
    }
    let (ln1_g, ln1_b) = norm(&a.pp("output.LayerNorm"), hidden)?;
    let (ln2_g, ln2_b) = norm(&l.pp("output.LayerNorm"), hidden)?;
    Ok(Layer {
        qkv_w,
        qkv_b,
        out_w: get(&a, &[hidden, hidden], "output.dense.weight")?,
        out_b: get(&a, &[hidden], "output.dense.bias")?,
        ln1_g,
        ln1_b,
        up_w: get(&l, &[inter, hidden], "intermediate.dense.weight")?,
        up_b: get(&l, &[inter], "intermediate.dense.bias")?,
        down_w: get(&l, &[hidden, inter], "output.dense.weight")?,
        down_b: get(&l, &[hidden], "output.dense.bias")?,
        ln2_g,
        ln2_b,
    })
}

impl Encoder {
    /// Reads the configuration and the weights. `roberta`: XLM-RoBERTa position ids.
    /// Errors are about the configuration (`Err(String)`, a problem of config.json) or
    /// the weights (candle's message).
    pub(crate) fn load(
        vb: VarBuilder,
        cfg: &Value,
        roberta: bool,
    ) -> Result<Result<Encoder, candle_core::Error>, String> {
        let config = Config::read(cfg, roberta)?;
        Ok(Encoder::load_weights(vb, &config))
    }

    /// Reads the embeddings and every layer's weights (under a `bert.` or `roberta.`
    /// prefix when the checkpoint has one).
    fn load_weights(vb: VarBuilder, c: &Config) -> candle_core::Result<Encoder> {
        let hidden = c.hidden;
        let prefix = ["bert", "roberta"]
            .into_iter()
            .find(|p| vb.contains_tensor(&format!("{p}.embeddings.word_embeddings.weight")));
        let vb = match prefix {
            Some(p) => vb.pp(p),
            None => vb,
        };
        let e = vb.pp("embeddings");
        let word = get(&e, &[c.vocab, hidden], "word_embeddings.weight")?;
        let position = get(&e, &[c.max_positions, hidden], "position_embeddings.weight")?;
        let mut token_type = get(&e, &[c.types, hidden], "token_type_embeddings.weight")?;
        token_type.truncate(hidden);
        let (emb_g, emb_b) = norm(&e.pp("LayerNorm"), hidden)?;
        let mut list = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            list.push(load_layer(&vb, i, hidden, c.inter)?);
        }
        Ok(Encoder {
            hidden,
            heads: c.heads,
            inter: c.inter,
            eps: c.eps,
            act: c.act,
            vocab: c.vocab,
            max_positions: c.max_positions,
            position_offset: c.position_offset,
            word,
            position,
            token_type,
            emb_g,
            emb_b,
            layers: list,
        })
    }

    /// The last hidden states of `seqs` (token ids with their special tokens), packed:
    /// `[Σ len, hidden]`, the rows of sequence `s` after those of `s - 1`.
    pub(crate) fn forward(&self, seqs: &[&[u32]]) -> Result<Vec<f32>, String> {
        let h = self.hidden;
        let rows: usize = seqs.iter().map(|s| s.len()).sum();
        let mut x = Vec::with_capacity(rows * h);
        for s in seqs {
            if s.len() + self.position_offset > self.max_positions {
                return Err(format!(
                    "a window of {} tokens is longer than the model's {} positions",
                    s.len(),
                    self.max_positions - self.position_offset
                ));
            }
            for (i, &id) in s.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    return Err(format!(
                        "token id {id} is outside the model's vocabulary of {} (tokenizer.json and the weights do not belong together)",
                        self.vocab
                    ));
                }
                let w = &self.word[id * h..(id + 1) * h];
                let p = i + self.position_offset;
                let p = &self.position[p * h..(p + 1) * h];
                x.extend(
                    w.iter()
                        .zip(p)
                        .zip(&self.token_type)
                        .map(|((a, b), c)| a + b + c),
                );
            }
        }
        layer_norm(&mut x, h, &self.emb_g, &self.emb_b, self.eps);
        let spans: Vec<(usize, usize)> = seqs
            .iter()
            .scan(0usize, |start, s| {
                let span = (*start, s.len());
                *start += s.len();
                Some(span)
            })
            .collect();
        let mut qkv = Vec::new();
        let mut ctx = vec![0f32; rows * h];
        let mut tmp = Vec::new();
        let mut up = Vec::new();
        let (eps, act) = (self.eps, self.act);
        for l in &self.layers {
            let qkv_of = Dense::new(&l.qkv_w, &l.qkv_b, h);
            linear(&x, qkv_of, &mut qkv, |_, _| {});
            self.attention(&qkv, &spans, &mut ctx);
            let out = Dense::new(&l.out_w, &l.out_b, h);
            linear(&ctx, out, &mut tmp, add_norm(&x, &l.ln1_g, &l.ln1_b, eps));
            std::mem::swap(&mut x, &mut tmp);
            let up_of = Dense::new(&l.up_w, &l.up_b, h);
            linear(&x, up_of, &mut up, |_, y| activate(y, act));
            let down = Dense::new(&l.down_w, &l.down_b, self.inter);
            linear(&up, down, &mut tmp, add_norm(&x, &l.ln2_g, &l.ln2_b, eps));
            std::mem::swap(&mut x, &mut tmp);
        }
        Ok(x)
    }

    /// Scaled dot-product attention of every sequence and head: `qkv` is `[rows, 3H]`
    /// (queries, keys, values side by side), `ctx` receives `[rows, H]`.
    fn attention(&self, qkv: &[f32], spans: &[(usize, usize)], ctx: &mut [f32]) {
        let h = self.hidden;
        let dh = h / self.heads;
        let stride = 3 * h;
        let scale = 1.0 / (dh as f32).sqrt();
        // Each sequence's rows of `ctx`, split off so that its tasks own them.
        let mut rest = ctx;
        let mut parts = Vec::with_capacity(spans.len());
        for &(r0, len) in spans {
            let (mine, tail) = rest.split_at_mut(len * h);
            parts.push((r0, len, mine));
            rest = tail;
        }
        // Scratch (scores, inverse row sums) kept per thread across its sequences; OpenBLAS
        // writes the scores with β = 0, so they need no clearing.
        let scratch = || (Vec::<f32>::new(), Vec::<f32>::new());
        parts
            .into_par_iter()
            .for_each_init(scratch, |(scores, inv), (r0, len, out)| {
                let rows = &qkv[r0 * stride..(r0 + len) * stride];
                scores.resize(len * len, 0.0);
                inv.resize(len, 0.0);
                let view = |col: usize| Mat {
                    data: &rows[col..],
                    rows: len,
                    cols: dh,
                    stride,
                };
                for head in 0..self.heads {
                    let (q, k, v) = (
                        view(head * dh),
                        view(h + head * dh),
                        view(2 * h + head * dh),
                    );
                    sgemm(q, k, true, scale, 0.0, scores, len);
                    for (row, inv) in scores.chunks_mut(len).zip(inv.iter_mut()) {
                        *inv = 1.0 / softmax_unnormalized(row);
                    }
                    let p = Mat {
                        data: scores,
                        rows: len,
                        cols: len,
                        stride: len,
                    };
                    sgemm(p, v, false, 1.0, 0.0, &mut out[head * dh..], h);
                    // The softmax's division, on `dh` columns instead of `len`.
                    for (row, inv) in out.chunks_mut(h).zip(inv.iter()) {
                        row[head * dh..(head + 1) * dh]
                            .iter_mut()
                            .for_each(|v| *v *= inv);
                    }
                }
            });
    }
}

/// A dense layer's weights `[out, inp]` (PyTorch's layout) and bias `[out]`.
#[derive(Clone, Copy)]
struct Dense<'a> {
    w: &'a [f32],
    b: &'a [f32],
    inp: usize,
}

impl<'a> Dense<'a> {
    fn new(w: &'a [f32], b: &'a [f32], inp: usize) -> Dense<'a> {
        assert_eq!(w.len(), b.len() * inp, "dense layer: weight shape");
        Dense { w, b, inp }
    }
}

/// Rows per task of a dense layer: small enough for a block of the output (at most 3 MB)
/// to stay in the cache while `then` runs on it, large enough that OpenBLAS's packing of
/// the weights, repeated per block, stays small (128 rows cost 15 % of the throughput).
const BLOCK_ROWS: usize = 512;

/// `y = x · wᵀ + b` for `x` of `rows × inp`, then `then(first_row, block)` on each block of
/// output rows (activation, residual and layer norm), the blocks spread over rayon's
/// threads. `y` keeps its allocation between calls.
fn linear<F>(x: &[f32], d: Dense, y: &mut Vec<f32>, then: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let (inp, out) = (d.inp, d.b.len());
    assert_eq!(x.len() % inp, 0, "linear: input shape");
    let rows = x.len() / inp;
    y.resize(rows * out, 0.0);
    let threads = rayon::current_num_threads().max(1);
    let block = rows.div_ceil(threads).clamp(16, BLOCK_ROWS);
    let weights = Mat {
        data: d.w,
        rows: out,
        cols: inp,
        stride: inp,
    };
    y.par_chunks_mut(block * out)
        .zip(x.par_chunks(block * inp))
        .enumerate()
        .for_each(|(i, (y, x))| {
            let x = Mat {
                data: x,
                rows: x.len() / inp,
                cols: inp,
                stride: inp,
            };
            // β = 0: OpenBLAS writes the block without reading it; the bias is added
            // after, while the block is in the cache.
            sgemm(x, weights, true, 1.0, 0.0, y, out);
            for row in y.chunks_mut(out) {
                add(row, d.b);
            }
            then(i * block, y);
        });
}

/// The residual and layer norm of a block of `g.len()`-wide rows whose first row is `r0`,
/// run on each block as soon as its product is done (while it is in the cache).
fn add_norm<'a>(
    residual: &'a [f32],
    g: &'a [f32],
    b: &'a [f32],
    eps: f32,
) -> impl Fn(usize, &mut [f32]) + Sync + 'a {
    let h = g.len();
    move |r0, y| {
        add(y, &residual[r0 * h..r0 * h + y.len()]);
        layer_norm(y, h, g, b, eps);
    }
}

fn add(y: &mut [f32], x: &[f32]) {
    y.iter_mut().zip(x).for_each(|(a, b)| *a += b);
}

fn activate(x: &mut [f32], act: Act) {
    match act {
        Act::GeluErf => gelu_erf(x),
        Act::GeluTanh => x.iter_mut().for_each(|v| {
            let u = *v;
            *v = 0.5 * u * (1.0 + (0.797_884_6 * (u + 0.044_715 * u * u * u)).tanh());
        }),
        Act::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked product against a plain triple loop, and `then` called once on every
    /// block with its first row (a few rows, and more rows than one block holds).
    #[test]
    fn linear_is_x_times_w_transposed_plus_b() {
        for rows in [5, 3 * BLOCK_ROWS + 7] {
            linear_case(rows);
        }
    }

    fn linear_case(rows: usize) {
        let (inp, out) = (7, 3);
        let x: Vec<f32> = (0..rows * inp).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..out * inp).map(|i| (i as f32 * 0.11).cos()).collect();
        let b = [0.5f32, -1.0, 2.0];
        let mut y = vec![9.0; 4];
        let blocks = std::sync::Mutex::new(Vec::new());
        linear(&x, Dense::new(&w, &b, inp), &mut y, |r0, block| {
            blocks.lock().unwrap().push((r0, block.len() / out));
        });
        let mut blocks = blocks.into_inner().unwrap();
        blocks.sort();
        let mut next = 0;
        for (r0, n) in blocks {
            assert_eq!(r0, next, "blocks cover the rows in order");
            next += n;
        }
        assert_eq!(next, rows);
        assert_eq!(y.len(), rows * out);
        for r in 0..rows {
            for j in 0..out {
                let want: f32 = (0..inp)
                    .map(|k| x[r * inp + k] * w[j * inp + k])
                    .sum::<f32>()
                    + b[j];
                assert!((y[r * out + j] - want).abs() < 1e-4, "{r},{j}");
            }
        }
    }

    #[test]
    fn softmax_and_layer_norm() {
        let mut r = [1.0f32, 2.0, 3.0];
        let sum = softmax_unnormalized(&mut r);
        assert!((r.iter().sum::<f32>() - sum).abs() < 1e-6);
        assert!((r[2] - 1.0).abs() < 1e-7 && r[2] > r[1] && r[1] > r[0]);
        let mut x = [1.0f32, 2.0, 3.0, 4.0];
        layer_norm(&mut x, 4, &[1.0; 4], &[0.0; 4], 1e-12);
        assert!(x.iter().sum::<f32>().abs() < 1e-5);
        let var: f32 = x.iter().map(|v| v * v).sum::<f32>() / 4.0;
        assert!((var - 1.0).abs() < 1e-4);
    }

    #[test]
    fn gelu_matches_known_values() {
        let mut x = [-1.0f32, 0.0, 1.0, 2.0];
        activate(&mut x, Act::GeluErf);
        for (got, want) in x.iter().zip([-0.158_655_3, 0.0, 0.841_344_7, 1.954_5]) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
    }
}
