#!/usr/bin/env bash
# Fidelity check: clusterbench's CPU figures against minimal C references,
# measured side by side (interleaved) in one run on this machine.
#
#   scripts/fidelity.sh
#
# Builds scripts/fidelity/{stream_kernels,allreduce_loop,pingpong}.c into a temp dir, runs
#   1. clusterbench membw and stream_kernels (STREAM copy and triad, each with regular
#      and with streaming stores), alternating, STREAM_REPS pairs, same array length,
#      thread count and iterations, one untimed warm-up on each side;
#   2. clusterbench allreduce (2 ranks, 8 B .. 16 MiB, float/sum) and
#      allreduce_loop under the same mpirun options, alternating, AR_REPS times each;
#   3. clusterbench p2p (2 ranks: latency, windowed bandwidth) and pingpong.c, alternating
#      P2P_REPS times each, same iterations, warm-up, window and binding; both sides
#      time each iteration the same way and compare_p2p.py compares the same statistic
#      (median of the samples per run, then the median of the runs; P2P_STAT=mean for
#      the mean, i.e. the loop's total time, or iqm), printing each side's run-to-run
#      spread, the median of the paired (adjacent) runs' ratios and the C-vs-C ratio
#      of adjacent C runs (the machine's noise floor);
# then prints ratio tables via scripts/fidelity/compare.py (STREAM, all-reduce) and
# compare_p2p.py (p2p). STREAM rows: copy, copy_nt, the better of the two, and the
# same for triad, each with the paired median ratio clusterbench/C of the best rates
# and the C-against-C noise floor. Goals (STREAM >= 1.00x, all-reduce time <= 1.03x)
# are reported, not enforced.
#
# Environment overrides:
#   CLUSTERBENCH     clusterbench binary       (default target/release/clusterbench)
#   STREAM_ARRAY     bytes per STREAM array    (default 610M, K/M/G powers of 1024)
#   STREAM_ITERS     timed iterations per kernel, both sides (default 10, STREAM's NTIMES)
#   STREAM_REPS      alternating pairs, STREAM (default 5)
#   AR_ITERS         all-reduce iterations     (default 1000)
#   AR_WARMUP        all-reduce warm-up        (default 50)
#   AR_REPS          runs per side, all-reduce (default 2)
#   AR_MAX           largest all-reduce size   (default 16M; clusterbench -e syntax,
#                    K/M/G suffixes are powers of 1024)
#   NP               MPI ranks                 (default 2)
#   MPIRUN_ARGS      extra mpirun arguments    (default: --allow-run-as-root when run as root)
#   P2P_ITERS        p2p iterations, both sides (default 1000)
#   P2P_WARMUP       p2p warm-up, both sides   (default 100)
#   P2P_REPS         runs per side, p2p        (default 2)
#   P2P_MAX          largest p2p message       (default 256K; doubling from 8 B)
#   P2P_STAT         per-run p2p figure from the samples: median, mean or iqm
#                    (interquartile mean; default median)
#   SKIP_STREAM=1 / SKIP_ALLREDUCE=1 / SKIP_P2P=1   leave a section out
#   KEEP_TMP=1       keep the temp dir (raw outputs) and print its path
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

CLUSTERBENCH=${CLUSTERBENCH:-target/release/clusterbench}
STREAM_ARRAY=${STREAM_ARRAY:-610M}
STREAM_ITERS=${STREAM_ITERS:-10}
STREAM_REPS=${STREAM_REPS:-5}
AR_ITERS=${AR_ITERS:-1000}
AR_WARMUP=${AR_WARMUP:-50}
AR_REPS=${AR_REPS:-2}
AR_MAX=${AR_MAX:-16M}
NP=${NP:-2}
SKIP_STREAM=${SKIP_STREAM:-0}
SKIP_ALLREDUCE=${SKIP_ALLREDUCE:-0}
P2P_ITERS=${P2P_ITERS:-1000}
P2P_WARMUP=${P2P_WARMUP:-100}
P2P_REPS=${P2P_REPS:-2}
P2P_MAX=${P2P_MAX:-256K}
P2P_STAT=${P2P_STAT:-median}
SKIP_P2P=${SKIP_P2P:-0}
if [[ -z ${MPIRUN_ARGS+x} ]]; then
    MPIRUN_ARGS=""
    [[ $(id -u) -eq 0 ]] && MPIRUN_ARGS="--allow-run-as-root"
