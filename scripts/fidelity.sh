#!/usr/bin/env bash
# Fidelity check: clusterbench's CPU figures against reference programs, measured side
# by side (alternating) in one run on this machine, and ONE table of every ratio with
# its noise floor, also written as JSON.
#
#   scripts/fidelity.sh
#
# Builds scripts/fidelity/{stream_kernels,allreduce_loop,pingpong}.c into a temp dir
# (and OSU's osu_allreduce when its source is given or present, see OSU_SRC), runs
#   1. clusterbench membw and stream_kernels (STREAM copy and triad, each with regular
#      and with streaming stores), alternating, STREAM_REPS pairs, same array length,
#      thread count and iterations, one untimed warm-up on each side;
#   2. clusterbench allreduce (2 ranks, 8 B .. 16 MiB, float/sum), allreduce_loop and
#      osu_allreduce (when built) under the same mpirun options, alternating, AR_REPS
#      pairs, then AR_FOCUS_REPS more pairs over AR_FOCUS_MIN .. AR_FOCUS_MAX (8 B .. 64 KiB);
#   3. clusterbench p2p (2 ranks: latency, windowed bandwidth) and pingpong.c, alternating
#      P2P_REPS times each over 8 B .. P2P_MAX, then P2P_FOCUS_REPS more pairs over
#      P2P_FOCUS_MIN .. P2P_FOCUS_MAX (512 B .. 1 KiB): on a 2-vCPU VM whose runs
#      spread by -70/+35%, 120 pairs (about 3 minutes) narrowed the 95% interval of
#      the paired median to +-3% there, 12 pairs only to +-10-20%; same iterations, warm-up,
#      window and binding; both sides time each iteration the same way (see
#      compare_p2p.py: P2P_STAT picks the per-run statistic);
#   4. scripts/fidelity/gemm.sh ROWS.json when that file exists (GEMM against numpy),
#      unless SKIP_GEMM=1;
# then prints each section's detail (compare.py, compare_p2p.py) and, last, one table
# of every ratio (scripts/fidelity/table.py): per row clusterbench's and the
# reference's figure (median over runs), the paired ratio (median over alternating
# pairs of clusterbench_i / reference_i), the noise floor (reference_(i+1) /
# reference_i: median and quartiles), the pairs, the goal and whether it is met.
# Goals (reported, not enforced): STREAM best rates >= 1.00x; all-reduce time per size
# <= 1.03x; p2p latency <= 1.03x and bandwidth >= 0.97x; GEMM as gemm.sh states.
# The same rows go to FIDELITY_OUT as one JSON list.
#
# Environment overrides:
#   CLUSTERBENCH     clusterbench binary       (default target/release/clusterbench)
#   FIDELITY_OUT     the table as JSON         (default fidelity.json in the directory
#                    the script was started from)
#   STREAM_ARRAY     bytes per STREAM array    (default 610M, K/M/G powers of 1024)
#   STREAM_ITERS     timed iterations per kernel, both sides (default 10, STREAM's NTIMES)
#   STREAM_REPS      alternating pairs, STREAM (default 5)
#   AR_ITERS         all-reduce iterations     (default 1000)
#   AR_WARMUP        all-reduce warm-up        (default 50)
#   AR_REPS          alternating pairs, all-reduce (default 5)
#   AR_MAX           largest all-reduce size   (default 16M; clusterbench -e syntax,
#                    K/M/G suffixes are powers of 1024)
#   AR_FOCUS_MIN, AR_FOCUS_MAX, AR_FOCUS_REPS
#                    the small sizes, where a VM's latency levels need many pairs
#                    (40 pairs take about 90 s), up to Open MPI's switch from eager to
#                    single-copy transfers and its allreduce algorithm switch
#                    (default 8, 64K, 40; AR_FOCUS_REPS=0 leaves them out)
#   AR_STAT          per-run all-reduce figure against allreduce_loop.c: median or mean
#                    of the per-iteration slowest-rank times (default median; OSU rows
#                    always compare clusterbench's rank_mean_s, each rank's mean averaged
#                    over the ranks, with OSU's average latency, the same statistic)
#   OSU_SRC          OSU micro-benchmarks source: a .tar.gz or an unpacked directory
#                    (default: scripts/fidelity/osu-micro-benchmarks-* if present); built
#                    with mpicc into the temp dir. Without it, allreduce_loop.c alone.
#   NP               MPI ranks                 (default 2)
#   MPIRUN_ARGS      extra mpirun arguments    (default: --allow-run-as-root when run as root)
#   P2P_ITERS        p2p iterations, both sides (default 1000)
#   P2P_WARMUP       p2p warm-up, both sides   (default 100)
#   P2P_REPS         alternating pairs, p2p sweep (default 2)
#   P2P_MAX          largest p2p message       (default 256K; doubling from 8 B)
#   P2P_FOCUS_MIN, P2P_FOCUS_MAX, P2P_FOCUS_REPS
#                    the focused p2p sizes and their extra pairs (default 512, 1K, 120;
#                    P2P_FOCUS_REPS=0 leaves them out)
#   P2P_STAT         per-run p2p figure from the samples: median, mean or iqm
#                    (interquartile mean; default median)
#   SKIP_STREAM=1 / SKIP_ALLREDUCE=1 / SKIP_P2P=1 / SKIP_GEMM=1   leave a section out
#   KEEP_TMP=1       keep the temp dir (raw outputs) and print its path
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
FIDELITY_OUT=${FIDELITY_OUT:-$PWD/fidelity.json}
[[ $FIDELITY_OUT == /* ]] || FIDELITY_OUT=$PWD/$FIDELITY_OUT
cd "$root"

CLUSTERBENCH=${CLUSTERBENCH:-target/release/clusterbench}
STREAM_ARRAY=${STREAM_ARRAY:-610M}
STREAM_ITERS=${STREAM_ITERS:-10}
STREAM_REPS=${STREAM_REPS:-5}
AR_ITERS=${AR_ITERS:-1000}
AR_WARMUP=${AR_WARMUP:-50}
AR_REPS=${AR_REPS:-5}
AR_MAX=${AR_MAX:-16M}
AR_STAT=${AR_STAT:-median}
AR_FOCUS_MIN=${AR_FOCUS_MIN:-8}
AR_FOCUS_MAX=${AR_FOCUS_MAX:-64K}
AR_FOCUS_REPS=${AR_FOCUS_REPS:-40}
NP=${NP:-2}
SKIP_STREAM=${SKIP_STREAM:-0}
SKIP_ALLREDUCE=${SKIP_ALLREDUCE:-0}
P2P_ITERS=${P2P_ITERS:-1000}
P2P_WARMUP=${P2P_WARMUP:-100}
P2P_REPS=${P2P_REPS:-2}
P2P_MAX=${P2P_MAX:-256K}
P2P_STAT=${P2P_STAT:-median}
P2P_FOCUS_MIN=${P2P_FOCUS_MIN:-512}
P2P_FOCUS_MAX=${P2P_FOCUS_MAX:-1K}
P2P_FOCUS_REPS=${P2P_FOCUS_REPS:-120}
SKIP_P2P=${SKIP_P2P:-0}
SKIP_GEMM=${SKIP_GEMM:-0}
if [[ -z ${MPIRUN_ARGS+x} ]]; then
    MPIRUN_ARGS=""
    [[ $(id -u) -eq 0 ]] && MPIRUN_ARGS="--allow-run-as-root"
fi

die() { echo "fidelity.sh: $*" >&2; exit 1; }
log() { echo "[fidelity] $*" >&2; }

[[ -x $CLUSTERBENCH ]] || die "clusterbench binary '$CLUSTERBENCH' not found or not executable;
  run 'cargo build --release' first (or set CLUSTERBENCH=/path/to/clusterbench)"
CLUSTERBENCH=$(cd "$(dirname "$CLUSTERBENCH")" && pwd)/$(basename "$CLUSTERBENCH")
export CLUSTERBENCH

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

# OSU's osu_allreduce, built from a source tarball or directory (nothing is downloaded).
osu_allreduce=""
if [[ $SKIP_ALLREDUCE != 1 ]]; then
    if [[ -z ${OSU_SRC:-} ]]; then
        shopt -s nullglob
        found=("$here"/fidelity/osu-micro-benchmarks-*)
        shopt -u nullglob
        [[ ${#found[@]} -gt 0 ]] && OSU_SRC=${found[0]}
    fi
    if [[ -n ${OSU_SRC:-} ]]; then
        [[ -e $OSU_SRC ]] || die "OSU_SRC '$OSU_SRC' does not exist"
        log "building osu_allreduce from $OSU_SRC"
        mkdir -p "$TMP/osu"
        if [[ -d $OSU_SRC ]]; then
            cp -a "$OSU_SRC/." "$TMP/osu/"
        else
            tar -xf "$OSU_SRC" -C "$TMP/osu" --strip-components=1
        fi
        (cd "$TMP/osu" && ./configure CC=mpicc CXX=mpicxx >"$TMP/osu.build.log" 2>&1 \
            && make -j"$(nproc)" >>"$TMP/osu.build.log" 2>&1) \
            || { tail -20 "$TMP/osu.build.log" >&2; die "building OSU from $OSU_SRC failed"; }
        osu_allreduce=$(find "$TMP/osu" -name osu_allreduce -type f -perm -u+x | head -1)
        [[ -n $osu_allreduce ]] || die "no osu_allreduce built from $OSU_SRC"
    else
        log "no OSU source (OSU_SRC unset, none in scripts/fidelity/): all-reduce is" \
            "compared with allreduce_loop.c alone"
    fi
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
# One alternating all-reduce pair (and osu_allreduce when built) over MIN..MAX bytes.
ar_pair() {
    local tag=$1 lo=$2 hi=$3 out
    out="$TMP/ar.$tag"
    log "all-reduce $tag: clusterbench run --bench allreduce -b $lo -e $hi ($NP ranks)"
    "${mpi[@]}" "$CLUSTERBENCH" run --bench allreduce -b "$lo" -e "$hi" -f 2 -d float -o sum \
        -n "$AR_ITERS" -w "$AR_WARMUP" --output "$out" >"$TMP/ar.$tag.log" 2>&1 \
        || { cat "$TMP/ar.$tag.log" >&2; die "clusterbench allreduce failed"; }
    json=$(one_json "$out") || { cat "$TMP/ar.$tag.log" >&2; exit 1; }
    compare_args+=(--cb-allreduce "$json")

    log "all-reduce $tag: allreduce_loop ($NP ranks)"
    "${mpi[@]}" "$TMP/allreduce_loop" "$AR_ITERS" "$AR_WARMUP" "$(to_bytes "$lo")" \
        "$(to_bytes "$hi")" >"$TMP/arloop.$tag.txt" 2>"$TMP/arloop.$tag.log" \
        || { cat "$TMP/arloop.$tag.log" >&2; die "allreduce_loop failed"; }
    compare_args+=(--c-allreduce "$TMP/arloop.$tag.txt")

    if [[ -n $osu_allreduce ]]; then
        log "all-reduce $tag: osu_allreduce ($NP ranks)"
        # -i/-x set the iterations of every size (OSU 5.x otherwise runs fewer above
        # 8 KiB), -m the size range.
        "${mpi[@]}" "$osu_allreduce" -m "$(to_bytes "$lo"):$(to_bytes "$hi")" -i "$AR_ITERS" \
            -x "$AR_WARMUP" >"$TMP/osu.$tag.txt" 2>"$TMP/osu.$tag.log" \
            || { cat "$TMP/osu.$tag.log" >&2; die "osu_allreduce failed"; }
        compare_args+=(--osu-allreduce "$TMP/osu.$tag.txt")
    fi
}
if [[ $SKIP_ALLREDUCE != 1 ]]; then
    # shellcheck disable=SC2086  # MPIRUN_ARGS is a word list on purpose
    mpi=(mpirun $MPIRUN_ARGS -np "$NP" --bind-to core)
    for rep in $(seq 1 "$AR_REPS"); do
        ar_pair "$rep-of-$AR_REPS" 8 "$AR_MAX"
    done
    for rep in $(seq 1 "$AR_FOCUS_REPS"); do
        ar_pair "focus-$rep-of-$AR_FOCUS_REPS" "$AR_FOCUS_MIN" "$AR_FOCUS_MAX"
    done
fi

# ------------------------------------------------------------ point-to-point
p2p_args=()
# One alternating p2p pair: clusterbench then pingpong.c over MIN..MAX (doubling).
p2p_pair() {
    local tag=$1 lo=$2 hi=$3 out
    out="$TMP/p2p.$tag"
    log "p2p $tag: clusterbench run --bench p2p -b $lo -e $hi (2 ranks)"
    "${mpi[@]}" "$CLUSTERBENCH" run --bench p2p -b "$lo" -e "$hi" -f 2 -n "$P2P_ITERS" \
        -w "$P2P_WARMUP" --window 64 -q --output "$out" >"$TMP/p2p.$tag.log" 2>&1 \
        || { cat "$TMP/p2p.$tag.log" >&2; die "clusterbench p2p failed"; }
    json=$(one_json "$out") || exit 1
    p2p_args+=(--cb "$json")
    log "p2p $tag: pingpong (2 ranks)"
    "${mpi[@]}" "$TMP/pingpong" "$P2P_ITERS" "$P2P_WARMUP" "$(to_bytes "$lo")" \
        "$(to_bytes "$hi")" 64 >"$TMP/pingpong.$tag.txt" 2>"$TMP/pingpong.$tag.log" \
        || { cat "$TMP/pingpong.$tag.log" >&2; die "pingpong failed"; }
    p2p_args+=(--c "$TMP/pingpong.$tag.txt")
}
if [[ $SKIP_P2P != 1 ]]; then
    # shellcheck disable=SC2086
    mpi=(mpirun $MPIRUN_ARGS -np 2 --bind-to core)
    for rep in $(seq 1 "$P2P_REPS"); do
        p2p_pair "$rep-of-$P2P_REPS" 8 "$P2P_MAX"
    done
    for rep in $(seq 1 "$P2P_FOCUS_REPS"); do
        p2p_pair "focus-$rep-of-$P2P_FOCUS_REPS" "$P2P_FOCUS_MIN" "$P2P_FOCUS_MAX"
    done
fi

# ------------------------------------------------------------ GEMM
gemm_rows=""
if [[ $SKIP_GEMM != 1 && -f $here/fidelity/gemm.sh ]]; then
    log "GEMM: scripts/fidelity/gemm.sh"
    bash "$here/fidelity/gemm.sh" "$TMP/rows.gemm.json" || die "gemm.sh failed"
    gemm_rows="$TMP/rows.gemm.json"
fi

[[ ${#compare_args[@]} -gt 0 || ${#p2p_args[@]} -gt 0 || -n $gemm_rows ]] \
    || die "nothing to compare (every section skipped)"
echo
echo "clusterbench fidelity on $(hostname) ($(nproc) cores), $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
sections=()
status=0
if [[ ${#compare_args[@]} -gt 0 ]]; then
    python3 "$here/fidelity/compare.py" --ar-stat "$AR_STAT" --rows "$TMP/rows.cpu.json" \
        "${compare_args[@]}" || status=1
    [[ -f $TMP/rows.cpu.json ]] && sections+=("$TMP/rows.cpu.json")
fi
if [[ ${#p2p_args[@]} -gt 0 ]]; then
    echo
    python3 "$here/fidelity/compare_p2p.py" --stat "$P2P_STAT" --rows "$TMP/rows.p2p.json" \
        "${p2p_args[@]}" || status=1
    [[ -f $TMP/rows.p2p.json ]] && sections+=("$TMP/rows.p2p.json")
fi
[[ -n $gemm_rows ]] && sections+=("$gemm_rows")
[[ ${#sections[@]} -gt 0 ]] || die "no ratio rows were produced"
echo
echo "Every ratio, one table (also in $FIDELITY_OUT):"
python3 "$here/fidelity/table.py" --json "$FIDELITY_OUT" "${sections[@]}" || status=1
exit "$status"
