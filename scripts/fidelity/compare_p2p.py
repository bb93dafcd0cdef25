#!/usr/bin/env python3
"""Compares clusterbench's 2-rank p2p (latency, bandwidth) with pingpong.c.

    compare_p2p.py --cb RESULTS.json ... --c PINGPONG.txt ...

Both sides report means over the same iteration counts: clusterbench the mean of its
per-iteration samples (latency: half the round trip; bandwidth: bytes x window / mean
iteration time), pingpong.c the total time over the iterations. Over several runs per
side the best is kept (lowest latency, highest bandwidth). Goal: within 3%.
"""
import argparse
import json
import sys


def cb_figures(path):
    doc = json.load(open(path))
    lat, bw = {}, {}
    for r in doc["records"]:
        p = r["params"]
        if r["benchmark"] != "p2p" or p.get("kind") != "point_to_point":
            continue
        if not r["check"]["passed"]:
            sys.exit(f"{path}: p2p {p['mode']} {p['bytes']} failed its check")
        mean = r["time_s"]["mean"]
        if p["mode"] == "latency":
            lat[p["bytes"]] = mean * 1e6
        elif p["mode"] == "bandwidth":
            bw[p["bytes"]] = p["bytes"] * p["window"] / mean / 1e9
    return lat, bw


def c_figures(path):
    lat, bw = {}, {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 3:
            b = int(parts[0])
            lat[b], bw[b] = float(parts[1]), float(parts[2])
    return lat, bw


def best(runs, pick):
    out = {}
    for run in runs:
        for k, v in run.items():
            out[k] = pick(out[k], v) if k in out else v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cb", action="append", required=True)
    ap.add_argument("--c", action="append", required=True)
    a = ap.parse_args()
    cb = [cb_figures(p) for p in a.cb]
    cc = [c_figures(p) for p in a.c]
    cb_lat, cb_bw = best([x[0] for x in cb], min), best([x[1] for x in cb], max)
    c_lat, c_bw = best([x[0] for x in cc], min), best([x[1] for x in cc], max)
    print(f"p2p, 2 ranks: clusterbench vs pingpong.c (best of {len(cb)} vs {len(cc)} runs, means)")
    print(f"{'bytes':>10} {'cb lat(us)':>11} {'C lat(us)':>10} {'ratio':>7}   {'cb GB/s':>9} {'C GB/s':>9} {'ratio':>7}")
    worst = 1.0
    for b in sorted(set(cb_lat) & set(c_lat)):
        lr = cb_lat[b] / c_lat[b]
        br = cb_bw[b] / c_bw[b] if b in cb_bw and b in c_bw else float("nan")
        worst = max(worst, lr, 1 / br if br == br else 1)
        print(f"{b:>10} {cb_lat[b]:>11.3f} {c_lat[b]:>10.3f} {lr:>7.3f}   "
              f"{cb_bw.get(b, float('nan')):>9.3f} {c_bw.get(b, float('nan')):>9.3f} {br:>7.3f}")
    print("latency ratio = clusterbench / C (<= 1.03 is the goal); bandwidth ratio = clusterbench / C (>= 0.97)")
    print(f"worst: clusterbench {100 * (worst - 1):.1f}% slower than C" if worst > 1 else "worst: none slower")


if __name__ == "__main__":
    main()
