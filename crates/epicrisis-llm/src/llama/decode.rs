//! One job on the model thread: the prompt (reusing the cached prefix up to a cut), then
//! the answer token by token, or several tokens per pass with prompt-lookup drafts.
//!
//! **Prompt.** The prompt is decoded in batches that end at the job's cuts (message
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
//! removed. Every kept token is thus a draw from the model's logits at its position,
//! through the same sampler state (penalty window, random stream) as without drafts.
//! The logits of a position checked inside a batch are computed by other kernels (a
//! small matrix product instead of a vector one) and can differ in their last bits from
//! a one-token pass: on the fixture model the answers with and without drafts are the
//! same (tested), but a long answer of a bigger model can take another word where two
//! candidates nearly tie, as it would with another thread count. The same settings
//! always give the same text.

use super::Job;
use crate::generator::{
    Event, GenerationError, GenerationStats, SamplingSettings, SettingsError, StopMatcher,
    StopReason, Utf8Stream,
};
use crate::lookup::PromptLookup;
use crate::loops::LoopGuard;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::time::Instant;

/// What the model thread holds between jobs.
pub(super) struct Engine<'m> {
    pub model: &'m LlamaModel,
    pub ctx: LlamaContext<'m>,
    pub batch: LlamaBatch<'static>,
    /// The tokens whose entries the KV cache holds, in order.
    pub cached: Vec<LlamaToken>,
    pub n_batch: usize,
    pub n_ctx: u32,
    /// Most drafted tokens per step (0: no drafts).
    pub draft_tokens: usize,
}

/// Decodes `tokens[from..to]` in batches of at most `n_batch`; the last token's logits
/// are kept when `want_last_logits`.
pub(super) fn decode_range(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    tokens: &[LlamaToken],
    from: usize,
    to: usize,
    n_batch: usize,
    want_last_logits: bool,
) -> Result<(), GenerationError> {
    let mut start = from;
    while start < to {
        let end = (start + n_batch).min(to);
        batch.clear();
        for (i, t) in tokens.iter().enumerate().take(end).skip(start) {
            let last = i + 1 == to && want_last_logits;
            batch
                .add(*t, i as i32, &[0], last)
                .map_err(|e| GenerationError::Backend(e.to_string()))?;
        }
        ctx.decode(batch)
            .map_err(|e| GenerationError::Backend(format!("decode failed: {e}")))?;
        start = end;
    }
    Ok(())
}

fn backend_error(e: impl std::fmt::Display) -> GenerationError {
    GenerationError::Backend(e.to_string())
}

