//! The model thread's scheduler: up to `EPICRISIS_PARALLEL` jobs decoded together in one
//! llama.cpp context, each in a sequence of its own ([`LlamaConfig::parallel`]).
//!
//! **Admission.** A job waiting on the channel takes a free sequence as soon as there is
//! one. Its prompt is decoded at once, alone in its batches (the other sequences wait for
//! that long), from the longest prefix some sequence already holds: its own cache from
//! its last job, or, with several sequences, another one's, copied in the KV cache
//! (llama.cpp's unified cache shares those cells instead of computing them again; the
//! fixed instructions every draft starts with are held once for all). The prefix is
//! reused only up to a cut (see [`super::LlamaGenerator`]), so a warm prompt is the same
//! computation as a cold one. Its first token is sampled right after.
//!
//! **Steps.** Each step puts every running job's next token (and its prompt-lookup
//! drafts, [`super::decode`]; n running jobs share one job's draft budget) into one
//! batch, one decode for all, then checks each job's drafts and samples its next token
//! from its own rows of the logits. Every job keeps its
//! own sampler, stop strings, loop guard and figures; a job that ends frees its sequence
//! for the next one while the others go on.
//!
//! **What batching changes.** With one sequence (the default) a job is computed exactly
//! as before: the same batches, the same text. With several, a token's logits are
//! computed in a batch holding other jobs' tokens; the kernels are the same kind as for
//! drafts (a small matrix product), and, as with drafts, a long answer can take another
//! word where two candidates nearly tie. `EPICRISIS_PARALLEL` is recorded in provenance.
//!
//! **Failures.** A job whose prompt fails (too long, a grammar llama.cpp refuses, a
//! panic) fails alone. A decode that fails in a shared step fails the jobs in that step
//! and clears the cache: llama.cpp may hold half a batch.
//!
//! [`LlamaConfig::parallel`]: super::LlamaConfig::parallel

use super::Job;
use super::decode::{Answer, backend_error, decode_range, sampler_chain};
use crate::generator::{Event, GenerationError, GenerationStats, StopReason};
use crate::lookup::{PromptLookup, first_draft_limit, next_draft_limit};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// What the model thread holds between steps.
pub(super) struct Engine<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    /// One per sequence; a sequence's id is its index.
    slots: Vec<Slot>,
    n_batch: usize,
    /// The context window of each sequence.
    n_ctx: u32,
    /// Most drafted tokens per job and step (0: no drafts).
    draft_tokens: usize,
}

/// One sequence of the context.
#[derive(Default)]
struct Slot {
    /// The tokens whose entries this sequence holds in the KV cache, in order.
    cached: Vec<LlamaToken>,
    /// The job decoding in this sequence, if any.
    run: Option<Running>,
}

/// A job between its prompt and its end.
struct Running {
    job: Job,
    sampler: LlamaSampler,
    answer: Answer,
    lookup: Option<PromptLookup>,
    /// The longest draft this job proposes next ([`next_draft_limit`]).
    draft_limit: usize,
    /// The sampled token the next step decodes (not yet part of the answer).
    next: LlamaToken,
    /// The prompt's figures, filled at admission.
    stats: GenerationStats,
    /// When generation began (after the prompt).
    started: Instant,
    /// What this job put into the current step's batch.
    step: Option<Step>,
}

/// A job's part of one step's batch.
struct Step {
    /// Its position in the sequence (of `token`).
    pos: usize,
    /// The batch row of `token`; its drafts follow it.
    row: usize,
    token: LlamaToken,
    draft: Vec<LlamaToken>,
}

/// The error a job gets when a bug stopped it.
fn internal_error() -> GenerationError {
    GenerationError::Backend(
        "internal error while generating (the job was stopped; the model stays available)".into(),
    )
}

impl<'m> Engine<'m> {
    pub fn new(
        model: &'m LlamaModel,
        ctx: LlamaContext<'m>,
        n_batch: usize,
        n_ctx: u32,
        draft_tokens: usize,
        sequences: usize,
    ) -> Self {
        Engine {
            model,
            ctx,
            batch: LlamaBatch::new(n_batch, 1),
            slots: (0..sequences.max(1)).map(|_| Slot::default()).collect(),
            n_batch,
            n_ctx,
            // A step decodes a job's token and its drafts in one batch.
            draft_tokens: draft_tokens.min(n_batch.saturating_sub(1)),
        }
    }

