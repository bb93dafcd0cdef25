#!/usr/bin/env python3
"""Compares clusterbench's 2-rank p2p (latency, bandwidth) with pingpong.c.

    compare_p2p.py --cb RESULTS.json ... --c PINGPONG.txt ... [--stat median|mean|iqm]
                   [--rows OUT.json]

Both sides time the same thing the same way (see pingpong.c): latency is half of one
back-to-back round trip per sample, the clock read on the first rank right after the
ping is sent; bandwidth is bytes x window / time of one window plus its
acknowledgement. Per run and size, each side gives one figure from its per-iteration
samples: the median (default; what clusterbench reports, robust to the preemptions of
a shared machine), the mean (= the loop's total time / iterations) or the
interquartile mean (the mean of the middle half of the sorted samples: as robust, and
finer than a median where the clock ticks in steps of ~10 ns, as on KVM guests). Over several runs per side,
the median of the runs' figures is compared (cb/C), and the spread of each side's runs
(min..max, relative to that side's median) is printed beside it. As fidelity.sh
alternates the two (cb, C, cb, C, ...), run i of each side form a pair measured seconds
apart: "paired" is the median over pairs of cb_i / C_i, which cancels the machine's
slower drifts, and "C/C" the median of C_(i+1) / C_i with its interquartile range, the
noise floor: a clusterbench/C ratio inside it is the machine's noise, not a
difference. Beside it, the 95% confidence interval of the paired median (from the
order statistics of the pairs' ratios; 6 pairs at least): where it lies within
0.97..1.03 the pairs resolve a 3% difference. Goal: within 3% (latency cb/C <= 1.03,
bandwidth cb/C >= 0.97). --rows writes every ratio as table.py's rows.
"""
import argparse
import json
import math
import statistics
import sys

import table

LAT_GOAL = "<= 1.03"
BW_GOAL = ">= 0.97"


def iqm(values):
    """Mean of the middle half of the sorted values, [n/4, 3n/4), as pingpong.c computes it."""
    v = sorted(values)
    lo, hi = len(v) // 4, 3 * len(v) // 4
    return statistics.fmean(v[lo:hi] if hi > lo else v)


def cb_figures(path, stat):
    doc = json.load(open(path))
    lat, bw, window = {}, {}, {}
    for r in doc["records"]:
        p = r["params"]
        if r["benchmark"] != "p2p" or p.get("kind") != "point_to_point":
            continue
        if not r["check"]["passed"]:
            sys.exit(f"{path}: p2p {p['mode']} {p['bytes']} failed its check")
        t = iqm(r["samples_s"]) if stat == "iqm" else r["time_s"][stat]
        if p["mode"] == "latency":
            lat[p["bytes"]] = t * 1e6
        elif p["mode"] == "bandwidth":
            bw[p["bytes"]] = p["bytes"] * p["window"] / t / 1e9
            window[p["bytes"]] = p["window"]
    return lat, bw, window


def c_figures(path, stat):
    """pingpong.c lines: bytes lat_mean lat_median lat_iqm bw_mean bw_median bw_iqm window."""
    lat, bw, window = {}, {}, {}
    col = {"mean": (1, 4), "median": (2, 5), "iqm": (3, 6)}[stat]
    for line in open(path):
        parts = line.split()
        if len(parts) != 8:
            continue
        b = int(parts[0])
        lat[b], bw[b], window[b] = float(parts[col[0]]), float(parts[col[1]]), int(parts[7])
    return lat, bw, window


def per_size(runs):
    """{size: [figure of each run that has it]}."""
    out = {}
    for run in runs:
        for k, v in run.items():
            out.setdefault(k, []).append(v)
    return out


def spread(values):
    """min..max of the runs relative to their median, in percent: '-4/+7'."""
    m = statistics.median(values)
    return f"-{100 * (1 - min(values) / m):.0f}/+{100 * (max(values) / m - 1):.0f}"


