//! The CPU backend: host memory, one pinned worker thread per core, host MPI.

pub use super::gemm_check::{check_gemm_sampled, check_gemm_samples, GemmView};
use crate::backend::buffer::HostBuffer;
use crate::core::collective::initial_values;
use crate::core::Communicator;
use crate::core::{Backend, StreamKernel, StreamWorkload};
use crate::core::{Collective, CollectiveCase};
use crate::core::{DType, MatmulShape};
use crate::core::{LocalCheck, Workload};
use crate::probe::topology::Topology;
use anyhow::{anyhow, Result};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

pub struct CpuBackend {
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    /// The host's last-level caches, all of them together.
    llc_bytes: Option<u64>,
}

impl CpuBackend {
    pub fn new() -> Result<Self> {
        let topology = Topology::load()?;
        let threads = topology.bound_core_count();
        let pin = topology.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("clusterbench-worker-{i}"))
            .start_handler(move |i| {
                // Unpinned workers still measure correctly, only less steadily.
                if let Err(e) = pin.pin_current_thread(i) {
                    eprintln!("clusterbench: warning: {e:#}");
                }
            })
            .build()
            .map_err(|e| anyhow!("cannot start {threads} worker threads: {e}"))?;
        Ok(CpuBackend {
            pool: Arc::new(pool),
            threads,
            llc_bytes: topology.host().llc_total_bytes,
        })
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn point_to_point<'a>(
        &'a self,
        comm: &'a dyn Communicator,
        case: crate::core::P2pCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        Ok(Box::new(super::cpu_p2p::host_point_to_point(comm, case)?))
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn cache_bytes(&self) -> Option<u64> {
        self.llc_bytes
    }

    fn stream(&self, elements: usize) -> Result<Box<dyn StreamWorkload>> {
        Ok(Box::new(CpuStream::new(
            self.pool.clone(),
            self.threads,
            elements,
        )))
    }

    fn matmul(&self, dtype: DType, shape: &MatmulShape, seed: u64) -> Result<Box<dyn Workload>> {
        let pool = self.pool.clone();
        let threads = self.threads;
        Ok(match dtype {
            DType::Float => Box::new(CpuGemm::<f32>::new(pool, threads, shape, seed)),
            DType::Double => Box::new(CpuGemm::<f64>::new(pool, threads, shape, seed)),
            other => return Err(crate::usage!("{}", cpu_matmul_rejects(other))),
        })
    }

    fn check_config(&self, cfg: &crate::core::BenchConfig) -> Result<()> {
        if cfg.name == "matmul" {
            if let Some(d) = cfg.datatypes.iter().find(|d| !d.is_cpu_matmul()) {
                return Err(crate::usage!("{}", cpu_matmul_rejects(*d)));
            }
        } else if let Some(d) = cfg.datatypes.iter().find(|d| !DType::ALL.contains(d)) {
            // MPI has no bf16, fp16 or fp8 reductions; NCCL has them on GPUs.
            return Err(crate::usage!(
                "{} in {d} needs a GPU (--backend cuda, through NCCL); the CPU backend runs float, double, int32 and int64",
                cfg.name
            ));
        }
        Ok(())
    }

    fn collective<'a>(
        &'a self,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        Ok(Box::new(HostCollective::new(coll, comm, case)))
    }
}

fn cpu_matmul_rejects(dtype: DType) -> String {
    format!("matmul in {dtype} needs a GPU (--backend cuda); the CPU backend runs float and double")
}

// ---------------------------------------------------------------- collectives

/// A collective on host buffers through the communicator (MPI or local).
struct HostCollective<'a> {
    coll: &'static dyn Collective,
    comm: &'a dyn Communicator,
    case: CollectiveCase,
    recv_count: usize,
    send: HostBuffer,
    /// The output; in place also the input, sized for the larger of the two.
    recv: HostBuffer,
}

