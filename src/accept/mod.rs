//! `clusterbench accept`: the acceptance sequence, an orchestration of `run`, `links`
//! and `validate` (through `session` and `analysis::validate`), ending in a verdict per
//! node with the records behind it.
//!
//! 1. environment: every node alike and as the claims expect;
//! 2. compute: memory bandwidth and matmul on every node at once (a run per node);
//! 3. the all-reduce within each node (the world split per host);
//! 4. the network-only all-reduce, between one rank per node (NCCL: P2P and SHM off);
//! 5. the full all-reduce sweep;
//! 6. the links matrix, between one rank per node;
//! 7. the claims, node by node where the results are a node's own.

pub mod environment;
mod liveness;
pub mod plan;
pub mod report;
mod steps;
pub mod verdict;

use crate::core::Communicator;
use liveness::Loss;
use std::path::PathBuf;
use std::sync::Mutex;
use verdict::{AcceptDocument, Action, Reason, StepStatus};

pub use plan::Plan;

/// Some node must be isolated or reset: exit 1. Every rank returns it; the verdict
/// was already printed by rank 0.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NodesToTakeOut(pub String);

/// Rank 0's acceptance document and where it goes: written after every step, and by
/// the liveness watch when a rank is lost, so that a job that dies leaves its verdict.
struct Recorder {
    doc: Mutex<AcceptDocument>,
    json: PathBuf,
    html: PathBuf,
    rank_hosts: Vec<String>,
}

impl Recorder {
    /// Writes the document, and with `html` the report (built from every step's
    /// results: written at the end only).
    fn write(&self, doc: &AcceptDocument, html: bool) -> anyhow::Result<()> {
        use anyhow::Context;
        let text = serde_json::to_string_pretty(doc)?;
        let tmp = self.json.with_extension("json.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.json)
            .with_context(|| format!("writing {}", self.json.display()))?;
        if !html {
            return Ok(());
        }
        let page = report::html(doc, &self.json)?;
        std::fs::write(&self.html, page).with_context(|| format!("writing {}", self.html.display()))
    }

    fn update(&self, html: bool, f: impl FnOnce(&mut AcceptDocument)) -> anyhow::Result<()> {
        let mut doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut doc);
        doc.conclude();
        self.write(&doc, html)
    }

    /// A rank was lost: its node is isolated, the step under way is marked, the
    /// verdict written and printed, and the job ended (the launcher ends the others).
    fn lose(&self, loss: Loss) -> ! {
        let (rank, why) = match loss {
            Loss::Ended { rank } => (rank, "ended unexpectedly (a crash, a kill, or an error on that rank)".to_string()),
            Loss::Silent { rank, seconds } => (rank, format!("stopped answering for {seconds:.0} s (a hang: the process stopped, or its node froze)")),
        };
        let host = self.rank_hosts.get(rank).cloned().unwrap_or_default();
        let mut doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
        let step = doc
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Interrupted)
            .map_or_else(|| "accept".to_string(), |s| s.name.clone());
        if let Some(n) = doc.nodes.iter_mut().find(|n| n.host == host) {
            n.add(Reason {
                step: step.clone(),
                action: Action::Isolate,
                why: format!("rank {rank} {why} during step {step}"),
                records: vec![format!("/environment/ranks/{rank}")],
            });
        }
        doc.complete = false;
        doc.finished_at = Some(now());
        doc.conclude();
        if let Err(e) = self.write(&doc, true) {
            crate::errln!("clusterbench: accept: {e:#}");
        }
        crate::errln!("{}", report::text(&doc));
        crate::errln!("clusterbench: verdict written to {}", self.json.display());
        std::process::exit(1)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs the acceptance on every rank of `world`; on rank 0 prints the verdict and
/// writes the results file and the report. `Err(NodesToTakeOut)` on every rank when a
/// node must be isolated or reset.
pub fn run(plan: &Plan, world: &dyn Communicator) -> anyhow::Result<()> {
    let take_out = steps::Acceptance::start(plan, world)?.run_all()?;
    if !take_out.is_empty() {
        return Err(NodesToTakeOut(format!(
            "acceptance failed: take out {}",
            take_out.join(" ")
        ))
        .into());
    }
    Ok(())
}
