//! All-pairs link matrix: latency and bandwidth between every pair of nodes, one rank
//! per node measuring, in rounds of disjoint pairs that run at once (the round-robin
//! "circle method": N - 1 rounds for N nodes, not N(N-1)/2 pair runs). Pairs and
//! nodes far below the rest are flagged with a robust statistic (median and MAD of
//! the per-node figures), which is how a bad node, NIC or cable shows up.

use super::{base_config, Benchmark, Job, Supports};
use crate::core::memory::{Footprint, Grid, Placement, Unit};
use crate::core::p2p::{window_for, P2pCase, P2pMode};
use crate::core::{BenchConfig, DType};
use crate::results::links::{FlaggedFor, LinkMatrix, LinkPair, LinkStats, NodeLinks, RobustStat};
use crate::results::{Check, Metric, Record};
use crate::runner::RunContext;
use crate::stats::{median, round_robin, Summary};
use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

pub struct Links;

impl Benchmark for Links {
    fn name(&self) -> &'static str {
        "links"
    }

    fn description(&self) -> &'static str {
        "node x node latency and bandwidth matrix in round-robin rounds (-b latency size, -e bandwidth size), rank x rank on a single node; flags slow nodes"
    }

    fn supports(&self) -> Supports {
        Supports {
            multi_gpu: false,
            sizes: true,
            ops: false,
            shapes: false,
            array: false,
            dtypes: &[DType::Float],
        }
    }

    fn default_config(&self) -> BenchConfig {
        BenchConfig {
            minbytes: 8,
            maxbytes: 1 << 20,
            iters: 20,
            warmup_iters: 3,
            ..base_config(self.name())
        }
    }

    fn refuse(&self, _cfg: &BenchConfig, job: &Job) -> Option<String> {
        (job.ranks < 2).then(|| {
            format!(
                "links needs at least 2 ranks (one per node, or several on one node for the rank x rank matrix) and this job has {}: start it with mpirun",
                job.ranks
            )
        })
    }

    fn footprint(&self, cfg: &BenchConfig, at: Placement) -> Option<Footprint<'static>> {
        let need_at = move |bytes| super::memory::point_to_point_need(bytes, at.window, at.gpu);
        let bytes = cfg.maxbytes.max(cfg.minbytes);
        Some(Footprint {
            bench: "links",
            what: "bandwidth message size",
            flag: "--bandwidth-size",
            unit: Unit::Bytes,
            cases: vec![(
                bytes,
                format!("with messages of {}", crate::units::format_bytes(bytes)),
                need_at(bytes),
            )],
            need_at: Box::new(need_at),
            grid: Grid::Step(1 << 10),
        })
    }

    fn run(&self, cfg: &BenchConfig, ctx: &mut RunContext) -> Result<()> {
        let (hosts, leaders) = endpoints(&ctx.hosts);
        if hosts.len() < 2 {
            return Err(crate::usage!(
                "links needs at least 2 ranks; this job has {}",
                ctx.comm.size()
            ));
        }
        let rounds = round_robin(hosts.len());
        let me = ctx.rank();
        let mut pairs: Vec<PairResult> = Vec::new();
        for pass in 0..PASSES {
            for (r, round) in rounds.iter().enumerate() {
                let mine = round
                    .iter()
                    .find(|&&(i, j)| leaders[i] == me || leaders[j] == me)
                    .copied();
                let step = Step {
                    pass,
                    round: r,
                    rounds: rounds.len(),
                };
                let result = measure_round(cfg, ctx, mine, &leaders, step)?;
                // Rank 0 collects both ends of every pair of the round.
                let bytes = serde_json::to_vec(&result)?;
                let mut round_pairs: Vec<PairResult> = Vec::new();
                for part in ctx.comm.gather_bytes(&bytes)? {
                    let part: Option<PairResult> =
                        serde_json::from_slice(&part).context("decoding a pair's result")?;
                    if let Some(p) = part {
                        match round_pairs.iter_mut().find(|q| (q.a, q.b) == (p.a, p.b)) {
                            Some(q) => q.merge(p),
                            None => round_pairs.push(p),
                        }
                    }
                }
                for p in round_pairs {
                    match pairs.iter_mut().find(|q| (q.a, q.b) == (p.a, p.b)) {
                        Some(q) => q.keep_better(p),
                        None => pairs.push(p),
                    }
                }
            }
        }
        if me != 0 {
            return Ok(());
        }
        let records = pair_records(cfg, ctx, &leaders, &pairs)?;
        for r in records {
            ctx.emit(r)?;
        }
        let matrix = build_matrix(cfg, &hosts, &leaders, rounds.len(), &pairs)?;
        ctx.emit_links(&matrix)?;
        ctx.links = Some(matrix);
        Ok(())
    }
}

