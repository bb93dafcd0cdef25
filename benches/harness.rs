//! Criterion benches of clusterbench's own hot paths (statistics, result checks,
//! JSON encoding, the host clock's read around every timed iteration) and of its CPU
//! kernels.

use clusterbench::backend::buffer::HostBuffer;
use clusterbench::backend::cpu::CpuBackend;
use clusterbench::core::{Backend, StreamKernel};
use clusterbench::core::{DType, MatmulShape, ReduceOp};
use clusterbench::results::{Check, Metric, Params, Record, StreamLine};
use clusterbench::stats::Summary;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn samples(n: usize) -> Vec<f64> {
    // A skewed, noisy-looking series, deterministic.
    (0..n)
        .map(|i| 1e-6 * (1.0 + ((i * 7919) % 1000) as f64 / 250.0))
        .collect()
}

fn statistics(c: &mut Criterion) {
    let mut g = c.benchmark_group("stats");
    for n in [1_000usize, 100_000] {
        let s = samples(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("summary", n), &s, |b, s| {
            b.iter(|| Summary::of(black_box(s)))
        });
    }
    g.finish();
}

fn result_checks(c: &mut Criterion) {
    let mut g = c.benchmark_group("check");
    let count = 1 << 20;
    for dtype in [DType::Float, DType::Int64] {
        let mut buf = HostBuffer::new(count * dtype.size());
        buf.fill(dtype, |i| (i % 61) as i64 + 1);
        let table: Vec<i64> = (0..61).map(|s| s + 1).collect();
        g.throughput(Throughput::Bytes((count * dtype.size()) as u64));
        g.bench_function(BenchmarkId::new("count_wrong", dtype.name()), |b| {
            b.iter(|| buf.count_wrong(dtype, |i| table[i % 61]))
        });
        g.bench_function(BenchmarkId::new("fill", dtype.name()), |b| {
            b.iter(|| buf.fill(dtype, |i| (i % 61) as i64 + 1))
        });
    }
    g.finish();
}

fn record_with_samples(n: usize) -> Record {
    let s = samples(n);
    Record {
        benchmark: "allreduce".into(),
        backend: "cpu".into(),
        ranks: 2,
        nodes: 1,
        params: Params::Collective {
            dtype: DType::Float,
            op: Some(ReduceOp::Sum),
            in_place: false,
            count: 1 << 20,
            bytes: 4 << 20,
        },
        time_s: Summary::of(&s).unwrap(),
        samples_s: s,
        metrics: vec![Metric {
            name: "algbw".into(),
            unit: "GB/s".into(),
            value: 10.0,
            best: 11.0,
        }],
        check: Check::skipped(),
        per_node: Vec::new(),
        timing: None,
        rank_mean_s: None,
    }
}

fn json_encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    for n in [20usize, 1_000] {
        let line = StreamLine::Record(record_with_samples(n));
        g.bench_with_input(BenchmarkId::new("record_line", n), &line, |b, line| {
            b.iter(|| serde_json::to_vec(black_box(line)).unwrap())
        });
    }
    g.finish();
}

/// The two clock reads of a timed iteration and the seconds between them: the host
/// clock against the standard library's monotonic `Instant`, side by side.
fn clock_reads(c: &mut Criterion) {
    clusterbench::clock::calibrate();
    let mut g = c.benchmark_group("clock");
    g.bench_function("host_clock_interval", |b| {
        b.iter(|| black_box(clusterbench::clock::now()).elapsed())
    });
    g.bench_function("std_instant_interval", |b| {
        b.iter(|| black_box(std::time::Instant::now()).elapsed().as_secs_f64())
    });
    g.finish();
}

fn cpu_kernels(c: &mut Criterion) {
    let backend = CpuBackend::new().expect("CPU backend");
    let mut g = c.benchmark_group("cpu_kernels");
    g.sample_size(10);
    let elements = 4 << 20;
    let mut stream = backend.stream(elements).unwrap();
    for kernel in [StreamKernel::Copy, StreamKernel::Triad] {
        stream.select(kernel);
        g.throughput(Throughput::Bytes(
            kernel.arrays_touched() * 8 * elements as u64,
        ));
        g.bench_function(BenchmarkId::new("stream", kernel.name()), |b| {
            b.iter(|| stream.iterate().unwrap())
        });
    }
    for dtype in [DType::Float, DType::Double] {
        let n = 256;
        g.throughput(Throughput::Elements(2 * n * n * n));
        let mut gemm = backend
            .matmul(dtype, &MatmulShape::square(n as usize), 1)
            .unwrap();
        g.bench_function(BenchmarkId::new("gemm_256", dtype.name()), |b| {
            b.iter(|| gemm.iterate().unwrap())
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    statistics,
    result_checks,
    json_encoding,
    clock_reads,
    cpu_kernels
);
criterion_main!(benches);