    /// No job is running.
    pub fn idle(&self) -> bool {
        self.slots.iter().all(|s| s.run.is_none())
    }

    /// A sequence can take a job.
    pub fn has_room(&self) -> bool {
        self.slots.iter().any(|s| s.run.is_none())
    }

    /// Takes a job into a free sequence: decodes its prompt and samples its first token,
    /// or ends it at once (cancelled while queued, caller gone, or failed).
    pub fn admit(&mut self, job: Job) {
        let Some(slot) = self.slots.iter().position(|s| s.run.is_none()) else {
            let _ = job.events.send(Event::Failed(internal_error()));
            return;
        };
        let events = job.events.clone();
        let result = catch_unwind(AssertUnwindSafe(|| self.start(job, slot)))
            .unwrap_or_else(|_| Err(internal_error()));
        if let Err(e) = result {
            // The sequence may hold half a prompt: it starts clean next time.
            self.forget(slot);
            let _ = events.send(Event::Failed(e));
        }
    }

    /// One step of every running job; jobs that end are answered and free their sequence.
    pub fn step(&mut self) {
        let result = catch_unwind(AssertUnwindSafe(|| self.try_step()))
            .unwrap_or_else(|_| Err(internal_error()));
        if let Err(e) = result {
            // The cache may hold half a batch: every job in the step fails, all start clean.
            self.ctx.clear_kv_cache();
            for slot in &mut self.slots {
                slot.cached.clear();
                if let Some(run) = slot.run.take() {
                    let _ = run.job.events.send(Event::Failed(e.clone()));
                }
            }
        }
    }

    /// Drops a sequence's cache entries.
    fn forget(&mut self, slot: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
        self.slots[slot].cached.clear();
    }

    /// Drops a sequence's cache entries from position `keep` on.
    fn truncate(&mut self, slot: usize, keep: usize) -> Result<(), GenerationError> {
        self.ctx
            .clear_kv_cache_seq(Some(slot as u32), Some(keep as u32), None)
            .map_err(backend_error)?;
        self.slots[slot].cached.truncate(keep);
        Ok(())
    }

    fn start(&mut self, job: Job, slot: usize) -> Result<(), GenerationError> {
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
        let (tokens, reuse) = self.prompt(&job, slot)?;
        let prompt_ms = t0.elapsed().as_secs_f64() * 1e3;
        let started = Instant::now();
        let next = sampler.sample(&self.ctx, self.batch.n_tokens() - 1);
        let lookup = (self.draft_tokens > 0).then(|| {
            let ids: Vec<i32> = tokens.iter().map(|t| t.0).collect();
            PromptLookup::new(&ids, 2, 4, self.draft_tokens)
        });
        let answer = Answer::new(&job);
        self.slots[slot].run = Some(Running {
            stats: GenerationStats {
                prompt_tokens: tokens.len() as u32,
                cached_tokens: reuse as u32,
                prompt_ms,
                queue_ms,
                ..Default::default()
            },
            job,
            sampler,
            answer,
            lookup,
            draft_limit: first_draft_limit(self.draft_tokens),
            next,
            started,
            step: None,
        });
        Ok(())
    }

    /// Decodes the prompt into `slot` (from the longest cached prefix that ends at a cut,
    /// its own or another sequence's) and returns its tokens and how many came from the
    /// cache; the last token's logits are ready.
    fn prompt(
        &mut self,
        job: &Job,
        slot: usize,
    ) -> Result<(Vec<LlamaToken>, usize), GenerationError> {
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(job.prompt.as_bytes(), true, true);
        let n = tokens.len();
        if n + 8 >= self.n_ctx as usize {
            return Err(GenerationError::PromptTooLong {
                prompt_tokens: n,
                n_ctx: self.n_ctx,
            });
        }
        let cuts = cuts_in_tokens(self.model, job, &tokens);
        let reuse_of = |cached: &[LlamaToken]| {
            if job.request.reuse_cache {
                reusable(cached, &tokens, &cuts)
            } else {
                0
            }
        };
        let own = reuse_of(&self.slots[slot].cached);
        // Another sequence may hold a longer prefix (several sequences only).
        let donor = (0..self.slots.len())
            .filter(|&s| s != slot)
            .map(|s| (reuse_of(&self.slots[s].cached), s))
            .filter(|&(r, _)| r > own)
            .max_by_key(|&(r, s)| (r, std::cmp::Reverse(s)));
        let reuse = match donor {
            Some((r, from)) => {
                self.forget(slot);
                self.ctx
                    .copy_kv_cache_seq(from as i32, slot as i32, Some(0), Some(r as u32))
                    .map_err(backend_error)?;
                self.slots[slot].cached.extend_from_slice(&tokens[..r]);
                r
            }
            None => {
                self.truncate(slot, own)?;
                own
            }
        };
        let seq = slot as i32;
        let mut from = reuse;
        for &cut in cuts.iter().filter(|&&c| c > reuse) {
            decode_range(
                &mut self.ctx,
                &mut self.batch,
                &tokens,
                from..cut,
                seq,
                self.n_batch,
                false,
            )?;
            from = cut;
        }
        decode_range(
            &mut self.ctx,
            &mut self.batch,
            &tokens,
            from..n,
            seq,
            self.n_batch,
            true,
        )?;
        let cached = &mut self.slots[slot].cached;
        cached.clear();
        cached.extend_from_slice(&tokens);
        Ok((tokens, reuse))
    }

