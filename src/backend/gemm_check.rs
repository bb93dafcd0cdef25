//! The GEMM check shared by every backend: entries of C = A B against a compensated
//! f64 reference, each held to an error bound that follows from how it was computed;
//! and the seeded random inputs every backend multiplies.

use crate::core::LocalCheck;
use rand::{Rng, SeedableRng};

/// Output entries checked against the reference: all of them when there are no more.
const GEMM_SAMPLES: usize = 64;

/// Element types of the GEMMs checked here, in host memory and on GPUs.
pub trait GemmElement: Copy + Send + Sync + 'static + Default {
    const UNIT_ROUNDOFF: f64;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl GemmElement for f32 {
    const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl GemmElement for f64 {
    const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Row-major A (m x k) and B (k x n), uniform in [-1, 1) without zeros, so no
/// product is trivially skipped.
pub fn random_gemm_inputs<T: GemmElement>(
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
) -> (Vec<T>, Vec<T>) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut random = |len: usize| -> Vec<T> {
        (0..len)
            .map(|_| {
                let v: f64 = rng.random_range(-1.0..1.0);
                T::from_f64(if v == 0.0 { 0.5 } else { v })
            })
            .collect()
    };
    let a = random(m * k);
    let b = random(k * n);
    (a, b)
}

/// Higham's gamma(n) = n u / (1 - n u): the relative error bound of n roundings of unit
/// roundoff u in a row; infinite once n u reaches 1 (nothing is promised then).
pub fn gamma(n: usize, u: f64) -> f64 {
    let nu = n as f64 * u;
    if nu < 1.0 {
        nu / (1.0 - nu)
    } else {
        f64::INFINITY
    }
}

/// `x * y` as an exact sum `p + e` (fused multiply-add trick).
fn two_product(x: f64, y: f64) -> (f64, f64) {
    let p = x * y;
    (p, x.mul_add(y, -p))
}

/// Checks entries of a row-major C = A B (m x n, inner k) of one type against a
/// compensated f64 reference, with the error bound of any summation order: each of
/// the k products is rounded once (or not at all, fused) and passes through at most
/// k - 1 additions in T, so |c - s| <= gamma(k + 1) sum |a||b| with T's unit roundoff,
/// one rounding to spare.
pub fn check_gemm_samples<T: GemmElement>(
    a: &[T],
    b: &[T],
    c: &[T],
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
) -> LocalCheck {
    check_gemm_sampled(
        GemmView {
            a: &|i| a[i].to_f64(),
            b: &|i| b[i].to_f64(),
            c: &|i| c[i].to_f64(),
            m,
            n,
            k,
        },
        seed,
        &|abs, _| gamma(k + 1, T::UNIT_ROUNDOFF) * abs,
        "sampled entries against a compensated f64 reference, bound gamma(k+1) sum|a||b| with the type's unit roundoff",
    )
}

/// Row-major A (m x k), B (k x n) and C (m x n), element by element.
pub struct GemmView<'a> {
    pub a: &'a dyn Fn(usize) -> f64,
    pub b: &'a dyn Fn(usize) -> f64,
    pub c: &'a dyn Fn(usize) -> f64,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// Checks entries of C = A B against a compensated f64 reference (every entry of a
/// small C, else random ones); an entry passes when its error is within
/// `bound(sum |a||b|, reference)`.
pub fn check_gemm_sampled(
    g: GemmView,
    seed: u64,
    bound: &dyn Fn(f64, f64) -> f64,
    method: &'static str,
) -> LocalCheck {
    let GemmView { m, n, k, .. } = g;
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let entries: Vec<(usize, usize)> = if m * n <= GEMM_SAMPLES {
        (0..m * n).map(|ij| (ij / n, ij % n)).collect()
    } else {
        (0..GEMM_SAMPLES)
            .map(|_| (rng.random_range(0..m), rng.random_range(0..n)))
            .collect()
    };
    let mut worst: f64 = 0.0;
    let mut wrong = 0u64;
    for &(i, j) in &entries {
        // Reference in doubled f64 precision (compensated dot product).
        let (mut sum, mut comp, mut abs) = (0.0f64, 0.0f64, 0.0f64);
        for p in 0..k {
            let (x, y) = ((g.a)(i * k + p), (g.b)(p * n + j));
            let (prod, perr) = two_product(x, y);
            let t = sum + prod;
            let serr = if sum.abs() >= prod.abs() {
                (sum - t) + prod
            } else {
                (prod - t) + sum
            };
            sum = t;
            comp += serr + perr;
            abs += (x * y).abs();
        }
        let reference = sum + comp;
        let got = (g.c)(i * n + j);
        let ratio = (got - reference).abs() / bound(abs, reference).max(f64::MIN_POSITIVE);
        // NaN (an unwritten or garbage entry) counts as wrong.
        if ratio.is_nan() || ratio > 1.0 {
            wrong += 1;
        }
        worst = if ratio.is_nan() {
            f64::INFINITY
        } else {
            worst.max(ratio)
        };
    }
    LocalCheck {
        checked: entries.len() as u64,
        wrong,
        max_error_ratio: Some(worst),
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    trait Fma: GemmElement {
        fn fma(self, b: Self, c: Self) -> Self;
    }
    impl Fma for f32 {
        fn fma(self, b: Self, c: Self) -> Self {
            self.mul_add(b, c)
        }
    }
    impl Fma for f64 {
        fn fma(self, b: Self, c: Self) -> Self {
            self.mul_add(b, c)
        }
    }

    /// C computed as a GEMM library does, in T with fused multiply-adds, but summing the
    /// products in the opposite order from the reference.
    fn reversed_fma<T: Fma>(a: &[T], b: &[T], m: usize, n: usize, k: usize) -> Vec<T> {
        (0..m * n)
            .map(|ij| {
                let (i, j) = (ij / n, ij % n);
                (0..k).rev().fold(T::from_f64(0.0), |acc, p| {
                    a[i * k + p].fma(b[p * n + j], acc)
                })
            })
            .collect()
    }

    /// f32 and f64 at k = 8192: a correct C passes, and one entry off by a tenth of
    /// C's typical magnitude is caught (every entry of an 8 x 8 C is checked).
    #[test]
    fn one_wrong_entry_is_caught_at_k_8192() {
        fn case<T: Fma>() {
            let (m, n, k) = (8, 8, 8192);
            let (a, b) = random_gemm_inputs::<T>(m, n, k, 11);
            let mut c = reversed_fma(&a, &b, m, n, k);
            let good = check_gemm_samples(&a, &b, &c, m, n, k, 3);
            assert_eq!((good.checked, good.wrong), (64, 0), "{good:?}");
            let rms = (c.iter().map(|v| v.to_f64().powi(2)).sum::<f64>() / c.len() as f64).sqrt();
            c[29] = T::from_f64(c[29].to_f64() + 0.1 * rms);
            let bad = check_gemm_samples(&a, &b, &c, m, n, k, 3);
            assert_eq!(bad.wrong, 1, "{bad:?}");
        }
        case::<f32>();
        case::<f64>();
    }

    #[test]
    fn gamma_grows_with_n_and_gives_up_at_one() {
        let u = f64::from(f32::EPSILON) / 2.0;
        assert!(gamma(8193, u) > 8196.0 * u && gamma(8193, u) < 8198.0 * u);
        assert_eq!(gamma(1 << 24, u), f64::INFINITY);
    }
}