impl<'a> HostCollective<'a> {
    fn new(
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Self {
        let (send_count, recv_count) = coll.counts(case.count, comm.size());
        let size = case.dtype.size();
        let (send_len, recv_len) = if case.in_place {
            (0, send_count.max(recv_count))
        } else {
            (send_count, recv_count)
        };
        let mut me = HostCollective {
            coll,
            comm,
            case,
            recv_count,
            send: HostBuffer::new(send_len * size),
            recv: HostBuffer::new(recv_len * size),
        };
        me.fill_inputs(false);
        me
    }

    fn fill_inputs(&mut self, for_check: bool) {
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        let corrupt = for_check && self.case.corrupt;
        let (input, received) = initial_values(self.coll, self.case, rank, ranks, corrupt);
        if !self.case.in_place {
            self.send.fill(self.case.dtype, input);
        }
        self.recv.fill(self.case.dtype, received);
    }

    fn call(&mut self) -> Result<()> {
        let send = (!self.case.in_place).then(|| self.send.bytes());
        self.coll.call(
            self.comm,
            send,
            self.recv.bytes_mut(),
            self.recv_count,
            self.case.dtype,
            self.case.op,
        )
    }
}

impl Workload for HostCollective<'_> {
    fn iterate(&mut self) -> Result<f64> {
        let start = Instant::now();
        self.call()?;
        Ok(start.elapsed().as_secs_f64())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.fill_inputs(true);
        self.call()?;
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        let expected =
            self.coll
                .expected(self.case.op, self.case.dtype, rank, ranks, self.case.count);
        let wrong = self
            .recv
            .count_wrong_in(self.case.dtype, self.recv_count, expected);
        Ok(LocalCheck {
            checked: self.recv_count as u64,
            wrong,
            max_error_ratio: None,
            method: "exact: every output element against its computed value",
        })
    }
}

// ---------------------------------------------------------------- STREAM

/// Raw pointers to the arrays, so that each pinned worker writes its own chunk.
#[derive(Clone, Copy)]
struct Arrays {
    a: *mut f64,
    b: *mut f64,
    c: *mut f64,
    len: usize,
    chunks: usize,
}

// SAFETY: workers touch disjoint chunks (by their pool index) while the owning
// CpuStream is blocked in `broadcast`, and never after it returns.
unsafe impl Send for Arrays {}
unsafe impl Sync for Arrays {}

impl Arrays {
    fn range(&self, chunk: usize) -> std::ops::Range<usize> {
        let per = self.len.div_ceil(self.chunks);
        let start = (chunk * per).min(self.len);
        start..((chunk + 1) * per).min(self.len)
    }

    /// # Safety
    /// Only one thread may use a given chunk at a time, and not beyond the arrays' life.
    #[allow(clippy::mut_from_ref)]
    unsafe fn chunk(&self, p: *mut f64, chunk: usize) -> &mut [f64] {
        let r = self.range(chunk);
        std::slice::from_raw_parts_mut(p.add(r.start), r.len())
    }
}

const STREAM_SCALAR: f64 = 3.0;

/// STREAM arrays of f64, first touched by the worker that owns each chunk.
pub struct CpuStream {
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    kernel: StreamKernel,
    /// The value every element of a, b, c holds after the last selected kernel.
    expect: (f64, f64, f64),
}

impl CpuStream {
    fn new(pool: Arc<rayon::ThreadPool>, threads: usize, elements: usize) -> Self {
        // Zeroed allocations of this size are fresh pages: nothing is touched until
        // the workers write their own chunks below.
        let mut s = CpuStream {
            pool,
            threads,
            a: vec![0.0; elements],
            b: vec![0.0; elements],
            c: vec![0.0; elements],
            kernel: StreamKernel::Copy,
            expect: (1.0, 2.0, 0.0),
        };
        let arrays = s.arrays();
        s.pool.broadcast(|ctx| {
            // SAFETY: see `Arrays`.
            unsafe {
                arrays.chunk(arrays.a, ctx.index()).fill(1.0);
                arrays.chunk(arrays.b, ctx.index()).fill(2.0);
                arrays.chunk(arrays.c, ctx.index()).fill(0.0);
            }
        });
        s
    }

    fn arrays(&mut self) -> Arrays {
        Arrays {
            a: self.a.as_mut_ptr(),
            b: self.b.as_mut_ptr(),
            c: self.c.as_mut_ptr(),
            len: self.a.len(),
            chunks: self.threads,
        }
    }
}

/// One STREAM kernel over one chunk; returns the dot product for `Dot`.
fn stream_chunk(kernel: StreamKernel, arrays: &Arrays, chunk: usize) -> f64 {
    // SAFETY: see `Arrays`; a, b, c are distinct allocations.
    let (a, b, c) = unsafe {
        (
            arrays.chunk(arrays.a, chunk),
            arrays.chunk(arrays.b, chunk),
            arrays.chunk(arrays.c, chunk),
        )
    };
    match kernel {
        StreamKernel::Copy => c.copy_from_slice(a),
        StreamKernel::Scale => stream_scale(b, c),
        StreamKernel::Add => stream_add(c, a, b),
        StreamKernel::Triad => stream_triad(a, b, c),
        StreamKernel::Dot => return stream_dot(a, b),
    }
    0.0
}

// The kernels are compiled for the common SIMD levels and picked at run time
// (multiversion): a triad built for baseline x86-64 (SSE2) reached about 0.85x the
// bandwidth of the same loop built with gcc -O3 -march=native on this 2-core VM.