impl Engine<'_> {
    /// Runs one job to its end, streaming its text and then its figures.
    pub fn run(&mut self, job: Job) -> Result<(), GenerationError> {
        let queue_ms = job.enqueued.elapsed().as_secs_f64() * 1e3;
        if job.cancel.is_cancelled() {
            let _ = job.events.send(Event::Done(GenerationStats {
                queue_ms,
                stop_reason: Some(StopReason::Cancelled),
                ..Default::default()
            }));
            return Ok(());
        }
        if job.events.send(Event::Started).is_err() {
            return Ok(()); // the caller went away while queued
        }
        // A grammar that does not compile fails the job before any prompt work.
        let mut sampler = sampler_chain(self.model, &job.request.settings)?;
        let t0 = Instant::now();
        let (tokens, reuse) = self.prompt(&job)?;
        let prompt_ms = t0.elapsed().as_secs_f64() * 1e3;
        let t1 = Instant::now();
        let mut answer = Answer::new(&job);
        self.answer(&job, &tokens, &mut sampler, &mut answer)?;
        let stats = GenerationStats {
            prompt_tokens: tokens.len() as u32,
            cached_tokens: reuse as u32,
            prompt_ms,
            generated_tokens: answer.generated,
            generation_ms: t1.elapsed().as_secs_f64() * 1e3,
            queue_ms,
            stop_reason: Some(answer.reason),
            draft_tokens: answer.drafted,
            accepted_draft_tokens: answer.accepted,
        };
        let _ = job.events.send(Event::Done(stats));
        Ok(())
    }

    /// Decodes the prompt (from the longest cached prefix that ends at a cut) and returns
    /// its tokens and how many came from the cache; the last token's logits are ready.
    fn prompt(&mut self, job: &Job) -> Result<(Vec<LlamaToken>, usize), GenerationError> {
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(job.prompt.as_bytes(), true, true);
        let n = tokens.len();
        if n + 8 >= self.n_ctx as usize {
            return Err(GenerationError::PromptTooLong {
                prompt_tokens: n,
                n_ctx: self.n_ctx,
            });
        }
        // The cuts, in tokens: how many tokens of each prefix agree with the prompt's own.
        let mut cuts: Vec<usize> = job
            .checkpoint_chars
            .iter()
            .map(|&c| {
                vocab
                    .tokenize(&job.prompt.as_bytes()[..c], true, true)
                    .iter()
                    .zip(&tokens)
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .filter(|&t| t > 0 && t < n)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        // Reuse the cached prefix; at least one token is always decoded for fresh logits.
        let common = if job.request.reuse_cache {
            self.cached
                .iter()
                .zip(&tokens)
                .take_while(|(a, b)| a == b)
                .count()
                .min(n - 1)
        } else {
            0
        };
        // With cuts, only up to a cut: the cold path decodes from there too.
        let reuse = if cuts.is_empty() {
            common
        } else {
            cuts.iter()
                .rev()
                .find(|&&c| c <= common)
                .copied()
                .unwrap_or(0)
        };
        self.truncate(reuse)?;
        let mut from = reuse;
        for &cut in cuts.iter().filter(|&&c| c > reuse) {
            decode_range(
                &mut self.ctx,
                &mut self.batch,
                &tokens,
                from,
                cut,
                self.n_batch,
                false,
            )?;
            from = cut;
        }
        decode_range(
            &mut self.ctx,
            &mut self.batch,
            &tokens,
            from,
            n,
            self.n_batch,
            true,
        )?;
        self.cached.clear();
        self.cached.extend_from_slice(&tokens);
        Ok((tokens, reuse))
    }

    /// Drops the cache entries from position `keep` on.
    fn truncate(&mut self, keep: usize) -> Result<(), GenerationError> {
        self.ctx
            .clear_kv_cache_seq(Some(0), Some(keep as u32), None)
            .map_err(backend_error)?;
        self.cached.truncate(keep);
        Ok(())
    }

    /// Generates the answer after a decoded prompt, with drafts when they are on.
    fn answer(
        &mut self,
        job: &Job,
        prompt: &[LlamaToken],
        sampler: &mut LlamaSampler,
        answer: &mut Answer,
    ) -> Result<(), GenerationError> {
        let s = &job.request.settings;
        let mut lookup = (self.draft_tokens > 0).then(|| {
            let ids: Vec<i32> = prompt.iter().map(|t| t.0).collect();
            PromptLookup::new(&ids, 2, 4, self.draft_tokens)
        });
        let mut logits_idx = self.batch.n_tokens() - 1;
        // A token sampled while checking a draft: the next step's token, not yet decoded.
        let mut pending: Option<LlamaToken> = None;
        loop {
            if job.cancel.is_cancelled() {
                answer.reason = StopReason::Cancelled;
                break;
            }
            let pos = self.cached.len();
            if pos + 1 >= self.n_ctx as usize {
                answer.reason = StopReason::ContextFull;
                break;
            }
            // `sample` also accepts the token into the chain; never accept it twice.
            let token = match pending.take() {
                Some(t) => t,
                None => sampler.sample(&self.ctx, logits_idx),
            };
            if !answer.keep(self.model, token, s.max_tokens) {
                break;
            }
            if let Some(l) = lookup.as_mut() {
                l.push(token.0);
            }
            // Room for drafts: the tokens still allowed and the context left.
            let room = (s.max_tokens - answer.generated) as usize;
            let room = room.min((self.n_ctx as usize).saturating_sub(pos + 2));
            let draft: Vec<LlamaToken> = lookup
                .as_ref()
                .map(|l| l.draft(room).iter().map(|&t| LlamaToken(t)).collect())
                .unwrap_or_default();
            self.batch.clear();
            self.batch
                .add(token, pos as i32, &[0], true)
                .map_err(backend_error)?;
            for (i, d) in draft.iter().enumerate() {
                self.batch
                    .add(*d, (pos + 1 + i) as i32, &[0], true)
                    .map_err(backend_error)?;
            }
            self.ctx
                .decode(&mut self.batch)
                .map_err(|e| GenerationError::Backend(format!("decode failed: {e}")))?;
            self.cached.push(token);
            self.cached.extend_from_slice(&draft);
            answer.drafted += draft.len() as u32;
            // Check the draft: keep it while the model draws the same tokens.
            let mut kept = 0;
            let mut stopped = false;
            for (i, d) in draft.iter().enumerate() {
                let drawn = sampler.sample(&self.ctx, i as i32);
                if drawn != *d {
                    pending = Some(drawn);
                    break;
                }
                kept += 1;
                if !answer.keep(self.model, drawn, s.max_tokens) {
                    stopped = true;
                    break;
                }
                if let Some(l) = lookup.as_mut() {
                    l.push(drawn.0);
                }
            }
            answer.accepted += kept as u32;
            if kept < draft.len() {
                // The rejected drafts (and, on a stop, the ones after it) leave the cache.
                self.truncate(pos + 1 + kept)?;
            }
            if stopped {
                break;
            }
            logits_idx = kept as i32;
        }
        answer.finish();
        Ok(())
    }
}

/// The answer so far: streaming, stop strings, the loop guard and the counts.
struct Answer<'j> {
    job: &'j Job,
    utf8: Utf8Stream,
    stops: StopMatcher,
    loops: LoopGuard,
    generated: u32,
    drafted: u32,
    accepted: u32,
    reason: StopReason,
}

impl<'j> Answer<'j> {
    fn new(job: &'j Job) -> Self {
        let s = &job.request.settings;
        Answer {
            job,
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
    fn keep(&mut self, model: &LlamaModel, token: LlamaToken, max_tokens: u32) -> bool {
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
        if !out.is_empty() && self.job.events.send(Event::Text(out)).is_err() {
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
    fn finish(&mut self) {
        if !matches!(
            self.reason,
            StopReason::StopString | StopReason::Cancelled | StopReason::Repetition
        ) {
            let rest = self.stops.finish();
            if !rest.is_empty() {
                let _ = self.job.events.send(Event::Text(rest));
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
fn sampler_chain(
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
        decode_range(&mut ctx, &mut batch, &tokens, 0, tokens.len(), 512, true).unwrap();
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
            decode_range(&mut ctx, &mut batch, &tokens, last, tokens.len(), 512, true).unwrap();
        }
    }
}
