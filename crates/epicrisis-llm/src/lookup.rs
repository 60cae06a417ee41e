//! Prompt-lookup drafts for speculative decoding.
//!
//! A discharge narrative copies many words from the notes in its prompt: drug names,
//! procedures, whole phrases. When the last few generated tokens also occur in the prompt
//! (or earlier in the answer), the tokens that followed them there are a good guess for
//! what comes next. The model checks such a draft in one batch (one pass over the weights
//! for several tokens, where a token-by-token loop pays one pass each) and keeps the
//! tokens it would have chosen anyway: every kept token is the one the sampler draws from
//! the model's own logits at that position, so a draft changes the speed, never the
//! choice. The verification lives in [`crate::llama`]; this module only proposes.
//!
//! The index maps each n-gram (n = `min_n..=max_n` tokens) to the position after its most
//! recent occurrence whose continuation is already known; a lookup tries the longest n
//! first. Building it is linear in the prompt, each new token adds `max_n - min_n + 1`
//! entries, and a lookup costs `max_n - min_n + 1` hash probes.

use std::collections::HashMap;

/// Proposes drafts from the tokens seen so far (prompt and answer).
#[derive(Debug, Clone)]
pub struct PromptLookup {
    min_n: usize,
    max_n: usize,
    max_draft: usize,
    history: Vec<i32>,
    /// `index[n - min_n]`: n-gram → position right after its latest indexed occurrence.
    index: Vec<HashMap<u128, usize>>,
}

impl PromptLookup {
    /// An index over `prompt`. `min_n..=max_n`: n-gram lengths (at most 4), `max_draft`:
    /// the longest draft proposed.
    pub fn new(prompt: &[i32], min_n: usize, max_n: usize, max_draft: usize) -> Self {
        let min_n = min_n.clamp(1, 4);
        let max_n = max_n.clamp(min_n, 4);
        let mut lookup = PromptLookup {
            min_n,
            max_n,
            max_draft,
            history: Vec::with_capacity(prompt.len() + 256),
            index: vec![HashMap::with_capacity(prompt.len()); max_n - min_n + 1],
        };
        for &t in prompt {
            lookup.push(t);
        }
        lookup
    }

    /// One more token of the sequence (a prompt token, or a kept answer token).
    pub fn push(&mut self, token: i32) {
        // The n-grams that end just before this token now have a known continuation.
        let end = self.history.len();
        for n in self.min_n..=self.max_n {
            if end >= n {
                let key = pack(&self.history[end - n..end]);
                self.index[n - self.min_n].insert(key, end);
            }
        }
        self.history.push(token);
    }

    /// The draft after the sequence so far: the tokens that followed the latest earlier
    /// occurrence of its longest matching suffix, at most `limit` (and `max_draft`) of
    /// them; empty when no suffix of `min_n` tokens occurred before.
    pub fn draft(&self, limit: usize) -> &[i32] {
        let limit = limit.min(self.max_draft);
        let len = self.history.len();
        if limit == 0 {
            return &[];
        }
        for n in (self.min_n..=self.max_n).rev() {
            if len < n {
                continue;
            }
            if let Some(&start) = self.index[n - self.min_n].get(&pack(&self.history[len - n..])) {
                return &self.history[start..(start + limit).min(len)];
            }
        }
        &[]
    }
}

/// The draft length a job starts with: half the most it may draft (at least one).
pub fn first_draft_limit(max_draft: usize) -> usize {
    max_draft.div_ceil(2)
}

/// How many tokens the next draft may have, after a draft of `len` tokens of which the
/// model kept `kept`, under a limit of `limit` (of at most `max_draft`).
///
/// A draft is checked in one batch, and on a CPU a batch is not free: with 2 threads a
/// batch of 9 tokens of Qwen2.5-1.5B costs about twice one token's pass (the matrix work
/// grows with the rows, the weights are read once), a batch of 2 or 3 little more than
/// one. So the length follows the model's agreement: a draft kept whole doubles the next
/// one's limit, a rejected one sets it just past what was kept. On a compact record,
/// where few drafts match, fixed drafts of 8 made the answer slower than no drafts
/// (11.6 against 14.6 tokens/s); the long stay's copied phrases still get long drafts.
pub fn next_draft_limit(limit: usize, len: usize, kept: usize, max_draft: usize) -> usize {
    if len == 0 {
        return limit;
    }
    let next = if kept >= len {
        (limit.max(1) * 2).max(len + 1)
    } else {
        kept + 1
    };
    next.clamp(1, max_draft.max(1))
}

