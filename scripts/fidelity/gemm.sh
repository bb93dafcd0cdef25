#!/usr/bin/env bash
# GEMM fidelity: clusterbench's CPU matmul against numpy's matmul (the OpenBLAS that
# numpy's wheel bundles), measured side by side in alternating runs on this machine.
#
#   scripts/fidelity/gemm.sh OUT.json
#
# For each type and size: GEMM_REPS pairs of (clusterbench run --bench matmul, then
# numpy.matmul(a, b, out=c)), square row-major n x n, the same warm-up, timed
# iterations and thread count on both sides (numpy's BLAS limited through
# threadpoolctl to the threads clusterbench used). Each run's figure is 2n^3 over its
# median call time. Prints a table (median of each side, median of the paired ratios
# cb_i/ref_i, and the reference-against-itself noise floor from adjacent reference
# runs) and writes OUT.json, one row per case (see gemm_numpy.py). The goal
# (ratio >= 1.05) is reported, not enforced.
#
# numpy and threadpoolctl come from PyPI into this script's own venv (GEMM_VENV,
# created on first use). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the
# reference alone, so OpenBLAS picks its kernel itself; the table names the kernel.
#
# Environment overrides:
#   CLUSTERBENCH   clusterbench binary         (default target/release/clusterbench)
#   GEMM_REPS      alternating pairs per case  (default 5)
#   GEMM_SIZES     square sizes                (default "1024 2048 4096")
#   GEMM_TYPES     f32 and/or f64              (default "f32 f64")
#   GEMM_ITERS     timed calls per run, both sides (default: 20 up to 1024, 10 up to
#                  2048, 5 above)
#   GEMM_WARMUP    untimed calls first, both sides (default 2)
#   GEMM_VENV      the venv for numpy          (default ~/.cache/clusterbench/fidelity-gemm-venv)
#   PYTHON         interpreter that creates the venv (default python3)
#   KEEP_TMP=1     keep the temp dir (raw outputs) and print its path
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

die() { echo "gemm.sh: $*" >&2; exit 1; }
log() { echo "[gemm] $*" >&2; }

[[ $# -eq 1 ]] || die "usage: scripts/fidelity/gemm.sh OUT.json"
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac

CLUSTERBENCH=${CLUSTERBENCH:-$root/target/release/clusterbench}
GEMM_REPS=${GEMM_REPS:-5}
GEMM_SIZES=${GEMM_SIZES:-1024 2048 4096}
GEMM_TYPES=${GEMM_TYPES:-f32 f64}
GEMM_WARMUP=${GEMM_WARMUP:-2}
GEMM_VENV=${GEMM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/clusterbench/fidelity-gemm-venv}
PYTHON=${PYTHON:-python3}

[[ -x $CLUSTERBENCH ]] || die "clusterbench binary '$CLUSTERBENCH' not found or not executable;
  run 'cargo build --release' first (or set CLUSTERBENCH=/path/to/clusterbench)"
[[ $GEMM_REPS =~ ^[1-9][0-9]*$ ]] || die "GEMM_REPS must be a positive integer, not '$GEMM_REPS'"
[[ $GEMM_WARMUP =~ ^[0-9]+$ ]] || die "GEMM_WARMUP must be a whole number, not '$GEMM_WARMUP'"
for t in $GEMM_TYPES; do
    [[ $t == f32 || $t == f64 ]] || die "GEMM_TYPES takes f32 and f64, not '$t'"
done
for n in $GEMM_SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "GEMM_SIZES takes positive integers, not '$n'"
done

venv_python=$GEMM_VENV/bin/python
if ! "$venv_python" -c 'import numpy, threadpoolctl' 2>/dev/null; then
    log "installing numpy and threadpoolctl into $GEMM_VENV"
    "$PYTHON" -m venv "$GEMM_VENV" || die "cannot create a venv at $GEMM_VENV"
    "$venv_python" -m pip install -q --disable-pip-version-check numpy threadpoolctl \
        || die "pip could not install numpy and threadpoolctl into $GEMM_VENV"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clusterbench-gemm.XXXXXX")
if [[ ${KEEP_TMP:-0} == 1 ]]; then
    log "raw outputs kept in $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi
pairs=$tmp/pairs.jsonl
: >"$pairs"

iters_for() {
    if [[ -n ${GEMM_ITERS:-} ]]; then echo "$GEMM_ITERS"
    elif (( $1 <= 1024 )); then echo 20
    elif (( $1 <= 2048 )); then echo 10
    else echo 5
    fi
}

# One clusterbench run: appends its line to the pairs file and prints its thread count.
run_clusterbench() {
    local dtype=$1 n=$2 iters=$3 case=$4 run=$5
    local name=float
    [[ $dtype == f64 ]] && name=double
    "$CLUSTERBENCH" run --bench matmul --backend cpu --sizes "$n" -d "$name" \
        -n "$iters" -w "$GEMM_WARMUP" --json -q --output "$tmp/cb" \
        >"$tmp/cb-$run.json" 2>"$tmp/cb-$run.err" \
        || { cat "$tmp/cb-$run.err" >&2; die "clusterbench failed ($case, run $run)"; }
    python3 - "$tmp/cb-$run.json" "$case" "$pairs" <<'PY'
import json, sys
path, case, pairs = sys.argv[1:]
doc = json.load(open(path))
recs = [r for r in doc["records"] if r["benchmark"] == "matmul"]
if len(recs) != 1:
    sys.exit(f"gemm.sh: {path}: expected one matmul record, found {len(recs)}")
r = recs[0]
if not r["check"]["passed"]:
    sys.exit(f"gemm.sh: {path}: clusterbench's product failed its check")
tflops = next(m for m in r["metrics"] if m["name"] == "tflops")["value"]
p = r["params"]
with open(pairs, "a") as f:
    f.write(json.dumps({"side": "clusterbench", "case": case, "gflops": tflops * 1e3,
                        "threads": p["threads"], "engine": p.get("engine")}) + "\n")
print(p["threads"])
PY
}

run_reference() {
    local dtype=$1 n=$2 iters=$3 case=$4 threads=$5 run=$6
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv_python" "$here/gemm_numpy.py" \
        measure --dtype "$dtype" --size "$n" --iters "$iters" --warmup "$GEMM_WARMUP" \
        --threads "$threads" >"$tmp/ref-$run.json" \
        || die "numpy reference failed ($case, run $run)"
    python3 - "$tmp/ref-$run.json" "$case" "$pairs" <<'PY'
import json, sys
path, case, pairs = sys.argv[1:]
r = json.load(open(path))
with open(pairs, "a") as f:
    f.write(json.dumps({"side": "reference", "case": case, "gflops": r["gflops"],
                        "threads": r["threads"],
                        "reference_name": r["reference_name"]}) + "\n")
PY
}

run=0
for dtype in $GEMM_TYPES; do
    for n in $GEMM_SIZES; do
        iters=$(iters_for "$n")
        case="$dtype $n"
        for ((rep = 1; rep <= GEMM_REPS; rep++)); do
            run=$((run + 1))
            log "$case: pair $rep/$GEMM_REPS ($iters timed calls each side)"
            threads=$(run_clusterbench "$dtype" "$n" "$iters" "$case" "$run")
            run_reference "$dtype" "$n" "$iters" "$case" "$threads" "$run"
        done
    done
done

"$venv_python" "$here/gemm_numpy.py" compare "$pairs" "$out"
log "rows written to $out"
