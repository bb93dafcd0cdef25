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

use super::lt_types::{decode, entry_bound, quantise, spec, TypeSpec};
use super::timing::{self, StreamHold};
use crate::backend::gemm_check::{check_gemm_sampled, random_gemm_inputs, GemmView};
use crate::core::{DType, MatmulShape};
use crate::core::{LocalCheck, Workload};
use anyhow::{anyhow, Context, Result};
use cudarc::cublaslt::{result, sys};
use cudarc::driver::{sys::CUdevice_attribute, CudaSlice, CudaStream, DevicePtr, DevicePtrMut};
use std::ffi::c_void;
use std::sync::Arc;

/// cuBLASLt's recommended workspace on Hopper.
const WORKSPACE_BYTES: usize = 32 << 20;
/// At most this many copies of the operands rotate.
const MAX_SETS: usize = 16;

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
            if t.input == sys::cudaDataType_t::CUDA_R_8F_E4M3 {
                // Fast accumulation (an int8_t flag) would keep fp8 partial sums at the
                // tensor cores' reduced precision; off, they are promoted to FP32, as
                // the check's bound assumes. Off is the default: this keeps it so.
                let fast_accumulation: i8 = 0;
                result::set_matmul_desc_attribute(
                    desc,
                    sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_FAST_ACCUM,
                    &fast_accumulation as *const _ as *const c_void,
                    std::mem::size_of_val(&fast_accumulation),
                )
                .map_err(lt)?;
            }
        }
        let pref = result::create_matmul_pref().map_err(lt)?;
        let workspace = WORKSPACE_BYTES as u64;
        // Split-k partial sums reduced in FP32 only: the in-place and output-type
        // schemes would round them to the output type (bf16, fp16) before adding them
        // up, beyond the FP32 accumulation the check's bound allows for.
        let reductions =
            sys::cublasLtReductionScheme_t::CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE as u32;
        // SAFETY: live objects; each buffer has its attribute's size (uint64_t
        // workspace, uint32_t mask); the heuristic writes one result.
        let heuristic = unsafe {
            let set = result::set_matmul_pref_attribute(
                pref,
                sys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                &workspace as *const _ as *const c_void,
                std::mem::size_of_val(&workspace),
            )
            .and_then(|_| {
                result::set_matmul_pref_attribute(
                    pref,
                    sys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
                    &reductions as *const _ as *const c_void,
                    std::mem::size_of_val(&reductions),
                )
            });
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
        crate::core::timing::timed_once(|record| self.run_timed(1, record))
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

    fn timing(&self) -> crate::core::Timing {
        timing::method(self.hold.as_deref())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        // All bits set is NaN in every output type: an unwritten output cannot pass.
        let poison = vec![0xffu8; self.sets[0].c.len()];
        self.stream.memcpy_htod(&poison, &mut self.sets[0].c)?;
        self.multiply(0)?;
        let out = self.stream.clone_dtoh(&self.sets[0].c)?;
        let (output, rounding, k) = (self.spec.output, self.spec.rounding, self.k);
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
            &|abs, reference| entry_bound(k, abs, reference, rounding),
            "sampled entries against a compensated f64 reference of the quantised inputs, bound (1 + u_out) gamma(k-1) sum|a||b| + u_out |c| for FP32 accumulation (u = 2^-23, rounded or truncated) and the output's rounding",
        ))
    }
}
