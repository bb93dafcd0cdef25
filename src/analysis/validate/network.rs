//! Network bandwidth per node from a multi-node all-reduce, converted for the
//! algorithm that ran.
//!
//! nccl-tests' PERFORMANCE.md
//! (https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md) defines an
//! all-reduce's bus bandwidth as busbw = algbw x 2(n-1)/n (algbw = S/t): with n links
//! of rate B, an all-reduce needs at least t = (S/B) x 2(n-1)/n, so busbw is the rate
//! of the bottleneck. What that says of the NICs depends on the algorithm:
//!
//! - Ring across k nodes: each ring enters and leaves every node once, and each rank
//!   sends 2(n-1)/n x S over the ring, so summed over the rings a node's NICs send
//!   2(n-1)/n x S in t: per node, one direction, NIC rate = busbw. NCCL's maintainers
//!   advise NCCL_ALGO=Ring to test the network on two nodes (nccl-tests issues 160
//!   and 290).
//! - Tree, NVLS-tree, CollNet (hierarchical): each node's GPUs reduce within the node
//!   and each moves 2(k-1)/k of its 1/g share across nodes, so a node's NICs carry
//!   2(k-1)/k x S in t = busbw x g(k-1)/(n-1) with g = n/k GPUs per node. On few nodes
//!   this traffic does not fill the NICs (NVLink carries the rest: busbw can exceed
//!   the NIC rate, nccl issue 837), so the figure is a lower bound on the NICs' rate.

use crate::results::environment::NcclTuning;
use crate::results::{Params, Record, RunDocument};

/// How a busbw figure was turned into a rate per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conversion {
    /// Ring known to have run: per node = busbw.
    Ring,
    /// Tree-like algorithm known to have run (or ring ruled out): a lower bound.
    Hierarchical,
    /// Algorithm unknown: the figure lies between the two conversions.
    Range,
}

/// One record's figure for a network claim, in GB/s per node.
#[derive(Debug, Clone)]
pub(super) struct NetworkFigure {
    pub conversion: Conversion,
    /// Per node if ring ran (busbw).
    pub ring: f64,
    /// Per node if a hierarchical algorithm ran (busbw x g(k-1)/(n-1)).
    pub hierarchical: f64,
    /// Which conversion was used, and why, in words.
    pub why: String,
}

impl NetworkFigure {
    /// The figure the claim is judged by: the ring figure when ring ran, else the
    /// hierarchical one (the lower end of the range when unknown).
    pub fn judged(&self) -> f64 {
        match self.conversion {
            Conversion::Ring => self.ring,
            Conversion::Hierarchical | Conversion::Range => self.hierarchical,
        }
    }
}

/// What an algorithm name means for the conversion; `None` for one that does not
/// run all-reduce across nodes or is not known here.
fn kind_of(algo: &str) -> Option<Conversion> {
    match algo.trim().to_ascii_lowercase().as_str() {
        "ring" => Some(Conversion::Ring),
        "tree" | "nvlstree" | "nvls_tree" | "nvls" | "collnet" | "collnetdirect"
        | "collnet_direct" | "collnetchain" | "collnet_chain" => Some(Conversion::Hierarchical),
        _ => None,
    }
}

/// The algorithms `NCCL_ALGO` allows all-reduce: a list (`Ring,Tree`), a per-collective
/// form (`allreduce:ring;allgather:...`), or an exclusion (`^NVLS`, not resolved here).
fn allowed_for_allreduce(setting: &str) -> Option<Vec<String>> {
    let mut list: Option<&str> = None;
    for part in setting.split(';') {
        match part.split_once(':') {
            Some((coll, algos)) if coll.trim().eq_ignore_ascii_case("allreduce") => {
                list = Some(algos)
            }
            Some(_) => {}
            None if list.is_none() => list = Some(part),
            None => {}
        }
    }
    let list = list?.trim();
    if list.is_empty() || list.starts_with('^') {
        return None;
    }
    Some(list.split(',').map(|a| a.trim().to_string()).collect())
}

