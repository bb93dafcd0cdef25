//! The terminal table, in the spirit of nccl-tests' output.

use crate::results::reporter::Reporter;
use crate::results::{Params, Record, RunDocument};
use crate::units::format_bytes;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;

pub struct TableReporter<W: Write> {
    out: W,
}

impl TableReporter<crate::console::Stdout> {
    /// The table on standard output; a reader that goes away (`run | head`) leaves
    /// the run going, its results written.
    pub fn stdout() -> Self {
        TableReporter {
            out: crate::console::Stdout,
        }
    }
}

impl<W: Write> TableReporter<W> {
    pub fn new(out: W) -> Self {
        TableReporter { out }
    }
}

fn metric(r: &Record, name: &str) -> f64 {
    r.metric(name).map(|m| m.value).unwrap_or(f64::NAN)
}

fn wrong(r: &Record) -> String {
    if r.check.performed {
        r.check.wrong.to_string()
    } else {
        "N/A".into()
    }
}

/// Formats one record as a table row.
pub fn row(r: &Record) -> String {
    let t = &r.time_s;
    match &r.params {
        Params::Collective {
            dtype,
            op,
            in_place,
            count,
            bytes,
        } => format!(
            "{:>12} {:>12} {:>7} {:>6} {:>6} {:>10.2} {:>10.2} {:>8.3} {:>8.3} {:>6}",
            bytes,
            count,
            dtype.name(),
            op.map(|o| o.name()).unwrap_or("none"),
            match (in_place, r.is_local_copy()) {
                (_, true) => "local",
                (true, false) => "in",
                (false, false) => "out",
            },
            t.median * 1e6,
            t.min * 1e6,
            metric(r, "algbw"),
            metric(r, "busbw"),
            wrong(r)
        ),
        Params::Stream {
            kernel,
            array_bytes,
            threads,
            ..
        } => format!(
            "{:>8} {:>12} {:>7} {:>10.3} {:>10.3} {:>10.2} {:>10.2} {:>6}",
            kernel,
            format_bytes(*array_bytes),
            threads,
            t.median * 1e3,
            t.min * 1e3,
            metric(r, "bandwidth"),
            r.metric("bandwidth").map(|m| m.best).unwrap_or(f64::NAN),
            wrong(r)
        ),
        Params::Copy {
            copy,
            bytes,
            src_gpu,
            dst_gpu,
            peer_path,
            ..
        } => format!(
            "{:>16} {:>5} {:>12} {:>10.3} {:>10.3} {:>10.2} {:>10.2} {:>6}{}",
            copy,
            match (src_gpu, dst_gpu) {
                (Some(s), Some(d)) => format!("{s}->{d}"),
                _ => "-".into(),
            },
            format_bytes(*bytes),
            t.median * 1e3,
            t.min * 1e3,
            metric(r, "bandwidth"),
            r.metric("bandwidth").map(|m| m.best).unwrap_or(f64::NAN),
            wrong(r),
            peer_path_column(peer_path.as_ref())
        ),
        Params::PointToPoint {
            mode,
            bytes,
            window,
            from,
            to,
            from_host,
            to_host,
        } => {
            format!(
                "{:>9} {:>12} {:>6} {:>14} {:>10.2} {:>10.2} {:>9.3} {:>9.3} {:>6}",
                mode,
                bytes,
                window,
                format!("{from}>{to}"),
                t.median * 1e6,
                t.min * 1e6,
                metric(r, "bandwidth"),
                r.metric("bandwidth").map(|m| m.best).unwrap_or(f64::NAN),
                wrong(r)
            ) + &if from_host != to_host {
                format!("  {from_host}>{to_host}")
            } else {
                String::new()
            }
        }
        Params::Matmul {
            dtype,
            label,
            m,
            n,
            k,
            threads,
            ..
        } => format!(
            "{:>7} {:>10} {:>6} {:>6} {:>6} {:>7} {:>10.3} {:>9.4} {:>9.4} {:>6} {:>9}",
            dtype.name(),
            label,
            m,
            n,
            k,
            threads,
            t.median * 1e3,
            metric(r, "tflops"),
            r.metric("tflops").map(|m| m.best).unwrap_or(f64::NAN),
            wrong(r),
            r.check
                .max_error_ratio
                .map(|e| format!("{e:.2e}"))
                .unwrap_or_else(|| "N/A".into())
        ),
    }
}