    fn try_step(&mut self) -> Result<(), GenerationError> {
        self.batch.clear();
        let mut rows = 0;
        let n_slots = self.slots.len();
        // The step's drafts are shared: each of n running jobs may draft 1/n of them, so
        // a step's batch stays near one job's token and drafts. A lone job drafts as
        // before; with several, the batch is filled by their tokens instead (on a CPU a
        // step of 4 jobs and 8 drafts each measured fewer drafts per hour than no drafts).
        let running = self.slots.iter().filter(|x| x.run.is_some()).count();
        let share = self.draft_tokens / running.max(1);
        for s in 0..n_slots {
            // Rows the jobs after this one need at least (one each).
            let later = self.slots[s + 1..]
                .iter()
                .filter(|x| x.run.is_some())
                .count();
            if let Some(step) = self.plan(s, rows, later, share)? {
                rows = step.row + 1 + step.draft.len();
                if let Some(run) = self.slots[s].run.as_mut() {
                    run.step = Some(step);
                }
            }
        }
        if rows == 0 {
            return Ok(());
        }
        self.ctx
            .decode(&mut self.batch)
            .map_err(|e| GenerationError::Backend(format!("decode failed: {e}")))?;
        for s in 0..n_slots {
            self.check(s)?;
        }
        Ok(())
    }

    /// Puts a running job's next token and its drafts into the batch from row `row` on;
    /// `None` when the job ends before (it is answered here).
    fn plan(
        &mut self,
        s: usize,
        row: usize,
        later: usize,
        share: usize,
    ) -> Result<Option<Step>, GenerationError> {
        let n_ctx = self.n_ctx as usize;
        let room_in_batch = self.n_batch.saturating_sub(row + 1 + later);
        let slot = &mut self.slots[s];
        let pos = slot.cached.len();
        let Some(run) = slot.run.as_mut() else {
            return Ok(None);
        };
        if run.job.cancel.is_cancelled() {
            run.answer.reason = StopReason::Cancelled;
        } else if pos + 1 >= n_ctx {
            run.answer.reason = StopReason::ContextFull;
        } else {
            let max_tokens = run.job.request.settings.max_tokens;
            let token = run.next;
            if run.answer.keep(self.model, token, max_tokens) {
                if let Some(l) = run.lookup.as_mut() {
                    l.push(token.0);
                }
                // Room for drafts: the job's share, the tokens still allowed, the context
                // and the batch left.
                let room = ((max_tokens - run.answer.generated) as usize)
                    .min(n_ctx.saturating_sub(pos + 2))
                    .min(room_in_batch)
                    .min(share)
                    .min(run.draft_limit);
                let draft: Vec<LlamaToken> = run
                    .lookup
                    .as_ref()
                    .map(|l| l.draft(room).iter().map(|&t| LlamaToken(t)).collect())
                    .unwrap_or_default();
                let seq = [s as i32];
                self.batch
                    .add(token, pos as i32, &seq, true)
                    .map_err(backend_error)?;
                for (i, d) in draft.iter().enumerate() {
                    self.batch
                        .add(*d, (pos + 1 + i) as i32, &seq, true)
                        .map_err(backend_error)?;
                }
                return Ok(Some(Step {
                    pos,
                    row,
                    token,
                    draft,
                }));
            }
        }
        self.finish(s);
        Ok(None)
    }

