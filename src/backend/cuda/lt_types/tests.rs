use super::*;
use crate::backend::gemm_check::{check_gemm_sampled, random_gemm_inputs, GemmView};

#[test]
fn encodings_round_trip_and_never_give_zero() {
    for dtype in [DType::Bf16, DType::Fp16, DType::Fp8E4m3, DType::Tf32] {
        let (exact, bytes) = quantise(dtype, &[0.0, 1e-9, 0.3, -0.75]);
        assert!(exact.iter().all(|&v| v != 0.0), "{dtype}: {exact:?}");
        let t = spec(dtype).unwrap();
        if t.input == t.output {
            for (i, &v) in exact.iter().enumerate() {
                assert_eq!(decode(t.output, &bytes, i), v as f64, "{dtype}");
            }
        }
    }
    // e4m3: 0.5 = 2^-1, biased exponent 6, no mantissa bits.
    assert_eq!(quantise(DType::Fp8E4m3, &[0.5]).1, vec![0x30]);
    assert_eq!(quantise(DType::Bf16, &[1.0]).1, 0x3f80u16.to_le_bytes());
    // tf32 keeps 10 stored bits: 1 + 2^-11 rounds to 1 (a tie, to even), 1 + 3 2^-11
    // up to 1 + 2^-9.
    let (tf32, _) = quantise(
        DType::Tf32,
        &[1.0 + 2f32.powi(-11), 1.0 + 3.0 * 2f32.powi(-11)],
    );
    assert_eq!(tf32, vec![1.0, 1.0 + 2f32.powi(-9)]);
}

/// The FP32 result rounded to the output type of `dtype`'s GEMM, to nearest.
fn to_output(dtype: DType, v: f64) -> f64 {
    let v = v as f32;
    match dtype {
        DType::Tf32 => v as f64,
        DType::Fp16 => half::f16::from_f32(v).to_f64(),
        _ => half::bf16::from_f32(v).to_f64(),
    }
}

fn output_rounding(dtype: DType) -> OutputRounding {
    match dtype {
        DType::Tf32 => F32_OUT,
        DType::Fp16 => FP16_OUT,
        _ => BF16_OUT,
    }
}

/// `x` in f32, rounded toward zero.
fn truncated(x: f64) -> f32 {
    let r = x as f32;
    if (r as f64).abs() > x.abs() {
        // One step toward zero: the magnitude's bits less one.
        f32::from_bits(r.to_bits() - 1)
    } else {
        r
    }
}

/// Two honest models of the GPU's FP32 accumulation of exact products, both in another
/// order than the reference's: one sum in reverse order rounded to nearest, and tiles
/// of 32 products (a tensor-core block) summed, truncated, and accumulated with
/// truncation, as the tensor cores do.
fn accumulations(qa: &[f32], qb: &[f32], n: usize, k: usize, i: usize, j: usize) -> [f64; 2] {
    let product = |p: usize| qa[i * k + p] * qb[p * n + j];
    let reversed = (0..k).rev().fold(0f32, |acc, p| acc + product(p));
    let mut blocked = 0f32;
    for tile in (0..k).collect::<Vec<_>>().chunks(32) {
        let block: f64 = tile.iter().map(|&p| product(p) as f64).sum();
        blocked = truncated(blocked as f64 + truncated(block) as f64);
    }
    [reversed as f64, blocked as f64]
}

/// Every tensor-core type at k = 8192: C as the GPU computes it passes, under both
/// accumulation models, and one entry off by a tenth of C's typical magnitude is caught.
/// Every entry of the 8 x 8 C is checked. fp8 e5m2 is checked as an input type with the
/// fp8 GEMMs' bf16 output (cuBLASLt multiplies it only beside e4m3).
#[test]
fn one_wrong_entry_is_caught_at_k_8192_for_every_type() {
    let (m, n, k) = (8, 8, 8192);
    let (a, b) = random_gemm_inputs::<f32>(m, n, k, 5);
    for dtype in [
        DType::Tf32,
        DType::Bf16,
        DType::Fp16,
        DType::Fp8E4m3,
        DType::Fp8E5m2,
    ] {
        let (qa, _) = quantise(dtype, &a);
        let (qb, _) = quantise(dtype, &b);
        let out = output_rounding(dtype);
        let check = |c: &[f64]| {
            check_gemm_sampled(
                GemmView {
                    a: &|i| qa[i] as f64,
                    b: &|i| qb[i] as f64,
                    c: &|i| c[i],
                    m,
                    n,
                    k,
                },
                9,
                &|abs, reference| entry_bound(k, abs, reference, out),
                "test",
            )
        };
        for model in 0..2 {
            let mut c: Vec<f64> = (0..m * n)
                .map(|ij| to_output(dtype, accumulations(&qa, &qb, n, k, ij / n, ij % n)[model]))
                .collect();
            let good = check(&c);
            assert_eq!(
                (good.checked, good.wrong),
                (64, 0),
                "{dtype} model {model}: {good:?}"
            );
            let rms = (c.iter().map(|v| v * v).sum::<f64>() / c.len() as f64).sqrt();
            c[29] = to_output(dtype, c[29] + 0.1 * rms);
            let bad = check(&c);
            assert_eq!(bad.wrong, 1, "{dtype} model {model}: {bad:?}");
        }
    }
}

#[test]
fn the_bound_is_fp32_accumulation_plus_the_output_rounding() {
    // Two products and one addition: gamma(1) = u / (1 - u), u = 2^-23.
    let u = 2f64.powi(-23);
    let bound = entry_bound(2, 3.0, 2.0, BF16_OUT);
    let expected = (1.0 + 2f64.powi(-8)) * u / (1.0 - u) * 3.0
        + 2f64.powi(-8) * 2.0
        + 2f64.powi(-134)
        + 2.0 * 2f64.powi(-149);
    assert_eq!(bound, expected);
    // The f32 output adds no rounding; beyond 2^23 products nothing is promised.
    assert_eq!(entry_bound(1, 5.0, 5.0, F32_OUT), 2f64.powi(-149));
    assert_eq!(entry_bound((1 << 23) + 1, 1.0, 1.0, F32_OUT), f64::INFINITY);
}
