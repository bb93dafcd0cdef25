//! The verdicts: what each step's results say about each node, and the acceptance
//! document that holds them with the results behind them.

use crate::analysis::validate::{ClaimResult, Outcome};
use crate::results::links::RobustStat;
use crate::results::{Environment, Record, RunDocument};
use serde::Serialize;

/// What to do with a node, mildest first: the cluster's is its worst node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Everything in line with its peers and its claims.
    Pass,
    /// Usable, but below expectation: watch it.
    Monitor,
    /// Reboot or re-provision: its hardware or software is not what its peers have.
    Reset,
    /// Take it out: a failed check, a crash, a hang, or far below its peers.
    Isolate,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Monitor => "monitor",
            Action::Reset => "reset",
            Action::Isolate => "isolate",
        }
    }

    /// Whether the node must come out of service (drained).
    pub fn takes_out(self) -> bool {
        self >= Action::Reset
    }
}

/// One reason for a node's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The step that found it (`environment`, `compute`, ...).
    pub step: String,
    pub action: Action,
    pub why: String,
    /// The evidence: JSON pointers into the acceptance document.
    pub records: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeVerdict {
    pub host: String,
    pub ranks: Vec<u32>,
    pub action: Action,
    pub reasons: Vec<Reason>,
}

impl NodeVerdict {
    pub fn new(host: &str, ranks: Vec<u32>) -> Self {
        NodeVerdict {
            host: host.to_string(),
            ranks,
            action: Action::Pass,
            reasons: Vec::new(),
        }
    }

    pub fn add(&mut self, reason: Reason) {
        self.action = self.action.max(reason.action);
        self.reasons.push(reason);
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Completed,
    /// Measured, and some check failed.
    CheckFailed,
    /// Not run here (why in the note).
    Skipped,
    /// Under way when the job ended.
    Interrupted,
    NotReached,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    /// Short name (`intra_node_allreduce`).
    pub name: String,
    pub title: String,
    pub status: StepStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The results documents of the step: one per node for the per-node steps.
    pub documents: Vec<RunDocument>,
}

/// The acceptance document: the one results file of `accept`.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptDocument {
    /// Always `clusterbench-accept`.
    pub kind: String,
    pub version: u32,
    pub accept_id: String,
    pub tool_version: String,
    pub command_line: Vec<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Whether every step ran (false: the job ended early; the verdicts say why).
    pub complete: bool,
    pub quick: bool,
    /// The claims files judged against.
    pub claims_files: Vec<String>,
    /// The cluster's verdict: its worst node's, or worse when a step that cannot name
    /// a node failed.
    pub cluster: Action,
    pub cluster_reasons: Vec<Reason>,
    pub nodes: Vec<NodeVerdict>,
    /// The hosts to take out (isolate or reset).
    pub drain: Vec<String>,
    /// A command to drain them under Slurm, to copy: never run.
    pub drain_command: Option<String>,
    pub environment: Option<Environment>,
    pub steps: Vec<StepResult>,
    pub claims: Vec<ClaimResult>,
    pub notes: Vec<String>,
}

impl AcceptDocument {
    /// Recomputes the cluster verdict and the drain list from the nodes.
    pub fn conclude(&mut self) {
        let worst_node = self.nodes.iter().map(|n| n.action).max();
        let worst_cluster = self.cluster_reasons.iter().map(|r| r.action).max();
        self.cluster = worst_node
            .into_iter()
            .chain(worst_cluster)
            .max()
            .unwrap_or(Action::Pass);
        self.drain = self
            .nodes
            .iter()
            .filter(|n| n.action.takes_out())
            .map(|n| n.host.clone())
            .collect();
        self.drain_command = drain_command(&self.nodes);
    }
}

/// `scontrol update nodename=a,b state=drain reason="..."` for the nodes to take out.
pub fn drain_command(nodes: &[NodeVerdict]) -> Option<String> {
    let out: Vec<&NodeVerdict> = nodes.iter().filter(|n| n.action.takes_out()).collect();
    if out.is_empty() {
        return None;
    }
    let hosts: Vec<&str> = out.iter().map(|n| n.host.as_str()).collect();
    let mut reasons: Vec<String> = Vec::new();
    for n in &out {
        for r in n.reasons.iter().filter(|r| r.action == n.action) {
            let short = format!("{} {}", r.step, n.action.name());
            if !reasons.contains(&short) {
                reasons.push(short);
            }
        }
    }
    let reason =
        format!("clusterbench accept: {}", reasons.join("; ")).replace(['"', '\\', '\n'], " ");
    Some(format!(
        "scontrol update nodename={} state=drain reason=\"{reason}\"",
        hosts.join(",")
    ))
}