/// Each pair is measured this many times, the better kept: a pair's first contact
/// (connections being made, pages first touched, the other ranks still settling) can
/// stretch a first measurement of a healthy link well past the flag line.
const PASSES: usize = 2;

/// Test-only delay before each latency-test send of the `--debug-latency-rank` rank:
/// large against the round trips of simulated nodes on a loaded machine (scheduling
/// alone stretched some to 1 ms on two shared cores), so that the node it slows stands
/// out however busy the machine is.
const INJECTED_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// The fewest timed and warm-up iterations of the latency test, whatever `-n`/`-w` say.
/// A latency figure is the median of its samples: of a handful, one preemption of either
/// end (a busy host, a daemon waking) moves it, and flags a healthy link. A small
/// message costs microseconds, so a hundred of them cost nothing next to the bandwidth
/// test.
const LATENCY_MIN_ITERS: u32 = 100;
const LATENCY_MIN_WARMUP: u32 = 10;

/// Where a round stands, for progress and the watchdog's messages.
#[derive(Clone, Copy)]
struct Step {
    pass: usize,
    round: usize,
    rounds: usize,
}

/// One round on this rank: both tests of its pair (`mine`, indices into `leaders`), or
/// its part as an idle rank; the pair's figures as this end has them.
fn measure_round(
    cfg: &BenchConfig,
    ctx: &mut RunContext,
    mine: Option<(usize, usize)>,
    leaders: &[usize],
    step: Step,
) -> Result<Option<PairResult>> {
    let me = ctx.rank();
    let mut result = mine.map(|(i, j)| PairResult {
        a: i,
        b: j,
        round: step.round,
        ..Default::default()
    });
    for mode in [P2pMode::Latency, P2pMode::Bandwidth] {
        let bytes = match mode {
            P2pMode::Latency => cfg.minbytes,
            _ => cfg.maxbytes,
        } as usize;
        let window = match mode {
            P2pMode::Latency => 1,
            _ => window_for(bytes, ctx.window),
        };
        let pair = mine
            .map(|(i, j)| (leaders[i], leaders[j]))
            .unwrap_or((usize::MAX, usize::MAX));
        let case = P2pCase {
            mode,
            bytes,
            window,
            pair,
            corrupt: ctx.faults.corrupt_rank == Some(me) && pair.0 == me,
            send_delay: (ctx.faults.latency_rank == Some(me)).then_some(INJECTED_DELAY),
        };
        let Step {
            pass,
            round,
            rounds,
        } = step;
        ctx.progress(format!(
            "links pass {}/{PASSES} round {}/{rounds} {mode}",
            pass + 1,
            round + 1
        ));
        let what = format!(
            "links round {} of {rounds}, pass {} of {PASSES} ({mode}, {})",
            round + 1,
            pass + 1,
            crate::units::format_bytes(bytes as u64)
        );
        let (iters, warmup_iters) = match mode {
            P2pMode::Latency => (
                cfg.iters.max(LATENCY_MIN_ITERS),
                cfg.warmup_iters.max(LATENCY_MIN_WARMUP),
            ),
            _ => (cfg.iters, cfg.warmup_iters),
        };
        let total = u64::from(warmup_iters + iters) + 1;
        ctx.start_operation(&what, total)?;
        let mut workload = ctx.backend.point_to_point(ctx.comm, case)?;
        let mut samples = Vec::with_capacity(iters as usize);
        let mut op = 0;
        for _ in 0..warmup_iters {
            op += 1;
            ctx.progress_operation(op);
            workload.iterate()?;
        }
        ctx.progress_operation(op + 1);
        workload.run_timed(iters, &mut |t| {
            op += 1;
            samples.push(t);
            ctx.progress_operation(op + 1);
        })?;
        ctx.progress_operation(total);
        let check = workload.verify()?;
        ctx.end_operation();
        if let Some(res) = result.as_mut() {
            res.checked += check.checked;
            res.wrong += check.wrong;
            res.window = window as u32;
            if pair.0 == me {
                match mode {
                    P2pMode::Latency => res.latency_samples = samples,
                    _ => res.bandwidth_samples = samples,
                }
            }
        }
    }
    Ok(result)
}

