#!/usr/bin/env bash
# A simulated cluster on one Linux machine: N network namespaces ("nodes") joined by
# veth pairs and a bridge, each with its own hostname, and Open MPI's mpirun starting
# ranks in them. Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2.
#
#   scripts/simcluster.sh [options] -- COMMAND...
#
# sets up the nodes, runs COMMAND on this machine with these variables set, and tears
# everything down (namespaces, links, and the Open MPI session directories the nodes
# leave in /tmp) when COMMAND ends, fails or is interrupted:
#   SIM_MPIRUN   an mpirun command line (words) that starts ranks on the nodes, one slot
#                per node by default: "$SIM_MPIRUN" -np 4 clusterbench run ...
#   SIM_NODES    the node (namespace and host) names, space-separated
#   SIM_HOSTFILE the hostfile SIM_MPIRUN uses
#
# Options:
#   -n N             nodes (default 4)
#   -p PREFIX        name prefix for namespaces and links (default sim; at most 6
#                    characters), so that several clusters can exist at once
#   -s A.B.C         /24 subnet of the nodes (default 10.231.0); give each cluster its own
#   -r RATE          cap every node's link at RATE (tc tbf, e.g. 1gbit) both ways
#   -c NODE=RATE     cap node number NODE (1-based) at RATE instead; repeatable
#   -d DELAY         add netem delay (e.g. 1ms) on every link, where the kernel has netem
#   -t CC            TCP congestion control inside the nodes (default cubic, or reno
#                    where the host does not allow cubic; "host" keeps the host's).
#                    BBR, the default of some hosts, periodically drains its queue to
#                    probe the round trip, which costs ring all-reduce steps of 2 MiB
#                    and more 5-25% through a tbf cap; loss-based control does not.
#   --slots S        MPI slots per node (default 1)
#
#   scripts/simcluster.sh -p sim -n 4 --down     removes a cluster left behind
set -euo pipefail

N=4 PREFIX=sim SUBNET=10.231.0 RATE="" DELAY="" SLOTS=1 DOWN=0 CC=cubic
declare -A CAPS=()
while [[ $# -gt 0 ]]; do
    case $1 in
        -n) N=$2; shift 2 ;;
        -p) PREFIX=$2; shift 2 ;;
        -s) SUBNET=$2; shift 2 ;;
        -r) RATE=$2; shift 2 ;;
        -c) CAPS[${2%%=*}]=${2#*=}; shift 2 ;;
        -d) DELAY=$2; shift 2 ;;
        -t) CC=$2; shift 2 ;;
        --slots) SLOTS=$2; shift 2 ;;
        --down) DOWN=1; shift ;;
        --) shift; break ;;
        *) echo "simcluster: unknown option '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
