#!/usr/bin/env bash
# Validates a GPU node in one command: every GPU path of clusterbench, small and
# checked, then the same operations in PyTorch, side by side.
#
#   scripts/gpu_validate.sh [--dry-run] [--gpus N] [BUNDLE_DIR] OUT_DIR
#
# Needs the bundle (scripts/package.sh; BUNDLE_DIR defaults to the bundle this script
# sits in, else the one in dist/), nvidia-smi, and python3 with torch. No Rust, MPI or
# network. OUT_DIR receives three files: validate.log (what this prints), ratios.txt
# (the one table of clusterbench / PyTorch ratios) and raw.tar.gz (every raw output:
# nvidia-smi, the environment, cuda-check, each run's log and results, PyTorch's
# figures). Exit 0 when every step passed; otherwise 1, with the reason on the last
# line: a failed check, a panic, a missing library, a step out of time.
#
# --dry-run prints every command it would run and proves the bundle starts: its
# --version, list, cuda-check (which needs no GPU) and each run's plan (run --dry-run,
# which checks every flag). --gpus N plans for N GPUs instead of those nvidia-smi
# counts. GPU_VALIDATE_BUDGET_S (default 450) bounds the whole run; each step gets
# what is left of it, so the run ends within about 8 minutes on one GPU.
set -uo pipefail

usage() { sed -n '2,20p' "$0" >&2; exit 2; }

dry_run=0
gpus=""
positional=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --dry-run) dry_run=1 ;;
    --gpus) gpus=${2:-}; shift ;;
    -h | --help) usage ;;
    -*) echo "gpu_validate: unknown option $1" >&2; usage ;;
    *) positional+=("$1") ;;
  esac
  shift
done
case ${#positional[@]} in
  1) bundle="" out=${positional[0]} ;;
  2) bundle=${positional[0]} out=${positional[1]} ;;
  *) usage ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z $bundle ]]; then
  if [[ -x $here/../bin/clusterbench && -d $here/../libexec ]]; then
    bundle=$here/..
  else
    found=("$here"/../dist/clusterbench-*-linux-x86_64)
    [[ ${#found[@]} -eq 1 && -d ${found[0]} ]] || {
      echo "gpu_validate: no bundle given and none (or several) in dist/: run scripts/package.sh, or name BUNDLE_DIR" >&2
      exit 2
    }
    bundle=${found[0]}
  fi
fi
bundle=$(cd "$bundle" && pwd)
cb=$bundle/bin/clusterbench
gpu_py=$bundle/scripts/gpu
[[ -f $gpu_py/torch_side.py ]] || gpu_py=$here/gpu
python=${PYTHON:-python3}
budget=${GPU_VALIDATE_BUDGET_S:-450}
start=$SECONDS

mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.work.XXXXXX") || exit 2
raw=$work/raw
mkdir -p "$raw/results"
log=$out/validate.log
: > "$log"
trap 'rm -rf "$work"' EXIT

say() { printf '%s\n' "$*" | tee -a "$log"; }

failures=()
steps_run=0

# The reason a step failed, from its exit code and its output.
reason_of() { # reason_of RC NAME
  local rc=$1 line
  line=$(cat "$raw/$2.err" "$raw/$2.txt" 2> /dev/null |
    grep -m 1 -E "panicked at|clusterbench: error|[Ee]rror|FAILED|MISSING|not found" || true)
  [[ -n $line ]] || line=$(cat "$raw/$2.err" "$raw/$2.txt" 2> /dev/null | grep -v '^\s*$' | tail -n 1)
  case $rc in
    124 | 137) echo "out of time (stopped at its share of the ${budget} s budget)" ;;
    101) echo "panic: $line" ;;
    1) echo "failed: $line" ;;
    2) echo "missing library or refused command: $line" ;;
    126 | 127) echo "could not start: $line" ;;
    *) echo "exit $rc: $line" ;;
  esac
}

