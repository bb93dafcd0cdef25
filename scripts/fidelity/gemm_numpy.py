#!/usr/bin/env python3
"""GEMM reference and comparison for scripts/fidelity/gemm.sh.

  gemm_numpy.py measure --dtype f32 --size 2048 --iters 10 --warmup 1 --threads 2
      Times numpy.matmul(a, b, out=c) on row-major n x n inputs, one call per
      iteration after the warm-up, with BLAS threads limited to --threads through
      threadpoolctl; prints one JSON object: the median time's GFLOP/s, the per-call
      times, and which numpy, BLAS library, version and kernel ran.

  gemm_numpy.py compare PAIRS.jsonl OUT.json
      Reads the pairs gemm.sh collected (one JSON object per run: side, case,
      gflops, ...), prints the table and writes OUT.json, one row per case: the
      median GFLOP/s of each side, the median of the paired ratios cb_i / ref_i and
      the noise floor (ref_{i+1} / ref_i over adjacent reference runs, with quartiles).
"""

import argparse
import json
import statistics
import sys
import time

GOAL = 1.05


def blas_info():
    """(name, version, kernel, threads) of the BLAS numpy loaded, from threadpoolctl."""
    import threadpoolctl

    for pool in threadpoolctl.threadpool_info():
        if pool.get("user_api") == "blas":
            return (pool.get("internal_api", "blas"), pool.get("version") or "?",
                    pool.get("architecture") or "?", pool.get("num_threads"))
    return ("unknown BLAS", "?", "?", None)


def measure(args):
    import numpy as np
    import threadpoolctl

    dtype = {"f32": np.float32, "f64": np.float64}[args.dtype]
    n = args.size
    rng = np.random.default_rng(args.seed)
    a = rng.uniform(-1.0, 1.0, (n, n)).astype(dtype)
    b = rng.uniform(-1.0, 1.0, (n, n)).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    with threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas"):
        name, version, kernel, threads = blas_info()
        for _ in range(args.warmup):
            np.matmul(a, b, out=c)
        times = []
        for _ in range(args.iters):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            times.append(time.perf_counter() - start)
    # A product that went wrong would make the timing meaningless: spot-check one row.
    row = a[n // 2].astype(np.float64) @ b.astype(np.float64)
    tol = (1e-3 if dtype == np.float32 else 1e-10) * np.abs(a[n // 2]) @ np.abs(b)
    if not np.all(np.abs(c[n // 2] - row) <= tol + 1e-30):
        sys.exit(f"gemm_numpy.py: numpy's {args.dtype} {n}^3 product is wrong")
    median = statistics.median(times)
    blas = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS"}.get(name, name)
    print(json.dumps({
        "gflops": 2.0 * n ** 3 / median / 1e9,
        "times_s": times,
        "threads": threads,
        "reference_name": f"numpy {np.__version__} / {blas} {version} ({kernel})",
    }))


def quartiles(values):
    """(q1, median, q3) of `values` (at least one)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def compare(args):
    runs = [json.loads(line) for line in open(args.pairs) if line.strip()]
    cases = []
    for r in runs:
        if r["case"] not in cases:
            cases.append(r["case"])
    rows = []
    for case in cases:
        cb = [r for r in runs if r["case"] == case and r["side"] == "clusterbench"]
        ref = [r for r in runs if r["case"] == case and r["side"] == "reference"]
        pairs = min(len(cb), len(ref))
        if pairs == 0:
            print(f"gemm_numpy.py: {case}: no complete pair", file=sys.stderr)
            continue
        a = [r["gflops"] for r in cb[:pairs]]
        b = [r["gflops"] for r in ref[:pairs]]
        floor = quartiles([y / x for x, y in zip(b, b[1:])] or [1.0])
        ratio = statistics.median(x / y for x, y in zip(a, b))
        rows.append({
            "section": "gemm",
            "case": case,
            "unit": "GFLOP/s",
            "clusterbench": statistics.median(a),
            "reference": statistics.median(b),
            "reference_name": ref[0]["reference_name"],
            "ratio": ratio,
            "noise_floor": floor[1],
            "noise_q1": floor[0],
            "noise_q3": floor[2],
            "pairs": pairs,
            "goal": f">= {GOAL:.2f}",
            "met": ratio >= GOAL,
        })
        rows[-1]["_detail"] = (cb[0].get("engine"), cb[0].get("threads"),
                               ref[0].get("threads"), a, b)
    names = sorted({r["reference_name"] for r in rows})
    print(f"GEMM  (C = A B, row-major n x n, GFLOP/s at each run's median time; "
          f"{rows[0]['pairs'] if rows else 0} alternating pairs)")
    for row in rows:
        engine, cb_threads, ref_threads, _, _ = row["_detail"]
        if cb_threads != ref_threads:
            print(f"  warning: {row['case']}: clusterbench ran {cb_threads} threads, "
                  f"the reference {ref_threads}", file=sys.stderr)
    engines = sorted({str(r["_detail"][0]) for r in rows})
    print(f"  clusterbench: {', '.join(engines)}; reference: {', '.join(names)}")
    print(f"  {'case':<10} {'cb':>9} {'ref':>9} {'paired cb/ref':>14} "
          f"{'ref/ref [q1..q3]':>22}  goal >= {GOAL:.2f}")
    for row in rows:
        print(f"  {row['case']:<10} {row['clusterbench']:>9.1f} {row['reference']:>9.1f} "
              f"{row['ratio']:>14.3f} {row['noise_floor']:>9.3f} "
              f"[{row['noise_q1']:.2f}..{row['noise_q3']:.2f}]  "
              f"{'ok' if row['met'] else 'MISS'}")
    for row in rows:
        _, _, _, a, b = row.pop("_detail")
        print(f"  per run, {row['case']}: cb " + " ".join(f"{x:.1f}" for x in a)
              + " | ref " + " ".join(f"{y:.1f}" for y in b))
    print("  paired: median over pairs of cb_i / ref_i; ref/ref: adjacent reference runs "
          "against each other, the noise floor.")
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)
        f.write("\n")
    return 0 if rows else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--dtype", choices=["f32", "f64"], required=True)
    m.add_argument("--size", type=int, required=True)
    m.add_argument("--iters", type=int, required=True)
    m.add_argument("--warmup", type=int, default=1)
    m.add_argument("--threads", type=int, required=True)
    m.add_argument("--seed", type=int, default=1)
    c = sub.add_parser("compare")
    c.add_argument("pairs")
    c.add_argument("out")
    args = parser.parse_args(argv)
    if args.command == "measure":
        measure(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