/// The ends of the matrix: its rows' names and the rank that measures for each. Across
/// nodes, the first rank of each node for its node; on a single node, every rank for
/// itself (on a GPU node each rank drives its own GPU: the GPU-pair matrix).
fn endpoints(rank_hosts: &[String]) -> (Vec<String>, Vec<usize>) {
    let mut hosts: Vec<String> = Vec::new();
    let mut leaders: Vec<usize> = Vec::new();
    for (rank, h) in rank_hosts.iter().enumerate() {
        if !hosts.contains(h) {
            hosts.push(h.clone());
            leaders.push(rank);
        }
    }
    if hosts.len() >= 2 {
        return (hosts, leaders);
    }
    let names = rank_hosts
        .iter()
        .enumerate()
        .map(|(rank, h)| format!("{h} rank {rank}"))
        .collect();
    (names, (0..rank_hosts.len()).collect())
}

/// One pair's figures as its two ends report them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PairResult {
    a: usize,
    b: usize,
    round: usize,
    window: u32,
    latency_samples: Vec<f64>,
    bandwidth_samples: Vec<f64>,
    checked: u64,
    wrong: u64,
}

impl PairResult {
    fn merge(&mut self, other: PairResult) {
        self.checked += other.checked;
        self.wrong += other.wrong;
        if self.latency_samples.is_empty() {
            self.latency_samples = other.latency_samples;
        }
        if self.bandwidth_samples.is_empty() {
            self.bandwidth_samples = other.bandwidth_samples;
        }
    }

    /// Folds in another measurement of the same pair: the checks add up, and each test
    /// keeps the measurement with the shorter median time (the lower latency, the
    /// higher bandwidth), since noise only ever slows a link down.
    fn keep_better(&mut self, other: PairResult) {
        self.checked += other.checked;
        self.wrong += other.wrong;
        let faster = |mine: &[f64], theirs: &[f64]| match (median(mine), median(theirs)) {
            (Some(m), Some(t)) => t < m,
            (None, Some(_)) => true,
            _ => false,
        };
        if faster(&self.latency_samples, &other.latency_samples) {
            self.latency_samples = other.latency_samples;
        }
        if faster(&self.bandwidth_samples, &other.bandwidth_samples) {
            self.bandwidth_samples = other.bandwidth_samples;
            self.window = other.window;
        }
    }

    fn summaries(&self) -> Result<(Summary, Summary)> {
        let missing = || anyhow!("links: no samples for pair {} - {}", self.a, self.b);
        Ok((
            Summary::of(&self.latency_samples).ok_or_else(missing)?,
            Summary::of(&self.bandwidth_samples).ok_or_else(missing)?,
        ))
    }
}

/// One record per pair and test, as `p2p` records them, with the hosts of the ranks.
fn pair_records(
    cfg: &BenchConfig,
    ctx: &RunContext,
    leaders: &[usize],
    pairs: &[PairResult],
) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let host_of = |i: usize| ctx.hosts.get(leaders[i]).cloned().unwrap_or_default();
    for p in pairs {
        let (lat, bw) = p.summaries()?;
        let (from_host, to_host) = (host_of(p.a), host_of(p.b));
        let check = Check {
            performed: true,
            passed: p.wrong == 0,
            checked: p.checked,
            wrong: p.wrong,
            max_error_ratio: None,
            method: "exact: every received byte against the sender's pattern".into(),
        };
        for (mode, bytes, window, time_s, samples) in [
            (P2pMode::Latency, cfg.minbytes, 1, lat, &p.latency_samples),
            (
                P2pMode::Bandwidth,
                cfg.maxbytes,
                p.window,
                bw,
                &p.bandwidth_samples,
            ),
        ] {
            let moved = mode.bytes_per_iteration(bytes as usize, window as usize);
            let gbps = |t: f64| if t > 0.0 { moved / t / 1e9 } else { 0.0 };
            out.push(Record {
                benchmark: "links".into(),
                backend: ctx.backend.name().into(),
                ranks: 2,
                nodes: if from_host == to_host { 1 } else { 2 },
                params: crate::results::Params::PointToPoint {
                    mode: mode.name().into(),
                    bytes,
                    window,
                    from: leaders[p.a] as u32,
                    to: leaders[p.b] as u32,
                    from_host: from_host.clone(),
                    to_host: to_host.clone(),
                },
                metrics: vec![Metric {
                    name: "bandwidth".into(),
                    unit: "GB/s".into(),
                    value: gbps(time_s.median),
                    best: gbps(time_s.min),
                }],
                time_s,
                samples_s: samples.clone(),
                check: check.clone(),
                per_node: Vec::new(),
                timing: None,
                rank_mean_s: None,
            });
        }
    }
    Ok(out)
}