fi

die() { echo "fidelity.sh: $*" >&2; exit 1; }
log() { echo "[fidelity] $*" >&2; }

[[ -x $CLUSTERBENCH ]] || die "clusterbench binary '$CLUSTERBENCH' not found or not executable;
  run 'cargo build --release' first (or set CLUSTERBENCH=/path/to/clusterbench)"
CLUSTERBENCH=$(cd "$(dirname "$CLUSTERBENCH")" && pwd)/$(basename "$CLUSTERBENCH")

for tool in gcc python3; do
    command -v "$tool" >/dev/null || die "'$tool' not found"
done
if [[ $SKIP_ALLREDUCE != 1 || $SKIP_P2P != 1 ]]; then
    for tool in mpicc mpirun; do
        command -v "$tool" >/dev/null || die "'$tool' not found (install openmpi-bin libopenmpi-dev)"
    done
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fidelity.XXXXXX")
cleanup() {
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "fidelity.sh: raw outputs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT

# Size suffix (K/M/G, powers of 1024) -> bytes, for allreduce_loop.
to_bytes() {
    local v=$1 n mult=1
    case $v in
        *[kK]) mult=1024; n=${v%?} ;;
        *[mM]) mult=1048576; n=${v%?} ;;
        *[gG]) mult=1073741824; n=${v%?} ;;
        *) n=$v ;;
    esac
    [[ $n =~ ^[0-9]+$ ]] || die "bad size '$v'"
    echo $((n * mult))
}