done
[[ ${#PREFIX} -le 6 ]] || { echo "simcluster: prefix '$PREFIX' is longer than 6 characters" >&2; exit 2; }
[[ $N -ge 1 && $N -le 200 ]] || { echo "simcluster: -n must be 1..200" >&2; exit 2; }

node() { echo "${PREFIX}n$1"; }
BR="${PREFIX}br"
WORK=""

teardown() {
    local i
    for i in $(seq 1 "$N"); do
        ip netns pids "$(node "$i")" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$(node "$i")" 2>/dev/null || true
        ip link del "${PREFIX}h$i" 2>/dev/null || true
        # The session directories of Open MPI (ompi.HOST.UID; prte.HOST.UID from
        # version 5) that the node's killed daemons and ranks leave in the shared /tmp:
        # named after the node's hostname, so only this cluster's are removed.
        rm -rf "${TMPDIR:-/tmp}/ompi.$(node "$i")."* "${TMPDIR:-/tmp}/prte.$(node "$i")."* \
            /tmp/ompi."$(node "$i")".* /tmp/prte."$(node "$i")".* 2>/dev/null || true
    done
    ip link del "$BR" 2>/dev/null || true
    [[ -n $WORK ]] && rm -rf "$WORK"
    return 0
}

if [[ $DOWN == 1 ]]; then
    teardown
    exit 0
fi
[[ $# -gt 0 ]] || { echo "simcluster: no command given (scripts/simcluster.sh [options] -- COMMAND...)" >&2; exit 2; }

# Shapes the egress of one interface: netem delay under a tbf rate cap.
shape() {
    local ns=$1 dev=$2 rate=$3 run=()
    [[ -n $ns ]] && run=(ip netns exec "$ns")
    if [[ -n $DELAY ]]; then
        "${run[@]}" tc qdisc add dev "$dev" root handle 1: netem delay "$DELAY"
        [[ -n $rate ]] && "${run[@]}" tc qdisc add dev "$dev" parent 1:1 handle 10: tbf rate "$rate" burst 256kb latency 400ms
    elif [[ -n $rate ]]; then
        "${run[@]}" tc qdisc add dev "$dev" root tbf rate "$rate" burst 256kb latency 400ms
    fi
}

trap teardown EXIT
trap 'exit 130' INT TERM
teardown
WORK=$(mktemp -d "${TMPDIR:-/tmp}/simcluster.$PREFIX.XXXXXX")

ip link add "$BR" type bridge
ip link set "$BR" up
for i in $(seq 1 "$N"); do
    ns=$(node "$i")
    ip netns add "$ns"
    ip link add "${PREFIX}h$i" type veth peer name eth0 netns "$ns"
    ip link set "${PREFIX}h$i" master "$BR" up
    ip -n "$ns" addr add "$SUBNET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    if [[ $CC != host ]]; then
        # A namespace may pick only what the host allows; reno always is.
        ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="$CC" 2>/dev/null ||
            ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control=reno 2>/dev/null ||
            echo "simcluster: cannot set TCP congestion control in $ns; it keeps the host's" >&2
    fi
    rate=${CAPS[$i]:-$RATE}
    # Both directions: the node's egress, and the bridge port's egress towards it.
    shape "$ns" eth0 "$rate"
    shape "" "${PREFIX}h$i" "$rate"
done

# Names resolve inside the nodes through a hosts file of their own.
{
    echo "127.0.0.1 localhost"
    for i in $(seq 1 "$N"); do echo "$SUBNET.$i $(node "$i")"; done
} >"$WORK/hosts"
for i in $(seq 1 "$N"); do echo "$(node "$i") slots=$SLOTS"; done >"$WORK/hostfile"

# The CPUs this script may use (its affinity list, e.g. "0-3,8"), one per line.
allowed_cpus() {
    local list range
    list=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
    for range in ${list//,/ }; do
        seq "${range%-*}" "${range#*-}"
    done
}
# Each node's own CPUs, as a real node has them: with N nodes on C CPUs, node i takes
# every CPU whose index is i-1 modulo N, or CPU i-1 modulo C when nodes outnumber CPUs.
# Left to float, the nodes' processes shared the CPUs however the scheduler placed
# them at the moment: on 2 CPUs and 4 nodes, the two pairs of a links round then took
# 5 or 15 us a round trip depending on which ranks happened to share a CPU, and a
# healthy node whose pairs drew the slow placement twice was flagged for latency. Pinned
# alike, every node has the same share of partners on its own CPU.
mapfile -t CPUS < <(allowed_cpus)
for i in $(seq 1 "$N"); do
    mine=()
    for j in "${!CPUS[@]}"; do
        (( j % N == i - 1 )) && mine+=("${CPUS[$j]}")
    done
    [[ ${#mine[@]} -gt 0 ]] || mine=("${CPUS[$(( (i - 1) % ${#CPUS[@]} ))]}")
    (IFS=,; echo "$(node "$i") ${mine[*]}")
done >"$WORK/cpus"

# Starts a command "on" a node: in its namespace, with its hostname (so that Open MPI's
# per-host session directories in the shared /tmp do not collide), its hosts file and
# its CPUs. Each start is a session of its own (setsid): the kernel's autogroup
# scheduling gives every session an equal share of the host's CPUs, so without it the
# first node (where mpirun runs) would share one share with whatever started this
# script, and come out slower than the others whenever the host is busy.
cat >"$WORK/on-node" <<ON_NODE
#!/usr/bin/env bash
# Open MPI's rsh launcher calls: on-node [options] HOST WORDS..., words that a remote
# shell joins and interprets (as ssh does), so they are joined here too.
while [[ \$1 == -* ]]; do shift; done
host=\$1; shift
cmd="\$*"
cpus=\$(sed -n "s/^\$host //p" "$WORK/cpus")
exec setsid -w taskset -c "\$cpus" ip netns exec "\$host" unshare --uts --mount sh -c 'hostname "\$0"; mount --bind "$WORK/hosts" /etc/hosts; exec sh -c "\$1"' "\$host" "\$cmd"
ON_NODE
chmod +x "$WORK/on-node"

mca=(--mca plm_rsh_agent "$WORK/on-node" --mca btl self,vader,tcp
     --mca btl_tcp_if_include "$SUBNET.0/24" --mca oob_tcp_if_include "$SUBNET.0/24"
     --mca mpi_yield_when_idle 1 --mca plm_rsh_no_tree_spawn 1)
export SIM_HOSTFILE="$WORK/hostfile"
SIM_NODES=$(for i in $(seq 1 "$N"); do node "$i"; done | tr '\n' ' ')
export SIM_NODES
# mpirun itself runs "on" the first node.
export SIM_MPIRUN="$WORK/on-node $(node 1) mpirun --allow-run-as-root --oversubscribe --bind-to none --hostfile $WORK/hostfile ${mca[*]}"
set +e
"$@"
status=$?
set -e
exit $status
