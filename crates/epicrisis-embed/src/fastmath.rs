//! The encoder's element-wise passes (GELU, softmax, layer norm) written so the compiler
//! turns them into SIMD loops, and compiled twice: for the build's baseline (x86-64-v3 in
//! release) and for AVX-512, picked at run time when the CPU has it.
//!
//! `libm::erff` and `f32::exp` are calls per element that no compiler vectorises; a profile
//! of the encoder put 9 % of its time in `erf` and 8 % in `exp`. Here both are branch-free
//! polynomials on plain `f32` arithmetic:
//! - `exp`: Cody–Waite range reduction (`x = n·ln2 + r`, |r| ≤ ln2/2), a degree-6
//!   polynomial for `eʳ` and `2ⁿ` built from the exponent bits; relative error below
//!   3·10⁻⁷ over the whole `f32` range it is used on (unit-tested against `f64`);
//! - GELU through `erfc` (Numerical Recipes' Chebyshev fit, fractional error 1.2·10⁻⁷),
//!   on each side of 0 so that nothing subtracts two numbers close to 1: within 4·10⁻⁷ of
//!   the exact value for |x| ≤ 6 (rounding it to `f32` is 2.4·10⁻⁷).
//!
//! The reference test (cosine ≥ 0.999 against sentence-transformers) holds with them.

/// `eˣ` for `x` in [−87, 88] (clamped outside: 0 and +∞ are never needed here).
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2²³: adding it rounds to the nearest integer in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Taylor coefficients of eʳ to degree 6 (|r| ≤ 0.347: the next term is < 5·10⁻⁸).
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // n is in [−126, 127], so n + 127 is a valid biased exponent. (Wrapping arithmetic:
    // an overflow check would be a branch, and a branch stops the loop's vectorisation.)
    let bits = (t.to_bits().wrapping_sub(ROUND.to_bits()) as i32).wrapping_add(127) << 23;
    p * f32::from_bits(bits as u32)
}

/// The complementary error function for `z ≥ 0` (Numerical Recipes' Chebyshev fit,
/// fractional error below 1.2·10⁻⁷ in exact arithmetic).
#[inline(always)]
fn erfc(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = 0.170_872_77;
    let p = p * t - 0.822_152_23;
    let p = p * t + 1.488_515_9;
    let p = p * t - 1.135_204;
    let p = p * t + 0.278_868_07;
    let p = p * t - 0.186_288_06;
    let p = p * t + 0.096_784_18;
    let p = p * t + 0.374_091_96;
    let p = p * t + 1.000_023_7;
    let p = p * t - 1.265_512_2;
    t * exp(p - z * z)
}

/// GELU, `x·Φ(x) = ½·x·(1 + erf(x/√2))`, written with `erfc` on each side of 0 so that
/// neither side subtracts two numbers close to 1.
#[inline(always)]
fn gelu_erf_loop(x: &mut [f32]) {
    for v in x.iter_mut() {
        let e = erfc(v.abs() * std::f32::consts::FRAC_1_SQRT_2);
        *v = if *v >= 0.0 {
            *v * (1.0 - 0.5 * e)
        } else {
            0.5 * *v * e
        };
    }
}

/// Eight-lane accumulation of `f(v)` over `row`: unlike one running total, it vectorises
/// (a single `f32` accumulator fixes the order of the additions, which SIMD cannot keep).
#[inline(always)]
fn lanes(row: &[f32], init: f32, f: impl Fn(f32) -> f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = op(*a, f(*v));
        }
    }
    let tail = chunks.remainder().iter().fold(init, |a, v| op(a, f(*v)));
    acc.iter().fold(tail, |a, b| op(a, *b))
}

/// `row ← exp(row − max(row))`, returning the row's new sum: softmax without its last
/// division, which the attention applies to the (narrower) output rows instead.
#[inline(always)]
fn softmax_unnormalized_loop(row: &mut [f32]) -> f32 {
    let max = lanes(row, f32::NEG_INFINITY, |v| v, f32::max);
    // One pass: each lane of `acc` sums its own column of the row, so the loop vectorises.
    let mut acc = [0.0f32; 16];
    let mut chunks = row.chunks_exact_mut(16);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c.iter_mut()) {
            *v = exp(*v - max);
            *a += *v;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sum += *v;
    }
    sum
}

#[cfg(test)]
fn softmax(row: &mut [f32]) {
    let inv = 1.0 / softmax_unnormalized(row);
    row.iter_mut().for_each(|v| *v *= inv);
}

