#!/usr/bin/env python3
"""Compare clusterbench CPU figures with the minimal C reference programs.

Stdlib only. Reads clusterbench results JSON documents (any schema_version) and
the text output of stream_kernels / allreduce_loop, and prints ratio tables.

  compare.py --cb-membw RUN.json [--cb-membw ...] --c-stream OUT.txt [...]
             --cb-allreduce RUN.json [...] --c-allreduce OUT.txt [...]
             [--osu-allreduce OSU.txt ...] [--ar-stat median|mean] [--rows OUT.json]

Each option may be repeated (one per run); a directory argument stands for
the single *.json file in it. Either section (STREAM, all-reduce) may be left
out. STREAM: the runs of the two sides are taken as alternating pairs (run i
of each side measured one after the other); for copy and triad, regular,
streaming-store (_nt) and the better of the two per run, it prints each
side's median over runs, the median over pairs of the clusterbench/C ratio,
and the C/C ratio of adjacent C runs (median and quartiles: the noise floor).
All-reduce: per size, the same pairing: per run each side's median (--ar-stat
mean: mean) over iterations of the slowest rank's time, the median over pairs
of cb_i / C_i and the C/C noise floor; with --osu-allreduce, the same again
with clusterbench's rank_mean_s (each rank's mean, averaged over the ranks)
against osu_allreduce's average latency, the same statistic and the only
figure OSU prints. --rows writes every ratio as table.py's rows.

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

import table

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
    # The fields read here (records' benchmark, params, time_s, metrics, check) are
    # the same in every schema version so far.
    version = doc.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        print(f"warning: {path}: schema_version {version!r} is not a version number",
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


def report_stream(cb_paths, c_paths, rows):
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
    for name, a, b in stream_rows(cb[:pairs], cc[:pairs], "best"):
        rows.append(table.row("stream", f"{name}, best rate", "GB/s", a, b,
                              "stream_kernels.c", f">= {STREAM_GOAL:.2f}"))
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
            rank_mean = r.get("rank_mean_s")  # schema 5 on
            out[b] = {"mean": float(t["mean"]), "median": float(t["median"]),
                      "rank_mean": None if rank_mean is None else float(rank_mean),
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


def osu_allreduce(path):
    """{bytes: {"rank_mean": seconds}} from osu_allreduce's output: 'size  avg latency
    (us)' (with -f, also min and max; the average over ranks of each rank's mean is
    read)."""
    out = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 2 or not parts[0].isdigit():
                    continue
                try:
                    out[int(parts[0])] = {"rank_mean": float(parts[1]) * 1e-6}
                except ValueError as exc:
                    raise InputError(f"{path}: malformed osu_allreduce line: {exc}") from exc
    except OSError as exc:
        raise InputError(f"{path}: {exc}") from exc
    if not out:
        raise InputError(f"{path}: no size lines (did osu_allreduce fail?)")
    return out


def ar_rows(cb_runs, ref_runs, stat, ref_name, ref_stat=None):
    """(bytes, row) per size that both sides measured in at least one pair of runs:
    clusterbench's `stat` against the reference's `ref_stat` (default the same).
    Run i of one side pairs with run i of the other (they were measured one after the
    other); the runs of a narrower sweep (AR_FOCUS_*) hold only some sizes."""
    ref_stat = ref_stat or stat
    measured = [set().union(*(set(r) for r in runs)) for runs in (cb_runs, ref_runs)]
    sizes = sorted(measured[0] & measured[1])
    out = []
    for b in sizes:
        pairs = [(x[b][stat] * 1e6, y[b][ref_stat] * 1e6)
                 for x, y in zip(cb_runs, ref_runs) if b in x and b in y]
        if not pairs:
            continue
        out.append((b, table.row("allreduce", f"{fmt_bytes(b)} {stat}", "us",
                                 [x for x, _ in pairs], [y for _, y in pairs],
                                 ref_name, f"<= {AR_GOAL:.2f}")))
    return out


def print_ar_rows(title, rows):
    print(title)
    print(f"  {'size':>8} {'cb us':>10} {'ref us':>10} {'paired':>7} {'ref/ref [q1..q3]':>21}"
          f" {'pairs':>5}  goal <= {AR_GOAL:.2f}")
    for b, r in rows:
        noise = ("-" if r["noise_floor"] is None else
                 f"{r['noise_floor']:.3f} [{r['noise_q1']:.2f}..{r['noise_q3']:.2f}]")
        print(f"  {fmt_bytes(b):>8} {r['clusterbench']:>10.2f} {r['reference']:>10.2f} "
              f"{r['ratio']:>7.3f} {noise:>21} {r['pairs']:>5}  {'ok' if r['met'] else 'MISS'}")
    met = sum(r["met"] for _, r in rows)
    print(f"  sizes within goal: {met}/{len(rows)}")


def report_allreduce(cb_paths, c_paths, osu_paths, stat, rows):
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
    osu_runs = [osu_allreduce(p) for p in osu_paths]

    who = f"ranks = {','.join(str(r) for r in sorted(ranks)) or '?'}"
    c_rows = ar_rows(cb_runs, c_runs, stat, f"allreduce_loop.c {stat}")
    if not c_rows:
        print("ERROR: no message size present in every run of both sides", file=sys.stderr)
        return problems + 1
    print_ar_rows(f"All-reduce (float, sum, out of place, {who}): clusterbench vs "
                  f"allreduce_loop.c, alternating pairs; "
                  f"per run the {stat} over iterations of the slowest rank's time", c_rows)
    rows += [r for _, r in c_rows]
    if osu_runs:
        # OSU prints only each rank's mean time, averaged over the ranks: clusterbench's
        # rank_mean_s is the same statistic. Documents before schema 5 lack it, and
        # their mean of the slowest rank's times is at or above it by construction.
        stat = "rank_mean"
        if any(v["rank_mean"] is None for run in cb_runs for v in run.values()):
            print("warning: clusterbench documents without rank_mean_s (schema < 5): "
                  "OSU rows compare the mean of the slowest rank's times", file=sys.stderr)
            stat = "mean"
        o_rows = ar_rows(cb_runs, osu_runs, stat, "osu_allreduce avg", "rank_mean")
        print_ar_rows(f"All-reduce: clusterbench {stat.replace('_', ' ')} vs osu_allreduce "
                      "average latency (each rank's mean, averaged over ranks), "
                      "alternating pairs", o_rows)
        rows += [r for _, r in o_rows]
    print("  paired: median over pairs of cb_i / ref_i; ref/ref: adjacent reference runs "
          "against each other, the noise floor.")
    print()
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cb-membw", action="append", default=[], metavar="JSON|DIR")
    ap.add_argument("--c-stream", action="append", default=[], metavar="TXT")
    ap.add_argument("--cb-allreduce", action="append", default=[], metavar="JSON|DIR")
    ap.add_argument("--c-allreduce", action="append", default=[], metavar="TXT")
    ap.add_argument("--osu-allreduce", action="append", default=[], metavar="TXT")
    ap.add_argument("--ar-stat", choices=("median", "mean"), default="median",
                    help="all-reduce figure per run against allreduce_loop.c (osu: mean)")
    ap.add_argument("--rows", metavar="OUT.json",
                    help="also write the ratio rows as a JSON list (see table.py)")
    args = ap.parse_args(argv)

    sections = []
    if args.cb_membw or args.c_stream:
        if not (args.cb_membw and args.c_stream):
            ap.error("the STREAM comparison needs both --cb-membw and --c-stream")
        sections.append(lambda rows: report_stream(args.cb_membw, args.c_stream, rows))
    if args.cb_allreduce or args.c_allreduce:
        if not (args.cb_allreduce and args.c_allreduce):
            ap.error("the all-reduce comparison needs both --cb-allreduce and --c-allreduce")
        sections.append(lambda rows: report_allreduce(
            args.cb_allreduce, args.c_allreduce, args.osu_allreduce, args.ar_stat, rows))
    if not sections:
        ap.error("nothing to compare")

    problems = 0
    rows = []
    for fn in sections:
        try:
            problems += fn(rows)
        except (InputError, table.RowError) as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            problems += 1
    print("Goals are reported only: STREAM copy and triad best-rate ratio >= %.2f, "
          "all-reduce time ratio <= %.2f." % (STREAM_GOAL, AR_GOAL))
    if args.rows:
        table.write_rows(args.rows, rows)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
