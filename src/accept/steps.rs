//! The sequence itself: each step a run (through `session`) on the world, on each
//! node, or on one rank per node, and rank 0 turning the results into verdicts.

use super::liveness::Liveness;
use super::plan::{Plan, Step};
use super::verdict::{
    self, AcceptDocument, Action, NodeDoc, NodeVerdict, Reason, StepResult, StepStatus,
};
use super::{now, Recorder};
use crate::core::Communicator;
use crate::error::CheckFailed;
use crate::options::RunOptions;
use crate::results::RunDocument;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The steps, in order: (name, title).
const STEPS: [(&str, &str); 7] = [
    (
        "environment",
        "1. environment and topology alike on every node",
    ),
    ("compute", "2. memory bandwidth and matmul on every node"),
    ("intra_node_allreduce", "3. all-reduce within each node"),
    (
        "network_allreduce",
        "4. network-only all-reduce (one rank per node)",
    ),
    ("full_allreduce", "5. full all-reduce sweep"),
    ("links", "6. links matrix"),
    ("claims", "7. validate against the claims"),
];

pub struct Acceptance<'a> {
    plan: &'a Plan,
    world: &'a dyn Communicator,
    node_comm: Box<dyn Communicator>,
    leaders: Option<Box<dyn Communicator>>,
    /// This rank's node (index into the first-seen host order).
    node: usize,
    nodes: usize,
    gpu: bool,
    steps_dir: PathBuf,
    /// Rank 0 only.
    recorder: Option<Arc<Recorder>>,
    liveness: Option<Liveness>,
}

/// What rank 0 tells every rank before the steps.
#[derive(serde::Serialize, serde::Deserialize)]
struct Agreed {
    accept_id: String,
    rank_hosts: Vec<String>,
    gpu: bool,
}