/// The path of a peer copy, and why it was staged: the last column of its row.
fn peer_path_column(path: Option<&crate::core::PeerPath>) -> String {
    match path {
        Some(p) => match &p.reason {
            Some(why) => format!("  {} ({why})", p.route.name()),
            None => format!("  {}", p.route.name()),
        },
        None => String::new(),
    }
}

/// The column headers of a benchmark's table.
pub fn header(benchmark: &str) -> &'static str {
    match benchmark {
        "membw" => concat!(
            "#   kernel   array size threads   time(ms)   best(ms)     GB/s  best GB/s #wrong\n",
            "#                       per rank     median                per iteration, all ranks"
        ),
        "gpumem" => concat!(
            "#             copy  gpus         size   time(ms)   best(ms)       GB/s  best GB/s #wrong  path\n",
            "#                                         median                per GPU          (peer copies)"
        ),
        "matmul" => concat!(
            "#  dtype      shape      m      n      k threads   time(ms)   TFLOP/s      best #wrong   err/bnd\n",
            "#                                               per rank    median  per rank"
        ),
        "p2p" | "links" => concat!(
            "#     mode   size (B) window    ranks       time(us)   best(us)      GB/s      best #wrong\n",
            "#                                            median  (latency: one way)"
        ),
        _ => concat!(
            "#       size        count    type  redop  place   time(us)   best(us)    algbw    busbw #wrong\n",
            "#        (B)   (elements)                            median             (GB/s)   (GB/s)"
        ),
    }
}

impl<W: Write> Reporter for TableReporter<W> {
    fn begin(&mut self, doc: &RunDocument) -> Result<()> {
        let env = &doc.environment;
        writeln!(
            self.out,
            "# clusterbench {} run {}",
            doc.tool.version, doc.run.run_id
        )?;
        writeln!(
            self.out,
            "# backend {}, {} rank(s) on {} host(s){}",
            doc.run.backend,
            env.ranks.len().max(1),
            env.hosts.len().max(1),
            doc.run
                .suite
                .as_ref()
                .map(|s| format!(", suite {s}"))
                .unwrap_or_default()
        )?;
        for h in &env.hosts {
            writeln!(
                self.out,
                "#   {}: {} ({} cores, {} threads, {}){}",
                h.hostname,
                h.cpu_model.as_deref().unwrap_or("unknown CPU"),
                h.cores,
                h.threads,
                format_bytes(h.memory_bytes),
                h.instance_type
                    .as_ref()
                    .map(|i| format!(", {i}"))
                    .unwrap_or_default()
            )?;
        }
        if let Some(mpi) = &env.mpi {
            writeln!(
                self.out,
                "#   MPI: {}",
                mpi.library_version.lines().next().unwrap_or("")
            )?;
        }
        Ok(())
    }

    fn begin_bench(
        &mut self,
        benchmark: &str,
        backend: &str,
        ranks: usize,
        nodes: u32,
    ) -> Result<()> {
        writeln!(
            self.out,
            "#\n# {benchmark} ({backend}, {ranks} rank(s), {nodes} node(s))"
        )?;
        if ranks == 1 && crate::bench::collectives().any(|c| c.name() == benchmark) {
            writeln!(
                self.out,
                "# local copy: on one rank no data moves between ranks; not a measurement of any interconnect"
            )?;
        }
        writeln!(self.out, "{}", header(benchmark))?;
        Ok(())
    }