/// The matrix, per-node medians and flags from the measured pairs.
fn build_matrix(
    cfg: &BenchConfig,
    hosts: &[String],
    leaders: &[usize],
    rounds: usize,
    pairs: &[PairResult],
) -> Result<LinkMatrix> {
    let n = hosts.len();
    let mut lat = vec![vec![None; n]; n];
    let mut bw = vec![vec![None; n]; n];
    let mut figures = Vec::new();
    let mut window = 1;
    for p in pairs {
        let (l, b) = p.summaries()?;
        window = p.window;
        let moved =
            P2pMode::Bandwidth.bytes_per_iteration(cfg.maxbytes as usize, p.window as usize);
        let (l_us, gbps) = (l.median * 1e6, moved / b.median / 1e9);
        lat[p.a][p.b] = Some(l_us);
        lat[p.b][p.a] = Some(l_us);
        bw[p.a][p.b] = Some(gbps);
        bw[p.b][p.a] = Some(gbps);
        figures.push((p, l_us, gbps));
    }
    let row_median = |m: &Vec<Vec<Option<f64>>>, i: usize| {
        let v: Vec<f64> = m[i].iter().flatten().copied().collect();
        median(&v).unwrap_or(f64::NAN)
    };
    let node_lat: Vec<f64> = (0..n).map(|i| row_median(&lat, i)).collect();
    let node_bw: Vec<f64> = (0..n).map(|i| row_median(&bw, i)).collect();
    let stats = LinkStats {
        bandwidth: RobustStat::of(&node_bw, true),
        latency: RobustStat::of(&node_lat, false),
        k: crate::results::links::K,
        min_relative: crate::results::links::MIN_RELATIVE,
    };
    let pairs = figures
        .into_iter()
        .map(|(p, l_us, gbps)| LinkPair {
            a: p.a as u32,
            b: p.b as u32,
            host_a: hosts[p.a].clone(),
            host_b: hosts[p.b].clone(),
            round: p.round as u32,
            latency_us: l_us,
            bandwidth_gbps: gbps,
            slow_bandwidth: gbps < stats.bandwidth.threshold,
            slow_latency: l_us > stats.latency.threshold,
            flagged_for: FlaggedFor::of(
                gbps < stats.bandwidth.threshold,
                l_us > stats.latency.threshold,
            ),
        })
        .collect();
    let nodes = (0..n)
        .map(|i| NodeLinks {
            host: hosts[i].clone(),
            latency_us: node_lat[i],
            bandwidth_gbps: node_bw[i],
            slow_bandwidth: node_bw[i] < stats.bandwidth.threshold,
            slow_latency: node_lat[i] > stats.latency.threshold,
            flagged_for: FlaggedFor::of(
                node_bw[i] < stats.bandwidth.threshold,
                node_lat[i] > stats.latency.threshold,
            ),
        })
        .collect();
    Ok(LinkMatrix {
        hosts: hosts.to_vec(),
        ranks: leaders.iter().map(|&r| r as u32).collect(),
        latency_bytes: cfg.minbytes,
        bandwidth_bytes: cfg.maxbytes,
        window,
        rounds: rounds as u32,
        passes: Some(PASSES as u32),
        latency_us: lat,
        bandwidth_gbps: bw,
        pairs,
        nodes,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs of 4 nodes whose bandwidth is `gbps(a, b)` (1 MiB x 1 per iteration).
    fn pairs(gbps: impl Fn(usize, usize) -> f64) -> Vec<PairResult> {
        let mut out = Vec::new();
        for (r, round) in round_robin(4).iter().enumerate() {
            for &(a, b) in round {
                let t = (1 << 20) as f64 / (gbps(a, b) * 1e9);
                out.push(PairResult {
                    a,
                    b,
                    round: r,
                    window: 1,
                    latency_samples: vec![5e-6, 6e-6, 5.5e-6],
                    bandwidth_samples: vec![t, t * 1.01, t * 0.99],
                    checked: 1,
                    wrong: 0,
                });
            }
        }
        out
    }

    fn matrix(gbps: impl Fn(usize, usize) -> f64) -> LinkMatrix {
        let cfg = Links.default_config();
        let hosts: Vec<String> = (1..=4).map(|i| format!("n{i}")).collect();
        build_matrix(&cfg, &hosts, &[0, 2, 4, 6], 3, &pairs(gbps)).unwrap()
    }

    #[test]
    fn the_slow_node_and_only_its_pairs_are_flagged() {
        let m = matrix(|a, b| if a == 2 || b == 2 { 0.03 } else { 0.12 });
        let slow: Vec<&str> = m
            .nodes
            .iter()
            .filter(|n| n.slow_bandwidth)
            .map(|n| n.host.as_str())
            .collect();
        assert_eq!(slow, ["n3"]);
        for p in &m.pairs {
            assert_eq!(p.slow_bandwidth, p.a == 2 || p.b == 2, "{p:?}");
            assert!(!p.slow_latency);
        }
        assert!((m.bandwidth_gbps[0][1].unwrap() - 0.12).abs() < 1e-9);
        assert_eq!(m.bandwidth_gbps[3][3], None);
        assert_eq!(m.bandwidth_gbps[1][2], m.bandwidth_gbps[2][1]);
    }

    #[test]
    fn equal_nodes_with_noise_are_not_flagged() {
        let m = matrix(|a, b| 0.12 * (1.0 + 0.03 * ((a * 3 + b) % 4) as f64));
        assert!(m.nodes.iter().all(|n| !n.slow_bandwidth && !n.slow_latency));
        assert!(m.pairs.iter().all(|p| !p.slow_bandwidth));
    }

    #[test]
    fn a_noisy_first_measurement_of_a_healthy_pair_is_not_kept() {
        let cfg = Links.default_config();
        let hosts: Vec<String> = (1..=4).map(|i| format!("n{i}")).collect();
        let mut kept = pairs(|_, _| 0.12);
        // The first pass of the first round's pairs, ten times slower to answer.
        for (p, again) in kept.iter_mut().zip(pairs(|_, _| 0.12)) {
            if p.round == 0 {
                p.latency_samples = vec![50e-6, 60e-6, 55e-6];
            }
            p.keep_better(again);
        }
        let m = build_matrix(&cfg, &hosts, &[0, 2, 4, 6], 3, &kept).unwrap();
        assert!(m
            .pairs
            .iter()
            .all(|p| !p.slow_latency && p.flagged_for.is_none()));
        assert!(m.pairs.iter().all(|p| p.latency_us < 6.0), "{:?}", m.pairs);
        assert!(kept.iter().all(|p| p.checked == 2));
    }

    #[test]
    fn a_node_slow_to_answer_is_flagged_for_latency_alone() {
        let cfg = Links.default_config();
        let hosts: Vec<String> = (1..=4).map(|i| format!("n{i}")).collect();
        let mut measured = pairs(|_, _| 0.12);
        for p in measured.iter_mut().filter(|p| p.a == 1 || p.b == 1) {
            p.latency_samples = vec![2.5e-3, 2.6e-3, 2.55e-3];
        }
        let m = build_matrix(&cfg, &hosts, &[0, 2, 4, 6], 3, &measured).unwrap();
        for n in &m.nodes {
            let expected = (n.host == "n2").then_some(FlaggedFor::Latency);
            assert_eq!(n.flagged_for, expected, "{n:?}");
        }
        for p in &m.pairs {
            let expected = (p.a == 1 || p.b == 1).then_some(FlaggedFor::Latency);
            assert_eq!(p.flagged_for, expected, "{p:?}");
        }
    }
}
