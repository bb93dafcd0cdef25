//! The environment fingerprint: every host, rank, library and binding of a run.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where and on what a run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// One entry per distinct host, in order of first rank.
    pub hosts: Vec<HostInfo>,
    /// One entry per rank.
    pub ranks: Vec<RankInfo>,
    /// The MPI library, when the run went through MPI.
    pub mpi: Option<MpiInfo>,
    /// The collective algorithm settings in rank 0's environment (absent when none
    /// was set, and in results from before they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collective_settings: Option<CollectiveSettings>,
    /// GPUs per NVLink domain as the user stated it (`--nvlink-domain-size`):
    /// consecutive GPU ranks share a domain, ranks 0..N-1 the first. Absent when not
    /// given; GPUs whose driver reports their fabric carry it in `GpuInfo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvlink_domain_size: Option<u32>,
}

/// The environment variables that choose how the MPI library and NCCL run collectives:
/// Open MPI's `OMPI_MCA_*` settings of its collective, transfer and messaging layers
/// (`coll_tuned_*` among them; not its launcher's own), `UCX_*`, MPICH's all-reduce
/// and Intel MPI's `I_MPI_ADJUST_*` choices, and `NCCL_ALGO`/`NCCL_PROTO`. Settings
/// made in MCA parameter files are not visible here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectiveSettings {
    /// Name and value of each variable, by name.
    pub variables: std::collections::BTreeMap<String, String>,
}

impl CollectiveSettings {
    /// Whether a variable of this name chooses collectives and is recorded.
    pub fn records(name: &str) -> bool {
        const OMPI_LAYERS: [&str; 7] = ["coll", "btl", "pml", "mtl", "osc", "mpi_", "op"];
        if let Some(mca) = name.strip_prefix("OMPI_MCA_") {
            return OMPI_LAYERS.iter().any(|l| mca.starts_with(l)) && !mca.starts_with("opal");
        }
        name.starts_with("UCX_")
            || name.starts_with("I_MPI_ADJUST_")
            || (name.starts_with("MPIR_CVAR_") && name.contains("ALLREDUCE"))
            || name == "NCCL_ALGO"
            || name == "NCCL_PROTO"
    }

    /// The recorded variables among `vars`; `None` when there are none.
    pub fn of(vars: impl IntoIterator<Item = (String, String)>) -> Option<CollectiveSettings> {
        let variables: std::collections::BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| CollectiveSettings::records(name))
            .collect();
        (!variables.is_empty()).then_some(CollectiveSettings { variables })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostInfo {
    pub hostname: String,
    pub cpu_model: Option<String>,
    pub sockets: u32,
    pub cores: u32,
    /// Hardware threads (hwloc PUs).
    pub threads: u32,
    pub numa_nodes: Vec<NumaNodeInfo>,
    pub caches: Vec<CacheInfo>,
    pub memory_bytes: u64,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
    /// Cloud instance type or machine model as the firmware reports it
    /// (/sys/devices/virtual/dmi/id/product_name), e.g. `p5.48xlarge`.
    pub instance_type: Option<String>,
    /// System vendor from the firmware (e.g. `Amazon EC2`).
    pub system_vendor: Option<String>,
    /// How the topology was read (`hwloc ...` or `procfs`).
    pub topology_source: String,
    /// The host's NVIDIA GPUs, as the CUDA driver reports them (empty without one).
    #[serde(default)]
    pub gpus: Vec<GpuInfo>,
    /// The CUDA driver and libraries found on the host, when the driver is present.
    #[serde(default)]
    pub cuda: Option<CudaStack>,
    /// The NCCL algorithm and protocol settings known for the run on this host
    /// (`NCCL_ALGO`/`NCCL_PROTO` in its environment, or what an imported log says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nccl_tuning: Option<NcclTuning>,
}

/// What is known of NCCL's algorithm and protocol choice: settings forced by the
/// environment and, from `NCCL_DEBUG_SUBSYS=TUNING` logs, what it chose per size.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NcclTuning {
    /// `NCCL_ALGO` as set (e.g. `Ring`, `Tree`, `^NVLS`, `allreduce:ring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algo: Option<String>,
    /// `NCCL_PROTO` as set (e.g. `Simple`, `^LL128`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    /// Where these were read: `environment`, `log command line`, `log NCCL INFO`.
    pub source: String,
    /// What NCCL chose per message size, when a log printed its tuning decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chosen: Vec<NcclChoice>,
}

/// One tuning decision NCCL printed: the algorithm and protocol for a size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NcclChoice {
    pub bytes: u64,
    /// `Tree`, `Ring`, `CollNetDirect`, `CollNetChain`, `NVLS`, `NVLSTree` or `PAT`.
    pub algo: String,
    /// `LL`, `LL128` or `Simple`.
    pub proto: String,
}

