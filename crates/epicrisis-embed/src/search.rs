//! Dense, lexical and hybrid top-k over a few thousand passages.
//!
//! Plain functions over slices: a hospital stay has at most a few thousand passages, so a
//! linear scan is faster to run and to trust than any index. Dense scores are dot
//! products of L2-normalised vectors (that is, cosines); lexical scores come from
//! [`crate::bm25::Bm25`]. The two are fused by reciprocal rank fusion by default, because
//! their scales are unrelated (cosines near 0.8, BM25 anywhere from 0 to 30); a weighted
//! sum of min-max normalised scores is there for callers that want to tune a balance.

use serde::{Deserialize, Serialize};

/// One passage found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Index of the passage in the slice searched.
    pub index: usize,
    /// The fused score (higher is better; only comparable within one search).
    pub score: f32,
    /// The dense score (cosine), when vectors were searched.
    pub dense: Option<f32>,
    /// The lexical (BM25) score, when lexical scores were given.
    pub lexical: Option<f32>,
}

/// How dense and lexical scores become one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: `Σ 1 / (k + rank)` over the lists, ranks from 1. Only
    /// ranks matter, so unrelated scales do not. A passage with lexical score 0 has no
    /// lexical rank.
    Rrf { k: f32 },
    /// `dense_weight · dense' + (1 − dense_weight) · lexical'`, each list min-max
    /// normalised to [0, 1] over all passages.
    Weighted { dense_weight: f32 },
}

/// The constant of the original RRF paper (Cormack et al., 2009).
pub const RRF_K: f32 = 60.0;

impl Default for Fusion {
    fn default() -> Fusion {
        Fusion::Rrf { k: RRF_K }
    }
}

/// Dot product of `query` with every vector (vectors of another length score over their
/// common prefix, which is 0 for nonsense input rather than a panic).
pub fn dense_scores(query: &[f32], vectors: &[Vec<f32>]) -> Vec<f32> {
    vectors
        .iter()
        .map(|v| v.iter().zip(query).map(|(a, b)| a * b).sum())
        .collect()
}

/// The `k` vectors closest to `query` by dot product, best first (ties keep order).
pub fn dense_top_k(query: &[f32], vectors: &[Vec<f32>], k: usize) -> Vec<Hit> {
    let scores = dense_scores(query, vectors);
    let mut hits: Vec<Hit> = scores
        .iter()
        .enumerate()
        .map(|(index, &s)| Hit {
            index,
            score: s,
            dense: Some(s),
            lexical: None,
        })
        .collect();
    sort_hits(&mut hits);
    hits.truncate(k);
    hits
}

/// Fuses per-passage dense and lexical scores (either may be absent; when both are given
/// they must describe the same passages, and only the common length is searched) and
/// returns the `k` best hits, best first.
///
/// Passages with no signal at all — lexical score 0 and no dense list — are left out, so
/// a lexical-only search returns only passages that share a term with the query.
pub fn hybrid(
    dense: Option<&[f32]>,
    lexical: Option<&[f32]>,
    fusion: Fusion,
    k: usize,
) -> Vec<Hit> {
    let n = match (dense, lexical) {
        (Some(d), Some(l)) => d.len().min(l.len()),
        (Some(d), None) => d.len(),
        (None, Some(l)) => l.len(),
        (None, None) => 0,
    };
    let dense = dense.map(|d| &d[..n]);
    let lexical = lexical.map(|l| &l[..n]);
    let fused: Vec<f32> = match fusion {
        Fusion::Rrf { k: rrf_k } => {
            let mut fused = vec![0f32; n];
            if let Some(d) = dense {
                for (rank, i) in ranking(d, false).into_iter().enumerate() {
                    fused[i] += 1.0 / (rrf_k + rank as f32 + 1.0);
                }
            }
            if let Some(l) = lexical {
                for (rank, i) in ranking(l, true).into_iter().enumerate() {
                    fused[i] += 1.0 / (rrf_k + rank as f32 + 1.0);
                }
            }
            fused
        }
        Fusion::Weighted { dense_weight } => {
            let w = if dense.is_some() && lexical.is_some() {
                dense_weight.clamp(0.0, 1.0)
            } else if dense.is_some() {
                1.0
            } else {
                0.0
            };
            let dn = dense.map(min_max);
            let ln = lexical.map(min_max);
            (0..n)
                .map(|i| {
                    w * dn.as_ref().map_or(0.0, |d| d[i])
                        + (1.0 - w) * ln.as_ref().map_or(0.0, |l| l[i])
                })
                .collect()
        }
    };
    let mut hits: Vec<Hit> = (0..n)
        .filter(|&i| dense.is_some() || lexical.is_some_and(|l| l[i] > 0.0))
        .map(|i| Hit {
            index: i,
            score: fused[i],
            dense: dense.map(|d| d[i]),
            lexical: lexical.map(|l| l[i]),
        })
        .collect();
    sort_hits(&mut hits);
    hits.truncate(k);
    hits
}

