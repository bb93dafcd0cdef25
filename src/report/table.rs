//! The terminal table, in the spirit of nccl-tests' output.

use super::Reporter;
use crate::results::{Params, Record, RunDocument};
use crate::units::format_bytes;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;

pub struct TableReporter<W: Write> {
    out: W,
}

impl TableReporter<std::io::Stdout> {
    pub fn stdout() -> Self {
        TableReporter {
            out: std::io::stdout(),
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
            if *in_place { "in" } else { "out" },
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
            ..
        } => format!(
            "{:>16} {:>5} {:>12} {:>10.3} {:>10.3} {:>10.2} {:>10.2} {:>6}",
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
            wrong(r)
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

/// The column headers of a benchmark's table.
pub fn header(benchmark: &str) -> &'static str {
    match benchmark {
        "membw" => concat!(
            "#   kernel   array size threads   time(ms)   best(ms)     GB/s  best GB/s #wrong\n",
            "#                       per rank     median                per iteration, all ranks"
        ),
        "gpumem" => concat!(
            "#             copy  gpus         size   time(ms)   best(ms)       GB/s  best GB/s #wrong\n",
            "#                                         median                per GPU"
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
        write!(self.out, "{}", crate::report::links::matrix_text(m))?;
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
                crate::comm::list_ranks(&n.ranks.iter().map(|r| *r as usize).collect::<Vec<_>>()),
                crate::units::format_seconds(n.median_s),
                crate::units::format_seconds(typical)
            )
        })
        .collect()
}