/// Up to four tokens in one key (token ids fit in 32 bits; each n has its own map).
fn pack(tokens: &[i32]) -> u128 {
    tokens
        .iter()
        .fold(0u128, |k, &t| (k << 32) | u128::from(t as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_limit_grows_with_kept_drafts_and_shrinks_after_rejected_ones() {
        assert_eq!(first_draft_limit(8), 4);
        assert_eq!(first_draft_limit(1), 1);
        // Kept whole: doubles, up to the most allowed.
        assert_eq!(next_draft_limit(4, 4, 4, 8), 8);
        assert_eq!(next_draft_limit(8, 8, 8, 8), 8);
        // A short draft (the prompt had no more) kept whole still lets the next grow.
        assert_eq!(next_draft_limit(4, 2, 2, 8), 8);
        // Rejected: just past what was kept.
        assert_eq!(next_draft_limit(8, 8, 0, 8), 1);
        assert_eq!(next_draft_limit(8, 8, 3, 8), 4);
        // No draft proposed: unchanged.
        assert_eq!(next_draft_limit(2, 0, 0, 8), 2);
        assert_eq!(next_draft_limit(1, 1, 0, 8), 1);
    }

    #[test]
    fn a_suffix_seen_in_the_prompt_drafts_what_followed_it() {
        // "... 10 11 12 13 14 15 ..." then the answer reaches "11 12".
        let prompt: Vec<i32> = (1..=20).collect();
        let mut l = PromptLookup::new(&prompt, 2, 4, 5);
        l.push(99);
        l.push(11);
        l.push(12);
        assert_eq!(l.draft(8), &[13, 14, 15, 16, 17]);
        assert_eq!(l.draft(2), &[13, 14], "at most the limit");
        assert_eq!(l.draft(0), &[] as &[i32]);
    }

    #[test]
    fn the_longest_match_and_the_latest_occurrence_win() {
        // "5 6 7" occurs twice: after "4 5 6" it continued with 7 8, elsewhere with 9.
        let prompt = [4, 5, 6, 7, 8, 1, 5, 6, 9, 2];
        let mut l = PromptLookup::new(&prompt, 2, 3, 4);
        l.push(4);
        l.push(5);
        l.push(6);
        assert_eq!(
            l.draft(4)[0],
            7,
            "the 3-gram «4 5 6» beats the 2-gram «5 6»"
        );
        let mut l = PromptLookup::new(&prompt, 2, 3, 4);
        l.push(3);
        l.push(5);
        l.push(6);
        assert_eq!(l.draft(4)[0], 9, "the latest «5 6» continued with 9");
    }

    #[test]
    fn nothing_to_propose_without_an_earlier_occurrence() {
        let mut l = PromptLookup::new(&[1, 2, 3, 4], 2, 4, 8);
        assert!(
            l.draft(8).is_empty(),
            "the suffix «3 4» itself is not a match"
        );
        l.push(7);
        assert!(l.draft(8).is_empty());
        // The answer's own earlier words count too.
        for t in [7, 8, 9, 7, 8] {
            l.push(t);
        }
        assert_eq!(l.draft(8), &[9, 7, 8]);
    }

    #[test]
    fn a_draft_never_runs_past_the_known_tokens() {
        let mut l = PromptLookup::new(&[1, 2, 3], 1, 2, 10);
        l.push(2);
        l.push(3);
        assert_eq!(
            l.draft(10),
            &[2, 3],
            "after «2 3» came «2 3» (the answer's start)"
        );
        assert_ne!(pack(&[1, 0]), pack(&[0, 1]), "order matters");
    }
}
