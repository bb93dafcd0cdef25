//! How each cuBLASLt type is stored, rounded and checked: the host quantises the
//! inputs to the type, so the GPU multiplies exactly the values the reference uses,
//! and a computed entry is held to the error that FP32 accumulation of those values
//! and the final rounding to the output type can make (see [`entry_bound`]).

use crate::core::DType;
use cudarc::cublaslt::sys;

/// How one type is stored, computed and rounded.
pub(super) struct TypeSpec {
    pub input: sys::cudaDataType,
    pub output: sys::cudaDataType,
    pub compute: sys::cublasComputeType_t,
    pub out_bytes: usize,
    /// How the FP32 result is rounded to the output type.
    pub rounding: OutputRounding,
}

/// The rounding of the FP32 accumulator to the output type (round to nearest).
#[derive(Debug, Clone, Copy)]
pub(super) struct OutputRounding {
    /// Unit roundoff 2^-p of a p-bit significand; 0 when the output is the f32
    /// accumulator itself.
    pub u: f64,
    /// Half the smallest subnormal step: the absolute rounding error near zero.
    pub tiny: f64,
}

/// Round-to-nearest into a type with a `bits`-bit significand whose smallest
/// subnormal is 2^`min_sub_exp`.
const fn rounding(bits: i32, min_sub_exp: i32) -> OutputRounding {
    OutputRounding {
        u: pow2(-bits),
        tiny: pow2(min_sub_exp - 1),
    }
}

const fn pow2(e: i32) -> f64 {
    // Exact for the exponents used here (|e| < 1023).
    f64::from_bits(((1023 + e) as u64) << 52)
}

/// bf16 output (8-bit significand, f32's exponent range).
pub(super) const BF16_OUT: OutputRounding = rounding(8, -133);
/// fp16 output (11-bit significand, smallest subnormal 2^-24).
pub(super) const FP16_OUT: OutputRounding = rounding(11, -24);
/// The f32 accumulator written as it is.
pub(super) const F32_OUT: OutputRounding = OutputRounding { u: 0.0, tiny: 0.0 };

pub(super) fn spec(dtype: DType) -> Option<TypeSpec> {
    use sys::cublasComputeType_t as C;
    use sys::cudaDataType_t as T;
    Some(match dtype {
        // f32 storage; the inputs are rounded to tf32 on the host (quantise), so the
        // tensor cores' own conversion changes nothing.
        DType::Tf32 => TypeSpec {
            input: T::CUDA_R_32F,
            output: T::CUDA_R_32F,
            compute: C::CUBLAS_COMPUTE_32F_FAST_TF32,
            out_bytes: 4,
            rounding: F32_OUT,
        },
        DType::Bf16 => TypeSpec {
            input: T::CUDA_R_16BF,
            output: T::CUDA_R_16BF,
            compute: C::CUBLAS_COMPUTE_32F,
            out_bytes: 2,
            rounding: BF16_OUT,
        },
        DType::Fp16 => TypeSpec {
            input: T::CUDA_R_16F,
            output: T::CUDA_R_16F,
            compute: C::CUBLAS_COMPUTE_32F,
            out_bytes: 2,
            rounding: FP16_OUT,
        },
        // Accumulated in FP32 with fast accumulation off (set in the plan), output in
        // bf16.
        DType::Fp8E4m3 => TypeSpec {
            input: T::CUDA_R_8F_E4M3,
            output: T::CUDA_R_16BF,
            compute: C::CUBLAS_COMPUTE_32F,
            out_bytes: 2,
            rounding: BF16_OUT,
        },
        _ => return None,
    })
}

/// One unit in the last place of FP32, relative: an FP32 addition errs by at most
/// half of it rounding to nearest and by less than all of it truncating.
const FP32_ULP: f64 = pow2(-23);
/// The smallest FP32 subnormal: bounds a product's error should it underflow.
const FP32_MIN_SUBNORMAL: f64 = pow2(-149);