impl<'a> Acceptance<'a> {
    /// Gathers the environment, agrees the names, splits the world and starts the
    /// liveness watch. Collective.
    pub fn start(plan: &'a Plan, world: &'a dyn Communicator) -> Result<Acceptance<'a>> {
        let topology = crate::probe::topology::Topology::load()?;
        let env = crate::session::gather_environment(world, &topology, 1)?;
        let mine = serde_json::to_vec(&(
            crate::probe::host::hostname(),
            super::environment::local_nics(),
        ))?;
        let nics: Vec<(String, Vec<String>)> = world
            .gather_bytes(&mine)?
            .iter()
            .map(|b| serde_json::from_slice(b))
            .collect::<Result<_, _>>()
            .context("decoding another rank's interfaces")?;
        let root = world.rank() == 0;
        let proposal = Agreed {
            accept_id: chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string(),
            rank_hosts: env.ranks.iter().map(|r| r.host.clone()).collect(),
            gpu: plan.args.backend != crate::core::BackendChoice::Cpu
                && env.hosts.iter().any(|h| !h.gpus.is_empty()),
        };
        let agreed: Agreed =
            serde_json::from_slice(&world.broadcast_bytes(&serde_json::to_vec(&proposal)?)?)?;
        let mut hosts: Vec<&str> = Vec::new();
        for h in &agreed.rank_hosts {
            if !hosts.contains(&h.as_str()) {
                hosts.push(h);
            }
        }
        let my_host = agreed
            .rank_hosts
            .get(world.rank())
            .map(String::as_str)
            .unwrap_or("");
        let node = hosts.iter().position(|h| *h == my_host).unwrap_or(0);
        let node_comm = world
            .split(Some(node as u32))?
            .context("splitting the job per node")?;
        let leaders = world.split((node_comm.rank() == 0).then_some(0))?;
        let out = &plan.args.output;
        let steps_dir = out.join(format!("accept-{}-steps", agreed.accept_id));
        let recorder = if root {
            std::fs::create_dir_all(&steps_dir)
                .map_err(|e| crate::usage!("cannot create '{}': {e}", steps_dir.display()))?;
            let nodes: Vec<NodeVerdict> = hosts
                .iter()
                .map(|h| {
                    let ranks = agreed
                        .rank_hosts
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| x == h)
                        .map(|(r, _)| r as u32)
                        .collect();
                    NodeVerdict::new(h, ranks)
                })
                .collect();
            let mut doc = AcceptDocument {
                kind: "clusterbench-accept".into(),
                version: 1,
                accept_id: agreed.accept_id.clone(),
                tool_version: env!("CARGO_PKG_VERSION").into(),
                command_line: std::env::args().collect(),
                started_at: now(),
                finished_at: None,
                complete: false,
                quick: plan.args.quick,
                claims_files: plan.claims.iter().map(|(n, _)| n.clone()).collect(),
                cluster: Action::Pass,
                cluster_reasons: Vec::new(),
                nodes,
                drain: Vec::new(),
                drain_command: None,
                environment: None,
                steps: STEPS
                    .iter()
                    .map(|(name, title)| StepResult {
                        name: name.to_string(),
                        title: title.to_string(),
                        status: StepStatus::NotReached,
                        note: None,
                        documents: Vec::new(),
                    })
                    .collect(),
                claims: Vec::new(),
                notes: Vec::new(),
            };
            let expected = plan.claims.iter().find_map(|(_, f)| f.target.gpus_per_node);
            super::environment::check(&env, &nics, expected, &mut doc.nodes);
            if let Some(note) = super::environment::pair_note(&env, &nics) {
                doc.notes.push(note);
            }
            doc.steps[0].status = StepStatus::Completed;
            doc.environment = Some(env);
            Some(Arc::new(Recorder {
                doc: Mutex::new(doc),
                json: out.join(format!("accept-{}.json", agreed.accept_id)),
                html: out.join(format!("accept-{}.html", agreed.accept_id)),
                rank_hosts: agreed.rank_hosts.clone(),
            }))
        } else {
            None
        };
        let silence = (plan.args.timeout > 0.0)
            .then(|| std::time::Duration::from_secs_f64(plan.args.timeout));
        let watcher = recorder.clone();
        let liveness = Liveness::start(
            world,
            hosts.first().copied().unwrap_or("localhost"),
            silence,
            move |loss| {
                if let Some(r) = watcher {
                    r.lose(loss)
                }
            },
        )?;
        let acceptance = Acceptance {
            plan,
            world,
            node_comm,
            leaders,
            node,
            nodes: hosts.len(),
            gpu: agreed.gpu,
            steps_dir,
            recorder,
            liveness: Some(liveness),
        };
        acceptance.record(|_| {})?;
        Ok(acceptance)
    }

    /// Updates rank 0's document and writes it; nothing elsewhere.
    fn record(&self, f: impl FnOnce(&mut AcceptDocument)) -> Result<()> {
        match &self.recorder {
            Some(r) => r.update(false, f),
            None => Ok(()),
        }
    }

    fn options(&self, step: Step) -> Result<RunOptions> {
        let mut o = self.plan.options(step, self.gpu, &self.steps_dir)?;
        let a = &self.plan.args;
        o.slowdown = a
            .debug_slowdown
            .filter(|_| a.debug_slow_rank.is_none_or(|r| r == self.world.rank()));
        o.slow_rank = None;
        Ok(o)
    }

    /// Marks step `i` under way (so that a job that dies names it).
    fn begin(&self, i: usize) -> Result<()> {
        if self.world.rank() == 0 {
            crate::errln!("clusterbench: accept: {}", STEPS[i].1);
        }
        self.record(|d| d.steps[i].status = StepStatus::Interrupted)
    }

    /// Runs `step` on `comm` where this rank has one (`None`: this rank sits it out)
    /// and gathers on rank 0 every part's document with the node of its rank 0.
    fn run_parts(
        &self,
        step: Step,
        comm: Option<&dyn Communicator>,
    ) -> Result<Vec<(usize, RunDocument)>> {
        let mine = match comm {
            Some(c) => run_session(&self.options(step)?, c)?,
            None => None,
        };
        // A leading byte says whether a document follows: MPI refuses a gather of
        // nothing at all.
        let mut bytes = vec![mine.is_some() as u8];
        if let Some(doc) = mine {
            bytes.extend(serde_json::to_vec(&(self.node, doc))?);
        }
        // Ranks that sat the step out wait here without taking a core from those
        // that measure (MPI's own waits spin).
        self.world
            .arrive(std::time::Instant::now() + std::time::Duration::from_secs(7 * 24 * 3600))
            .map_err(|m| anyhow::anyhow!("waiting for the step to end everywhere: {m}"))?;
        let parts = self.world.gather_bytes(&bytes)?;
        let docs = parts
            .iter()
            .filter(|b| b.first() == Some(&1))
            .map(|b| serde_json::from_slice(&b[1..]))
            .collect::<Result<Vec<(usize, RunDocument)>, _>>()
            .context("decoding a node's results")?;
        self.world.barrier();
        Ok(docs)
    }

    /// Stores a step's documents and status; `None` as the note keeps none.
    fn finish_step(
        &self,
        i: usize,
        docs: Vec<(usize, RunDocument)>,
        skipped: Option<String>,
        judge: impl FnOnce(&mut AcceptDocument, &[NodeDoc]),
    ) -> Result<()> {
        self.record(|d| {
            let failed = docs
                .iter()
                .any(|(_, doc)| doc.records.iter().any(|r| !r.check.passed));
            d.steps[i].status = match (&skipped, failed) {
                (Some(_), _) => StepStatus::Skipped,
                (None, true) => StepStatus::CheckFailed,
                (None, false) => StepStatus::Completed,
            };
            d.steps[i].note = skipped;
            let node_docs: Vec<NodeDoc> = docs
                .iter()
                .enumerate()
                .map(|(k, (node, doc))| NodeDoc {
                    node: *node,
                    doc,
                    pointer: format!("/steps/{i}/documents/{k}"),
                })
                .collect();
            judge(d, &node_docs);
            d.steps[i].documents = docs.iter().map(|(_, doc)| doc.clone()).collect();
        })
    }

    /// Every step after the environment; on rank 0 the verdict printed and written.
    /// Returns the hosts to take out, if any (on every rank).
    pub fn run_all(mut self) -> Result<Vec<String>> {
        // 2. compute, a run per node at once.
        self.begin(1)?;
        let docs = self.run_parts(Step::Compute, Some(self.node_comm.as_ref()))?;
        self.finish_step(1, docs, None, |d, nd| {
            verdict::failed_checks("compute", nd, &mut d.nodes);
            verdict::slow_nodes("compute", nd, &mut d.nodes);
        })?;

        // 3. within each node: nodes of one rank sit it out.
        self.begin(2)?;
        let alone = self.node_comm.size() < 2;
        let docs = self.run_parts(Step::AllReduce, (!alone).then_some(self.node_comm.as_ref()))?;
        let note = docs
            .is_empty()
            .then(|| "one rank per node: nothing to reduce within a node".to_string());
        self.finish_step(2, docs, note, |d, nd| {
            verdict::failed_checks("intra_node_allreduce", nd, &mut d.nodes);
            verdict::slow_nodes("intra_node_allreduce", nd, &mut d.nodes);
        })?;

        // 4. between node leaders, with NCCL kept off NVLink and shared memory. One rank
        // per node already leaves NCCL no path but the network; the variables say so
        // to NCCL too, where it reads them (it may keep the values it read when step 3
        // first started it in this process).
        self.begin(3)?;
        let network = self.nodes >= 2;
        if network && self.gpu {
            std::env::set_var("NCCL_P2P_DISABLE", "1");
            std::env::set_var("NCCL_SHM_DISABLE", "1");
        }
        let docs = self.run_parts(Step::AllReduce, self.leaders.as_deref().filter(|_| network))?;
        if network && self.gpu {
            std::env::remove_var("NCCL_P2P_DISABLE");
            std::env::remove_var("NCCL_SHM_DISABLE");
        }
        let note = (!network).then(|| "one node: no network to measure".to_string());
        self.finish_step(3, docs, note, |d, nd| {
            cluster_checks("network_allreduce", nd, d)
        })?;

        // 5. every rank.
        self.begin(4)?;
        let all = self.world.size() >= 2;
        let docs = self.run_parts(Step::AllReduce, all.then_some(self.world))?;
        let note = (!all).then(|| "one rank: nothing to reduce".to_string());
        self.finish_step(4, docs, note, |d, nd| {
            cluster_checks("full_allreduce", nd, d)
        })?;

        // 6. links between node leaders.
        self.begin(5)?;
        let docs = self.run_parts(Step::Links, self.leaders.as_deref().filter(|_| network))?;
        let note = (!network).then(|| "one node: no links between nodes".to_string());
        self.finish_step(5, docs, note, |d, nd| {
            cluster_checks("links", nd, d);
            for n in nd {
                verdict::link_flags("links", n.doc, &n.pointer, &mut d.nodes);
            }
        })?;

        // 7. claims, on rank 0 alone.
        self.begin(6)?;
        let plan = self.plan;
        self.record(|d| judge_claims(plan, d))?;

        let mut take_out: Vec<String> = Vec::new();
        if let Some(r) = &self.recorder {
            r.update(true, |d| {
                d.complete = true;
                d.finished_at = Some(now());
            })?;
            let d = r.doc.lock().unwrap_or_else(|e| e.into_inner());
            crate::out!("{}", super::report::text(&d));
            crate::errln!(
                "clusterbench: verdict written to {} and {}",
                r.json.display(),
                r.html.display()
            );
            if d.cluster.takes_out() {
                // A failure no node can be blamed for still fails the cluster.
                take_out = if d.drain.is_empty() {
                    vec!["(cluster)".into()]
                } else {
                    d.drain.clone()
                };
            }
        }
        let agreed: Vec<String> = serde_json::from_slice(
            &self
                .world
                .broadcast_bytes(&serde_json::to_vec(&take_out)?)?,
        )?;
        self.world.barrier();
        if let Some(l) = self.liveness.take() {
            l.finish();
        }
        Ok(agreed)
    }
}

