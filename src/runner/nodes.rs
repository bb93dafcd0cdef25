//! Per-node summaries of a measurement taken on several nodes: each rank's own median
//! time, gathered on rank 0 and grouped by host, so that a node with slow memory, a slow
//! GPU or a throttled CPU stands out in results that otherwise report the slowest rank.

use crate::core::Communicator;
use crate::results::links::RobustStat;
use crate::results::{NodeTime, Params};
use crate::stats::median;
use anyhow::{anyhow, Result};

/// Whether the ranks of `params` work independently, each on its own memory or GPU,
/// so that a node's own time says something about that node alone.
pub fn independent(params: &Params) -> bool {
    matches!(
        params,
        Params::Stream { .. } | Params::Matmul { .. } | Params::Copy { .. }
    )
}

/// Every node's ranks and the median of its slowest rank's own times (`own_samples`
/// are this rank's per-iteration times). Collective: every rank calls it. On rank 0
/// the list in the order the hosts first appear; elsewhere empty.
pub fn per_node(
    comm: &dyn Communicator,
    hosts: &[String],
    own_samples: &[f64],
    params: &Params,
) -> Result<Vec<NodeTime>> {
    let own = median(own_samples).unwrap_or(f64::NAN);
    let gathered = comm.gather_bytes(&own.to_le_bytes())?;
    if gathered.is_empty() {
        return Ok(Vec::new());
    }
    let mut nodes: Vec<NodeTime> = Vec::new();
    for (rank, bytes) in gathered.iter().enumerate() {
        let t = f64::from_le_bytes(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| anyhow!("per-node times: rank {rank} sent {} bytes", bytes.len()))?,
        );
        let host = hosts.get(rank).cloned().unwrap_or_default();
        match nodes.iter_mut().find(|n| n.host == host) {
            Some(n) => {
                n.ranks.push(rank as u32);
                n.median_s = n.median_s.max(t);
            }
            None => nodes.push(NodeTime {
                host,
                ranks: vec![rank as u32],
                median_s: t,
                slow: false,
            }),
        }
    }
    if independent(params) {
        flag_slow(&mut nodes);
    }
    Ok(nodes)
}

/// Marks the nodes whose time is far above the others' (median and scaled MAD, as the
/// link matrix flags its nodes).
fn flag_slow(nodes: &mut [NodeTime]) {
    if nodes.len() < 3 {
        // With two nodes there is no majority to say which one is slow.
        return;
    }
    let times: Vec<f64> = nodes.iter().map(|n| n.median_s).collect();
    let stat = RobustStat::of(&times, false);
    for n in nodes.iter_mut() {
        n.slow = n.median_s > stat.threshold;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(host: &str, t: f64) -> NodeTime {
        NodeTime {
            host: host.into(),
            ranks: vec![0],
            median_s: t,
            slow: false,
        }
    }

    #[test]
    fn one_node_far_slower_is_flagged_and_noise_is_not() {
        let mut nodes: Vec<NodeTime> = [1.00, 1.03, 0.98, 1.45, 1.01]
            .iter()
            .enumerate()
            .map(|(i, t)| node(&format!("n{i}"), *t))
            .collect();
        flag_slow(&mut nodes);
        let slow: Vec<&str> = nodes
            .iter()
            .filter(|n| n.slow)
            .map(|n| n.host.as_str())
            .collect();
        assert_eq!(slow, ["n3"]);

        let mut even: Vec<NodeTime> = [1.00, 1.05, 0.97, 1.10]
            .iter()
            .enumerate()
            .map(|(i, t)| node(&format!("n{i}"), *t))
            .collect();
        flag_slow(&mut even);
        assert!(even.iter().all(|n| !n.slow));
    }

    #[test]
    fn two_nodes_are_never_flagged() {
        let mut nodes = vec![node("a", 1.0), node("b", 3.0)];
        flag_slow(&mut nodes);
        assert!(nodes.iter().all(|n| !n.slow));
    }
}
