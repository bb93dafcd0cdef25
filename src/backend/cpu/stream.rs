//! The STREAM kernels on host memory, each pinned worker on its own chunk.

use super::stream_nt;
use crate::core::{LocalCheck, Workload};
use crate::core::{StreamKernel, StreamStores, StreamWorkload};
use anyhow::Result;
use std::hint::black_box;
use std::sync::Arc;

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

pub(super) const STREAM_SCALAR: f64 = 3.0;

/// STREAM arrays of f64, first touched by the worker that owns each chunk.
pub struct CpuStream {
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    kernel: StreamKernel,
    stores: StreamStores,
    /// The value every element of a, b, c holds after the last selected kernel.
    expect: (f64, f64, f64),
}

impl CpuStream {
    pub(super) fn new(pool: Arc<rayon::ThreadPool>, threads: usize, elements: usize) -> Self {
        // Zeroed allocations of this size are fresh pages: nothing is touched until
        // the workers write their own chunks below.
        let mut s = CpuStream {
            pool,
            threads,
            a: vec![0.0; elements],
            b: vec![0.0; elements],
            c: vec![0.0; elements],
            kernel: StreamKernel::Copy,
            stores: StreamStores::Regular,
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
fn stream_chunk(kernel: StreamKernel, stores: StreamStores, arrays: &Arrays, chunk: usize) -> f64 {
    // SAFETY: see `Arrays`; a, b, c are distinct allocations.
    let (a, b, c) = unsafe {
        (
            arrays.chunk(arrays.a, chunk),
            arrays.chunk(arrays.b, chunk),
            arrays.chunk(arrays.c, chunk),
        )
    };
    if stores == StreamStores::Streaming {
        streaming_chunk(kernel, a, b, c);
        return 0.0;
    }
    match kernel {
        StreamKernel::Copy => c.copy_from_slice(a),
        StreamKernel::Scale => stream_scale(b, c),
        StreamKernel::Add => stream_add(c, a, b),
        StreamKernel::Triad => stream_triad(a, b, c),
        StreamKernel::Dot => return stream_dot(a, b),
    }
    0.0
}

/// The streaming-store variant of a writing kernel (selected only where offered).
#[cfg(target_arch = "x86_64")]
fn streaming_chunk(kernel: StreamKernel, a: &mut [f64], b: &mut [f64], c: &mut [f64]) {
    match kernel {
        StreamKernel::Copy => stream_nt::copy(c, a),
        StreamKernel::Scale => stream_nt::scale(b, c),
        StreamKernel::Add => stream_nt::add(c, a, b),
        StreamKernel::Triad => stream_nt::triad(a, b, c),
        StreamKernel::Dot => unreachable!("dot writes nothing; it has no streaming variant"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn streaming_chunk(_: StreamKernel, _: &mut [f64], _: &mut [f64], _: &mut [f64]) {
    unreachable!("streaming stores are not offered on this architecture")
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
        self.stores = StreamStores::Regular;
        self.expect = kernel.expected_after(self.expect, STREAM_SCALAR);
    }

    fn select_stores(&mut self, stores: StreamStores) -> bool {
        let ok = stores == StreamStores::Regular || (stream_nt::offered() && self.kernel.writes());
        if ok {
            self.stores = stores;
        }
        ok
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

impl Workload for CpuStream {
    fn iterate(&mut self) -> Result<f64> {
        let arrays = self.arrays();
        let (kernel, stores) = (self.kernel, self.stores);
        let start = crate::clock::now();
        let partial = self
            .pool
            .broadcast(|ctx| stream_chunk(kernel, stores, &arrays, ctx.index()));
        let elapsed = start.elapsed();
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
                .broadcast(|ctx| {
                    stream_chunk(
                        StreamKernel::Dot,
                        StreamStores::Regular,
                        &arrays,
                        ctx.index(),
                    )
                })
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