    fn record(&mut self, record: &Record) -> Result<()> {
        writeln!(self.out, "{}", row(record))?;
        for line in slow_nodes(record) {
            writeln!(self.out, "{line}")?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn links(&mut self, m: &crate::results::links::LinkMatrix) -> Result<()> {
        write!(self.out, "{}", crate::render::links::matrix_text(m))?;
        Ok(())
    }

    fn finish(&mut self, doc: &RunDocument) -> Result<Option<PathBuf>> {
        let failed = doc.records.iter().filter(|r| !r.check.passed).count();
        writeln!(
            self.out,
            "#\n# {} measurement(s), {} failed their check; status: {:?}",
            doc.records.len(),
            failed,
            doc.run.status
        )?;
        Ok(None)
    }
}

/// One line per node flagged slow in `record`, naming it and its ranks against the
/// median node.
fn slow_nodes(record: &Record) -> Vec<String> {
    let times: Vec<f64> = record.per_node.iter().map(|n| n.median_s).collect();
    let Some(typical) = crate::stats::median(&times) else {
        return Vec::new();
    };
    record
        .per_node
        .iter()
        .filter(|n| n.slow)
        .map(|n| {
            format!(
                "#   SLOW NODE {} (ranks {}): median {} against {} for the median node",
                n.host,
                crate::core::list_ranks(&n.ranks.iter().map(|r| *r as usize).collect::<Vec<_>>()),
                crate::units::format_seconds(n.median_s),
                crate::units::format_seconds(typical)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{Check, Metric};
    use crate::stats::Summary;
    use serde_json::json;

    /// A gpumem record with `params` as a results document holds them (the figures are
    /// made up for the test, not measured).
    fn copy_record(params: serde_json::Value) -> Record {
        let samples = vec![0.010, 0.011];
        Record {
            benchmark: "gpumem".into(),
            backend: "cuda".into(),
            ranks: 1,
            nodes: 1,
            params: serde_json::from_value(params).expect("copy params parse"),
            time_s: Summary::of(&samples).unwrap(),
            samples_s: samples,
            metrics: vec![Metric {
                name: "bandwidth".into(),
                unit: "GB/s".into(),
                value: 50.0,
                best: 53.7,
            }],
            check: Check {
                performed: true,
                passed: true,
                checked: 4,
                wrong: 0,
                max_error_ratio: None,
                method: "exact".into(),
            },
            per_node: Vec::new(),
            timing: None,
            rank_mean_s: None,
        }
    }

    fn peer_params(path: Option<serde_json::Value>) -> serde_json::Value {
        let mut p = json!({
            "kind": "copy", "copy": "p2p", "bytes": 1u64 << 29, "bytes_moved": 1u64 << 29,
            "src_gpu": 0, "dst_gpu": 1
        });
        if let Some(path) = path {
            p["peer_path"] = path;
        }
        p
    }

    #[test]
    fn peer_rows_say_whether_the_copy_went_direct_or_was_staged() {
        let direct = row(&copy_record(peer_params(Some(json!({
            "route": "direct", "performance_rank": 0, "native_atomics": true
        })))));
        assert!(
            direct.contains("0->1") && direct.ends_with("  direct"),
            "{direct}"
        );
        let why = "GPU 1 cannot access GPU 0's memory (cuDeviceCanAccessPeer)";
        let staged = row(&copy_record(peer_params(Some(json!({
            "route": "staged", "reason": why, "performance_rank": null, "native_atomics": null
        })))));
        assert!(staged.ends_with(&format!("  staged ({why})")), "{staged}");
        // Documents written before the path was recorded, and local copies: no path.
        for params in [
            peer_params(None),
            json!({"kind": "copy", "copy": "d2d_copy_engine", "bytes": 1024, "bytes_moved": 1024}),
        ] {
            let row = row(&copy_record(params));
            assert!(
                row.ends_with(" 0") && !row.contains("direct") && !row.contains("staged"),
                "{row}"
            );
        }
    }
}
