//! Decoding pieces the scheduler ([`super::engine`]) uses for every job: prompt batches,
//! the answer's bookkeeping and the sampling chain.
//!
//! **Prompt.** A prompt is decoded in batches that end at the job's cuts (message
//! boundaries a later prompt may share, [`super::LlamaGenerator`]); the cache is reused
//! only up to a cut, so a warm prompt is the same computation as a cold one.
//!
//! **Answer.** Each step samples the next token from the model's logits with the request's
//! chain. With `draft_tokens > 0`, a step also looks the last few tokens up in the prompt
//! and the answer so far ([`crate::lookup`]) and, when they occurred before, decodes the
//! sampled token together with the tokens that followed them there, in one batch. Then it
//! samples at each drafted position in turn, with the same chain, and keeps the draft
//! while the sampled token equals the drafted one; the first sampled token that differs
//! is kept instead and ends the step, and the cache entries of the rejected drafts are
//! removed. A draft is at most `draft_tokens` long, and its length follows the model's
//! agreement ([`crate::lookup::next_draft_limit`]): a checked batch costs more than one
//! token's pass on a CPU, so drafts the model keeps grow and rejected ones shrink.
//! Every kept token is thus a draw from the model's logits at its position,
//! through the same sampler state (penalty window, random stream) as without drafts.
//! The logits of a position checked inside a batch are computed by other kernels (a
//! small matrix product instead of a vector one) and can differ in their last bits from
//! a one-token pass: on the fixture model the answers with and without drafts are the
//! same (tested), but a long answer of a bigger model can take another word where two
//! candidates nearly tie, as it would with another thread count. The same settings
//! always give the same text.

use super::Job;
use crate::generator::{
    Event, GenerationError, SamplingSettings, SettingsError, StopMatcher, StopReason, Utf8Stream,
};
use crate::loops::LoopGuard;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

/// Decodes `tokens[range]` into sequence `seq` in batches of at most `n_batch`; the last
/// token's logits are kept when `want_last_logits`.
pub(super) fn decode_range(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    tokens: &[LlamaToken],
    range: std::ops::Range<usize>,
    seq: i32,
    n_batch: usize,
    want_last_logits: bool,
) -> Result<(), GenerationError> {
    let (mut start, to) = (range.start, range.end);
    while start < to {
        let end = (start + n_batch).min(to);
        batch.clear();
        for (i, t) in tokens.iter().enumerate().take(end).skip(start) {
            let last = i + 1 == to && want_last_logits;
            batch
                .add(*t, i as i32, &[seq], last)
                .map_err(|e| GenerationError::Backend(e.to_string()))?;
        }
        ctx.decode(batch)
            .map_err(|e| GenerationError::Backend(format!("decode failed: {e}")))?;
        start = end;
    }
    Ok(())
}

pub(super) fn backend_error(e: impl std::fmt::Display) -> GenerationError {
    GenerationError::Backend(e.to_string())
}

/// The answer so far: streaming, stop strings, the loop guard and the counts.
pub(super) struct Answer {
    events: std::sync::mpsc::Sender<Event>,
    utf8: Utf8Stream,
    stops: StopMatcher,
    loops: LoopGuard,
    pub generated: u32,
    pub drafted: u32,
    pub accepted: u32,
    pub reason: StopReason,
}

impl Answer {
    pub fn new(job: &Job) -> Self {
        let s = &job.request.settings;
        Answer {
            events: job.events.clone(),
            utf8: Utf8Stream::default(),
            stops: StopMatcher::new(&s.stop),
            loops: LoopGuard::new(s.loop_words),
            generated: 0,
            drafted: 0,
            accepted: 0,
            reason: StopReason::MaxTokens,
        }
    }

    /// Takes one sampled token into the answer; false when the answer ends here (the
    /// token is then not part of it, or it is the last one).
    pub fn keep(&mut self, model: &LlamaModel, token: LlamaToken, max_tokens: u32) -> bool {
        if self.generated >= max_tokens {
            self.reason = StopReason::MaxTokens;
            return false;
        }
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            self.reason = StopReason::EndOfText;
            return false;
        }
        self.generated += 1;
        let piece = self.utf8.push(&vocab.token_to_piece(token, false, None));
        let (out, stopped) = self.stops.push(&piece);
        let looped = self.loops.push(&out).is_some();
        if !out.is_empty() && self.events.send(Event::Text(out)).is_err() {
            self.reason = StopReason::Cancelled;
            return false;
        }
        if stopped {
            self.reason = StopReason::StopString;
            return false;
        }
        if looped {
            self.reason = StopReason::Repetition;
            return false;
        }
        if self.generated >= max_tokens {
            self.reason = StopReason::MaxTokens;
            return false;
        }
        true
    }

    /// Sends what the stop matcher still holds, unless the answer was cut.
    pub fn finish(&mut self) {
        if !matches!(
            self.reason,
            StopReason::StopString | StopReason::Cancelled | StopReason::Repetition
        ) {
            let rest = self.stops.finish();
            if !rest.is_empty() {
                let _ = self.events.send(Event::Text(rest));
            }
        }
    }
}

