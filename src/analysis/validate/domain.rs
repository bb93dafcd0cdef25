//! Whether a multi-node all-reduce stayed inside one NVLink domain.
//!
//! On GB200/GB300 NVL72 systems (EC2 P6e UltraServers among them) up to 72 GPUs
//! across 18 instances share one NVLink domain: an all-reduce among them never
//! touches the network, so it tests the NVLink claims, not the network ones. Only one
//! that crosses domains says anything about the NICs. A run says where its GPUs sit
//! either by the user's `--nvlink-domain-size` (consecutive GPU ranks share a domain)
//! or by each GPU's fabric cluster and clique as the driver reported them.

use crate::results::environment::NvlinkDomain;
use crate::results::{Record, RunDocument};

/// Where a record's GPUs sat, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Placement {
    /// All in one NVLink domain: the record tests NVLink, whatever its node count.
    OneDomain(String),
    /// Spread over several domains: part of the traffic crossed the network.
    Crossing(String),
    /// Nothing recorded says (or the record used some GPUs of a run that spans domains).
    Unknown,
}

/// Where the GPUs of `r` sat.
pub(super) fn placement(r: &Record, doc: &RunDocument) -> Placement {
    if let Some(size) = doc.environment.nvlink_domain_size.filter(|&s| s > 0) {
        return by_size(r.ranks, size);
    }
    by_fabric(r, doc)
}

/// Consecutive GPU ranks, `size` to a domain, the record's ranks from rank 0.
fn by_size(ranks: u32, size: u32) -> Placement {
    let domains = ranks.div_ceil(size);
    if domains <= 1 {
        Placement::OneDomain(format!(
            "its {ranks} GPU ranks fit in one NVLink domain of {size} GPUs (--nvlink-domain-size {size}: consecutive ranks share a domain)"
        ))
    } else {
        Placement::Crossing(format!(
            "its {ranks} GPU ranks span {domains} NVLink domains of {size} GPUs (--nvlink-domain-size {size}: consecutive ranks share a domain)"
        ))
    }
}

/// The GPUs the run's ranks drove, each with its recorded domain (`None` when the
/// GPU has none); every GPU of every host when the ranks name none.
fn run_gpus(doc: &RunDocument) -> Vec<Option<&NvlinkDomain>> {
    let env = &doc.environment;
    let gpu_of = |host: &str, index: u32| {
        env.hosts
            .iter()
            .find(|h| h.hostname == host)
            .and_then(|h| h.gpus.iter().find(|g| g.index == index))
            .map(|g| g.nvlink_domain.as_ref())
    };
    let named: Vec<Option<&NvlinkDomain>> = env
        .ranks
        .iter()
        .flat_map(|rank| {
            let indices: Vec<u32> = if rank.gpus.is_empty() {
                rank.gpu.iter().map(|g| g.index).collect()
            } else {
                rank.gpus.iter().map(|g| g.index).collect()
            };
            indices
                .into_iter()
                .map(|i| gpu_of(&rank.host, i).flatten())
                .collect::<Vec<_>>()
        })
        .collect();
    if !named.is_empty() {
        return named;
    }
    env.hosts
        .iter()
        .flat_map(|h| h.gpus.iter().map(|g| g.nvlink_domain.as_ref()))
        .collect()
}