    /// After the step's decode: keeps a job's drafts while the model draws the same
    /// tokens, then samples its next token (or ends it).
    fn check(&mut self, s: usize) -> Result<(), GenerationError> {
        let Slot { cached, run } = &mut self.slots[s];
        let Some(run) = run.as_mut() else {
            return Ok(());
        };
        let Some(step) = run.step.take() else {
            return Ok(());
        };
        let max_tokens = run.job.request.settings.max_tokens;
        cached.push(step.token);
        cached.extend_from_slice(&step.draft);
        run.answer.drafted += step.draft.len() as u32;
        let mut kept = 0;
        let mut pending = None;
        let mut stopped = false;
        for (i, d) in step.draft.iter().enumerate() {
            let drawn = run.sampler.sample(&self.ctx, (step.row + i) as i32);
            if drawn != *d {
                pending = Some(drawn);
                break;
            }
            kept += 1;
            if !run.answer.keep(self.model, drawn, max_tokens) {
                stopped = true;
                break;
            }
            if let Some(l) = run.lookup.as_mut() {
                l.push(drawn.0);
            }
        }
        run.answer.accepted += kept as u32;
        run.draft_limit =
            next_draft_limit(run.draft_limit, step.draft.len(), kept, self.draft_tokens);
        if !stopped {
            run.next = match pending {
                Some(t) => t,
                None => run.sampler.sample(&self.ctx, (step.row + kept) as i32),
            };
        }
        if kept < step.draft.len() {
            // The rejected drafts (and, on a stop, the ones after it) leave the cache.
            self.truncate(s, step.pos + 1 + kept)?;
        }
        if stopped {
            self.finish(s);
        }
        Ok(())
    }

    /// Ends a sequence's job: the rest of its text, then its figures.
    fn finish(&mut self, s: usize) {
        let Some(mut run) = self.slots[s].run.take() else {
            return;
        };
        run.answer.finish();
        let stats = GenerationStats {
            generated_tokens: run.answer.generated,
            generation_ms: run.started.elapsed().as_secs_f64() * 1e3,
            stop_reason: Some(run.answer.reason),
            draft_tokens: run.answer.drafted,
            accepted_draft_tokens: run.answer.accepted,
            ..run.stats
        };
        let _ = run.job.events.send(Event::Done(stats));
    }
}

/// The job's cuts in tokens: how many tokens of each cut prefix agree with the prompt's
/// own tokens (ascending, inside the prompt).
fn cuts_in_tokens(model: &LlamaModel, job: &Job, tokens: &[LlamaToken]) -> Vec<usize> {
    let vocab = model.vocab();
    let n = tokens.len();
    let mut cuts: Vec<usize> = job
        .checkpoint_chars
        .iter()
        .map(|&c| {
            vocab
                .tokenize(&job.prompt.as_bytes()[..c], true, true)
                .iter()
                .zip(tokens)
                .take_while(|(a, b)| a == b)
                .count()
        })
        .filter(|&t| t > 0 && t < n)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// How much of `cached` a prompt of `tokens` can reuse: the common prefix, at most all
/// but the last token (decoded again for fresh logits), and with cuts only up to a cut.
fn reusable(cached: &[LlamaToken], tokens: &[LlamaToken], cuts: &[usize]) -> usize {
    let common = cached
        .iter()
        .zip(tokens)
        .take_while(|(a, b)| a == b)
        .count()
        .min(tokens.len().saturating_sub(1));
    if cuts.is_empty() {
        common
    } else {
        cuts.iter()
            .rev()
            .find(|&&c| c <= common)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().map(|&i| LlamaToken(i)).collect()
    }

    #[test]
    fn reuse_stops_at_the_last_cut_inside_the_common_prefix() {
        let prompt = t(&[1, 2, 3, 4, 5, 6]);
        // No cuts: the whole common prefix, but never the last token.
        assert_eq!(reusable(&t(&[1, 2, 3, 9]), &prompt, &[]), 3);
        assert_eq!(reusable(&prompt, &prompt, &[]), 5);
        // Cuts: the last cut the common prefix reaches.
        assert_eq!(reusable(&t(&[1, 2, 3, 9]), &prompt, &[2, 4]), 2);
        assert_eq!(reusable(&t(&[1, 2, 3, 4, 5, 9]), &prompt, &[2, 4]), 4);
        assert_eq!(reusable(&t(&[7]), &prompt, &[2, 4]), 0);
        assert_eq!(reusable(&[], &prompt, &[]), 0);
    }
}