/// The largest error one entry of C = A B (inner dimension `k`) can carry, where
/// `abs_sum` is sum_p |a_p b_p| over its products and `reference` their exact sum.
///
/// Derivation. The host quantises every input to the GEMM's input type, so the GPU
/// multiplies exactly the values the reference uses. A product of two such values has
/// at most 2 x 11 significant bits (fp16 and tf32 have 11, bf16 8, fp8 e4m3 4 and e5m2
/// 3), so it is exact in FP32's 24 bits; only an underflow below FP32's normal range
/// could round it, by at most 2^-149 each (k 2^-149 in all).
///
/// cuBLASLt sums the k products of an entry in FP32 (CUBLAS_COMPUTE_32F; for fp8 with
/// CUBLASLT_MATMUL_DESC_FAST_ACCUM off) in an order and tree of its own: k-tiles,
/// tensor-core block sums, split-k reductions. Each addition s = fl(x + y) errs by less
/// than one FP32 ulp of its result, |err| < u |s| with u = 2^-23: half that when it
/// rounds to nearest, but the tensor cores' block additions truncate (Fasi, Higham,
/// Mikaitis and Pranesh, "Numerical behavior of NVIDIA tensor cores", 2021), so the
/// whole ulp is allowed. Every product passes through at most k - 1 additions, and the
/// usual argument for summation in any order (Higham, Accuracy and Stability of
/// Numerical Algorithms, 4.2) bounds the accumulated FP32 result s^ by
///
///   |s^ - s| <= gamma(k-1) sum_p |a_p b_p|,   gamma(n) = n u / (1 - n u).
///
/// With alpha = 1 and beta = 0 the epilogue adds nothing and rounds s^ once to the
/// output type, to nearest: |out - s^| <= u_out |s^| + tiny_out, where u_out = 2^-p
/// for a p-bit significand (0 when the output is the f32 accumulator) and tiny_out is
/// half the output's smallest subnormal step. With |s^| <= |s| + |s^ - s|:
///
///   |out - s| <= (1 + u_out) gamma(k-1) sum|a_p b_p| + u_out |s| + tiny_out + k 2^-149.
///
/// The compensated f64 reference of `check_gemm_sampled` errs by about 2^-104 sum|ab|,
/// far below this. At k = 8192 with inputs uniform in [-1, 1), sum|ab| is about 2048
/// and |s| about 30: the bound is about 2.0, 7% of a typical entry.
///
/// Limit: Hopper's fp8 tensor cores keep about 14 bits while they accumulate inside
/// one instruction (DeepSeek-V3 report, 3.3.2); with fast accumulation off cuBLASLt
/// promotes those partial sums to FP32 at short intervals, which this bound assumes.
/// The record's `max_error_ratio` shows how close real runs come to it.
pub(super) fn entry_bound(k: usize, abs_sum: f64, reference: f64, out: OutputRounding) -> f64 {
    let steps = k.saturating_sub(1) as f64;
    let nu = steps * FP32_ULP;
    if nu >= 1.0 {
        // Beyond 2^23 products FP32 accumulation promises nothing.
        return f64::INFINITY;
    }
    let accumulation = nu / (1.0 - nu) * abs_sum;
    (1.0 + out.u) * accumulation
        + out.u * reference.abs()
        + out.tiny
        + k as f64 * FP32_MIN_SUBNORMAL
}

/// `v` rounded to tf32 (10 stored significand bits), to nearest, ties to even.
fn round_to_tf32(v: f32) -> f32 {
    if !v.is_finite() {
        return v;
    }
    let bits = v.to_bits();
    let dropped = 13;
    let half = (1u32 << (dropped - 1)) - 1 + ((bits >> dropped) & 1);
    f32::from_bits((bits + half) & !((1u32 << dropped) - 1))
}

/// `v` rounded to `dtype` (the value the GPU sees) and its encoding.
fn encode(dtype: DType, v: f32, out: &mut Vec<u8>) -> f32 {
    match dtype {
        DType::Bf16 => {
            let h = half::bf16::from_f32(v);
            out.extend_from_slice(&h.to_bits().to_le_bytes());
            h.to_f32()
        }
        DType::Fp16 => {
            let h = half::f16::from_f32(v);
            out.extend_from_slice(&h.to_bits().to_le_bytes());
            h.to_f32()
        }
        DType::Fp8E4m3 => {
            let h = float8::F8E4M3::from_f64(v as f64);
            out.push(h.to_bits());
            h.to_f32()
        }
        DType::Fp8E5m2 => {
            let h = float8::F8E5M2::from_f64(v as f64);
            out.push(h.to_bits());
            h.to_f32()
        }
        DType::Tf32 => {
            let t = round_to_tf32(v);
            out.extend_from_slice(&t.to_le_bytes());
            t
        }
        _ => {
            out.extend_from_slice(&v.to_le_bytes());
            v
        }
    }
}

/// Output element `i` of raw bytes in `output` type.
pub(super) fn decode(output: sys::cudaDataType, bytes: &[u8], i: usize) -> f64 {
    use sys::cudaDataType_t as T;
    match output {
        T::CUDA_R_16BF => {
            half::bf16::from_bits(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])).to_f64()
        }
        T::CUDA_R_16F => {
            half::f16::from_bits(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])).to_f64()
        }
        _ => f32::from_le_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ]) as f64,
    }
}

/// Quantises inputs to `dtype`, never to zero (so no product is trivially skipped).
pub(super) fn quantise(dtype: DType, values: &[f32]) -> (Vec<f32>, Vec<u8>) {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    let mut exact = Vec::with_capacity(values.len());
    for &v in values {
        let mark = bytes.len();
        let mut q = encode(dtype, v, &mut bytes);
        if q == 0.0 {
            bytes.truncate(mark);
            q = encode(dtype, 0.5, &mut bytes);
        }
        exact.push(q);
    }
    (exact, bytes)
}

#[cfg(test)]
mod tests;
