//! The fingerprint of this host and rank: /proc, DMI and the topology. GPU details
//! come from the backend, which alone talks to the driver, and are handed in.

use super::topology::Topology;
use crate::results::environment::{CudaStack, GpuInfo, HostInfo, RankGpu, RankInfo};

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// This machine's host name.
pub fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

fn os_pretty_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

/// Values that firmware reports when it says nothing.
fn meaningful(value: Option<String>) -> Option<String> {
    value.filter(|v| {
        let l = v.to_ascii_lowercase();
        !(l.is_empty()
            || l.contains("to be filled")
            || l == "default string"
            || l == "none"
            || l == "not specified")
    })
}

/// Total memory as the kernel counts it (hwloc may see less inside some VMs).
fn os_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Fingerprint of the host this process runs on.
pub fn local_host(topology: &Topology, gpus: Vec<GpuInfo>, cuda: Option<CudaStack>) -> HostInfo {
    let t = topology.host();
    HostInfo {
        hostname: hostname(),
        cpu_model: t.cpu_model,
        sockets: t.sockets,
        cores: t.cores,
        threads: t.threads,
        numa_nodes: t.numa_nodes,
        caches: t.caches,
        memory_bytes: os_memory_bytes().unwrap_or(t.memory_bytes),
        os: os_pretty_name(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        arch: std::env::consts::ARCH.to_string(),
        instance_type: meaningful(read_trimmed("/sys/devices/virtual/dmi/id/product_name")),
        system_vendor: meaningful(read_trimmed("/sys/devices/virtual/dmi/id/sys_vendor")),
        topology_source: t.source,
        nccl_tuning: nccl_tuning_from_environment(),
        gpus,
        cuda,
    }
}

/// This rank's entry; `gpus_per_rank`: the GPUs it drives (`-g`).
pub fn local_rank(
    rank: usize,
    topology: &Topology,
    gpus: Vec<RankGpu>,
    gpus_per_rank: usize,
) -> RankInfo {
    RankInfo {
        rank: rank as u32,
        host: hostname(),
        cpu_binding: topology.binding(),
        cores: topology.bound_core_count() as u32,
        pid: std::process::id(),
        gpu: gpus.first().cloned(),
        gpus: if gpus_per_rank > 1 { gpus } else { Vec::new() },
    }
}

/// The collective algorithm settings in this process's environment.
pub fn collective_settings() -> Option<crate::results::environment::CollectiveSettings> {
    // vars() would panic on a variable that is not Unicode; such a one is skipped.
    let vars = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    crate::results::environment::CollectiveSettings::of(vars)
}

/// `NCCL_ALGO` and `NCCL_PROTO` as this process sees them: they decide which
/// algorithm NCCL runs, and so how a multi-node all-reduce's bus bandwidth maps to the
/// network's rate.
fn nccl_tuning_from_environment() -> Option<crate::results::environment::NcclTuning> {
    let read = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (algo, proto) = (read("NCCL_ALGO"), read("NCCL_PROTO"));
    (algo.is_some() || proto.is_some()).then(|| crate::results::environment::NcclTuning {
        algo,
        proto,
        source: "environment".into(),
        chosen: Vec::new(),
    })
}