#[multiversion::multiversion(targets = "simd")]
fn stream_scale(b: &mut [f64], c: &[f64]) {
    for (b, c) in b.iter_mut().zip(c) {
        *b = STREAM_SCALAR * c;
    }
}

#[multiversion::multiversion(targets = "simd")]
fn stream_add(c: &mut [f64], a: &[f64], b: &[f64]) {
    for (c, (a, b)) in c.iter_mut().zip(a.iter().zip(b)) {
        *c = a + b;
    }
}

#[multiversion::multiversion(targets = "simd")]
fn stream_triad(a: &mut [f64], b: &[f64], c: &[f64]) {
    for (a, (b, c)) in a.iter_mut().zip(b.iter().zip(c)) {
        *a = b + STREAM_SCALAR * c;
    }
}

#[multiversion::multiversion(targets = "simd")]
fn stream_dot(a: &[f64], b: &[f64]) -> f64 {
    // Eight partial sums let the compiler vectorise the reduction.
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f64>() + tail
}

impl StreamWorkload for CpuStream {
    fn select(&mut self, kernel: StreamKernel) {
        self.kernel = kernel;
        self.expect = kernel.expected_after(self.expect, STREAM_SCALAR);
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

impl Workload for CpuStream {
    fn iterate(&mut self) -> Result<f64> {
        let arrays = self.arrays();
        let kernel = self.kernel;
        let start = Instant::now();
        let partial = self
            .pool
            .broadcast(|ctx| stream_chunk(kernel, &arrays, ctx.index()));
        let elapsed = start.elapsed().as_secs_f64();
        black_box(partial);
        Ok(elapsed)
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        let (ea, eb, ec) = self.expect;
        let n = self.a.len() as u64;
        if self.kernel == StreamKernel::Dot {
            let arrays = self.arrays();
            let sum: f64 = self
                .pool
                .broadcast(|ctx| stream_chunk(StreamKernel::Dot, &arrays, ctx.index()))
                .iter()
                .sum();
            // Integer-valued terms: the sum is exact below 2^53.
            let expected = ea * eb * n as f64;
            return Ok(LocalCheck {
                checked: n,
                wrong: u64::from(sum != expected),
                max_error_ratio: None,
                method: "exact: the dot product against n a b",
            });
        }
        let count = |v: &[f64], e: f64| v.iter().filter(|x| **x != e).count() as u64;
        let wrong = count(&self.a, ea) + count(&self.b, eb) + count(&self.c, ec);
        Ok(LocalCheck {
            checked: 3 * n,
            wrong,
            max_error_ratio: None,
            method: "exact: every element of a, b and c against its expected value",
        })
    }
}

// ---------------------------------------------------------------- GEMM

/// Element types the CPU GEMM runs.
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

/// C = A B with row-major A (m x k), B (k x n), C (m x n) through the `gemm` crate.
struct CpuGemm<T: GemmElement> {
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    a: Vec<T>,
    b: Vec<T>,
    c: Vec<T>,
    seed: u64,
}

impl<T: GemmElement> CpuGemm<T> {
    fn new(pool: Arc<rayon::ThreadPool>, threads: usize, shape: &MatmulShape, seed: u64) -> Self {
        let (m, n, k) = (shape.m, shape.n, shape.k);
        let (a, b) = random_gemm_inputs::<T>(m, n, k, seed);
        CpuGemm {
            pool,
            threads,
            m,
            n,
            k,
            a,
            b,
            c: vec![T::default(); m * n],
            seed,
        }
    }

    fn multiply(&mut self) {
        let (m, n, k) = (self.m, self.n, self.k);
        let (a, b, c) = (&self.a[..], &self.b[..], &mut self.c[..]);
        let threads = self.threads;
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        self.pool.install(|| {
            // SAFETY: a, b and c hold m*k, k*n and m*n elements with the row-major
            // strides given (column stride 1, row stride = columns).
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.as_ptr(),
                    1,
                    k as isize,
                    b.as_ptr(),
                    1,
                    n as isize,
                    zero,
                    one,
                    false,
                    false,
                    false,
                    if threads > 1 {
                        gemm::Parallelism::Rayon(threads)
                    } else {
                        gemm::Parallelism::None
                    },
                )
            }
        });
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

impl<T: GemmElement> Workload for CpuGemm<T> {
    fn iterate(&mut self) -> Result<f64> {
        let start = Instant::now();
        self.multiply();
        let t = start.elapsed().as_secs_f64();
        black_box(&self.c);
        Ok(t)
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.c.iter_mut().for_each(|x| *x = T::from_f64(f64::NAN));
        self.multiply();
        Ok(check_gemm_samples(
            &self.a, &self.b, &self.c, self.m, self.n, self.k, self.seed,
        ))
    }
}
