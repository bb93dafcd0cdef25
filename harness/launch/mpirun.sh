#!/usr/bin/env bash
# clusterbench across nodes with Open MPI and a hostfile:
#
#   harness/launch/mpirun.sh HOSTFILE RANKS_PER_NODE [clusterbench arguments...]
#   harness/launch/mpirun.sh hosts 8 run --suite standard --output results/
#   harness/launch/mpirun.sh hosts 8 links
#
# One rank per GPU (or socket), mapped in order onto the nodes, each bound near its GPU
# and NIC by bind-near.sh (mpirun's own binding is off so that the two do not fight).
# The binary and this directory must be at the same path on every node (a shared file
# system, or copy them). CLUSTERBENCH=path overrides the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
hostfile=$1 per_node=$2; shift 2
bin=${CLUSTERBENCH:-$here/../../target/release/clusterbench}
nodes=$(grep -cvE '^\s*(#|$)' "$hostfile")
extra=()
[[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)
# Pass these on to the ranks where set.
for v in CLUSTERBENCH_NICS CLUSTERBENCH_BIND LD_LIBRARY_PATH PATH; do
    [[ -n ${!v:-} ]] && extra+=(-x "$v")
done

exec mpirun "${extra[@]}" -np $((nodes * per_node)) --hostfile "$hostfile" \
    --map-by "ppr:$per_node:node" --bind-to none \
    "$here/bind-near.sh" "$bin" "${@:-run}"
