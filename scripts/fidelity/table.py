#!/usr/bin/env python3
"""One table of every fidelity ratio, and the same rows as one JSON list.

    table.py [--json OUT.json] SECTION.json [SECTION.json ...]

Each SECTION.json is a JSON list of rows written by compare.py (stream, allreduce),
compare_p2p.py (p2p) or gemm.sh (gemm); a row is

    {"section": "stream|allreduce|p2p|gemm", "case": "...", "unit": "GB/s|us|GFLOP/s",
     "clusterbench": x, "reference": y, "reference_name": "...", "ratio": r,
     "noise_floor": f, "noise_q1": q1, "noise_q3": q3, "pairs": n,
     "goal": "<= 1.03" | ">= 1.00" | ..., "met": bool}

ratio is the median over alternating pairs of clusterbench_i / reference_i; the noise
floor is the median (and quartiles) of reference_(i+1) / reference_i, the reference
measured against itself: a ratio inside it is the machine's noise, not a difference.
noise_* are null where there was only one pair. The rows are printed in the order
given (sections in file order), then written, merged, to --json. Stdlib only; the
exit status is 1 if a file is missing or a row malformed, 0 whether or not goals
are met (they are reported, not enforced).
"""

import argparse
import json
import math
import re
import statistics
import sys

KEYS = ("section", "case", "unit", "clusterbench", "reference", "reference_name", "ratio",
        "noise_floor", "noise_q1", "noise_q3", "pairs", "goal", "met")
SECTIONS = ("stream", "allreduce", "p2p", "gemm")
GOAL = re.compile(r"^(<=|>=) (\d+(?:\.\d+)?)$")


class RowError(Exception):
    pass


def goal_met(goal, ratio):
    """Whether `ratio` meets `goal` ("<= 1.03", ">= 1.00")."""
    m = GOAL.match(goal)
    if not m:
        raise RowError(f"goal {goal!r} is not '<= x' or '>= x'")
    bound = float(m.group(2))
    return ratio <= bound if m.group(1) == "<=" else ratio >= bound


def quartiles(values):
    """(q1, median, q3) of `values`, or (None, None, None) if there are none."""
    if not values:
        return None, None, None
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def row(section, case, unit, cb_runs, ref_runs, reference_name, goal):
    """The row of one case from each side's per-run figures, taken in run order as
    alternating pairs (run i of each side measured one after the other)."""
    pairs = min(len(cb_runs), len(ref_runs))
    if pairs == 0:
        raise RowError(f"{section} {case}: no pair of runs")
    cb_runs, ref_runs = cb_runs[:pairs], ref_runs[:pairs]
    ratio = statistics.median(x / y for x, y in zip(cb_runs, ref_runs))
    q1, floor, q3 = quartiles([b / a for a, b in zip(ref_runs, ref_runs[1:])])
    return {
        "section": section,
        "case": case,
        "unit": unit,
        "clusterbench": statistics.median(cb_runs),
        "reference": statistics.median(ref_runs),
        "reference_name": reference_name,
        "ratio": ratio,
        "noise_floor": floor,
        "noise_q1": q1,
        "noise_q3": q3,
        "pairs": pairs,
        "goal": goal,
        "met": goal_met(goal, ratio),
    }


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=1)
        fh.write("\n")


def number(r, key, nullable=False):
    v = r.get(key)
    if v is None and nullable:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise RowError(f"{key} is {v!r}, not a finite number")


def validate(r):
    if not isinstance(r, dict):
        raise RowError(f"a row is {type(r).__name__}, not an object")
    keys = set(r)
    if keys != set(KEYS):
        missing, extra = set(KEYS) - keys, keys - set(KEYS)
        raise RowError(f"keys differ: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if r["section"] not in SECTIONS:
        raise RowError(f"section {r['section']!r} is not one of {', '.join(SECTIONS)}")
    for key in ("case", "unit", "reference_name", "goal"):
        if not isinstance(r[key], str) or not r[key]:
            raise RowError(f"{key} is {r[key]!r}, not a string")
    for key in ("clusterbench", "reference", "ratio"):
        number(r, key)
    for key in ("noise_floor", "noise_q1", "noise_q3"):
        number(r, key, nullable=True)
    if isinstance(r["pairs"], bool) or not isinstance(r["pairs"], int) or r["pairs"] < 1:
        raise RowError(f"pairs is {r['pairs']!r}, not a positive integer")
    if not isinstance(r["met"], bool):
        raise RowError(f"met is {r['met']!r}, not true or false")
    if r["met"] != goal_met(r["goal"], r["ratio"]):
        raise RowError(f"met is {r['met']} but ratio {r['ratio']} against goal {r['goal']!r} "
                       f"says {not r['met']}")


def load(path):
    try:
        with open(path, encoding="utf-8") as fh:
            rows = json.load(fh)
    except (OSError, ValueError) as exc:
        raise RowError(f"{path}: {exc}") from exc
    if not isinstance(rows, list):
        raise RowError(f"{path}: not a JSON list of rows")
    for i, r in enumerate(rows):
        try:
            validate(r)
        except RowError as exc:
            raise RowError(f"{path}: row {i + 1}: {exc}") from exc
    return rows


def fmt(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"


def figure(v):
    """A measured figure with 4 significant digits or so, whatever its unit."""
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def print_table(rows, out=sys.stdout):
    head = (f"{'section':<9} {'case':<24} {'unit':<7} {'clusterbench':>12} {'reference':>10} "
            f"{'ratio':>6} {'noise [q1..q3]':>20} {'pairs':>5} {'goal':>7}  {'':<4} reference")
    print(head, file=out)
    print("-" * len(head), file=out)
    for r in rows:
        noise = (f"{fmt(r['noise_floor'], 3)} [{fmt(r['noise_q1'], 2)}..{fmt(r['noise_q3'], 2)}]"
                 if r["noise_floor"] is not None else "- (1 pair)")
        print(f"{r['section']:<9} {r['case']:<24} {r['unit']:<7} {figure(r['clusterbench']):>12} "
              f"{figure(r['reference']):>10} {r['ratio']:>6.3f} {noise:>20} {r['pairs']:>5} "
              f"{r['goal']:>7}  {'ok' if r['met'] else 'MISS':<4} {r['reference_name']}",
              file=out)
    met = sum(r["met"] for r in rows)
    print(f"{met}/{len(rows)} within goal. ratio: median over alternating pairs of "
          "clusterbench_i / reference_i; noise: reference_(i+1) / reference_i, median "
          "[quartiles], the machine's own run-to-run change. A ratio whose distance from "
          "1 is inside the noise is not a measured difference.", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sections", nargs="+", metavar="SECTION.json")
    ap.add_argument("--json", metavar="OUT.json", help="write the merged rows here")
    args = ap.parse_args(argv)
    try:
        rows = [r for path in args.sections for r in load(path)]
    except RowError as exc:
        print(f"table.py: {exc}", file=sys.stderr)
        return 1
    print_table(rows)
    if args.json:
        write_rows(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
