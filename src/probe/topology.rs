//! The machine's topology: packages, cores, NUMA nodes, caches, and CPU binding.
//!
//! With the `hwloc` feature this reads hwloc; without it, a reduced view from the
//! operating system (no per-thread pinning). Both modules have the same signatures.

use crate::results::environment::{CacheInfo, NumaNodeInfo};

/// What the benchmarks and the fingerprint need from the topology.
#[derive(Debug, Clone, Default)]
pub struct HostTopology {
    pub source: String,
    pub cpu_model: Option<String>,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
    pub numa_nodes: Vec<NumaNodeInfo>,
    pub caches: Vec<CacheInfo>,
    pub memory_bytes: u64,
    /// Sum of the sizes of all last-level caches on the host, when known.
    pub llc_total_bytes: Option<u64>,
}

/// Formats CPU indices as a list of ranges: `0-3,8,10-11`.
pub fn format_cpu_list(indices: impl IntoIterator<Item = usize>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(usize, usize)> = None;
    for i in indices {
        run = match run {
            Some((a, b)) if i == b + 1 => Some((a, i)),
            Some((a, b)) => {
                out.push(if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                });
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    if let Some((a, b)) = run {
        out.push(if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        });
    }
    out.join(",")
}

#[cfg(feature = "hwloc")]
mod imp {
    use super::HostTopology;
    use crate::results::environment::{CacheInfo, NumaNodeInfo};
    use anyhow::{anyhow, Context, Result};
    use hwlocality::cpu::binding::CpuBindingFlags;
    use hwlocality::cpu::cpuset::CpuSet;
    use hwlocality::object::attributes::ObjectAttributes;
    use hwlocality::object::types::ObjectType;
    use hwlocality::Topology as HwTopology;
    use std::sync::Arc;

    /// A loaded topology, shareable between threads.
    #[derive(Clone)]
    pub struct Topology {
        inner: Arc<HwTopology>,
    }

    fn hwloc_version() -> String {
        let v = hwlocality::hwloc_api_version();
        format!("API {}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
    }

    impl Topology {
        pub fn load() -> Result<Self> {
            let t =
                HwTopology::new().map_err(|e| anyhow!("hwloc could not load the topology: {e}"))?;
            Ok(Topology { inner: Arc::new(t) })
        }

        pub fn host(&self) -> HostTopology {
            let t = &self.inner;
            let count = |ty| t.objects_with_type(ty).count() as u32;
            let cpu_model = t
                .objects_with_type(ObjectType::Package)
                .find_map(|p| p.info("CPUModel"))
                .map(|c| c.to_string_lossy().trim().to_string());
            let numa_nodes = t
                .objects_with_type(ObjectType::NUMANode)
                .map(|n| NumaNodeInfo {
                    os_index: n.os_index().unwrap_or(0) as u32,
                    memory_bytes: match n.attributes() {
                        Some(ObjectAttributes::NUMANode(a)) => {
                            a.local_memory().map(|m| m.get()).unwrap_or(0)
                        }
                        _ => 0,
                    },
                    cpus: n
                        .cpuset()
                        .map(|s| super::format_cpu_list(s.iter_set().map(usize::from)))
                        .unwrap_or_default(),
                })
                .collect();
            let cache_types = [
                (ObjectType::L1Cache, 1, "data"),
                (ObjectType::L1ICache, 1, "instruction"),
                (ObjectType::L2Cache, 2, "unified"),
                (ObjectType::L3Cache, 3, "unified"),
                (ObjectType::L4Cache, 4, "unified"),
            ];
            let mut caches = Vec::new();
            for (ty, level, kind) in cache_types {
                let sizes: Vec<u64> = t
                    .objects_with_type(ty)
                    .filter_map(|o| match o.attributes() {
                        Some(ObjectAttributes::Cache(c)) => c.size().map(|s| s.get()),
                        _ => None,
                    })
                    .collect();
                if let Some(&size) = sizes.first() {
                    caches.push(CacheInfo {
                        level,
                        kind: kind.into(),
                        size_bytes: size,
                        count: sizes.len() as u32,
                    });
                }
            }
            let llc_total_bytes = caches
                .iter()
                .filter(|c| c.kind != "instruction")
                .max_by_key(|c| c.level)
                .map(|c| c.size_bytes * c.count as u64);
            HostTopology {
                source: format!("hwloc {}", hwloc_version()),
                cpu_model,
                sockets: count(ObjectType::Package),
                cores: count(ObjectType::Core),
                threads: count(ObjectType::PU),
                numa_nodes,
                caches,
                memory_bytes: t.root_object().total_memory(),
                llc_total_bytes,
            }
        }

        fn binding_set(&self) -> CpuSet {
            self.inner
                .cpu_binding(CpuBindingFlags::PROCESS)
                .unwrap_or_else(|_| self.inner.cpuset().clone_target())
        }

        /// The CPUs this process is bound to, as a list (`0-3`).
        pub fn binding(&self) -> Option<String> {
            Some(super::format_cpu_list(
                self.binding_set().iter_set().map(usize::from),
            ))
        }

        /// One CPU set per core this process may run on (the first PU of each core).
        fn bound_cores(&self) -> Vec<CpuSet> {
            let bound = self.binding_set();
            let mut cores: Vec<CpuSet> = self
                .inner
                .objects_with_type(ObjectType::Core)
                .filter_map(|c| c.cpuset())
                .map(|s| {
                    let mut s: CpuSet = s.clone_target() & &bound;
                    s.singlify();
                    s
                })
                .filter(|s| !s.is_empty())
                .collect();
            if cores.is_empty() {
                // Bound to PUs that hwloc places in no core: one worker per PU.
                cores = bound
                    .iter_set()
                    .map(|i| {
                        let mut s = CpuSet::new();
                        s.set(i);
                        s
                    })
                    .collect();
            }
            cores
        }

        /// Number of cores this process may run on.
        pub fn bound_core_count(&self) -> usize {
            self.bound_cores().len().max(1)
        }

        /// Pins the calling thread to the `index`-th core of this process's binding.
        pub fn pin_current_thread(&self, index: usize) -> Result<()> {
            let cores = self.bound_cores();
            if cores.is_empty() {
                return Ok(());
            }
            let set = &cores[index % cores.len()];
            self.inner
                .bind_cpu(set, CpuBindingFlags::THREAD)
                .with_context(|| format!("binding a worker thread to CPU set {set}"))
        }
    }
}

#[cfg(not(feature = "hwloc"))]
mod imp {
    use super::HostTopology;
    use anyhow::Result;

    /// The operating system's view when built without hwloc.
    #[derive(Clone)]
    pub struct Topology;

    fn read(path: &str) -> Option<String> {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }

    impl Topology {
        pub fn load() -> Result<Self> {
            Ok(Topology)
        }

        pub fn host(&self) -> HostTopology {
            let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
            let cpu_model = cpuinfo
                .lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string());
            let threads = cpuinfo
                .lines()
                .filter(|l| l.starts_with("processor"))
                .count() as u32;
            let memory_bytes = read("/proc/meminfo")
                .and_then(|m| {
                    m.lines()
                        .find(|l| l.starts_with("MemTotal:"))
                        .and_then(|l| {
                            l.split_whitespace()
                                .nth(1)
                                .and_then(|kb| kb.parse::<u64>().ok())
                        })
                })
                .map(|kb| kb * 1024)
                .unwrap_or(0);
            // sysfs index3 is the L3 of cpu0 on most x86 and arm64 machines.
            let llc_total_bytes = read("/sys/devices/system/cpu/cpu0/cache/index3/size")
                .and_then(|s| crate::units::parse_size(&s).ok());
            HostTopology {
                source: "procfs (built without hwloc)".into(),
                cpu_model,
                sockets: 0,
                cores: 0,
                threads,
                numa_nodes: Vec::new(),
                caches: Vec::new(),
                memory_bytes,
                llc_total_bytes,
            }
        }

        pub fn binding(&self) -> Option<String> {
            None
        }

        pub fn bound_core_count(&self) -> usize {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }

        pub fn pin_current_thread(&self, _index: usize) -> Result<()> {
            Ok(())
        }
    }
}

pub use imp::Topology;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_collapse_runs() {
        assert_eq!(format_cpu_list([0, 1, 2, 3]), "0-3");
        assert_eq!(format_cpu_list([0, 2, 3, 5]), "0,2-3,5");
        assert_eq!(format_cpu_list([]), "");
        assert_eq!(format_cpu_list([7]), "7");
    }

    #[test]
    fn topology_loads_and_counts_cpus() {
        let t = Topology::load().unwrap();
        let h = t.host();
        assert!(h.threads >= 1);
        assert!(h.memory_bytes > 0);
        assert!(t.bound_core_count() >= 1);
    }
}
