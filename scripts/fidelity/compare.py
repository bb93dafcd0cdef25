#!/usr/bin/env python3
"""Compare clusterbench CPU figures with the minimal C reference programs.

Stdlib only. Reads clusterbench results JSON documents (schema_version 1) and
the text output of stream_kernels / allreduce_loop, and prints ratio tables.

  compare.py --cb-membw RUN.json [--cb-membw ...] --c-stream OUT.txt [...]
             --cb-allreduce RUN.json [...] --c-allreduce OUT.txt [...]

Each option may be repeated (one per run); a directory argument stands for
the single *.json file in it. Either section (STREAM, all-reduce) may be left
out. STREAM: the runs of the two sides are taken as alternating pairs (run i
of each side measured one after the other); for copy and triad, regular,
streaming-store (_nt) and the better of the two per run, it prints each
side's median over runs, the median over pairs of the clusterbench/C ratio,
and the C/C ratio of adjacent C runs (median and quartiles: the noise floor).
All-reduce: across repeated runs each side's best figure is used, per size,
the lowest mean, lowest median and (C only) lowest loop time.

Goals are reported, not enforced: STREAM best-rate ratio >= 1.00 and
all-reduce time ratio <= 1.03. The exit status is 0 whether or not the goals
are met; it is 1 only if an input is missing or cannot be parsed, the two
sides cannot be matched up, or a result check (clusterbench's or the C
program's) failed.
"""

import argparse
import json
import os
import re
import statistics
import sys

STREAM_GOAL = 1.00  # clusterbench / C best bandwidth, higher is better
AR_GOAL = 1.03  # clusterbench / C time, lower is better


class InputError(Exception):
    pass


def resolve_json(path):
    if os.path.isdir(path):
        found = sorted(f for f in os.listdir(path) if f.endswith(".json"))
        if len(found) != 1:
            raise InputError(f"{path}: expected exactly one *.json file, found {len(found)}")
        path = os.path.join(path, found[0])
    return path


