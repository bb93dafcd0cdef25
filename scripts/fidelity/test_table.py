#!/usr/bin/env python3
"""Unit test of the fidelity table: rows, pairing, merging and the JSON, NOT a measurement.

  test_table.py RESULTS_DIR

RESULTS_DIR holds a clusterbench results document of a one-rank all-reduce run; the
reference figures (allreduce_loop.c's and osu_allreduce's output, p2p rows) are made
up here, so every ratio and noise floor below is known exactly.
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import table  # noqa: E402

RESULTS_DIR = None


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True)


class Rows(unittest.TestCase):
    def test_a_row_pairs_runs_in_order_and_takes_the_reference_against_itself(self):
        r = table.row("allreduce", "16 KiB median", "us", [10.0, 30.0, 12.0],
                      [10.0, 20.0, 10.0], "allreduce_loop.c median", "<= 1.03")
        self.assertEqual(list(r), list(table.KEYS))
        # Pairs: 1.0, 1.5, 1.2; median 1.2. Reference against itself: 2.0, 0.5.
        self.assertAlmostEqual(r["ratio"], 1.2)
        self.assertAlmostEqual(r["noise_floor"], 1.25)
        self.assertAlmostEqual(r["noise_q1"], 0.875)
        self.assertAlmostEqual(r["noise_q3"], 1.625)
        self.assertEqual((r["clusterbench"], r["reference"], r["pairs"]), (12.0, 10.0, 3))
        self.assertFalse(r["met"])

    def test_one_pair_has_no_noise_floor_and_goals_read_both_ways(self):
        r = table.row("stream", "triad best", "GB/s", [10.1], [10.0], "stream_kernels.c",
                      ">= 1.00")
        self.assertIsNone(r["noise_floor"])
        self.assertTrue(r["met"])
        self.assertFalse(table.goal_met(">= 1.00", 0.99))
        self.assertTrue(table.goal_met("<= 1.03", 1.03))
        with self.assertRaises(table.RowError):
            table.goal_met("about 1", 1.0)


class Merge(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.cpu = [table.row("stream", "copy best", "GB/s", [8.0, 9.0], [8.0, 8.0],
                              "stream_kernels.c", ">= 1.00")]
        self.p2p = [table.row("p2p", "latency 512 B", "us", [1.1, 1.2], [1.0, 1.1],
                              "pingpong.c", "<= 1.03")]
        self.files = []
        for name, rows in (("cpu", self.cpu), ("p2p", self.p2p)):
            path = os.path.join(self.dir.name, f"rows.{name}.json")
            table.write_rows(path, rows)
            self.files.append(path)

    def test_sections_merge_into_one_table_and_one_json_list(self):
        out = os.path.join(self.dir.name, "fidelity.json")
        p = run(os.path.join(HERE, "table.py"), "--json", out, *self.files)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, encoding="utf-8") as fh:
            self.assertEqual(json.load(fh), self.cpu + self.p2p)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("section"), p.stdout)
        self.assertRegex(lines[2], r"^stream +copy best +GB/s +8\.5 +8 +1\.062 +1\.000 "
                         r"\[1\.00\.\.1\.00\] +2 +>= 1\.00  ok +stream_kernels\.c$")
        self.assertRegex(lines[3], r"^p2p +latency 512 B +us +1\.15 +1\.05 +1\.095 .* MISS ")
        self.assertIn("1/2 within goal", p.stdout)

    def test_a_malformed_row_is_refused_with_its_file_and_row(self):
        bad = dict(self.p2p[0], met=not self.p2p[0]["met"])
        path = os.path.join(self.dir.name, "bad.json")
        table.write_rows(path, [self.p2p[0], bad])
        p = run(os.path.join(HERE, "table.py"), path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("bad.json: row 2: met is", p.stderr)
        del bad["met"]
        table.write_rows(path, [bad])
        p = run(os.path.join(HERE, "table.py"), path)
        self.assertIn("missing ['met']", p.stderr)


class AllReduce(unittest.TestCase):
    """compare.py's all-reduce rows from a real clusterbench document."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        _, self.cb, failed = compare.cb_allreduce(RESULTS_DIR)
        self.assertEqual(failed, [])
        self.sizes = sorted(self.cb)

    def reference(self, name, scale, osu=False, sizes=None):
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as fh:
            if osu:
                fh.write("# OSU MPI Allreduce Latency Test v5.6.2\n# Size       Avg Latency(us)\n")
            for b in sizes or self.sizes:
                us = self.cb[b]["median" if not osu else "rank_mean"] * 1e6 * scale
                if osu:
                    fh.write(f"{b:<10} {us:>18.6f}\n")
                else:
                    fh.write(f"bytes={b} mean_us={us:.6f} median_us={us:.6f} "
                             f"loop_us={us:.6f} min_us={us:.6f}\n")
        return path

    def test_each_size_is_a_paired_row_against_the_loop_and_osu(self):
        c1, c2 = self.reference("c1.txt", 0.5), self.reference("c2.txt", 1.0)
        o1, o2 = (self.reference("o1.txt", 0.5, osu=True),
                  self.reference("o2.txt", 1.0, osu=True))
        rows_path = os.path.join(self.dir.name, "rows.json")
        p = run(os.path.join(HERE, "compare.py"), "--cb-allreduce", RESULTS_DIR,
                "--cb-allreduce", RESULTS_DIR, "--c-allreduce", c1, "--c-allreduce", c2,
                "--osu-allreduce", o1, "--osu-allreduce", o2, "--rows", rows_path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(rows_path, encoding="utf-8") as fh:
            rows = json.load(fh)
        self.assertEqual(len(rows), 2 * len(self.sizes))
        for r in rows:
            table.validate(r)
            # Pairs: cb/(cb/2) = 2 and cb/cb = 1, median 1.5; reference doubled.
            self.assertAlmostEqual(r["ratio"], 1.5, places=3)
            self.assertAlmostEqual(r["noise_floor"], 2.0, places=3)
            self.assertFalse(r["met"])
        self.assertEqual({r["reference_name"] for r in rows},
                         {"allreduce_loop.c median", "osu_allreduce avg"})
        self.assertEqual(rows[0]["case"], f"{compare.fmt_bytes(self.sizes[0])} median")

    def test_osu_rows_fall_back_to_the_mean_without_rank_mean_s(self):
        # A document from before schema 5: no rank_mean_s in its records.
        src = compare.resolve_json(RESULTS_DIR)
        with open(src, encoding="utf-8") as fh:
            doc = json.load(fh)
        for r in doc["records"]:
            self.assertIn("rank_mean_s", r)
            r.pop("rank_mean_s")
        old = os.path.join(self.dir.name, "old.json")
        with open(old, "w", encoding="utf-8") as fh:
            json.dump(doc, fh)
        # The OSU figure is each size's mean (not its rank mean): every pair's ratio is 1.
        path = os.path.join(self.dir.name, "o.txt")
        with open(path, "w", encoding="utf-8") as fh:
            for b in self.sizes:
                fh.write(f"{b:<10} {self.cb[b]['mean'] * 1e6:>18.6f}\n")
        rows_path = os.path.join(self.dir.name, "rows.json")
        p = run(os.path.join(HERE, "compare.py"), "--cb-allreduce", old,
                "--c-allreduce", self.reference("c1.txt", 1.0), "--osu-allreduce", path,
                "--rows", rows_path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("without rank_mean_s", p.stderr)
        with open(rows_path, encoding="utf-8") as fh:
            osu = [r for r in json.load(fh) if r["reference_name"] == "osu_allreduce avg"]
        self.assertEqual(len(osu), len(self.sizes))
        for r in osu:
            self.assertTrue(r["case"].endswith(" mean"), r["case"])
            self.assertAlmostEqual(r["ratio"], 1.0, delta=1e-3)

    def test_a_narrower_focus_run_adds_pairs_to_its_sizes_only(self):
        first = self.sizes[0]
        refs = [self.reference("c1.txt", 0.5), self.reference("c2.txt", 1.0),
                self.reference("c3.txt", 1.0, sizes=[first])]
        rows_path = os.path.join(self.dir.name, "rows.json")
        args = [os.path.join(HERE, "compare.py"), "--rows", rows_path]
        for ref in refs:
            args += ["--cb-allreduce", RESULTS_DIR, "--c-allreduce", ref]
        p = run(*args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(rows_path, encoding="utf-8") as fh:
            rows = {r["case"]: r for r in json.load(fh)}
        focus = rows[f"{compare.fmt_bytes(first)} median"]
        # Pairs 2, 1, 1: median 1; the reference against itself 2, 1: median 1.5.
        self.assertEqual(focus["pairs"], 3)
        self.assertAlmostEqual(focus["ratio"], 1.0, places=3)
        self.assertAlmostEqual(focus["noise_floor"], 1.5, places=3)
        self.assertTrue(focus["met"])
        for b in self.sizes[1:]:
            self.assertEqual(rows[f"{compare.fmt_bytes(b)} median"]["pairs"], 2)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    RESULTS_DIR = sys.argv.pop(1)
    unittest.main(buffer=True)
