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

# How a job with a dead node ends. mpirun waits for every node's daemon, and a daemon
# whose link died never answers: by default mpirun notices only after TCP's
# retransmissions give up (about 15 minutes), or never, once it has queued a message
# to that daemon (which it does as soon as any rank exits non-zero). TCP keepalive on
# its connections to the daemons finds such a node within about 15 s of quiet; mpirun
# then sends every rank SIGTERM, and SIGKILL odls_base_sigkill_timeout seconds later.
# A rank stuck in a collective when SIGTERM comes writes what it knows (rank 0: the
# results document, naming the silent rank) within 2-3 s, so 5 s is enough, and an
# interrupted run's measurement under way gets as long to finish.
ending=(--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2
        --mca oob_tcp_keepalive_probes 3 --mca odls_base_sigkill_timeout 5)

exec mpirun "${extra[@]}" "${ending[@]}" -np $((nodes * per_node)) --hostfile "$hostfile" \
    --map-by "ppr:$per_node:node" --bind-to none \
    "$here/bind-near.sh" "$bin" "${@:-run}"