/// Layer norm of each `h`-wide row (mean and variance summed in eight `f32` lanes: as
/// accurate as one `f64` total for rows of a few hundred values).
#[inline(always)]
fn layer_norm_loop(x: &mut [f32], h: usize, g: &[f32], b: &[f32], eps: f32) {
    for row in x.chunks_mut(h) {
        let mean = lanes(row, 0.0, |v| v, |a, b| a + b) / h as f32;
        let var = lanes(row, 0.0, |v| (v - mean) * (v - mean), |a, b| a + b) / h as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(g).zip(b) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// Defines `pub(crate) fn $name`, which runs `$body` compiled for AVX-512 when the CPU has
/// it, and for the build's baseline otherwise.
macro_rules! dispatch {
    ($name:ident, $wide:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $body:ident) => {
        pub(crate) fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has just been seen to support AVX-512F.
                return unsafe { $wide($($arg),*) };
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn $wide($($arg: $ty),*) -> $ret {
            $body($($arg),*)
        }
    };
}

dispatch!(gelu_erf, gelu_erf_avx512, (x: &mut [f32]) -> (), gelu_erf_loop);
dispatch!(
    softmax_unnormalized,
    softmax_unnormalized_avx512,
    (row: &mut [f32]) -> f32,
    softmax_unnormalized_loop
);
dispatch!(
    layer_norm,
    layer_norm_avx512,
    (x: &mut [f32], h: usize, g: &[f32], b: &[f32], eps: f32) -> (),
    layer_norm_loop
);

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
    }

    #[test]
    fn exp_is_within_three_ulps_of_f64() {
        let mut worst = 0.0f64;
        for x in grid(-87.0, 88.0, 200_000) {
            let want = f64::from(x).exp();
            let rel = ((f64::from(exp(x)) - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), exp(-87.0));
    }

    /// GELU within 4·10⁻⁷ of the exact value for |x| ≤ 6 (rounding the exact value to
    /// `f32` alone is 2.4·10⁻⁷), and within 10⁻⁵ relative in the far negative tail.
    #[test]
    fn gelu_is_within_f32_rounding_of_the_exact_value() {
        let (mut worst_abs, mut worst_rel) = (0.0f64, 0.0f64);
        let x: Vec<f32> = grid(-6.0, 6.0, 120_000).collect();
        let mut g = x.clone();
        gelu_erf_loop(&mut g);
        for (got, v) in g.iter().zip(&x) {
            let v = f64::from(*v);
            let want = 0.5 * v * libm::erfc(-v * std::f64::consts::FRAC_1_SQRT_2);
            let err = (f64::from(*got) - want).abs();
            worst_abs = worst_abs.max(err);
            if want != 0.0 {
                worst_rel = worst_rel.max(err / want.abs());
            }
        }
        assert!(worst_abs < 4e-7, "worst absolute error {worst_abs:e}");
        assert!(worst_rel < 1e-5, "worst relative error {worst_rel:e}");
    }

    /// The dispatched passes (AVX-512 here when the CPU has it) against plain scalar code.
    #[test]
    fn dispatched_passes_match_scalar_code() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.731).sin() * 6.0).collect();
        let mut g = x.clone();
        gelu_erf(&mut g);
        let mut scalar = x.clone();
        gelu_erf_loop(&mut scalar);
        for ((got, want), v) in g.iter().zip(&scalar).zip(&x) {
            assert!((got - want).abs() < 1e-6, "gelu({v}) = {got}, want {want}");
        }
        let mut s = x[..333].to_vec();
        softmax(&mut s);
        let max = x[..333].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let total: f64 = x[..333].iter().map(|v| f64::from(v - max).exp()).sum();
        for (got, v) in s.iter().zip(&x[..333]) {
            let want = f64::from(v - max).exp() / total;
            assert!(
                (f64::from(*got) - want).abs() < 1e-7,
                "softmax {got} vs {want}"
            );
        }
        let (h, gamma, beta) = (384, vec![1.5f32; 384], vec![0.25f32; 384]);
        let mut n = x[..768].to_vec();
        layer_norm(&mut n, h, &gamma, &beta, 1e-12);
        for (row, src) in n.chunks(h).zip(x[..768].chunks(h)) {
            let mean = src.iter().map(|v| f64::from(*v)).sum::<f64>() / h as f64;
            let var = src
                .iter()
                .map(|v| (f64::from(*v) - mean).powi(2))
                .sum::<f64>()
                / h as f64;
            for (got, v) in row.iter().zip(src) {
                let want = (f64::from(*v) - mean) / (var + 1e-12).sqrt() * 1.5 + 0.25;
                assert!((f64::from(*got) - want).abs() < 1e-5, "{got} vs {want}");
            }
        }
    }
}