# step [-a] NAME LIMIT_S CMD...: runs CMD (output in raw/NAME.txt, errors in
# raw/NAME.err) within LIMIT_S and what is left of the budget. A dry run only prints
# it, unless -a: then it runs (commands that need no GPU).
step() {
  local always=0 name limit left rc t0
  [[ $1 == -a ]] && { always=1; shift; }
  name=$1 limit=$2
  shift 2
  say "== $name: $*"
  ((dry_run && !always)) && return 0
  left=$((budget - (SECONDS - start)))
  if ((left < 5)); then
    failures+=("$name: not run, the ${budget} s budget is spent")
    say "   not run: the ${budget} s budget is spent"
    return 1
  fi
  ((limit > left)) && limit=$left
  t0=$SECONDS
  steps_run=$((steps_run + 1))
  timeout --kill-after=10 "$limit" "$@" > "$raw/$name.txt" 2> "$raw/$name.err"
  rc=$?
  if ((rc == 0)) && grep -q "panicked at" "$raw/$name.err"; then
    rc=101
  fi
  if ((rc == 0)); then
    say "   ok in $((SECONDS - t0)) s"
    return 0
  fi
  failures+=("$name: $(reason_of "$rc" "$name")")
  say "   FAILED in $((SECONDS - t0)) s: ${failures[-1]}"
  cat "$raw/$name.txt" "$raw/$name.err" | tail -n 5 | sed 's/^/   | /' | tee -a "$log"
  return 1
}

# Prints a step's output into the log, indented.
show() { sed 's/^/   /' "$raw/$1.txt" | tee -a "$log"; }

skip() { # skip NAME REASON
  say "== $1: skipped: $2"
  echo "skipped: $2" > "$raw/$1.txt"
}

