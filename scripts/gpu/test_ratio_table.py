#!/usr/bin/env python3
"""Unit test of ratio_table.py's formatting and matching, NOT a measurement.

  test_ratio_table.py RESULTS_DIR

RESULTS_DIR holds a clusterbench results document of a CPU run (membw and matmul);
the PyTorch figures are made up here (half of clusterbench's), so every ratio must
come out 2.000. No GPU and no torch are involved: this proves only that records are
keyed, matched and printed as the GPU validation will print them.
"""

import copy
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ratio_table  # noqa: E402

RESULTS_DIR = None


class RatioTableFormatting(unittest.TestCase):
    def setUp(self):
        self.ops, self.failed = ratio_table.operations(RESULTS_DIR)

    def test_cpu_records_become_operations_with_stable_keys(self):
        keys = [op["key"] for op in self.ops]
        self.assertIn("stream triad 1 MiB f64", keys)
        self.assertIn("matmul float 64x64x64", keys)
        self.assertEqual(self.failed, [])
        # The search's brief, unchecked trials are never compared.
        self.assertFalse(any("search" in k for k in keys))

    def test_synthetic_torch_figures_give_ratios_of_two(self):
        torch_doc = {
            "torch": "synthetic figures (formatting test)",
            "figures": {op["key"]: op["ours"] / 2 for op in self.ops[1:]},
            "skipped": {self.ops[0]["key"]: "made up: skipped", "allreduce x": "PyTorch only"},
        }
        text = ratio_table.table(self.ops, [], torch_doc, ["header"])
        lines = text.splitlines()
        self.assertEqual(lines[0], "header")
        rows = [l for l in lines if l.startswith(("stream ", "matmul "))]
        self.assertEqual(len(rows), len(self.ops) - 1)
        for row in rows:
            self.assertTrue(row.endswith(" 2.000"), row)
        self.assertIn(f"not compared: {self.ops[0]['key']}: made up: skipped", lines)
        self.assertIn("PyTorch only: allreduce x: PyTorch only", lines)
        self.assertIn(f"{len(rows)} operations compared; ratios from 2.000 to 2.000", lines)
        self.assertEqual(lines[-1], "clusterbench records failing their check: none")

    def test_gpu_records_are_keyed_as_torch_side_measures_them(self):
        # Record shapes of a CUDA run, built from a CPU record's envelope.
        base = next(ratio_table.documents(RESULTS_DIR))[1]["records"][0]
        copy_rec = copy.deepcopy(base)
        copy_rec["params"] = {"kind": "copy", "copy": "p2p", "bytes": 256 << 20, "bytes_moved": 256 << 20,
                              "src_gpu": 0, "dst_gpu": 3}
        copy_rec["metrics"] = [{"name": "bandwidth", "unit": "GB/s", "value": 300.0, "best": 310.0}]
        reduce_rec = copy.deepcopy(base)
        reduce_rec.update(benchmark="allreduce", ranks=8)
        reduce_rec["params"] = {"kind": "collective", "dtype": "bf16", "op": "sum", "in_place": False,
                                "count": 1 << 20, "bytes": 2 << 20}
        reduce_rec["metrics"] = [{"name": "busbw", "unit": "GB/s", "value": 120.0, "best": 130.0}]
        in_place = copy.deepcopy(reduce_rec)
        in_place["params"]["in_place"] = True
        self.assertEqual(ratio_table.operation(copy_rec)["key"], "copy p2p 256 MiB gpu0->gpu3")
        self.assertEqual(ratio_table.operation(reduce_rec)["key"], "allreduce busbw bf16 2 MiB 8 GPUs")
        self.assertIsNone(ratio_table.operation(in_place))

    def test_a_failed_check_is_named_and_fails_the_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            path, doc = next(ratio_table.documents(RESULTS_DIR))
            doc["records"][0]["check"]["passed"] = False
            with open(os.path.join(tmp, "bad.json"), "w") as f:
                json.dump(doc, f)
            ops, failed = ratio_table.operations(tmp)
            self.assertEqual(len(failed), 1)
            self.assertTrue(failed[0].startswith("bad.json: "), failed)
            text = ratio_table.table(ops, failed, {}, [])
            self.assertIn("no operation compared", text)
            self.assertTrue(text.rstrip().endswith(failed[0]))


if __name__ == "__main__":
    RESULTS_DIR = sys.argv.pop(1)
    unittest.main()