/// One node's results of a per-node step, with the pointer to its document.
pub struct NodeDoc<'a> {
    pub node: usize,
    pub doc: &'a RunDocument,
    pub pointer: String,
}

/// A record's label for reasons: `membw triad 64 MiB`.
fn label(r: &Record) -> String {
    crate::results::describe::describe(&r.benchmark, &r.params)
}

/// Failed checks in a node's own results: isolate.
pub fn failed_checks(step: &str, docs: &[NodeDoc], nodes: &mut [NodeVerdict]) {
    for d in docs {
        let failed: Vec<(usize, &Record)> = d
            .doc
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.check.passed)
            .collect();
        if failed.is_empty() {
            continue;
        }
        let names: Vec<String> = failed
            .iter()
            .map(|(_, r)| format!("{} ({} wrong)", label(r), r.check.wrong))
            .collect();
        nodes[d.node].add(Reason {
            step: step.into(),
            action: Action::Isolate,
            why: format!("failed its check: {}", names.join(", ")),
            records: failed
                .iter()
                .map(|(i, _)| format!("{}/records/{i}", d.pointer))
                .collect(),
        });
    }
}

/// Compares the nodes' own times, measurement by measurement (the same plan ran on
/// each, so the records line up), with the robust flag line of the link matrix and the
/// per-node summaries (median and scaled MAD, at least 20% off). A node far slower in
/// most of the measurements is isolated; in a few, noted. With fewer than three
/// nodes there is no majority to say which one is slow.
pub fn slow_nodes(step: &str, docs: &[NodeDoc], nodes: &mut [NodeVerdict]) {
    if docs.len() < 3 {
        return;
    }
    let count = docs.iter().map(|d| d.doc.records.len()).min().unwrap_or(0);
    // For each node: the measurements it was flagged in, with what was seen.
    let mut flagged: Vec<Vec<(usize, String)>> = vec![Vec::new(); docs.len()];
    let mut compared = 0;
    for i in 0..count {
        let first = &docs[0].doc.records[i];
        let same = docs.iter().all(|d| {
            d.doc.records[i].benchmark == first.benchmark && d.doc.records[i].check.passed
        });
        if !same {
            continue;
        }
        compared += 1;
        let times: Vec<f64> = docs
            .iter()
            .map(|d| d.doc.records[i].time_s.median)
            .collect();
        let stat = RobustStat::of(&times, false);
        let engines: Vec<Option<&str>> = docs.iter().map(|d| engine(&d.doc.records[i])).collect();
        let majority = majority_engine(&engines);
        for (k, t) in times.iter().enumerate() {
            if *t > stat.threshold {
                flagged[k].push((
                    i,
                    format!(
                        "{} {} against the nodes' median {} ({:.2}x){}",
                        label(first),
                        crate::units::format_seconds(*t),
                        crate::units::format_seconds(stat.median),
                        t / stat.median,
                        engine_note(engines[k], majority)
                    ),
                ));
            }
        }
    }
    for (k, f) in flagged.iter().enumerate() {
        if f.is_empty() {
            continue;
        }
        // A node slow in a few measurements only is noise on a shared machine, or a
        // passing neighbour: said, not held against it.
        let most = 2 * f.len() > compared;
        nodes[docs[k].node].add(Reason {
            step: step.into(),
            action: if most { Action::Isolate } else { Action::Pass },
            why: format!(
                "far slower than its peers in {} of {compared} measurements{}: {}",
                f.len(),
                if most {
                    ""
                } else {
                    " (a minority: not held against it)"
                },
                f.iter()
                    .map(|(_, s)| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            records: f
                .iter()
                .map(|(i, _)| format!("{}/records/{i}", docs[k].pointer))
                .collect(),
        });
    }
}

/// The engine that computed a matmul record (`params.engine`), where it names one.
fn engine(r: &Record) -> Option<&str> {
    match &r.params {
        crate::results::Params::Matmul { engine, .. } => engine.as_deref(),
        _ => None,
    }
}

/// The engine more than half of the nodes used for a measurement, if one did.
fn majority_engine<'a>(engines: &[Option<&'a str>]) -> Option<&'a str> {
    let mut counts = std::collections::HashMap::new();
    for e in engines.iter().flatten() {
        *counts.entry(*e).or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .find(|&(_, n)| 2 * n > engines.len())
        .map(|(e, _)| e)
}