finish() {
  if ((!dry_run)); then
    tar -C "$work" -czf "$out/raw.tar.gz" raw
  fi
  if ((${#failures[@]})); then
    say "gpu_validate: FAILED (${#failures[@]} problem(s), $((SECONDS - start)) s): ${failures[0]}"
    exit 1
  fi
  if ((dry_run)); then
    say "gpu_validate: dry run passed: the bundle starts and every planned command is valid"
  else
    say "gpu_validate: passed: $steps_run steps in $((SECONDS - start)) s; ratios in $out/ratios.txt, raw outputs in $out/raw.tar.gz"
  fi
  exit 0
}

# Stops at once: nothing after this could run.
fatal() {
  failures=("$1" "${failures[@]}")
  finish
}

# The GPUs this process sees.
if [[ -z $gpus ]]; then
  if command -v nvidia-smi > /dev/null 2>&1; then
    gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader 2> /dev/null | grep -c '^[0-9]' || true)
    if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then
      visible=$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c .)
      ((visible < gpus)) && gpus=$visible
    fi
  elif ((dry_run)); then
    gpus=1
  else
    gpus=0
  fi
fi
[[ $gpus =~ ^[0-9]+$ ]] || { echo "gpu_validate: --gpus takes a number, not '$gpus'" >&2; exit 2; }

say "gpu_validate: bundle $bundle, $gpus GPU(s), budget $budget s, output $out$( ((dry_run)) && echo ', DRY RUN: nothing is measured')"
[[ -x $cb ]] || fatal "missing library: no clusterbench launcher at $cb"

# --- The machine: driver, GPUs, libraries ------------------------------------------
if ((!dry_run)); then
  ((gpus > 0)) || fatal "missing library: no GPU visible (nvidia-smi is absent or lists none)"
  step nvidia-smi 30 sh -c 'nvidia-smi && nvidia-smi -q && { nvidia-smi topo -m; cat /proc/driver/nvidia/version; true; }' || true
  say "   $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2> /dev/null | sort | uniq -c | tr -s ' ' | head -n 1)"
fi
step -a version 30 "$cb" --version || fatal "the bundle does not start: ${failures[-1]}"
show version
step -a list 30 "$cb" list || fatal "the bundle does not start: ${failures[-1]}"
# Where every library was found, and in which version.
if step -a env 60 "$cb" env; then
  "$python" "$gpu_py/ratio_table.py" --libraries "$raw/env.txt" > "$raw/libraries.txt" 2>&1
  show libraries
  # Without a GPU (a dry run elsewhere) the driver is expectedly absent.
  missing=$(grep -m 1 'NOT FOUND' "$raw/libraries.txt")
  ((dry_run)) || [[ -z $missing ]] || fatal "missing library: $missing"
fi
step -a cuda-check 120 "$cb" cuda-check
rc=$?
show cuda-check
((rc == 0)) || fatal "${failures[-1]}"

# --- clusterbench: every GPU path, small, checked ----------------------------------
# run NAME LIMIT_S ARGS...: a clusterbench run writing its results to raw/results/NAME.
run() {
  local name=$1 limit=$2
  shift 2
  local args=(run --backend cuda -q --timeout 60 --output "$raw/results/$name" "$@")
  if ((dry_run)); then
    # The plan, after the same checks of every flag as a measured run.
    step -a "$name" "$limit" "$cb" "${args[@]}" --dry-run && show "$name"
    return
  fi
  step "$name" "$limit" "$cb" "${args[@]}"
}

collectives=allreduce,allgather,reducescatter,broadcast,alltoall
run membw 60 --bench membw --array-size 1G -n 10 -w 2
run gpumem $((gpus > 1 ? 150 : 90)) --bench gpumem --array-size 256M -n 10 -w 2
run matmul 120 --bench matmul -d float,double,tf32,bf16,fp16,fp8e4m3 \
  --sizes 1024,8192 --shapes mlp_up:8192x28672x8192 -n 10 -w 2
run matmul-search 120 --bench matmul -d float,double,tf32,bf16,fp16,fp8e4m3 --sizes 4096 --search -n 5 -w 1
if ((gpus > 1)); then
  run collectives-g$gpus 180 --bench $collectives -d float,bf16,fp8e4m3,fp8e5m2 \
    -b 8 -e 128M -f 8 -n 20 -w 5 -g "$gpus"
else
  run collectives 120 --bench $collectives -d float,bf16,fp8e4m3,fp8e5m2 -b 8 -e 128M -f 8 -n 20 -w 5
fi
run cuda-graphs 90 --bench $collectives --cuda-graph 10 -d float,bf16 -b 8 -e 16M -f 8 -n 10 -w 2

# p2p needs two processes, so an MPI launcher and the node's Open MPI.
if ((gpus < 2)); then
  skip p2p "one GPU: p2p measures between two processes on two GPUs"
elif ! command -v mpirun > /dev/null 2>&1; then
  skip p2p "no mpirun on this node: p2p needs two processes (the peer matrix of gpumem measured the GPU-to-GPU copies)"
elif ! /lib64/ld-linux-x86-64.so.2 --list "$bundle/libexec/clusterbench-mpi" > /dev/null 2>&1; then
  skip p2p "Open MPI's libmpi.so.40 does not load here: p2p needs two processes (the peer matrix of gpumem measured the GPU-to-GPU copies)"
else
  as_root=()
  [[ $(id -u) -eq 0 ]] && as_root=(--allow-run-as-root)
  p2p=(run --backend cuda -q --timeout 60 --output "$raw/results/p2p" --bench p2p -b 8 -e 64M -f 8 -n 10 -w 2)
  step p2p 90 mpirun "${as_root[@]}" -np 2 "$cb" "${p2p[@]}" || true
  if ((dry_run)); then
    step -a p2p-plan 30 "$cb" "${p2p[@]}" --dry-run && show p2p-plan
  fi
fi

# --- PyTorch: the same operations ---------------------------------------------------
torch_step() {
  step torch-ops 30 "$python" "$gpu_py/ratio_table.py" --ops "$raw/results" || return 1
  cp "$raw/torch-ops.txt" "$raw/ops.json"
  # PyTorch stops measuring 20 s before the budget ends, to leave time for the table.
  local deadline=$((budget - (SECONDS - start) - 20))
  step torch 240 "$python" "$gpu_py/torch_side.py" "$raw/ops.json" "$raw/torch.json" \
    --gpus "$gpus" --seconds "$deadline" || return 1
  step ratios 30 "$python" "$gpu_py/ratio_table.py" "$raw/results" "$raw/torch.json"
  cp "$raw/ratios.txt" "$out/ratios.txt"
  sed 's/^/   /' "$out/ratios.txt" | tee -a "$log"
}
if ((dry_run)); then
  say "== torch: $python $gpu_py/ratio_table.py --ops RESULTS > ops.json; $python $gpu_py/torch_side.py ops.json torch.json --gpus $gpus; $python $gpu_py/ratio_table.py RESULTS torch.json > ratios.txt"
  if "$python" -c 'import torch' > /dev/null 2>&1; then
    say "   $("$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)')"
  else
    say "   note: $python cannot import torch here; the measured run needs it"
  fi
elif ! "$python" -c 'import torch' > "$raw/torch-import.txt" 2>&1; then
  failures+=("torch: missing library: $python cannot import torch: $(tail -n 1 "$raw/torch-import.txt")")
  say "== torch: FAILED: ${failures[-1]}"
else
  say "   $("$python" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)')"
  torch_step || true
fi

finish
