#!/usr/bin/env python3
"""Measures with PyTorch the operations clusterbench measured (scripts/gpu_validate.sh).

  torch_side.py OPS_JSON TORCH_JSON [--gpus N] [--seconds S] [--iters 10] [--warmup 3]

OPS_JSON comes from `ratio_table.py --ops RESULTS_DIR`: the copies, STREAM kernels,
matmuls and multi-GPU all-reduces of a clusterbench run, with their sizes. Each is
repeated here with PyTorch on the same GPU(s), on random data, after --warmup untimed
calls, and timed with CUDA events around --iters calls back to back (copies that use
two streams or two GPUs: the host clock around each call, devices synchronised), the
median of three such batches. All-reduce
runs in one process per GPU (torch.distributed, NCCL, rendezvous through a file) and
times --iters calls back to back between two events, as nccl-tests does; its figure
is the bus bandwidth of the slowest rank. Writes TORCH_JSON: {"torch": version line,
"figures": {key: value}, "skipped": {key: reason}}. Stops measuring after --seconds
and lists what is left as skipped. Exit 2 when torch or the GPU is missing.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

try:
    import torch
except ImportError as e:  # the validation's "missing library"
    print(f"torch_side: cannot import torch: {e}", file=sys.stderr)
    sys.exit(2)

STREAM_SCALAR = 3.0


BATCHES = 3
METHOD = f"CUDA events around --iters calls back to back, median of {BATCHES} such batches"


def median_seconds(fn, iters, warmup):
    """Seconds per call of fn(): CUDA events around iters calls enqueued back to back,
    divided by iters (so the host's launch cost overlaps the work, as nccl-tests times),
    the median of BATCHES such batches."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(BATCHES):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / iters)
    return statistics.median(times)


def wall_seconds(fn, iters, warmup, devices):
    """Median wall-clock seconds of fn() with every device synchronised before and
    after: for work spread over several streams or devices."""

    def sync():
        for d in devices:
            torch.cuda.synchronize(d)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def random_bytes(n, device):
    return torch.randint(0, 256, (n,), dtype=torch.uint8, device=device)


def copy_gbps(op, iters, warmup):
    kind, n = op["copy"], op["bytes"]
    dev = torch.device("cuda", 0)
    if kind in ("h2d_pinned", "h2d_pageable", "d2h_pinned", "d2h_pageable"):
        host = random_bytes(n, "cpu")
        if kind.endswith("pinned"):
            host = host.pin_memory()
        gpu = random_bytes(n, dev)
        pinned = kind.endswith("pinned")
        if kind.startswith("h2d"):
            t = median_seconds(lambda: gpu.copy_(host, non_blocking=pinned), iters, warmup)
        else:
            t = median_seconds(lambda: host.copy_(gpu, non_blocking=pinned), iters, warmup)
        return op["bytes_moved"] / t / 1e9
    if kind == "h2d_d2h_bidir":
        host_in, host_out = random_bytes(n, "cpu").pin_memory(), random_bytes(n, "cpu").pin_memory()
        gpu_in, gpu_out = random_bytes(n, dev), random_bytes(n, dev)
        s1, s2 = torch.cuda.Stream(dev), torch.cuda.Stream(dev)

        def both():
            with torch.cuda.stream(s1):
                gpu_in.copy_(host_in, non_blocking=True)
            with torch.cuda.stream(s2):
                host_out.copy_(gpu_out, non_blocking=True)

        return op["bytes_moved"] / wall_seconds(both, iters, warmup, [dev]) / 1e9
    if kind in ("d2d_copy_engine", "d2d_sm_copy"):
        src, dst = random_bytes(n, dev), random_bytes(n, dev)
        return op["bytes_moved"] / median_seconds(lambda: dst.copy_(src), iters, warmup) / 1e9
    if kind in ("p2p", "p2p_bidir"):
        a, b = torch.device("cuda", op["src"]), torch.device("cuda", op["dst"])
        x_a, x_b = random_bytes(n, a), random_bytes(n, b)
        y_a, y_b = random_bytes(n, a), random_bytes(n, b)
        s_a, s_b = torch.cuda.Stream(a), torch.cuda.Stream(b)

        def one_way():
            with torch.cuda.stream(s_a):
                x_b.copy_(x_a, non_blocking=True)

        def both_ways():
            one_way()
            with torch.cuda.stream(s_b):
                y_a.copy_(y_b, non_blocking=True)

        fn = both_ways if kind == "p2p_bidir" else one_way
        return op["bytes_moved"] / wall_seconds(fn, iters, warmup, [a, b]) / 1e9
    raise ValueError(f"no PyTorch equivalent of copy kind {kind}")


def stream_gbps(op, iters, warmup):
    n = op["elements"]
    dev = torch.device("cuda", 0)
    a, b, c = (torch.rand(n, dtype=torch.float64, device=dev) for _ in range(3))
    kernels = {
        "copy": lambda: c.copy_(a),
        "scale": lambda: torch.mul(c, STREAM_SCALAR, out=b),
        "add": lambda: torch.add(a, b, out=c),
        "triad": lambda: torch.add(b, c, alpha=STREAM_SCALAR, out=a),
        "dot": lambda: torch.dot(a, b),
    }
    fn = kernels.get(op["kernel"])
    if fn is None:
        raise ValueError(f"no PyTorch equivalent of STREAM kernel {op['kernel']}")
    return op["bytes_moved"] / median_seconds(fn, iters, warmup) / 1e9


def matmul_tflops(op, iters, warmup):
    m, n, k, dtype = op["m"], op["n"], op["k"], op["dtype"]
    dev = torch.device("cuda", 0)
    flops = 2.0 * m * n * k
    if dtype == "fp8e4m3":
        if not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
            raise ValueError("this PyTorch has no float8 matmul")
        a = (torch.rand(m, k, device=dev) * 2 - 1).to(torch.float8_e4m3fn)
        # _scaled_mm takes B column-major: the transpose of a row-major (n, k) matrix.
        b = (torch.rand(n, k, device=dev) * 2 - 1).to(torch.float8_e4m3fn).t()
        one = torch.tensor(1.0, device=dev)
        fn = lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)  # noqa: E731
        return flops / median_seconds(fn, iters, warmup) / 1e12
    types = {
        "float": torch.float32,
        "tf32": torch.float32,
        "double": torch.float64,
        "bf16": torch.bfloat16,
        "fp16": torch.float16,
    }
    torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"
    a = torch.rand(m, k, device=dev, dtype=types[dtype]) * 2 - 1
    b = torch.rand(k, n, device=dev, dtype=types[dtype]) * 2 - 1
    return flops / median_seconds(lambda: torch.matmul(a, b), iters, warmup) / 1e12


