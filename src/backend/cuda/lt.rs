//! GEMM through cuBLASLt for the tensor-core types: tf32, bf16, fp16 and fp8 (e4m3).
//!
//! The descriptor, layouts and algorithm are chosen once per shape (cudarc's safe
//! `Matmul` asks cuBLASLt's heuristic on every call, which would be timed), and the
//! input buffers rotate over enough copies that the L2 cache cannot hold the previous
//! iteration's operands.
//!
//! Layout: row-major C (m x n) = A (m x k) B (k x n) is column-major C' (n x m) =
//! op(B^T) A' with op = transpose: the "TN" form, which fp8 requires and every type
//! accepts. So B is uploaded transposed (n x k row-major) and A as it is.

use super::timing::{self, StreamHold};
use crate::backend::cpu::{check_gemm_sampled, random_gemm_inputs, GemmView};
use crate::options::{DType, MatmulShape};
use crate::runner::{LocalCheck, Workload};
use anyhow::{anyhow, Context, Result};
use cudarc::cublaslt::{result, sys};
use cudarc::driver::{sys::CUdevice_attribute, CudaSlice, CudaStream, DevicePtr, DevicePtrMut};
use std::ffi::c_void;
use std::sync::Arc;

/// cuBLASLt's recommended workspace on Hopper.
const WORKSPACE_BYTES: usize = 32 << 20;
/// At most this many copies of the operands rotate.
const MAX_SETS: usize = 16;

/// How one type is stored, computed and rounded.
struct TypeSpec {
    input: sys::cudaDataType,
    output: sys::cudaDataType,
    compute: sys::cublasComputeType_t,
    out_bytes: usize,
    /// Relative rounding of an input inside the multiplier (tf32 rounds f32 inputs).
    input_u: f64,
    /// Unit roundoff of the accumulation.
    acc_u: f64,
    /// Unit roundoff of the output type.
    output_u: f64,
}

fn spec(dtype: DType) -> Option<TypeSpec> {
    use sys::cublasComputeType_t as C;
    use sys::cudaDataType_t as T;
    let u = |bits: i32| 2f64.powi(-bits);
    Some(match dtype {
        DType::Tf32 => TypeSpec {
            input: T::CUDA_R_32F,
            output: T::CUDA_R_32F,
            compute: C::CUBLAS_COMPUTE_32F_FAST_TF32,
            out_bytes: 4,
            input_u: u(11),
            acc_u: u(24),
            output_u: u(24),
        },
        DType::Bf16 => TypeSpec {
            input: T::CUDA_R_16BF,
            output: T::CUDA_R_16BF,
            compute: C::CUBLAS_COMPUTE_32F,
            out_bytes: 2,
            input_u: 0.0,
            acc_u: u(24),
            output_u: u(8),
        },
        DType::Fp16 => TypeSpec {
            input: T::CUDA_R_16F,
            output: T::CUDA_R_16F,
            compute: C::CUBLAS_COMPUTE_32F,
            out_bytes: 2,
            input_u: 0.0,
            acc_u: u(24),
            output_u: u(11),
        },
        // fp8 products accumulate with fewer bits than f32 on Hopper's tensor cores
        // (about 14 of the mantissa are kept): allow for that. Output in bf16.
        DType::Fp8E4m3 => TypeSpec {
            input: T::CUDA_R_8F_E4M3,
            output: T::CUDA_R_16BF,
            compute: C::CUBLAS_COMPUTE_32F,
            out_bytes: 2,
            input_u: 0.0,
            acc_u: u(13),
            output_u: u(8),
        },
        _ => return None,
    })
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
        _ => {
            out.extend_from_slice(&v.to_le_bytes());
            v
        }
    }
}