/// Indices ordered best first (NaN last, ties by index); `positive_only` drops scores
/// ≤ 0 (a BM25 score of 0 means no shared term, which is not a rank).
fn ranking(scores: &[f32], positive_only: bool) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len())
        .filter(|&i| !scores[i].is_nan() && (!positive_only || scores[i] > 0.0))
        .collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// Scales scores to [0, 1]; a list where all scores are equal maps to 1 when they are
/// positive (every passage matches equally) and 0 otherwise. NaN becomes 0.
fn min_max(scores: &[f32]) -> Vec<f32> {
    let finite = scores.iter().copied().filter(|s| s.is_finite());
    let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), s| {
        (lo.min(s), hi.max(s))
    });
    scores
        .iter()
        .map(|&s| {
            if !s.is_finite() || lo > hi {
                0.0
            } else if hi > lo {
                (s - lo) / (hi - lo)
            } else if s > 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        let (sa, sb) = (nan_low(a.score), nan_low(b.score));
        sb.total_cmp(&sa).then(a.index.cmp(&b.index))
    });
}

fn nan_low(s: f32) -> f32 {
    if s.is_nan() { f32::NEG_INFINITY } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn dense_top_k_orders_by_cosine() {
        let vs = vec![unit(&[1.0, 0.0]), unit(&[0.0, 1.0]), unit(&[1.0, 1.0])];
        let q = unit(&[1.0, 0.2]);
        let hits = dense_top_k(&q, &vs, 2);
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), vec![0, 2]);
        assert!(hits[0].dense.is_some() && hits[0].lexical.is_none());
        assert!(dense_top_k(&q, &[], 3).is_empty());
    }

    #[test]
    fn rrf_known_values() {
        let dense = [0.9, 0.5, 0.7];
        let lexical = [0.0, 3.0, 1.0];
        let hits = hybrid(Some(&dense), Some(&lexical), Fusion::default(), 10);
        // Dense ranks: 0,2,1. Lexical ranks: 1,2 (0 has no term).
        let want = |i: usize| match i {
            0 => 1.0 / 61.0,
            1 => 1.0 / 63.0 + 1.0 / 61.0,
            _ => 1.0 / 62.0 + 1.0 / 62.0,
        };
        assert_eq!(hits.len(), 3);
        for h in &hits {
            assert!((h.score - want(h.index)).abs() < 1e-7, "{h:?}");
            assert_eq!(h.dense, Some(dense[h.index]));
            assert_eq!(h.lexical, Some(lexical[h.index]));
        }
        // 1 (1/61 + 1/63) beats 2 (1/62 + 1/62) by a hair; 0 is in one list only.
        assert_eq!(
            hits.iter().map(|h| h.index).collect::<Vec<_>>(),
            vec![1, 2, 0]
        );
    }

    #[test]
    fn lexical_only_drops_passages_without_a_term() {
        let lexical = [0.0, 2.0, 0.5, 0.0];
        let hits = hybrid(None, Some(&lexical), Fusion::default(), 10);
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), vec![1, 2]);
        assert!(hits.iter().all(|h| h.dense.is_none()));
        let hits = hybrid(
            None,
            Some(&lexical),
            Fusion::Weighted { dense_weight: 0.5 },
            1,
        );
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].index, 1);
        assert!((hits[0].score - 1.0).abs() < 1e-7);
    }

    #[test]
    fn weighted_known_values() {
        let dense = [0.2, 0.6, 1.0];
        let lexical = [4.0, 0.0, 2.0];
        let hits = hybrid(
            Some(&dense),
            Some(&lexical),
            Fusion::Weighted { dense_weight: 0.25 },
            3,
        );
        // dense' = [0, .5, 1], lexical' = [1, 0, .5]
        let want = [0.75, 0.125, 0.25 + 0.375];
        for h in &hits {
            assert!((h.score - want[h.index]).abs() < 1e-6, "{h:?}");
        }
        assert_eq!(
            hits.iter().map(|h| h.index).collect::<Vec<_>>(),
            vec![0, 2, 1]
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        assert!(hybrid(None, None, Fusion::default(), 5).is_empty());
        let hits = hybrid(Some(&[f32::NAN, 0.1]), Some(&[1.0]), Fusion::default(), 5);
        assert_eq!(hits.len(), 1);
        let hits = hybrid(
            Some(&[f32::NAN, 0.1]),
            None,
            Fusion::Weighted { dense_weight: 2.0 },
            5,
        );
        assert_eq!(hits[0].index, 1);
        assert_eq!(
            dense_scores(&[1.0], &[vec![1.0, 2.0], vec![]]),
            vec![1.0, 0.0]
        );
    }
}