/// A failed check in a step that spans nodes cannot name one: the cluster fails.
fn cluster_checks(step: &str, docs: &[NodeDoc], d: &mut AcceptDocument) {
    for n in docs {
        let failed: Vec<usize> = n
            .doc
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.check.passed)
            .map(|(i, _)| i)
            .collect();
        if !failed.is_empty() {
            d.cluster_reasons.push(Reason {
                step: step.into(),
                action: Action::Isolate,
                why: format!(
                    "{} measurements failed their check across nodes (no single node to blame)",
                    failed.len()
                ),
                records: failed
                    .iter()
                    .map(|i| format!("{}/records/{i}", n.pointer))
                    .collect(),
            });
        }
    }
}

/// Step 7: each node's own results against the claims (monitor when below), and the
/// results across nodes (the cluster is monitored when below).
fn judge_claims(plan: &Plan, d: &mut AcceptDocument) {
    let mut files = plan.claims.clone();
    if files.is_empty() {
        if let Some(doc) = d.steps.iter().flat_map(|s| &s.documents).next() {
            let (instances, gpus) = crate::analysis::validate::detected_hardware(doc);
            files = crate::analysis::validate::auto_select(
                &crate::analysis::validate::ClaimsFile::builtin(),
                &instances,
                &gpus,
            );
            d.claims_files = files.iter().map(|(n, _)| n.clone()).collect();
        }
    }
    if files.is_empty() {
        d.steps[6].status = StepStatus::Skipped;
        d.steps[6].note = Some(
            "no claims file given or matching the hardware (--instance-type or --claims)".into(),
        );
        return;
    }
    for s in [1usize, 2] {
        for k in 0..d.steps[s].documents.len() {
            let doc = d.steps[s].documents[k].clone();
            let host = doc
                .environment
                .hosts
                .first()
                .map(|h| h.hostname.clone())
                .unwrap_or_default();
            let results = crate::analysis::validate::validate(&doc, &files);
            let first = d.claims.len();
            if let Some(node) = d.nodes.iter_mut().find(|n| n.host == host) {
                verdict::claims_for_node(node, &results, first);
            }
            d.claims.extend(results);
        }
    }
    for s in [3usize, 4, 5] {
        for doc in d.steps[s].documents.clone() {
            let results = crate::analysis::validate::validate(&doc, &files);
            let first = d.claims.len();
            let mut cluster = NodeVerdict::new("cluster", Vec::new());
            verdict::claims_for_node(&mut cluster, &results, first);
            d.cluster_reasons.extend(cluster.reasons);
            d.claims.extend(results);
        }
    }
    d.steps[6].status = StepStatus::Completed;
}

/// One run of a step's options on `comm`: rank 0's document, also when a check failed
/// (read back from the file written).
fn run_session(options: &RunOptions, comm: &dyn Communicator) -> Result<Option<RunDocument>> {
    match crate::session::run(options, comm) {
        Ok(doc) => Ok((comm.rank() == 0).then_some(doc)),
        Err(e) => match e.downcast_ref::<CheckFailed>() {
            Some(f) if comm.rank() == 0 => Ok(Some(crate::results::files::read_results(
                std::path::Path::new(&f.path),
            )?)),
            Some(_) => Ok(None),
            None => Err(e),
        },
    }
}