/// The sampling chain of one request: the grammar first (so nothing it forbids can be
/// picked, whatever the other stages do), then the repetition penalty, then greedy or
/// top-k → top-p → temperature → seeded draw.
///
/// Without a grammar, a top-k of `k + repeat_last_n` runs before the penalty: the penalty
/// only lowers the logits of the at most `repeat_last_n` tokens of its window, so every
/// token of the final top k is among them, and the penalty then looks at ~100 candidates
/// instead of the whole vocabulary (152,000 entries for Qwen) on every token. The choice
/// is the same as with the penalty over the full vocabulary.
pub(super) fn sampler_chain(
    model: &LlamaModel,
    s: &SamplingSettings,
) -> Result<LlamaSampler, GenerationError> {
    chain_of(model, s, true)
}

/// The chain, with or without the top-k ahead of the penalty (the tests compare both).
fn chain_of(
    model: &LlamaModel,
    s: &SamplingSettings,
    prune: bool,
) -> Result<LlamaSampler, GenerationError> {
    let vocab = model.vocab();
    let mut chain = Vec::new();
    if let Some(g) = &s.grammar {
        // llama.cpp says why a grammar fails only in its (silenced) log.
        chain.push(LlamaSampler::grammar(model, g, "root").map_err(|_| {
            GenerationError::Settings(SettingsError {
                name: "grammar",
                value: "a grammar llama.cpp refused".into(),
                allowed: "a GBNF grammar llama.cpp can parse (a `root` rule, every rule defined, no left recursion)",
            })
        })?);
    }
    let greedy = s.temperature <= 0.0;
    // The candidates the later stages can pick from: 1 for greedy, top-k otherwise.
    let keep = if greedy { 1 } else { s.top_k };
    if (s.repeat_penalty - 1.0).abs() > f32::EPSILON {
        if prune && s.grammar.is_none() && keep > 0 && s.repeat_last_n > 0 {
            chain.push(LlamaSampler::top_k(keep.saturating_add(s.repeat_last_n)));
        }
        chain.push(LlamaSampler::penalties(
            vocab.n_tokens(),
            s.repeat_last_n,
            s.repeat_penalty,
            0.0,
            0.0,
        ));
    }
    if greedy {
        chain.push(LlamaSampler::greedy());
    } else {
        if s.top_k > 0 {
            chain.push(LlamaSampler::top_k(s.top_k));
        }
        chain.push(LlamaSampler::top_p(s.top_p, 1));
        chain.push(LlamaSampler::temp(s.temperature));
        chain.push(LlamaSampler::dist(s.seed));
    }
    Ok(LlamaSampler::chain_simple(chain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use llama_cpp_2::context::params::LlamaContextParams;
    use llama_cpp_2::model::params::LlamaModelParams;
    use std::num::NonZeroU32;

    use epicrisis_testkit::fixtures::smollm2 as fixture;

    #[test]
    fn the_top_k_ahead_of_the_penalty_picks_what_the_full_penalty_picks() {
        let Some(path) = fixture() else { return };
        let backend = super::super::backend().unwrap();
        let model =
            LlamaModel::load_from_file(backend, &path, &LlamaModelParams::default()).unwrap();
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(512))
            .with_n_threads(2)
            .with_n_threads_batch(2);
        let mut ctx = model.new_context(backend, params).unwrap();
        let tokens = model.vocab().tokenize(
            b"<|im_start|>user\nList ten fruits, one per line.<|im_end|>\n<|im_start|>assistant\n",
            true,
            true,
        );
        let mut batch = LlamaBatch::new(512, 1);
        decode_range(&mut ctx, &mut batch, &tokens, 0..tokens.len(), 0, 512, true).unwrap();
        for (temperature, penalty) in [(0.0, 1.3), (0.9, 1.5)] {
            let s = SamplingSettings {
                temperature,
                repeat_penalty: penalty,
                repeat_last_n: 16,
                top_k: 20,
                ..Default::default()
            };
            let (mut pruned, mut full) = (
                chain_of(&model, &s, true).unwrap(),
                chain_of(&model, &s, false).unwrap(),
            );
            let mut idx = batch.n_tokens() - 1;
            // Both chains see the same logits at every step; their draws must agree.
            for pos in tokens.len()..tokens.len() + 40 {
                let a = pruned.sample(&ctx, idx);
                let b = full.sample(&ctx, idx);
                assert_eq!(
                    a, b,
                    "temperature {temperature}, penalty {penalty}, position {pos}"
                );
                batch.clear();
                batch.add(a, pos as i32, &[0], true).unwrap();
                ctx.decode(&mut batch).unwrap();
                idx = 0;
            }
            // The prompt's logits again, for the next settings.
            let last = tokens.len() - 1;
            ctx.clear_kv_cache_seq(Some(0), Some(last as u32), None)
                .unwrap();
            decode_range(
                &mut ctx,
                &mut batch,
                &tokens,
                last..tokens.len(),
                0,
                512,
                true,
            )
            .unwrap();
        }
    }
}