/// The algorithm that ran `r`, and how that is known; `None` when it is not.
fn known_algorithm(r: &Record, tuning: Option<&NcclTuning>) -> Option<(Conversion, String)> {
    let tuning = tuning?;
    let bytes = match &r.params {
        Params::Collective { bytes, .. } => *bytes,
        _ => return None,
    };
    if let Some(choice) = tuning.chosen.iter().find(|c| c.bytes == bytes) {
        if let Some(kind) = kind_of(&choice.algo) {
            return Some((
                kind,
                format!(
                    "NCCL chose {}/{} for this size (the log's tuning lines)",
                    choice.algo, choice.proto
                ),
            ));
        }
    }
    let setting = tuning.algo.as_deref()?;
    let allowed = allowed_for_allreduce(setting)?;
    let kinds: Vec<Option<Conversion>> = allowed.iter().map(|a| kind_of(a)).collect();
    let first = *kinds.first()?;
    let kind = first.filter(|k| kinds.iter().all(|o| *o == Some(*k)))?;
    let proto = tuning
        .proto
        .as_deref()
        .map(|p| format!(", NCCL_PROTO={p}"))
        .unwrap_or_default();
    Some((
        kind,
        format!("NCCL_ALGO={setting}{proto} ({})", tuning.source),
    ))
}

/// The NCCL settings recorded for the run, from its first host that has any.
fn tuning_of(doc: &RunDocument) -> Option<&NcclTuning> {
    doc.environment
        .hosts
        .iter()
        .find_map(|h| h.nccl_tuning.as_ref())
}

/// Converts one multi-node all-reduce record's busbw into a rate per node for
/// a network claim whose line rate is `line_rate` GB/s (`claimed` as the claim states it), saying which conversion and why.
pub(super) fn convert(
    r: &Record,
    busbw: f64,
    doc: &RunDocument,
    line_rate: f64,
    claimed: &str,
) -> NetworkFigure {
    let (k, n) = (r.nodes as f64, r.ranks as f64);
    // The run's own GPUs per node: a run on fewer GPUs than the instance has moves
    // less through each node's NICs.
    let g = n / k;
    let ring = busbw;
    let hierarchical = busbw * (k - 1.0) / (n - 1.0) * g;
    let formulas = format!(
        "ring: busbw = {ring:.1} GB/s per node; tree/hierarchical: busbw x (k-1)/(n-1) x g = {busbw:.1} x {}/{} x {g:.0} = {hierarchical:.1} GB/s",
        r.nodes - 1,
        r.ranks - 1
    );
    match known_algorithm(r, tuning_of(doc)) {
        Some((Conversion::Ring, how)) => NetworkFigure {
            conversion: Conversion::Ring,
            ring,
            hierarchical,
            why: format!("ring conversion (per node = busbw), because {how}"),
        },
        Some((_, how)) => NetworkFigure {
            conversion: Conversion::Hierarchical,
            ring,
            hierarchical,
            why: format!(
                "tree/hierarchical conversion (busbw x (k-1)/(n-1) x g), because {how}; on few nodes this traffic does not fill the NICs, so it is a lower bound and warns at most ({formulas})"
            ),
        },
        None if line_rate > 0.0 && ring > line_rate => NetworkFigure {
            conversion: Conversion::Hierarchical,
            ring,
            hierarchical,
            why: format!(
                "algorithm not recorded; ring would put {ring:.1} GB/s through each node's NICs, above their {line_rate:.1} GB/s ({claimed}), so this run was not ring: tree/hierarchical conversion, a lower bound that warns at most ({formulas}); set NCCL_ALGO=Ring to test the NICs"
            ),
        },
        None => NetworkFigure {
            conversion: Conversion::Range,
            ring,
            hierarchical,
            why: format!(
                "algorithm not recorded (no NCCL_ALGO, no tuning lines): the rate lies between the two conversions, judged by the lower and warning at most ({formulas}); set NCCL_ALGO=Ring, or import a log made with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=ENV,TUNING"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nccl_algo_settings_are_read_for_allreduce() {
        assert_eq!(allowed_for_allreduce("Ring").unwrap(), ["Ring"]);
        assert_eq!(
            allowed_for_allreduce("ring,tree").unwrap(),
            ["ring", "tree"]
        );
        assert_eq!(
            allowed_for_allreduce("allgather:tree;allreduce:ring").unwrap(),
            ["ring"]
        );
        assert!(allowed_for_allreduce("^NVLS").is_none());
        assert_eq!(kind_of("NVLSTree"), Some(Conversion::Hierarchical));
        assert_eq!(kind_of("RING"), Some(Conversion::Ring));
        assert_eq!(kind_of("PAT"), None);
    }
}
