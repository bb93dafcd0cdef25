//! Cost models of all-reduce (ring, tree, hierarchical) on a described cluster, to
//! extrapolate to rank counts no one can rent.

use crate::error::UsageError;
use serde::{Deserialize, Serialize};

/// One kind of link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Per-message latency, microseconds.
    pub latency_us: f64,
    /// One-direction bandwidth per rank, GB/s (1e9 bytes).
    pub bandwidth_gbps: f64,
}

impl Link {
    fn alpha(&self) -> f64 {
        self.latency_us * 1e-6
    }
    fn beta(&self) -> f64 {
        self.bandwidth_gbps * 1e9
    }
}

/// A cluster described for the cost models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Ranks (GPUs) per node.
    pub gpus_per_node: u32,
    /// Between ranks of one node (NVLink, shared memory).
    pub intra: Link,
    /// Between nodes (one NIC's share per rank).
    pub inter: Link,
    /// Switch tiers a message between two nodes may cross (1 = one leaf switch;
    /// a three-tier fat tree is 3). Each tier beyond the first adds two switch hops.
    #[serde(default = "one")]
    pub switch_tiers: u32,
    /// Latency of one switch hop, microseconds.
    #[serde(default)]
    pub switch_latency_us: f64,
}

fn one() -> u32 {
    1
}

impl Topology {
    pub fn validate(&self) -> Result<(), UsageError> {
        let ok = |l: &Link| {
            l.latency_us.is_finite()
                && l.latency_us >= 0.0
                && l.bandwidth_gbps.is_finite()
                && l.bandwidth_gbps > 0.0
        };
        if self.gpus_per_node == 0 {
            return Err(UsageError::new(
                "topology: gpus_per_node must be at least 1",
            ));
        }
        if !ok(&self.intra) || !ok(&self.inter) {
            return Err(UsageError::new(
                "topology: link latency must be >= 0 and bandwidth > 0 (microseconds, GB/s)",
            ));
        }
        let tiers_ok = (1..=16).contains(&self.switch_tiers);
        if !(tiers_ok && self.switch_latency_us.is_finite() && self.switch_latency_us >= 0.0) {
            return Err(UsageError::new(
                "topology: switch_tiers must be between 1 and 16 and switch_latency_us >= 0",
            ));
        }
        Ok(())
    }

    /// The inter-node link with the switch hops of the worst-case path added.
    fn inter_path(&self) -> Link {
        Link {
            latency_us: self.inter.latency_us
                + self.switch_latency_us * (2 * self.switch_tiers - 1) as f64,
            bandwidth_gbps: self.inter.bandwidth_gbps,
        }
    }
}

/// All-reduce of `bytes` over `n` ranks on one kind of link, ring algorithm:
/// reduce-scatter then all-gather, 2(n-1) steps of bytes/n each.
pub fn ring_allreduce(n: u64, bytes: f64, link: &Link) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let n = n as f64;
    2.0 * (n - 1.0) * link.alpha() + 2.0 * (n - 1.0) / n * bytes / link.beta()
}

/// All-reduce as a pipelined (double) binary tree: reduce up and broadcast down,
/// 2 log2(n) latency steps, each rank sending the whole buffer twice.
pub fn tree_allreduce(n: u64, bytes: f64, link: &Link) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    2.0 * (n as f64).log2().ceil() * link.alpha() + 2.0 * bytes / link.beta()
}

/// Predicted all-reduce times on a topology.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub bytes: u64,
    pub ring_s: f64,
    pub tree_s: f64,
    /// Intra-node reduce-scatter, inter-node ring all-reduce of 1/g of the data,
    /// intra-node all-gather.
    pub hierarchical_s: f64,
    pub best: &'static str,
    /// nccl-tests bus bandwidth of the best algorithm, GB/s.
    pub best_busbw_gbps: f64,
}

/// Predicts all-reduce of `bytes` on `ranks` ranks of `topo`.
pub fn predict_allreduce(topo: &Topology, ranks: u64, bytes: u64) -> Prediction {
    let g = (topo.gpus_per_node as u64).min(ranks).max(1);
    let nodes = ranks.div_ceil(g);
    let s = bytes as f64;
    let inter = topo.inter_path();
    // Flat algorithms run at the pace of their slowest link.
    let flat = if nodes > 1 { inter } else { topo.intra };
    let ring_s = ring_allreduce(ranks, s, &flat);
    let tree_s = tree_allreduce(ranks, s, &flat);
    let gf = g as f64;
    let hierarchical_s = if g > 1 {
        let rs = (gf - 1.0) * topo.intra.alpha() + (gf - 1.0) / gf * s / topo.intra.beta();
        // g rails: each rank exchanges its 1/g shard with its peers on other nodes.
        2.0 * rs + ring_allreduce(nodes, s / gf, &inter)
    } else {
        ring_allreduce(nodes, s, &inter)
    };
    let (best, t) = [
        ("ring", ring_s),
        ("tree", tree_s),
        ("hierarchical", hierarchical_s),
    ]
    .into_iter()
    .fold(
        ("ring", f64::INFINITY),
        |a, b| if b.1 < a.1 { b } else { a },
    );
    let n = ranks as f64;
    Prediction {
        bytes,
        ring_s,
        tree_s,
        hierarchical_s,
        best,
        best_busbw_gbps: if t > 0.0 {
            s / t / 1e9 * 2.0 * (n - 1.0) / n
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        Topology {
            gpus_per_node: 8,
            intra: Link {
                latency_us: 3.0,
                bandwidth_gbps: 150.0,
            },
            inter: Link {
                latency_us: 15.0,
                bandwidth_gbps: 12.5,
            },
            switch_tiers: 2,
            switch_latency_us: 1.0,
        }
    }

    #[test]
    fn ring_matches_the_textbook_formula() {
        let l = Link {
            latency_us: 10.0,
            bandwidth_gbps: 1.0,
        };
        // 4 ranks, 1 GB: 6 alpha + 1.5 s.
        let t = ring_allreduce(4, 1e9, &l);
        assert!((t - (6.0 * 10e-6 + 1.5)).abs() < 1e-12);
        assert_eq!(ring_allreduce(1, 1e9, &l), 0.0);
    }

    #[test]
    fn tree_wins_small_messages_and_ring_or_hierarchical_wins_large_at_scale() {
        let t = topo();
        let small = predict_allreduce(&t, 4096, 8);
        assert_eq!(small.best, "tree", "{small:?}");
        let large = predict_allreduce(&t, 4096, 1 << 30);
        assert_eq!(large.best, "hierarchical", "{large:?}");
        // Within one node the hierarchy has nothing to add.
        let one = predict_allreduce(&t, 8, 1 << 30);
        assert!(
            (one.hierarchical_s - one.ring_s).abs() / one.ring_s < 0.01,
            "{one:?}"
        );
    }

    #[test]
    fn bad_topologies_are_rejected() {
        let mut t = topo();
        t.gpus_per_node = 0;
        assert!(t.validate().is_err());
        let mut t = topo();
        t.inter.bandwidth_gbps = 0.0;
        assert!(t.validate().is_err());
        let mut t = topo();
        t.switch_tiers = u32::MAX;
        assert!(t.validate().is_err());
        assert!(topo().validate().is_ok());
    }
}