def quartiles(values):
    """(q1, median, q3) of `values` (at least one)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def median_ci(values):
    """95% confidence interval of the median of `values` from their order statistics
    (distribution-free), or None with fewer than 6 values."""
    v, n = sorted(values), len(values)
    # The largest k with P(Binomial(n, 1/2) < k) <= 2.5%: [v_k, v_(n+1-k)], 1-based.
    k, below = 0, 0.0
    while True:
        below_next = below + math.comb(n, k) / 2**n
        if below_next > 0.025:
            break
        k, below = k + 1, below_next
    return None if k == 0 else (v[k - 1], v[n - k])


def print_table(title, unit, cb, cc, sizes, higher_is_better, rows, goal):
    print(title)
    print(f"{'bytes':>9} {'cb ' + unit:>11} {'runs %':>9} {'C ' + unit:>11} {'runs %':>9} "
          f"{'cb/C':>7} {'paired':>7} {'95% CI':>13} {'pairs':>5} {'C/C [q1..q3]':>19}")
    worst = 0.0
    for b in sizes:
        pairs = min(len(cb[b]), len(cc[b]))
        ci = median_ci([x / y for x, y in zip(cb[b], cc[b])])
        rows.append(table.row("p2p", f"{'latency' if unit == 'us' else 'bandwidth'} {b} B",
                              unit, cb[b], cc[b], "pingpong.c", goal))
        cm, ccm = statistics.median(cb[b]), statistics.median(cc[b])
        ratio = cm / ccm
        paired = statistics.median(x / y for x, y in zip(cb[b], cc[b]))
        floor = quartiles([y / x for x, y in zip(cc[b], cc[b][1:])] or [1.0])
        slower = (1 / ratio - 1) if higher_is_better else (ratio - 1)
        worst = max(worst, slower)
        ci_text = "-" if ci is None else f"{ci[0]:.3f}..{ci[1]:.3f}"
        print(f"{b:>9} {cm:>11.3f} {spread(cb[b]):>9} {ccm:>11.3f} {spread(cc[b]):>9} "
              f"{ratio:>7.3f} {paired:>7.3f} {ci_text:>13} {pairs:>5} "
              f"{floor[1]:>6.3f} [{floor[0]:.2f}..{floor[2]:.2f}]")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cb", action="append", required=True)
    ap.add_argument("--c", action="append", required=True)
    ap.add_argument("--stat", choices=["median", "mean", "iqm"], default="median",
                    help="per-run figure from the per-iteration samples (both sides)")
    ap.add_argument("--rows", metavar="OUT.json",
                    help="also write the ratio rows as a JSON list (see table.py)")
    a = ap.parse_args()
    rows = []
    cb = [cb_figures(p, a.stat) for p in a.cb]
    cc = [c_figures(p, a.stat) for p in a.c]
    cb_lat, cb_bw = per_size(x[0] for x in cb), per_size(x[1] for x in cb)
    c_lat, c_bw = per_size(x[0] for x in cc), per_size(x[1] for x in cc)
    for b in set(cb_bw) & set(c_bw):
        wins = {x[2][b] for x in cb if b in x[2]} | {x[2][b] for x in cc if b in x[2]}
        if len(wins) > 1:
            sys.exit(f"bandwidth at {b} B: the two sides used different windows {sorted(wins)}")
    print(f"p2p, 2 ranks: clusterbench vs pingpong.c, {len(cb)} vs {len(cc)} interleaved runs; "
          f"per run the {a.stat} of the samples, then the median of the runs")
    worst = print_table("latency (half round trip, us; lower is better)", "us",
                        cb_lat, c_lat, sorted(set(cb_lat) & set(c_lat)), False, rows, LAT_GOAL)
    print()
    worst = max(worst, print_table("bandwidth (GB/s; higher is better)", "GB/s",
                                   cb_bw, c_bw, sorted(set(cb_bw) & set(c_bw)), True, rows,
                                   BW_GOAL))
    print("runs %: the spread of that side's runs around their median; "
          "goal: latency cb/C <= 1.03, bandwidth cb/C >= 0.97")
    print(f"worst: clusterbench {100 * worst:.1f}% slower than C" if worst > 0 else "worst: none slower")
    if a.rows:
        table.write_rows(a.rows, rows)


if __name__ == "__main__":
    main()