/// What a node that computed with `mine` is told when most nodes used `majority`: a
/// node without the others' library (OpenBLAS on the CPU) computes with another
/// engine, which is a difference of software, not of hardware.
fn engine_note(mine: Option<&str>, majority: Option<&str>) -> String {
    match (mine, majority) {
        (Some(mine), Some(theirs)) if theirs != mine => {
            format!(", computed by {mine} where most nodes used {theirs}")
        }
        _ => String::new(),
    }
}

/// [`engine_note`] for node `k` of a measurement.
#[cfg(test)]
fn other_engine(engines: &[Option<&str>], k: usize) -> String {
    engine_note(engines[k], majority_engine(engines))
}

/// The link matrix's flags: a node slow in bandwidth or latency is isolated; a pair
/// slow in bandwidth between two unflagged nodes puts both under watch.
pub fn link_flags(step: &str, doc: &RunDocument, pointer: &str, nodes: &mut [NodeVerdict]) {
    let Some(m) = &doc.links else {
        return;
    };
    let hosts: Vec<String> = nodes.iter().map(|n| n.host.clone()).collect();
    let index = |host: &str| hosts.iter().position(|h| h == host);
    let mut isolated: Vec<&str> = Vec::new();
    for (i, n) in m.nodes.iter().enumerate() {
        if !(n.slow_bandwidth || n.slow_latency) {
            continue;
        }
        let what = match (n.slow_bandwidth, n.slow_latency) {
            (true, true) => "bandwidth and latency",
            (true, false) => "bandwidth",
            _ => "latency",
        };
        if let Some(k) = index(&n.host) {
            isolated.push(&n.host);
            nodes[k].add(Reason {
                step: step.into(),
                action: Action::Isolate,
                why: format!("its links are far below the other nodes' in {what}"),
                records: vec![format!("{pointer}/links/nodes/{i}")],
            });
        }
    }
    // A pair's latency alone flags first-round noise too often to act on.
    for (i, p) in m.pairs.iter().enumerate() {
        if !p.slow_bandwidth {
            continue;
        }
        if isolated.contains(&p.host_a.as_str()) || isolated.contains(&p.host_b.as_str()) {
            continue;
        }
        for host in [&p.host_a, &p.host_b] {
            if let Some(k) = index(host) {
                nodes[k].add(Reason {
                    step: step.into(),
                    action: Action::Monitor,
                    why: format!("the link {} - {} is flagged slow", p.host_a, p.host_b),
                    records: vec![format!("{pointer}/links/pairs/{i}")],
                });
            }
        }
    }
}

/// Claims a node's own results fall short of: monitor, with what was measured, unless
/// the node is already worse off (then it is below its peers too, and said so).
pub fn claims_for_node(node: &mut NodeVerdict, results: &[ClaimResult], first_index: usize) {
    for (i, c) in results.iter().enumerate() {
        if c.outcome != Outcome::Fail {
            continue;
        }
        let measured = c
            .measured
            .map(|m| format!("{m:.3} {}", c.unit))
            .unwrap_or_else(|| "nothing".into());
        let fraction = c
            .achievable
            .map(|a| format!(" (achievable: {:.0}% of it)", a * 100.0))
            .unwrap_or_default();
        let peers = if node.action <= Action::Monitor {
            ", in line with its peers"
        } else {
            ""
        };
        node.add(Reason {
            step: "claims".into(),
            action: Action::Monitor,
            why: format!(
                "below the claim {} ({} {} {}{fraction}): measured {measured}{peers}",
                c.id, c.what, c.claimed, c.unit
            ),
            records: vec![format!("/claims/{}", first_index + i)],
        });
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