/// Output element `i` of raw bytes in `output` type.
fn decode(output: sys::cudaDataType, bytes: &[u8], i: usize) -> f64 {
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
fn quantise(dtype: DType, values: &[f32]) -> (Vec<f32>, Vec<u8>) {
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

/// Owns the cuBLASLt objects of one shape.
struct Plan {
    handle: sys::cublasLtHandle_t,
    desc: sys::cublasLtMatmulDesc_t,
    layouts: [sys::cublasLtMatrixLayout_t; 3],
    algo: sys::cublasLtMatmulAlgo_t,
}

impl Drop for Plan {
    fn drop(&mut self) {
        // SAFETY: created in `Plan::new`, destroyed once here; errors at teardown are
        // not actionable.
        unsafe {
            for l in self.layouts {
                let _ = result::destroy_matrix_layout(l);
            }
            let _ = result::destroy_matmul_desc(self.desc);
            let _ = result::destroy_handle(self.handle);
        }
    }
}

impl Plan {
    fn new(t: &TypeSpec, m: u64, n: u64, k: u64) -> Result<Self> {
        let lt = |e: result::CublasError| anyhow!("cuBLASLt: {e:?}");
        let handle = result::create_handle().map_err(lt)?;
        let desc =
            result::create_matmul_desc(t.compute, sys::cudaDataType_t::CUDA_R_32F).map_err(lt)?;
        let layouts = [
            // A' = B^T: k x n column-major, transposed by the operation.
            result::create_matrix_layout(t.input, k, n, k as i64).map_err(lt)?,
            // B' = A: k x m column-major.
            result::create_matrix_layout(t.input, k, m, k as i64).map_err(lt)?,
            // C' = D': n x m column-major.
            result::create_matrix_layout(t.output, n, m, n as i64).map_err(lt)?,
        ];
        let mut plan = Plan {
            handle,
            desc,
            layouts,
            // SAFETY: a plain C struct; replaced by the heuristic's choice below.
            algo: unsafe { std::mem::zeroed() },
        };
        // The attribute is a 32-bit cublasOperation_t.
        use cudarc::cublas::sys::cublasOperation_t as Op;
        let (trans_a, trans_b) = (Op::CUBLAS_OP_T as i32, Op::CUBLAS_OP_N as i32);
        // SAFETY: the descriptor is live; each buffer has the attribute's size.
        unsafe {
            result::set_matmul_desc_attribute(
                desc,
                sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_TRANSA,
                &trans_a as *const _ as *const c_void,
                std::mem::size_of_val(&trans_a),
            )
            .map_err(lt)?;
            result::set_matmul_desc_attribute(
                desc,
                sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_TRANSB,
                &trans_b as *const _ as *const c_void,
                std::mem::size_of_val(&trans_b),
            )
            .map_err(lt)?;
        }
        let pref = result::create_matmul_pref().map_err(lt)?;
        let workspace = WORKSPACE_BYTES as u64;
        // SAFETY: live objects; the heuristic writes one result.
        let heuristic = unsafe {
            let set = result::set_matmul_pref_attribute(
                pref,
                sys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                &workspace as *const _ as *const c_void,
                std::mem::size_of_val(&workspace),
            );
            let h = set.and_then(|_| {
                result::get_matmul_algo_heuristic(
                    handle, desc, layouts[0], layouts[1], layouts[2], layouts[2], pref,
                )
            });
            let _ = result::destroy_matmul_pref(pref);
            h
        }
        .map_err(|e| anyhow!("cuBLASLt has no algorithm for this matmul: {e:?}"))?;
        plan.algo = heuristic.algo;
        Ok(plan)
    }
}

/// One rotating copy of the operands and the output.
struct Operands {
    bt: CudaSlice<u8>,
    a: CudaSlice<u8>,
    c: CudaSlice<u8>,
}

pub struct LtGemm {
    stream: Arc<CudaStream>,
    hold: Option<Arc<StreamHold>>,
    plan: Plan,
    spec: TypeSpec,
    workspace: CudaSlice<u8>,
    sets: Vec<Operands>,
    next: usize,
    host_a: Vec<f32>,
    host_b: Vec<f32>,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
}

impl LtGemm {
    pub fn new(
        stream: Arc<CudaStream>,
        hold: Option<Arc<StreamHold>>,
        dtype: DType,
        shape: &MatmulShape,
        seed: u64,
    ) -> Result<Self> {
        let spec = spec(dtype).ok_or_else(|| anyhow!("{dtype} is not a cuBLASLt type here"))?;
        let ctx = stream.context().clone();
        let (major, minor) = ctx.compute_capability()?;
        if dtype == DType::Fp8E4m3 && (major, minor) < (8, 9) {
            return Err(crate::usage!(
                "matmul in fp8e4m3 needs compute capability 8.9 or newer; this GPU has {major}.{minor}"
            ));
        }
        let (m, n, k) = (shape.m, shape.n, shape.k);
        let (a, b) = random_gemm_inputs::<f32>(m, n, k, seed);
        let (host_a, a_bytes) = quantise(dtype, &a);
        // B transposed: bt[j k + p] = b[p n + j].
        let mut bt = vec![0f32; k * n];
        for p in 0..k {
            for j in 0..n {
                bt[j * k + p] = b[p * n + j];
            }
        }
        let (bt_exact, bt_bytes) = quantise(dtype, &bt);
        let mut host_b = vec![0f32; k * n];
        for p in 0..k {
            for j in 0..n {
                host_b[p * n + j] = bt_exact[j * k + p];
            }
        }
        let plan = Plan::new(&spec, m as u64, n as u64, k as u64)?;
        let workspace = stream.alloc_zeros::<u8>(WORKSPACE_BYTES)?;
        let l2 = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
            .unwrap_or(0)
            .max(0) as usize;
        let set_bytes = a_bytes.len() + bt_bytes.len() + m * n * spec.out_bytes;
        let copies = (2 * l2).div_ceil(set_bytes.max(1)).clamp(1, MAX_SETS);
        let mut sets = Vec::with_capacity(copies);
        for _ in 0..copies {
            sets.push(Operands {
                bt: stream
                    .clone_htod(&bt_bytes)
                    .context("allocating matmul operands on the GPU")?,
                a: stream.clone_htod(&a_bytes)?,
                c: stream.alloc_zeros::<u8>(m * n * spec.out_bytes)?,
            });
        }
        stream.synchronize()?;
        Ok(LtGemm {
            stream,
            hold,
            plan,
            spec,
            workspace,
            sets,
            next: 0,
            host_a,
            host_b,
            m,
            n,
            k,
            seed,
        })
    }

    fn multiply(&mut self, set: usize) -> Result<()> {
        let (alpha, beta) = (1.0f32, 0.0f32);
        let stream = self.stream.clone();
        let ops = &mut self.sets[set];
        let (bt, _g1) = ops.bt.device_ptr(&stream);
        let (a, _g2) = ops.a.device_ptr(&stream);
        let (c, _g3) = ops.c.device_ptr_mut(&stream);
        let (w, _g4) = self.workspace.device_ptr_mut(&stream);
        let p = &self.plan;
        // SAFETY: the buffers match the layouts of the plan (sizes from the same
        // m, n, k and element sizes), alpha and beta are f32 as the scale type says,
        // and the workspace holds WORKSPACE_BYTES as the preference promised.
        unsafe {
            result::matmul(
                p.handle,
                p.desc,
                &alpha as *const f32 as *const c_void,
                &beta as *const f32 as *const c_void,
                bt as *const c_void,
                p.layouts[0],
                a as *const c_void,
                p.layouts[1],
                c as *const c_void,
                p.layouts[2],
                c as *mut c_void,
                p.layouts[2],
                &p.algo,
                w as *mut c_void,
                WORKSPACE_BYTES,
                stream.cu_stream() as sys::cudaStream_t,
            )
        }
        .map_err(|e| anyhow!("cublasLtMatmul failed: {e:?}"))
    }
}

impl Workload for LtGemm {
    fn iterate(&mut self) -> Result<f64> {
        crate::runner::timing::timed_once(|record| self.run_timed(1, record))
    }

    /// Each call uses the next operand set, so no call finds its inputs in L2.
    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        let (stream, hold) = (self.stream.clone(), self.hold.clone());
        let call = || {
            let set = self.next;
            self.next = (self.next + 1) % self.sets.len();
            self.multiply(set)
        };
        timing::run_on_stream(hold.as_deref(), &stream, iterations, call, record)
    }

    fn timing(&self) -> crate::results::Timing {
        timing::method(self.hold.as_deref())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        // All bits set is NaN in every output type: an unwritten output cannot pass.
        let poison = vec![0xffu8; self.sets[0].c.len()];
        self.stream.memcpy_htod(&poison, &mut self.sets[0].c)?;
        self.multiply(0)?;
        let out = self.stream.clone_dtoh(&self.sets[0].c)?;
        let t = &self.spec;
        let (input_u, acc_u, output_u) = (t.input_u, t.acc_u, t.output_u);
        let k = self.k as f64;
        let output = t.output;
        Ok(check_gemm_sampled(
            GemmView {
                a: &|i| self.host_a[i] as f64,
                b: &|i| self.host_b[i] as f64,
                c: &|i| decode(output, &out, i),
                m: self.m,
                n: self.n,
                k: self.k,
            },
            self.seed,
            &|abs, reference| {
                (2.0 * input_u + (k + 2.0) * acc_u) * abs + output_u * reference.abs()
            },
            "sampled entries against a compensated f64 reference of the rounded inputs, bound (2 u_in + (k+2) u_acc) sum|a||b| + u_out |c|",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    /// The bound passes a product computed as the tensor cores do (f32 accumulation,
    /// rounded to bf16) and fails one wrong by a bf16 ulp pattern at k scale.
    #[test]
    fn bf16_error_bound_accepts_rounding_and_rejects_errors() {
        let (m, n, k) = (8, 8, 512);
        let (a, b) = random_gemm_inputs::<f32>(m, n, k, 7);
        let (qa, _) = quantise(DType::Bf16, &a);
        let (qb, _) = quantise(DType::Bf16, &b);
        let mut c: Vec<f64> = (0..m * n)
            .map(|ij| {
                let (i, j) = (ij / n, ij % n);
                let acc: f32 = (0..k).map(|p| qa[i * k + p] * qb[p * n + j]).sum();
                half::bf16::from_f32(acc).to_f64()
            })
            .collect();
        let t = spec(DType::Bf16).unwrap();
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
                1,
                &|abs, r| (k as f64 + 2.0) * t.acc_u * abs + t.output_u * r.abs(),
                "test",
            )
        };
        assert_eq!(check(&c).wrong, 0);
        // Dropping one product term from every entry is an error the bound must catch.
        for (ij, v) in c.iter_mut().enumerate() {
            let (i, j) = (ij / n, ij % n);
            *v -= (qa[i * k] * qb[j]) as f64 + 0.25;
        }
        assert!(check(&c).wrong > 0);
    }
}
