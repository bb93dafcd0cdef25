#!/usr/bin/env bash
# On a GPU machine: runs clusterbench's GPU copies and tensor-core matmuls, then the
# same operations with PyTorch, and writes everything under results/<gpu>-<date>/:
# nvidia-smi, the clusterbench results JSON, and the log with the ratio table.
#
#   CLUSTERBENCH=path/to/clusterbench scripts/gpu_compare.sh
#
# Needs python3 with torch on the GPU machine; the binary may be built elsewhere
# (cargo build --release --no-default-features --features cuda has no MPI or hwloc
# to carry along). Goals are reported, not enforced.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTERBENCH=${CLUSTERBENCH:-target/release/clusterbench}
SIZES=${SIZES:-4096,8192,16384}
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '_' | tr -cd 'A-Za-z0-9_-')
out="results/${gpu}-$(date -u +%Y%m%d)"
mkdir -p "$out"
log="$out/gpu_compare.log"
{
  echo "# nvidia-smi"
  nvidia-smi
  echo "# clusterbench env"
  "$CLUSTERBENCH" env
  echo "# clusterbench run"
  "$CLUSTERBENCH" run --backend cuda --bench gpumem,matmul --array-size 1G \
      --sizes "$SIZES" --shapes mlp_up:8192x28672x8192 -d tf32,bf16,fp16 \
      -n 20 -w 3 --output "$out"
  echo "# PyTorch, same operations"
  python3 scripts/gpu/torch_compare.py "$(ls "$out"/*.json | head -1)"
} 2>&1 | tee "$log"