def allreduce_worker(rank, world, ops, init_file, out_file, iters, warmup, batches):
    import torch.distributed as dist

    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", init_method=f"file://{init_file}", rank=rank, world_size=world)
    types = {"float": torch.float32, "bf16": torch.bfloat16}
    figures = {}
    for op in ops:
        # Every rank adds 1/world: the sums stay near 1 however often they repeat.
        t = torch.full((op["count"],), 1.0 / world, device="cuda", dtype=types[op["dtype"]])
        for _ in range(warmup):
            dist.all_reduce(t)
        samples = []
        for _ in range(batches):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iters):
                dist.all_reduce(t)
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) / 1e3 / iters)
        # The slowest rank's median, as clusterbench reports a collective.
        mine = torch.tensor([statistics.median(samples)], device="cuda", dtype=torch.float64)
        dist.all_reduce(mine, op=dist.ReduceOp.MAX)
        seconds = mine.item()
        algbw = op["bytes"] / seconds / 1e9
        figures[op["key"]] = algbw * 2 * (world - 1) / world
    if rank == 0:
        with open(out_file, "w") as f:
            json.dump(figures, f)
    dist.destroy_process_group()


def allreduce_busbw(ops, gpus, iters, warmup):
    """Bus bandwidth of every all-reduce in ops, over `gpus` processes."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "rendezvous")
        out_file = os.path.join(tmp, "figures.json")
        mp.spawn(
            allreduce_worker,
            args=(gpus, ops, init_file, out_file, iters, warmup, BATCHES),
            nprocs=gpus,
            join=True,
        )
        with open(out_file) as f:
            return json.load(f)


def nccl_version():
    try:
        v = torch.cuda.nccl.version()
    except Exception:  # noqa: BLE001 - a build without NCCL
        return "absent"
    return ".".join(map(str, v)) if isinstance(v, tuple) else str(v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ops_json")
    p.add_argument("torch_json")
    p.add_argument("--gpus", type=int, default=1)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    deadline = time.monotonic() + args.seconds
    if not torch.cuda.is_available():
        print("torch_side: PyTorch sees no GPU", file=sys.stderr)
        return 2
    with open(args.ops_json) as f:
        ops = json.load(f)
    figures, skipped = {}, {}
    measure = {"copy": copy_gbps, "stream": stream_gbps, "matmul": matmul_tflops}
    gpus = min(args.gpus, torch.cuda.device_count())
    for op in ops:
        if op["kind"] not in measure:
            continue
        if time.monotonic() > deadline:
            skipped[op["key"]] = "not measured: the time budget ran out"
            continue
        if op["kind"] == "copy" and op.get("dst") is not None and max(op["src"], op["dst"]) >= gpus:
            skipped[op["key"]] = f"PyTorch sees {gpus} GPU(s)"
            continue
        try:
            figures[op["key"]] = measure[op["kind"]](op, args.iters, args.warmup)
            print(f"{op['key']:<52} {figures[op['key']]:10.2f} {op['unit']}", flush=True)
        except Exception as e:  # noqa: BLE001 - any failure is reported, not fatal
            skipped[op["key"]] = f"PyTorch failed: {type(e).__name__}: {e}".splitlines()[0]
        finally:
            torch.cuda.empty_cache()
    reduces = [op for op in ops if op["kind"] == "allreduce"]
    if reduces and gpus < 2:
        for op in reduces:
            skipped[op["key"]] = "all-reduce needs 2 or more GPUs"
    elif reduces and time.monotonic() > deadline:
        for op in reduces:
            skipped[op["key"]] = "not measured: the time budget ran out"
    elif reduces:
        try:
            got = allreduce_busbw([op for op in reduces if op["gpus"] == gpus], gpus, args.iters, args.warmup)
            figures.update(got)
            for key, value in got.items():
                print(f"{key:<52} {value:10.2f} GB/s", flush=True)
        except Exception as e:  # noqa: BLE001
            for op in reduces:
                skipped[op["key"]] = f"torch.distributed failed: {type(e).__name__}: {e}".splitlines()[0]
        for op in reduces:
            if op["key"] not in figures and op["key"] not in skipped:
                skipped[op["key"]] = f"ran on {op['gpus']} GPUs, PyTorch on {gpus}"
    version = f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, NCCL {nccl_version()})"
    with open(args.torch_json, "w") as f:
        json.dump(
            {
                "torch": version,
                "device": torch.cuda.get_device_name(0),
                "method": METHOD,
                "figures": figures,
                "skipped": skipped,
            },
            f,
            indent=1,
        )
    print(f"torch_side: {len(figures)} figures, {len(skipped)} skipped; {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