# The single results JSON in a clusterbench --output dir.
one_json() {
    local dir=$1 files
    shopt -s nullglob
    files=("$dir"/*.json)
    shopt -u nullglob
    [[ ${#files[@]} -eq 1 ]] || die "expected one *.json in $dir, found ${#files[@]}"
    echo "${files[0]}"
}

log "building C references in $TMP"
gcc -O3 -march=native -fopenmp -o "$TMP/stream_kernels" "$here/fidelity/stream_kernels.c"
if [[ $SKIP_ALLREDUCE != 1 ]]; then
    mpicc -O3 -march=native -o "$TMP/allreduce_loop" "$here/fidelity/allreduce_loop.c"
fi
if [[ $SKIP_P2P != 1 ]]; then
    mpicc -O3 -march=native -o "$TMP/pingpong" "$here/fidelity/pingpong.c"
fi

compare_args=()

# ------------------------------------------------------------ STREAM
if [[ $SKIP_STREAM != 1 ]]; then
    n_elems="" threads=""
    for rep in $(seq 1 "$STREAM_REPS"); do
        out="$TMP/membw.$rep"
        log "STREAM $rep/$STREAM_REPS: clusterbench run --bench membw --array-size $STREAM_ARRAY"
        "$CLUSTERBENCH" run --bench membw --array-size "$STREAM_ARRAY" -n "$STREAM_ITERS" -w 1 \
            --output "$out" >"$TMP/membw.$rep.log" 2>&1 \
            || { cat "$TMP/membw.$rep.log" >&2; die "clusterbench membw failed"; }
        json=$(one_json "$out") || { cat "$TMP/membw.$rep.log" >&2; exit 1; }
        compare_args+=(--cb-membw "$json")

        if [[ -z $n_elems ]]; then
            read -r n_elems threads < <(python3 - "$json" <<'PY'
import json, sys
recs = [r for r in json.load(open(sys.argv[1]))["records"]
        if r.get("benchmark") == "membw" and r.get("params", {}).get("kernel") == "triad"]
if not recs:
    sys.exit("no membw triad record in " + sys.argv[1])
r = max(recs, key=lambda r: r["params"]["elements"])
print(r["params"]["elements"], r["params"].get("threads") or "")
PY
            ) || die "cannot read the triad record from $json"
            [[ -n $n_elems ]] || die "no triad array length in $json"
            if [[ -z $threads ]]; then
                threads=$(nproc)
                log "triad record has no thread count; using nproc = $threads"
            fi
            log "STREAM: N = $n_elems elements per array, $threads threads"
        fi

        log "STREAM $rep/$STREAM_REPS: stream_kernels"
        OMP_PROC_BIND=close OMP_PLACES=cores OMP_NUM_THREADS=$threads \
            "$TMP/stream_kernels" "$n_elems" "$STREAM_ITERS" >"$TMP/stream.$rep.txt" \
            || die "stream_kernels failed (exit $?)"
        compare_args+=(--c-stream "$TMP/stream.$rep.txt")
    done
fi

# ------------------------------------------------------------ all-reduce
if [[ $SKIP_ALLREDUCE != 1 ]]; then
    ar_max_bytes=$(to_bytes "$AR_MAX")
    # shellcheck disable=SC2086  # MPIRUN_ARGS is a word list on purpose
    mpi=(mpirun $MPIRUN_ARGS -np "$NP" --bind-to core)
    for rep in $(seq 1 "$AR_REPS"); do
        out="$TMP/ar.$rep"
        log "all-reduce $rep/$AR_REPS: clusterbench run --bench allreduce ($NP ranks)"
        "${mpi[@]}" "$CLUSTERBENCH" run --bench allreduce -b 8 -e "$AR_MAX" -f 2 -d float -o sum \
            -n "$AR_ITERS" -w "$AR_WARMUP" --output "$out" >"$TMP/ar.$rep.log" 2>&1 \
            || { cat "$TMP/ar.$rep.log" >&2; die "clusterbench allreduce failed"; }
        json=$(one_json "$out") || { cat "$TMP/ar.$rep.log" >&2; exit 1; }
        compare_args+=(--cb-allreduce "$json")

        log "all-reduce $rep/$AR_REPS: allreduce_loop ($NP ranks)"
        "${mpi[@]}" "$TMP/allreduce_loop" "$AR_ITERS" "$AR_WARMUP" 8 "$ar_max_bytes" \
            >"$TMP/arloop.$rep.txt" 2>"$TMP/arloop.$rep.log" \
            || { cat "$TMP/arloop.$rep.log" >&2; die "allreduce_loop failed"; }
        compare_args+=(--c-allreduce "$TMP/arloop.$rep.txt")
    done
fi

# ------------------------------------------------------------ point-to-point
p2p_args=()
if [[ $SKIP_P2P != 1 ]]; then
    p2p_max_bytes=$(to_bytes "$P2P_MAX")
    # shellcheck disable=SC2086
    mpi=(mpirun $MPIRUN_ARGS -np 2 --bind-to core)
    for rep in $(seq 1 "$P2P_REPS"); do
        out="$TMP/p2p.$rep"
        log "p2p $rep/$P2P_REPS: clusterbench run --bench p2p (2 ranks)"
        "${mpi[@]}" "$CLUSTERBENCH" run --bench p2p -b 8 -e "$P2P_MAX" -f 2 -n "$P2P_ITERS" \
            -w "$P2P_WARMUP" --window 64 -q --output "$out" >"$TMP/p2p.$rep.log" 2>&1 \
            || { cat "$TMP/p2p.$rep.log" >&2; die "clusterbench p2p failed"; }
        json=$(one_json "$out") || exit 1
        p2p_args+=(--cb "$json")
        log "p2p $rep/$P2P_REPS: pingpong (2 ranks)"
        "${mpi[@]}" "$TMP/pingpong" "$P2P_ITERS" "$P2P_WARMUP" 8 "$p2p_max_bytes" 64 \
            >"$TMP/pingpong.$rep.txt" 2>"$TMP/pingpong.$rep.log" \
            || { cat "$TMP/pingpong.$rep.log" >&2; die "pingpong failed"; }
        p2p_args+=(--c "$TMP/pingpong.$rep.txt")
    done
fi

[[ ${#compare_args[@]} -gt 0 || ${#p2p_args[@]} -gt 0 ]] || die "nothing to compare (both sections skipped)"
echo
echo "clusterbench fidelity on $(hostname) ($(nproc) cores), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
if [[ ${#compare_args[@]} -gt 0 ]]; then
    python3 "$here/fidelity/compare.py" "${compare_args[@]}"
fi
if [[ ${#p2p_args[@]} -gt 0 ]]; then
    echo
    python3 "$here/fidelity/compare_p2p.py" --stat "$P2P_STAT" "${p2p_args[@]}"
fi