/// One GPU of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuInfo {
    /// CUDA device ordinal (as seen through `CUDA_VISIBLE_DEVICES`).
    pub index: u32,
    /// Model, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    pub uuid: Option<String>,
    /// Compute capability, e.g. `9.0`.
    pub compute_capability: String,
    pub sm_count: u32,
    pub memory_bytes: u64,
    /// Peak SM clock.
    pub sm_clock_mhz: Option<u32>,
    /// Peak memory clock.
    pub memory_clock_mhz: Option<u32>,
    pub memory_bus_width_bits: Option<u32>,
    pub l2_cache_bytes: Option<u64>,
    /// PCI bus id, `0000:18:00.0`.
    pub pci_bus_id: Option<String>,
    /// NUMA node the GPU is attached to (from the PCI device in sysfs).
    pub numa_node: Option<i32>,
    /// CPUs close to the GPU, as a list (`0-47,96-143`).
    pub cpu_affinity: Option<String>,
    pub ecc_enabled: Option<bool>,
    /// The NVLink domain the GPU sits in, as its fabric manager registered it (NVML's
    /// GPU fabric info): GPUs with the same cluster and clique talk over NVLink, across
    /// instances too (GB200/GB300 NVL72). Absent where the driver reports no fabric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvlink_domain: Option<NvlinkDomain>,
}

/// One NVLink domain (an IMEX domain of a multi-node NVLink system).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NvlinkDomain {
    /// The fabric's cluster UUID, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub cluster_uuid: String,
    /// The clique (partition) within the cluster.
    pub clique_id: u32,
    /// Where it was read: `nvml`.
    pub source: String,
}

/// The CUDA driver and libraries of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CudaStack {
    /// The kernel driver's version, e.g. `580.95.05`.
    pub driver_version: Option<String>,
    /// The newest CUDA version the driver supports, e.g. `13.0`.
    pub cuda_driver_api: Option<String>,
    pub cublas_version: Option<String>,
    pub nccl_version: Option<String>,
    pub nvrtc_version: Option<String>,
    /// Where each library was found, or why it was not.
    pub libraries: Vec<LibraryLocation>,
}

/// Where a CUDA library was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LibraryLocation {
    /// `cuda`, `cublas`, `cublasLt`, `nccl` or `nvrtc`.
    pub name: String,
    /// The file, or `None` when it was not found.
    pub path: Option<String>,
    /// `loader` (found by the dynamic loader as it is) or the place searched
    /// (`LD_LIBRARY_PATH`, `CUDA_HOME`, `CONDA_PREFIX`, `site-packages`, ...).
    pub found_by: Option<String>,
}

/// The GPU a rank drives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RankGpu {
    /// CUDA device ordinal within the rank's visible devices.
    pub index: u32,
    pub pci_bus_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumaNodeInfo {
    pub os_index: u32,
    pub memory_bytes: u64,
    /// CPUs of the node as a list (`0-15,32-47`).
    pub cpus: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheInfo {
    pub level: u32,
    /// `data`, `instruction` or `unified`.
    pub kind: String,
    /// Size of one cache of this level.
    pub size_bytes: u64,
    /// How many there are on the host.
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RankInfo {
    pub rank: u32,
    pub host: String,
    /// CPUs the rank is bound to (`0-3`), when known.
    pub cpu_binding: Option<String>,
    /// Cores the rank's worker threads use.
    pub cores: u32,
    pub pid: u32,
    /// The GPU this rank drives (the CUDA backend's choice: local rank modulo devices);
    /// with `-g N` the first of its GPUs.
    #[serde(default)]
    pub gpu: Option<RankGpu>,
    /// With `-g N` (N > 1), every GPU this rank drives, in NCCL rank order: GPU j of
    /// rank r is NCCL rank r x N + j. Absent when the rank drives one GPU (see `gpu`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<RankGpu>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MpiInfo {
    pub library_version: String,
    pub world_size: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(gpus: Vec<RankGpu>) -> RankInfo {
        RankInfo {
            rank: 1,
            host: "node1".into(),
            cpu_binding: None,
            cores: 4,
            pid: 7,
            gpu: gpus.first().cloned(),
            gpus,
        }
    }

    #[test]
    fn the_gpus_of_a_rank_round_trip_and_old_entries_still_read() {
        let gpu = |index| RankGpu {
            index,
            pci_bus_id: Some(format!("0000:{index:02x}:00.0")),
        };
        let several = rank(vec![gpu(2), gpu(3)]);
        let text = serde_json::to_string(&several).unwrap();
        assert_eq!(serde_json::from_str::<RankInfo>(&text).unwrap(), several);
        // One GPU: `gpus` is left out, so the entry reads as it did before `-g`.
        let one = RankInfo {
            gpus: Vec::new(),
            ..rank(vec![gpu(0)])
        };
        let text = serde_json::to_string(&one).unwrap();
        assert!(!text.contains("\"gpus\""), "{text}");
        let old = r#"{"rank":0,"host":"h","cpu_binding":null,"cores":1,"pid":1,"gpu":{"index":0,"pci_bus_id":null}}"#;
        let read: RankInfo = serde_json::from_str(old).unwrap();
        assert!(read.gpus.is_empty() && read.gpu.is_some());
    }
}
