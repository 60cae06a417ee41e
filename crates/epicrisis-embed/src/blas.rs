//! Single-precision matrix products through the system's OpenBLAS (`cblas_sgemm`).
//!
//! Why OpenBLAS: the encoder's time is its matrix products (85 % of a profile). The `gemm`
//! crate ran them at about 70 GFLOP/s on 2 cores of an AVX-512 server, where OpenBLAS and
//! MKL reach 250–280. Debian's OpenBLAS is built with `DYNAMIC_ARCH`: it picks its kernels
//! (Haswell, SkylakeX, …) for the CPU it runs on, so one binary is fast on every server.
//!
//! OpenBLAS runs single-threaded here (`openblas_set_num_threads(1)` once): the encoder
//! splits its work across rayon's threads itself, so two thread pools never compete for
//! the same cores. The library is thread-safe for concurrent calls.
//!
//! Every function here checks the sizes of the slices it is given against the matrix
//! shape before calling into C, so a wrong shape is a panic in Rust, not a stray write.

use std::ffi::c_int;
use std::sync::Once;

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

unsafe extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(n: c_int);
}

static SINGLE_THREADED: Once = Once::new();

/// A row-major matrix view: `rows × cols` elements, row `r` starting at `r · stride`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
}

impl Mat<'_> {
    /// The number of floats the view reaches (its last row needs only `cols`).
    fn extent(&self) -> usize {
        if self.rows == 0 {
            0
        } else {
            (self.rows - 1) * self.stride + self.cols
        }
    }
}

fn int(v: usize) -> c_int {
    c_int::try_from(v).expect("matrix dimension fits a C int")
}

/// `C = alpha · A · op(B) + beta · C`, with `op(B) = Bᵀ` when `b_transposed`.
/// `c` is row-major `a.rows × n` with row stride `ldc`.
pub(crate) fn sgemm(
    a: Mat,
    b: Mat,
    b_transposed: bool,
    alpha: f32,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let (k, n) = if b_transposed {
        (b.cols, b.rows)
    } else {
        (b.rows, b.cols)
    };
    assert_eq!(a.cols, k, "inner dimensions differ");
    assert!(
        a.stride >= a.cols && b.stride >= b.cols && ldc >= n,
        "stride below width"
    );
    assert!(
        a.data.len() >= a.extent() && b.data.len() >= b.extent(),
        "input too short"
    );
    let c_extent = if a.rows == 0 {
        0
    } else {
        (a.rows - 1) * ldc + n
    };
    assert!(c.len() >= c_extent, "output too short");
    if a.rows == 0 || n == 0 {
        return;
    }
    SINGLE_THREADED.call_once(|| {
        // SAFETY: a plain setter with no preconditions.
        unsafe { openblas_set_num_threads(1) }
    });
    // SAFETY: the asserts above check that every element the row-major layout and the
    // strides address lies inside its slice; `c` is borrowed mutably, so it aliases
    // neither input.
    unsafe {
        cblas_sgemm(
            ROW_MAJOR,
            NO_TRANS,
            if b_transposed { TRANS } else { NO_TRANS },
            int(a.rows),
            int(n),
            int(k),
            alpha,
            a.data.as_ptr(),
            int(a.stride),
            b.data.as_ptr(),
            int(b.stride),
            beta,
            c.as_mut_ptr(),
            int(ldc),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, bt: bool) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] * if bt { b[j * k + p] } else { b[p * n + j] })
                    .sum();
            }
        }
        c
    }

    #[test]
    fn products_match_a_triple_loop_with_and_without_transpose() {
        let (m, k, n) = (37, 19, 23);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for bt in [false, true] {
            let (brows, bcols) = if bt { (n, k) } else { (k, n) };
            let mut c = vec![1.0f32; m * n];
            sgemm(
                Mat {
                    data: &a,
                    rows: m,
                    cols: k,
                    stride: k,
                },
                Mat {
                    data: &b,
                    rows: brows,
                    cols: bcols,
                    stride: bcols,
                },
                bt,
                2.0,
                0.5,
                &mut c,
                n,
            );
            let want = naive(&a, &b, m, k, n, bt);
            for (got, w) in c.iter().zip(&want) {
                assert!((got - (2.0 * w + 0.5)).abs() < 1e-4, "{got} vs {w}");
            }
        }
    }

    /// Strided views (a column block of a wider matrix) read and write only their block.
    #[test]
    fn strided_views_stay_inside_their_columns() {
        let (m, k, n, wide) = (5, 3, 4, 10);
        let a: Vec<f32> = (0..m * wide).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 3) as f32).collect();
        let mut c = vec![-7.0f32; m * wide];
        let view = Mat {
            data: &a[2..],
            rows: m,
            cols: k,
            stride: wide,
        };
        sgemm(
            view,
            Mat {
                data: &b,
                rows: k,
                cols: n,
                stride: n,
            },
            false,
            1.0,
            0.0,
            &mut c[1..],
            wide,
        );
        for r in 0..m {
            for col in 0..wide {
                let got = c[r * wide + col];
                if (1..1 + n).contains(&col) {
                    let j = col - 1;
                    let want: f32 = (0..k).map(|p| a[r * wide + 2 + p] * b[p * n + j]).sum();
                    assert_eq!(got, want);
                } else {
                    assert_eq!(got, -7.0, "row {r} column {col} was written");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "input too short")]
    fn a_short_slice_is_refused_before_c_is_called() {
        let a = [0.0f32; 5];
        let mut c = [0.0f32; 4];
        sgemm(
            Mat {
                data: &a,
                rows: 2,
                cols: 3,
                stride: 3,
            },
            Mat {
                data: &a,
                rows: 3,
                cols: 2,
                stride: 2,
            },
            false,
            1.0,
            0.0,
            &mut c,
            2,
        );
    }
}