def load_records(path):
    path = resolve_json(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read results JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise InputError(f"{path}: no 'records' list in results JSON")
    if doc.get("schema_version") != 1:
        print(f"warning: {path}: schema_version {doc.get('schema_version')!r}, expected 1",
              file=sys.stderr)
    return path, doc["records"]


def metric(rec, name):
    for m in rec.get("metrics") or []:
        if m.get("name") == name:
            return m
    return None


def check_failed(rec):
    chk = rec.get("check") or {}
    return chk.get("performed") is True and chk.get("passed") is False


def parse_kv_line(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


# ---------------------------------------------------------------- STREAM

STREAM_KERNELS = ("copy", "triad")
STREAM_BYTES = {"copy": 16, "triad": 24}  # STREAM's bytes per element


def cb_stream(path):
    """{variant: figures} for copy, copy_nt, triad, triad_nt from one membw run."""
    path, records = load_records(path)
    wanted = {k + nt for k in STREAM_KERNELS for nt in ("", "_nt")}
    recs = [r for r in records
            if r.get("benchmark") == "membw"
            and (r.get("params") or {}).get("kernel") in wanted
            and r.get("backend", "cpu") == "cpu"]
    if not any(r["params"]["kernel"] == "triad" for r in recs):
        raise InputError(f"{path}: no membw triad record")
    out = {}
    for rec in sorted(recs, key=lambda r: r["params"].get("elements", 0)):
        name = rec["params"]["kernel"]
        try:
            params = rec["params"]
            bw = metric(rec, "bandwidth")
            if bw is None:
                raise KeyError("metrics[name=bandwidth]")
            out[name] = {  # the largest array wins if a run has several
                "best": float(bw["best"]),
                "median": float(bw["value"]),
                "unit": bw.get("unit"),
                "elements": int(params["elements"]),
                "threads": params.get("threads"),
                "min_s": float(rec["time_s"]["min"]),
                "check_failed": check_failed(rec),
                "path": path,
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: malformed membw {name} record: {exc}") from exc
    return out


def c_stream(path):
    """{variant: figures} from stream_kernels' output lines."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [l for l in fh if l.startswith("variant=")]
    except OSError as exc:
        raise InputError(f"{path}: {exc}") from exc
    out = {}
    for line in lines:
        kv = parse_kv_line(line)
        try:
            out[kv["variant"]] = {
                "best": float(kv["best_gbps"]),
                "median": float(kv["median_gbps"]),
                "elements": int(kv["n"]),
                "threads": int(kv["threads"]),
                "path": path,
            }
        except (KeyError, ValueError) as exc:
            raise InputError(f"{path}: malformed stream_kernels line: {exc}") from exc
    if "triad" not in out:
        raise InputError(f"{path}: no 'variant=triad' line (did stream_kernels fail?)")
    return out


def mark(ratio, goal, higher_is_better):
    ok = ratio >= goal if higher_is_better else ratio <= goal
    return "ok" if ok else "MISS"


def quartiles(values):
    """(q1, median, q3) of `values` (at least one)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def stream_rows(cb, cc, figure):
    """One row per variant and kernel (regular, _nt, better of the two), each with the
    per-run figures of both sides, in run order."""
    rows = []
    for k in STREAM_KERNELS:
        for name, pick in ((k, lambda run, k=k: run.get(k)),
                           (k + "_nt", lambda run, k=k: run.get(k + "_nt")),
                           (k + " better", lambda run, k=k: max(
                               (run[v] for v in (k, k + "_nt") if v in run),
                               key=lambda f: f[figure], default=None))):
            a = [pick(r) for r in cb]
            b = [pick(r) for r in cc]
            if any(x is None for x in a) or any(x is None for x in b):
                continue
            rows.append((name, [x[figure] for x in a], [x[figure] for x in b]))
    return rows


def report_stream(cb_paths, c_paths):
    problems = 0
    cb = [cb_stream(p) for p in cb_paths]
    cc = [c_stream(p) for p in c_paths]

    for run in cb:
        for name, r in run.items():
            if r["check_failed"]:
                print(f"ERROR: {r['path']}: clusterbench {name} result check failed",
                      file=sys.stderr)
                problems += 1
            if r["unit"] not in (None, "GB/s"):
                print(f"warning: {r['path']}: bandwidth unit {r['unit']!r}, expected GB/s",
                      file=sys.stderr)
            # Cross-check clusterbench's byte accounting against STREAM's.
            per = STREAM_BYTES[name.removesuffix("_nt")]
            implied = per * r["elements"] / r["min_s"] / 1e9
            if abs(implied / r["best"] - 1.0) > 0.01:
                print(f"warning: {r['path']}: {name} best {r['best']:.3f} GB/s but "
                      f"{per}*N/min_time = {implied:.3f} GB/s; byte counting may differ "
                      "from STREAM's", file=sys.stderr)

    every = [f for run in cb + cc for f in run.values()]
    elems = {f["elements"] for f in every}
    if len(elems) != 1:
        print(f"ERROR: array lengths differ between runs: {sorted(elems)}", file=sys.stderr)
        problems += 1
    threads = {f["threads"] for f in every if f["threads"] is not None}
    if len(threads) > 1:
        print(f"warning: thread counts differ between sides: {sorted(threads)}", file=sys.stderr)
    if len(cb) != len(cc):
        print(f"warning: {len(cb)} clusterbench runs but {len(cc)} C runs; "
              "pairs are taken in order", file=sys.stderr)
    pairs = min(len(cb), len(cc))

    n = sorted(elems)[0]
    print(f"STREAM  (N = {n} doubles, {8 * n / 2**20:.0f} MiB per array, "
          f"threads = {','.join(str(t) for t in sorted(threads))}; "
          f"{pairs} alternating pairs, clusterbench vs stream_kernels.c)")
    for figure in ("best", "median"):
        print(f"  {figure} rate per run, GB/s; cb and C: median of the runs")
        print(f"  {'kernel':<14} {'cb GB/s':>9} {'C GB/s':>9} {'paired cb/C':>12} "
              f"{'C/C [q1..q3]':>20}  goal >= {STREAM_GOAL:.2f}")
        for name, a, b in stream_rows(cb[:pairs], cc[:pairs], figure):
            paired = statistics.median(x / y for x, y in zip(a, b))
            floor = quartiles([y / x for x, y in zip(b, b[1:])] or [1.0])
            print(f"  {name:<14} {statistics.median(a):>9.3f} {statistics.median(b):>9.3f} "
                  f"{paired:>12.3f} {floor[1]:>7.3f} [{floor[0]:.2f}..{floor[2]:.2f}]  "
                  f"{mark(paired, STREAM_GOAL, True) if figure == 'best' else ''}")
    print("  paired: median over pairs of cb_i / C_i; C/C: adjacent C runs against each "
          "other, the noise floor. 'better': the faster of regular and _nt in each run.")
    for name in ("triad", "triad_nt"):
        if all(name in r for r in cb) and all(name in r for r in cc):
            print(f"  per run, {name} best, cb: " + " ".join("%.2f" % r[name]["best"] for r in cb)
                  + " | C: " + " ".join("%.2f" % r[name]["best"] for r in cc))
    print()
    return problems


# ------------------------------------------------------------ all-reduce


def cb_allreduce(path):
    path, records = load_records(path)
    out = {}
    failed = []
    for r in records:
        p = r.get("params") or {}
        if r.get("benchmark") != "allreduce" or r.get("backend", "cpu") != "cpu":
            continue
        if p.get("in_place") is True:
            continue
        try:
            b = int(p["bytes"])
            t = r["time_s"]
            out[b] = {"mean": float(t["mean"]), "median": float(t["median"]),
                      "ranks": r.get("ranks"), "dtype": p.get("dtype"), "op": p.get("op")}
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: malformed allreduce record: {exc}") from exc
        if check_failed(r):
            failed.append(b)
    if not out:
        raise InputError(f"{path}: no out-of-place cpu allreduce records")
    for b, v in out.items():
        if v["dtype"] not in (None, "float") or v["op"] not in (None, "sum"):
            print(f"warning: {path}: {b} B record is {v['dtype']}/{v['op']}, expected float/sum",
                  file=sys.stderr)
    return path, out, failed


def c_allreduce(path):
    out = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.startswith("bytes="):
                    continue
                kv = parse_kv_line(line)
                out[int(kv["bytes"])] = {"mean": float(kv["mean_us"]) * 1e-6,
                                         "median": float(kv["median_us"]) * 1e-6,
                                         "loop": float(kv["loop_us"]) * 1e-6}
    except OSError as exc:
        raise InputError(f"{path}: {exc}") from exc
    except (KeyError, ValueError) as exc:
        raise InputError(f"{path}: malformed allreduce_loop line: {exc}") from exc
    if not out:
        raise InputError(f"{path}: no 'bytes=' lines (did allreduce_loop fail?)")
    return out


def fmt_bytes(b):
    for unit, div in (("MiB", 2**20), ("KiB", 2**10)):
        if b >= div and b % div == 0:
            return f"{b // div} {unit}"
    return f"{b} B"


def best_per_size(runs, keys):
    best = {}
    for run in runs:
        for b, v in run.items():
            cur = best.setdefault(b, {k: float("inf") for k in keys})
            for k in keys:
                cur[k] = min(cur[k], v[k])
    return best


def report_allreduce(cb_paths, c_paths):
    problems = 0
    cb_runs = []
    ranks = set()
    for p in cb_paths:
        path, run, failed = cb_allreduce(p)
        if failed:
            print(f"ERROR: {path}: clusterbench result check failed at "
                  f"{', '.join(fmt_bytes(b) for b in sorted(failed))}", file=sys.stderr)
            problems += 1
        ranks |= {v["ranks"] for v in run.values() if v["ranks"] is not None}
        cb_runs.append(run)
    c_runs = [c_allreduce(p) for p in c_paths]

    cb = best_per_size(cb_runs, ("mean", "median"))
    cc = best_per_size(c_runs, ("mean", "median", "loop"))
    sizes = sorted(set(cb) | set(cc))
    common = [b for b in sizes if b in cb and b in cc]
    if not common:
        print("ERROR: no message size present on both sides", file=sys.stderr)
        return problems + 1

    print(f"All-reduce  (float, sum, out of place, ranks = "
          f"{','.join(str(r) for r in sorted(ranks)) or '?'}; "
          f"per-size best of {len(cb_runs)} cb / {len(c_runs)} C runs; times in us)")
    hdr = (f"  {'size':>8} {'cb mean':>10} {'C mean':>10} {'mean':>6}   "
           f"{'cb med':>10} {'C med':>10} {'median':>6}   {'C loop':>10} {'mean/loop':>9}")
    print(hdr)
    print(f"  {'':>8} {'':>10} {'':>10} {'ratio':>6}   {'':>10} {'':>10} {'ratio':>6}   "
          f"{'':>10} {'ratio':>9}   goal <= {AR_GOAL}")
    misses = {"mean": 0, "median": 0, "loop": 0}
    for b in sizes:
        if b not in cb or b not in cc:
            side = "clusterbench" if b not in cb else "C"
            print(f"  {fmt_bytes(b):>8}  (missing from {side})")
            continue
        x, y = cb[b], cc[b]
        r_mean = x["mean"] / y["mean"]
        r_med = x["median"] / y["median"]
        r_loop = x["mean"] / y["loop"]
        marks = []
        for key, r in (("mean", r_mean), ("median", r_med), ("loop", r_loop)):
            m = mark(r, AR_GOAL, False)
            if m != "ok":
                misses[key] += 1
            marks.append(m)
        print(f"  {fmt_bytes(b):>8} {x['mean'] * 1e6:>10.2f} {y['mean'] * 1e6:>10.2f} "
              f"{r_mean:>6.3f}{'' if marks[0] == 'ok' else '*':1}  "
              f"{x['median'] * 1e6:>10.2f} {y['median'] * 1e6:>10.2f} "
              f"{r_med:>6.3f}{'' if marks[1] == 'ok' else '*':1}  "
              f"{y['loop'] * 1e6:>10.2f} {r_loop:>9.3f}{'' if marks[2] == 'ok' else '*':1}")
    n = len(common)
    print(f"  (* = above {AR_GOAL}) sizes within goal: mean {n - misses['mean']}/{n}, "
          f"median {n - misses['median']}/{n}, mean/loop {n - misses['loop']}/{n}")
    missing = len(sizes) - n
    if missing:
        print(f"  warning: {missing} size(s) present on one side only")
    print()
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cb-membw", action="append", default=[], metavar="JSON|DIR")
    ap.add_argument("--c-stream", action="append", default=[], metavar="TXT")
    ap.add_argument("--cb-allreduce", action="append", default=[], metavar="JSON|DIR")
    ap.add_argument("--c-allreduce", action="append", default=[], metavar="TXT")
    args = ap.parse_args(argv)

    sections = []
    if args.cb_membw or args.c_stream:
        if not (args.cb_membw and args.c_stream):
            ap.error("the STREAM comparison needs both --cb-membw and --c-stream")
        sections.append((report_stream, args.cb_membw, args.c_stream))
    if args.cb_allreduce or args.c_allreduce:
        if not (args.cb_allreduce and args.c_allreduce):
            ap.error("the all-reduce comparison needs both --cb-allreduce and --c-allreduce")
        sections.append((report_allreduce, args.cb_allreduce, args.c_allreduce))
    if not sections:
        ap.error("nothing to compare")

    problems = 0
    for fn, a, b in sections:
        try:
            problems += fn(a, b)
        except InputError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            problems += 1
    print("Goals are reported only: STREAM copy and triad best-rate ratio >= %.2f, "
          "all-reduce time ratio <= %.2f." % (STREAM_GOAL, AR_GOAL))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