fn by_fabric(r: &Record, doc: &RunDocument) -> Placement {
    let gpus = run_gpus(doc);
    if gpus.is_empty() || gpus.iter().any(Option::is_none) {
        return Placement::Unknown;
    }
    let mut domains: Vec<&NvlinkDomain> = Vec::new();
    for d in gpus.iter().flatten() {
        if !domains
            .iter()
            .any(|o| o.cluster_uuid == d.cluster_uuid && o.clique_id == d.clique_id)
        {
            domains.push(d);
        }
    }
    match domains.as_slice() {
        [one] => Placement::OneDomain(format!(
            "all {} GPUs of the run report one NVLink domain (cluster {}, clique {}; {})",
            gpus.len(),
            one.cluster_uuid,
            one.clique_id,
            one.source
        )),
        // A record on fewer GPUs than the run may have kept to one of the domains.
        _ if (r.ranks as usize) < gpus.len() => Placement::Unknown,
        many => Placement::Crossing(format!(
            "the run's {} GPUs report {} NVLink domains ({})",
            gpus.len(),
            many.len(),
            many.iter()
                .map(|d| format!("cluster {} clique {}", d.cluster_uuid, d.clique_id))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::environment::{GpuInfo, RankGpu, RankInfo};

    /// AWS's 2 x p5 reference (16 GPU ranks on 2 nodes) with two hosts of 8 GPUs,
    /// host h's GPUs in clique `cliques[h]` (`None`: no fabric recorded).
    fn two_hosts(cliques: [Option<u32>; 2]) -> (Record, RunDocument) {
        let ctx = crate::import::ImportContext {
            source_name: "t".into(),
            ranks: Some(16),
            nodes: Some(2),
            collective: Some("all_reduce".into()),
            ..Default::default()
        };
        let log = include_str!(
            "../../../tests/fixtures/nccl-tests-all_reduce_perf-aws-2x-p5-reference.log"
        );
        let mut doc = crate::import::import(log, crate::import::Format::NcclTests, &ctx).unwrap();
        let template = doc.environment.hosts[0].clone();
        doc.environment.hosts = (0..2)
            .map(|h| {
                let mut host = template.clone();
                host.hostname = format!("node{h}");
                host.gpus = (0..8)
                    .map(|i| {
                        let mut g: GpuInfo = serde_json::from_value(serde_json::json!({
                            "index": i, "name": "NVIDIA GB200", "compute_capability": "10.0",
                            "sm_count": 148, "memory_bytes": 0}))
                        .unwrap();
                        g.nvlink_domain = cliques[h].map(|clique_id| NvlinkDomain {
                            cluster_uuid: "1f2e3d4c-5b6a-7988-97a6-b5c4d3e2f100".into(),
                            clique_id,
                            source: "nvml".into(),
                        });
                        g
                    })
                    .collect();
                host
            })
            .collect();
        let record = doc.records[0].clone();
        assert_eq!((record.ranks, record.nodes), (16, 2));
        (record, doc)
    }

    #[test]
    fn gpus_of_one_clique_are_one_domain_across_hosts() {
        let (r, doc) = two_hosts([Some(7), Some(7)]);
        match placement(&r, &doc) {
            Placement::OneDomain(why) => {
                assert!(
                    why.contains("all 16 GPUs") && why.contains("clique 7"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        let (r, doc) = two_hosts([Some(7), Some(8)]);
        match placement(&r, &doc) {
            Placement::Crossing(why) => assert!(why.contains("2 NVLink domains"), "{why}"),
            other => panic!("{other:?}"),
        }
        let (r, doc) = two_hosts([Some(7), None]);
        assert_eq!(placement(&r, &doc), Placement::Unknown);
    }

    #[test]
    fn the_ranks_own_gpus_decide_and_a_stated_size_overrides_the_fabric() {
        // Each rank names its GPU: only those count, here GPU 0 of each host.
        let (r, mut doc) = two_hosts([Some(7), Some(8)]);
        doc.environment.hosts[1].gpus[0].nvlink_domain =
            doc.environment.hosts[0].gpus[0].nvlink_domain.clone();
        doc.environment.ranks = (0..2)
            .map(|h| RankInfo {
                rank: h,
                host: format!("node{h}"),
                cpu_binding: None,
                cores: 1,
                pid: 1,
                gpu: Some(RankGpu {
                    index: 0,
                    pci_bus_id: None,
                }),
                gpus: Vec::new(),
            })
            .collect();
        assert!(matches!(placement(&r, &doc), Placement::OneDomain(_)));
        doc.environment.nvlink_domain_size = Some(8);
        assert!(matches!(placement(&r, &doc), Placement::Crossing(_)));
    }

    #[test]
    fn consecutive_ranks_group_by_the_stated_size() {
        assert!(matches!(by_size(8, 72), Placement::OneDomain(_)));
        assert!(matches!(by_size(72, 72), Placement::OneDomain(_)));
        match by_size(73, 72) {
            Placement::Crossing(why) => assert!(why.contains("span 2 NVLink domains"), "{why}"),
            other => panic!("{other:?}"),
        }
        match by_size(8, 4) {
            Placement::Crossing(why) => assert!(why.contains("span 2 NVLink domains"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
