#!/usr/bin/env bash
# Binds one rank near its GPU and NIC, then runs the command:
#
#   bind-near.sh COMMAND...          (started by mpirun or srun, one per rank)
#
# The rank's local index (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, PMI_LOCAL_RANK)
# picks GPU number LOCAL (CUDA_VISIBLE_DEVICES) and binds the rank's CPUs and memory
# to the cores next to that GPU's PCI slot (hwloc-bind). Without a GPU, local rank i is
# bound to NUMA node i mod (NUMA nodes).
#
# NICs: set CLUSTERBENCH_NICS to the host's NICs in GPU order of affinity, e.g.
# "mlx5_0,mlx5_1,mlx5_2,mlx5_3"; GPU i then uses NIC i x nics / gpus, exported as
# UCX_NET_DEVICES (UCX, and NCCL through it) and NCCL_IB_HCA.
#
# Needs hwloc's command-line tools (Debian: hwloc) on every node; nvidia-smi for GPUs.
# CLUSTERBENCH_BIND=0 turns the binding off (the launcher's own stays).
set -euo pipefail

local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-${PMI_LOCAL_RANK:-0}}}
[[ ${CLUSTERBENCH_BIND:-1} == 0 ]] && exec "$@"

bind=()
if command -v nvidia-smi >/dev/null && gpus=$(nvidia-smi --query-gpu=pci.bus_id --format=csv,noheader 2>/dev/null) && [[ -n $gpus ]]; then
    mapfile -t bus <<<"$gpus"
    n=${#bus[@]}
    gpu=$((local_rank % n))
    export CUDA_VISIBLE_DEVICES=$gpu
    # nvidia-smi prints 00000000:65:00.0; hwloc wants 0000:65:00.0.
    pci=$(echo "${bus[$gpu]}" | tr 'A-F' 'a-f' | sed -E 's/^0000([0-9a-f]{4}:)/\1/')
    bind=(--cpubind --membind "pci=$pci")
    if [[ -n ${CLUSTERBENCH_NICS:-} ]]; then
        IFS=, read -r -a nics <<<"$CLUSTERBENCH_NICS"
        nic=${nics[$((gpu * ${#nics[@]} / n))]}
        export UCX_NET_DEVICES="$nic:1" NCCL_IB_HCA="$nic"
    fi
else
    numa=$(hwloc-calc --number-of numanode machine:0 2>/dev/null || echo 1)
    [[ $numa -ge 1 ]] || numa=1
    bind=(--cpubind --membind "numa:$((local_rank % numa))")
fi

if command -v hwloc-bind >/dev/null; then
    exec hwloc-bind "${bind[@]}" -- "$@"
fi
echo "bind-near.sh: hwloc-bind not found (install hwloc); running unbound" >&2
exec "$@"
