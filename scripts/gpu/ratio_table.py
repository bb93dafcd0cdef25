#!/usr/bin/env python3
"""clusterbench's figures beside PyTorch's for the same operations (scripts/gpu_validate.sh).

  ratio_table.py --ops RESULTS_DIR            the operations to measure with PyTorch (JSON)
  ratio_table.py RESULTS_DIR TORCH_JSON       the table of ratios
  ratio_table.py --libraries ENV_JSON         where each CUDA library was found, and its version

RESULTS_DIR holds clusterbench results documents (*.json, searched recursively);
TORCH_JSON is what torch_side.py wrote. Needs neither torch nor a GPU: it only reads
figures measured elsewhere. Every figure is higher-is-better (GB/s or TFLOP/s), so a
ratio below 1 means clusterbench measured less than PyTorch on the same operation.
"""

import json
import os
import sys

# PyTorch measures what these records measure; other records are listed as not compared.
TORCH_DTYPES = ("float", "double", "tf32", "bf16", "fp16", "fp8e4m3")
ALLREDUCE_DTYPES = ("float", "bf16")


def format_bytes(n):
    """8 B, 64 KiB, 1 GiB: binary units, as clusterbench prints them."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if n == int(n) else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n} GiB"


def documents(results_dir):
    """Every results document under results_dir, in name order."""
    for root, _, files in sorted(os.walk(results_dir)):
        for name in sorted(files):
            if name.endswith(".json"):
                path = os.path.join(root, name)
                with open(path) as f:
                    doc = json.load(f)
                if "records" in doc and "run" in doc:
                    yield path, doc


def metric(record, name):
    for m in record.get("metrics", []):
        if m["name"] == name:
            return m["value"]
    return None


def operation(record):
    """The operation PyTorch repeats for this record, or None: key, unit, our figure and
    what torch_side.py needs to measure it."""
    p = record["params"]
    kind = p.get("kind")
    if kind == "copy":
        where = ""
        if p.get("src_gpu") is not None:
            where = f" gpu{p['src_gpu']}->gpu{p['dst_gpu']}"
        return {
            "key": f"copy {p['copy']} {format_bytes(p['bytes'])}{where}",
            "kind": "copy",
            "copy": p["copy"],
            "bytes": p["bytes"],
            "bytes_moved": p["bytes_moved"],
            "src": p.get("src_gpu"),
            "dst": p.get("dst_gpu"),
            "unit": "GB/s",
            "ours": metric(record, "bandwidth"),
        }
    if kind == "stream":
        return {
            "key": f"stream {p['kernel']} {format_bytes(p['array_bytes'])} f64",
            "kind": "stream",
            "kernel": p["kernel"],
            "elements": p["elements"],
            "bytes_moved": p["bytes_moved"] // max(record.get("ranks", 1), 1),
            "unit": "GB/s",
            "ours": metric(record, "bandwidth"),
        }
    if kind == "matmul" and p["dtype"] in TORCH_DTYPES and p["label"] != "search":
        return {
            "key": f"matmul {p['dtype']} {p['m']}x{p['n']}x{p['k']}",
            "kind": "matmul",
            "dtype": p["dtype"],
            "m": p["m"],
            "n": p["n"],
            "k": p["k"],
            "unit": "TFLOP/s",
            "ours": metric(record, "tflops"),
        }
    if (
        kind == "collective"
        and record["benchmark"] == "allreduce"
        and record["ranks"] >= 2
        and p["dtype"] in ALLREDUCE_DTYPES
        and not p["in_place"]
    ):
        return {
            "key": f"allreduce busbw {p['dtype']} {format_bytes(p['bytes'])} {record['ranks']} GPUs",
            "kind": "allreduce",
            "dtype": p["dtype"],
            "count": p["count"],
            "bytes": p["bytes"],
            "gpus": record["ranks"],
            "unit": "GB/s",
            "ours": metric(record, "busbw"),
        }
    return None


def operations(results_dir):
    """The comparable operations of every document, first occurrence of each key, and
    the records that failed their check."""
    ops, seen, failed = [], set(), []
    for path, doc in documents(results_dir):
        for r in doc["records"]:
            if not r["check"]["passed"]:
                failed.append(f"{os.path.basename(path)}: {r['benchmark']} {json.dumps(r['params'])}")
            op = operation(r)
            if op is not None and op["key"] not in seen and op["ours"] is not None:
                seen.add(op["key"])
                ops.append(op)
    return ops, failed


def figure(value):
    """Two decimals, or three significant digits below 1."""
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"


def table(ops, failed, torch_doc, header):
    """The table as text: one row per operation, then what was not compared and why."""
    figures = torch_doc.get("figures", {})
    skipped = torch_doc.get("skipped", {})
    lines = list(header)
    lines.append("ratio = clusterbench / PyTorch, same operation, size and datatype (higher-is-better figures)")
    lines.append(f"{'operation':<52} {'unit':>8} {'clusterbench':>13} {'PyTorch':>10} {'ratio':>7}")
    not_compared = []
    ratios = []
    for op in ops:
        theirs = figures.get(op["key"])
        if theirs is None:
            not_compared.append(f"{op['key']}: {skipped.get(op['key'], 'not measured by PyTorch')}")
            continue
        ratio = op["ours"] / theirs if theirs > 0 else float("nan")
        ratios.append(ratio)
        lines.append(f"{op['key']:<52} {op['unit']:>8} {figure(op['ours']):>13} {figure(theirs):>10} {ratio:>7.3f}")
    if ratios:
        low, high = min(ratios), max(ratios)
        lines.append(f"{len(ratios)} operations compared; ratios from {low:.3f} to {high:.3f}")
    else:
        lines.append("no operation compared")
    for item in not_compared:
        lines.append(f"not compared: {item}")
    for key, reason in sorted(skipped.items()):
        if not any(op["key"] == key for op in ops):
            lines.append(f"PyTorch only: {key}: {reason}")
    lines.append(
        "clusterbench records failing their check: " + (", ".join(failed) if failed else "none")
    )
    return "\n".join(lines) + "\n"


def header_of(results_dir, torch_doc):
    """Who measured what, on which GPU."""
    tool, gpu, driver = "clusterbench", "unknown GPU", "unknown"
    for _, doc in documents(results_dir):
        tool = f"{doc['tool']['name']} {doc['tool']['version']}"
        host = doc["environment"]["hosts"][0]
        gpus = host.get("gpus") or []
        if gpus:
            gpu = f"{len(gpus)} x {gpus[0]['name']}"
        driver = (host.get("cuda") or {}).get("driver_version") or driver
        break
    torch_line = torch_doc.get("torch", "PyTorch not run")
    return [f"{tool} against {torch_line} on {gpu}, driver {driver}"]


def libraries(env):
    """One line per CUDA library: where it was found and its version."""
    lines = []
    for host in env.get("hosts", []):
        cuda = host.get("cuda") or {}
        versions = {
            "cuda": cuda.get("driver_version") and f"driver {cuda['driver_version']}, CUDA {cuda.get('cuda_driver_api')}",
            "cublas": cuda.get("cublas_version"),
            "cublasLt": cuda.get("cublas_version"),
            "nccl": cuda.get("nccl_version"),
            "nvrtc": cuda.get("nvrtc_version"),
        }
        for lib in cuda.get("libraries", []):
            where = lib.get("path") or "NOT FOUND"
            how = f" (found by {lib['found_by']})" if lib.get("found_by") else ""
            version = versions.get(lib["name"]) or "version unknown"
            lines.append(f"{host.get('hostname', '?')}: {lib['name']:<9} {version:<28} {where}{how}")
    return lines


def main(argv):
    if len(argv) == 3 and argv[1] == "--ops":
        ops, _ = operations(argv[2])
        json.dump(ops, sys.stdout, indent=1)
        print()
        return 0
    if len(argv) == 3 and argv[1] == "--libraries":
        with open(argv[2]) as f:
            print("\n".join(libraries(json.load(f))))
        return 0
    if len(argv) == 3:
        with open(argv[2]) as f:
            torch_doc = json.load(f)
        ops, failed = operations(argv[1])
        sys.stdout.write(table(ops, failed, torch_doc, header_of(argv[1], torch_doc)))
        return 1 if failed else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
