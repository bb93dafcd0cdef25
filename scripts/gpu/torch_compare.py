#!/usr/bin/env python3
"""Measure with PyTorch what clusterbench measured, and print the ratios.

  torch_compare.py RUN.json [--iters 20] [--warmup 3]

Reads a clusterbench results document from a CUDA run (gpumem and matmul records),
measures the same operations with PyTorch on GPU 0 (device-to-device copy, pinned
host-to-device and device-to-host copies of the same size; bf16, fp16 and tf32
matmuls of the same shapes), timed with CUDA events like clusterbench, and prints
one table: clusterbench, PyTorch and their ratio (goal >= 0.98), plus the
device-to-device copy against the HBM peak from the GPU fingerprint (bytes read and
written; goal >= 0.88). Goals are reported, not enforced.
"""

import argparse
import json
import statistics
import sys

import torch

RATIO_GOAL = 0.98
HBM_GOAL = 0.88


def timed(fn, iters, warmup):
    """Median seconds of fn() over iters runs, each between two CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def torch_copy(kind, nbytes, iters, warmup):
    words = nbytes // 8
    dev = torch.empty(words, dtype=torch.int64, device="cuda")
    if kind == "d2d_copy_engine":
        src = torch.ones(words, dtype=torch.int64, device="cuda")
        return nbytes / timed(lambda: dev.copy_(src), iters, warmup) / 1e9
    host = torch.ones(words, dtype=torch.int64).pin_memory()
    if kind == "h2d_pinned":
        return nbytes / timed(lambda: dev.copy_(host, non_blocking=True), iters, warmup) / 1e9
    if kind == "d2h_pinned":
        return nbytes / timed(lambda: host.copy_(dev, non_blocking=True), iters, warmup) / 1e9
    return None


TORCH_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "tf32": torch.float32}


def torch_matmul(dtype, m, n, k, iters, warmup):
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    t = TORCH_DTYPES[dtype]
    a = torch.rand(m, k, device="cuda", dtype=t) * 2 - 1
    b = torch.rand(k, n, device="cuda", dtype=t) * 2 - 1
    return 2.0 * m * n * k / timed(lambda: torch.matmul(a, b), iters, warmup) / 1e12


def metric(record, name):
    for m in record["metrics"]:
        if m["name"] == name:
            return m["value"]
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run_json")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    doc = json.load(open(args.run_json))
    if doc["run"]["backend"] != "cuda":
        sys.exit(f"{args.run_json} ran on the {doc['run']['backend']} backend, not cuda")
    rows = []
    for r in doc["records"]:
        if not r["check"]["passed"]:
            sys.exit(f"a clusterbench record failed its check: {r['params']}")
        p_ = r["params"]
        if r["benchmark"] == "gpumem" and p_["copy"] in ("d2d_copy_engine", "h2d_pinned", "d2h_pinned"):
            ours = metric(r, "bandwidth")
            theirs = torch_copy(p_["copy"], p_["bytes"], args.iters, args.warmup)
            rows.append((f"{p_['copy']} {p_['bytes'] >> 20} MiB", "GB/s", ours, theirs))
        elif r["benchmark"] == "matmul" and p_["dtype"] in TORCH_DTYPES and p_["label"] != "search":
            ours = metric(r, "tflops")
            theirs = torch_matmul(p_["dtype"], p_["m"], p_["n"], p_["k"], args.iters, args.warmup)
            rows.append((f"matmul {p_['dtype']} {p_['label']} {p_['m']}x{p_['n']}x{p_['k']}",
                         "TFLOP/s", ours, theirs))
    print(f"GPU: {torch.cuda.get_device_name(0)}; PyTorch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"{'operation':<48} {'unit':>8} {'clusterbench':>13} {'PyTorch':>10} {'ratio':>7}  goal >= {RATIO_GOAL}")
    for name, unit, ours, theirs in rows:
        ratio = ours / theirs if theirs else float("nan")
        flag = "" if ratio >= RATIO_GOAL else "  below goal"
        print(f"{name:<48} {unit:>8} {ours:>13.2f} {theirs:>10.2f} {ratio:>7.3f}{flag}")
    gpu = doc["environment"]["hosts"][0]["gpus"][0]
    if gpu.get("memory_clock_mhz") and gpu.get("memory_bus_width_bits"):
        # HBM: double data rate, bus width in bits.
        peak = gpu["memory_clock_mhz"] * 1e6 * 2 * gpu["memory_bus_width_bits"] / 8 / 1e9
        for r in doc["records"]:
            if r["benchmark"] == "gpumem" and r["params"]["copy"] == "d2d_copy_engine":
                traffic = metric(r, "memory_traffic")
                print(f"D2D copy (read + written) {traffic:.1f} GB/s of the {peak:.0f} GB/s HBM peak: "
                      f"{traffic / peak:.3f} (goal >= {HBM_GOAL})")
    else:
        print("the GPU fingerprint has no memory clock or bus width: HBM peak ratio not computed")


if __name__ == "__main__":
    main()
