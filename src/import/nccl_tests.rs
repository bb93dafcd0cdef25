//! nccl-tests output: the text table every `*_perf` binary prints, and the JSON its
//! `-J FILE` option writes (util.cu's writer: `config.devices`, `results[]` with
//! `size`, `count`, `type`, `redop`, `root`, `out_of_place`/`in_place` objects
//! holding `time` (us), `alg_bw`, `bus_bw`, `nwrong`).

use super::{dtype_of, number, ImportContext, Parsed, Row, RunSpan};
use crate::core::ReduceOp;
use crate::error::UsageError;

fn op_of(name: &str) -> Option<ReduceOp> {
    ReduceOp::parse(name).ok()
}

/// The collective a line names: "Collective test starting: X", or a `*_perf` (or
/// `*_perf_mpi`) program on a command line. A "concluded" line names the run that ends.
fn collective_named(line: &str) -> Option<String> {
    if line.contains("Collective test concluded") {
        return None;
    }
    if let Some(rest) = line.split("Collective test starting:").nth(1) {
        let name = rest.trim();
        return (!name.is_empty()).then(|| name.trim_end_matches("_mpi").to_string());
    }
    line.split_whitespace().find_map(|word| {
        let base = word.rsplit('/').next().unwrap_or(word);
        let base = base.trim_end_matches("_mpi");
        (base.ends_with("_perf") && base.len() > 5).then(|| base.to_string())
    })
}

/// The collective a whole text names, from its first naming line; a log of one run
/// may name it only where the run ends.
fn collective_from(text: &str, ctx: &ImportContext) -> Option<String> {
    if let Some(c) = &ctx.collective {
        return Some(c.clone());
    }
    text.lines().map(strip_launcher_prefix).find_map(|line| {
        collective_named(line).or_else(|| {
            let name = line.split("Collective test concluded:").nth(1)?.trim();
            (!name.is_empty()).then(|| name.trim_end_matches("_mpi").to_string())
        })
    })
}

/// A line as nccl-tests printed it, without what launchers put before it: Open MPI's
/// `--tag-output` (`[1,0]<stdout>:`, after any `--timestamp-output` stamp), a
/// bracketed time stamp, Slurm `srun -l` (`0: `) or pdsh (`host: `).
fn strip_launcher_prefix(line: &str) -> &str {
    for tag in ["]<stdout>:", "]<stderr>:"] {
        if let Some(at) = line.find(tag) {
            return &line[at + tag.len()..];
        }
    }
    let mut rest = line.trim_start();
    if rest.starts_with('[') {
        if let Some(end) = rest.find(']') {
            let inner = &rest[1..end];
            let stamp = inner.chars().any(|c| c.is_ascii_digit())
                && inner.chars().any(|c| c == ':' || c == '-')
                && !inner.contains('<');
            if stamp {
                rest = rest[end + 1..].trim_start();
            }
        }
    }
    if let Some(first) = rest.split_whitespace().next() {
        if first.len() > 1 && first.ends_with(':') && !first.starts_with('#') {
            return rest[first.len()..]
                .strip_prefix(' ')
                .unwrap_or(&rest[first.len()..]);
        }
    }
    rest
}

/// NCCL's own diagnostics, which launchers interleave with the table.
fn is_nccl_diagnostic(line: &str) -> bool {
    line.contains("NCCL INFO") || line.contains("NCCL WARN")
}

/// One rank line of the "Using devices" block: rank, host, device index, model.
fn rank_line(line: &str) -> Option<(u32, String, u32, String)> {
    // "#  Rank  0 Group  0 Pid   6899 on ztan-mig-235z device  0 [0000:04:00] NVIDIA H100 80GB HBM3"
    let rest = line.trim_start_matches('#').trim();
    let rest = rest.strip_prefix("Rank")?;
    let mut words = rest.split_whitespace();
    let rank: u32 = words.next()?.parse().ok()?;
    let after_on = rest.split(" on ").nth(1)?;
    let host = after_on.split_whitespace().next()?.to_string();
    let index = after_on
        .split(" device ")
        .nth(1)
        .and_then(|d| d.split_whitespace().next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let device = after_on.split(']').nth(1).unwrap_or("").trim().to_string();
    Some((rank, host, index, device))
}

fn skip_dtype(parsed: &mut Parsed, type_name: &str) {
    let why = format!("rows of datatype {type_name} (not in the result schema)");
    if !parsed.skipped.contains(&why) {
        parsed.skipped.push(why);
    }
}

/// One half (out-of-place or in-place) of a result line; `figures` are time (us),
/// algbw, busbw and #wrong. `None` when there is no positive time.
fn timed_row(
    collective: &str,
    dtype: crate::core::DType,
    op: Option<ReduceOp>,
    in_place: bool,
    count: u64,
    bytes: u64,
    figures: [Option<f64>; 4],
) -> Option<Row> {
    let [time_us, algbw, busbw, wrong] = figures;
    let time_us = time_us.filter(|t| *t > 0.0)?;
    Some(Row {
        collective: collective.to_string(),
        dtype,
        op,
        in_place,
        count,
        bytes,
        time_s: time_us * 1e-6,
        min_s: None,
        max_s: None,
        algbw,
        busbw,
        wrong: wrong.map(|w| w as u64),
    })
}

/// One `*_perf` run of a text log while it is read.
#[derive(Default)]
struct Run {
    collective: Option<String>,
    ranks: Vec<(u32, String)>,
    columns: Vec<String>,
    first_row: usize,
    has_rows: bool,
    /// 1-based line where the run begins, for messages.
    line: usize,
}

impl Run {
    fn after(previous: &Run, line: usize, first_row: usize, keep_ranks: bool) -> Run {
        Run {
            ranks: if keep_ranks {
                previous.ranks.clone()
            } else {
                Vec::new()
            },
            first_row,
            line,
            ..Default::default()
        }
    }
}

/// Closes `run`: its rows take its collective and it becomes a span of the document.
fn finish_run(
    run: Run,
    parsed: &mut Parsed,
    ctx: &ImportContext,
    only_name: Option<&String>,
    runs: usize,
) -> Result<(), UsageError> {
    if !run.has_rows {
        return Ok(());
    }
    let collective = run
        .collective
        .or_else(|| ctx.collective.clone())
        .or_else(|| (runs == 1).then(|| only_name.cloned()).flatten())
        .ok_or_else(|| {
            UsageError::new(format!(
                "'{}': the run starting at line {} does not name its collective (no '*_perf' command or 'Collective test starting' line before it): pass --collective",
                ctx.source_name, run.line
            ))
        })?;
    for row in &mut parsed.rows[run.first_row..] {
        row.collective.clone_from(&collective);
    }
    let mut hosts: Vec<&String> = run.ranks.iter().map(|(_, h)| h).collect();
    hosts.sort();
    hosts.dedup();
    parsed.run_starts.push(run.first_row);
    parsed.runs.push(RunSpan {
        first_row: run.first_row,
        ranks: run.ranks.len() as u32,
        nodes: hosts.len() as u32,
    });
    for r in run.ranks {
        if !parsed.ranks.contains(&r) {
            parsed.ranks.push(r);
        }
    }
    Ok(())
}

/// Parses the text table: one run per `*_perf` invocation, however many a file holds
/// and whatever launcher prefixed its lines.
pub fn parse_text(text: &str, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed {
        tool: "nccl-tests".into(),
        ..Default::default()
    };
    // A name seen since the last run's rows began: it labels the next run.
    let mut pending: Option<String> = None;
    let mut run = Run {
        line: 1,
        ..Default::default()
    };
    let mut runs_with_rows = 0usize;
    let only_name = collective_from(text, &ImportContext::default());
    for (number_of_line, raw) in text.lines().enumerate() {
        let line_no = number_of_line + 1;
        let line = strip_launcher_prefix(raw);
        super::nccl_tuning::read_tuning(line, &mut parsed.nccl_tuning);
        if let Some(gpu) = super::nccl_fabric::read_fabric(line) {
            if !parsed.fabric.contains(&gpu) {
                parsed.fabric.push(gpu);
            }
        }
        if is_nccl_diagnostic(line) {
            continue;
        }
        let trimmed = line.trim();
        if let Some(name) = collective_named(trimmed) {
            pending = Some(name);
        }
        let words: Vec<&str> = trimmed.trim_start_matches('#').split_whitespace().collect();
        if words.first() == Some(&"nThread") {
            let next = Run::after(&run, line_no, parsed.rows.len(), false);
            let mut done = std::mem::replace(&mut run, next);
            if done.has_rows {
                runs_with_rows += 1;
            } else if done.collective.is_some() && pending.is_none() {
                pending = done.collective.take();
            }
            finish_run(done, &mut parsed, ctx, only_name.as_ref(), 2)?;
            run.collective = pending.take();
            continue;
        }
        if let Some((rank, host, index, device)) = rank_line(trimmed) {
            if run.has_rows {
                // A device list after rows: a new run whose header was lost.
                let next = Run::after(&run, line_no, parsed.rows.len(), false);
                let done = std::mem::replace(&mut run, next);
                runs_with_rows += 1;
                finish_run(done, &mut parsed, ctx, only_name.as_ref(), 2)?;
                run.collective = pending.take();
            }
            if !run.ranks.iter().any(|(r, _)| *r == rank) {
                run.ranks.push((rank, host.clone()));
            }
            if !device.is_empty() {
                if !parsed.gpu_names.contains(&device) {
                    parsed.gpu_names.push(device.clone());
                }
                let gpu = (host, index, device);
                if !parsed.devices.contains(&gpu) {
                    parsed.devices.push(gpu);
                }
            }
            continue;
        }
        if let Some(v) = trimmed.strip_prefix("# nccl-tests version") {
            parsed.tool_version = v.split_whitespace().next().map(str::to_string);
            continue;
        }
        if words.first() == Some(&"size") && words.contains(&"count") {
            if run.has_rows {
                // A header after rows starts a new run; its name must come from the
                // log or the caller, never from the run before.
                let next = Run::after(&run, line_no, parsed.rows.len(), true);
                let done = std::mem::replace(&mut run, next);
                runs_with_rows += 1;
                finish_run(done, &mut parsed, ctx, only_name.as_ref(), 2)?;
                run.collective = pending.take();
            }
            run.columns = words.iter().map(|w| w.to_string()).collect();
            continue;
        }
        if trimmed.starts_with('#') || trimmed.is_empty() || run.columns.is_empty() {
            continue;
        }
        let cells: Vec<&str> = trimmed.split_whitespace().collect();
        // size count type [redop] [root] then (time algbw busbw #wrong) x {out-of-place, in-place}.
        let lead = run
            .columns
            .iter()
            .position(|c| c == "time" || c == "cputime");
        let Some(lead) = lead else { continue };
        if cells.len() < lead + 4 || cells[0].parse::<u64>().is_err() {
            continue;
        }
        // Old versions print a maximum error, not a count of wrong elements.
        let counts_wrong = run.columns.iter().any(|c| c == "#wrong");
        let bytes: u64 = cells[0].parse().unwrap_or(0);
        let count: u64 = cells[1].parse().map_err(|_| {
            UsageError::new(format!(
                "'{}': bad count in row '{trimmed}'",
                ctx.source_name
            ))
        })?;
        let type_name = cells[2];
        let Some(dtype) = dtype_of(type_name) else {
            skip_dtype(&mut parsed, type_name);
            continue;
        };
        let op = op_of(cells[3]);
        if !run.has_rows {
            run.has_rows = true;
            if run.collective.is_none() {
                run.collective = pending.take();
            }
        }
        for (block, in_place) in [(0usize, false), (1, true)] {
            let at = lead + block * 4;
            let Some(chunk) = cells.get(at..at + 4) else {
                continue;
            };
            let mut figures = [chunk[0], chunk[1], chunk[2], chunk[3]].map(number);
            if !counts_wrong {
                figures[3] = None;
            }
            parsed
                .rows
                .extend(timed_row("", dtype, op, in_place, count, bytes, figures));
        }
    }
    if run.has_rows {
        runs_with_rows += 1;
    }
    finish_run(run, &mut parsed, ctx, only_name.as_ref(), runs_with_rows)?;
    Ok(parsed)
}

/// Parses the `-J` JSON.
pub fn parse_json(text: &str, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        UsageError::new(format!(
            "'{}' is not valid nccl-tests JSON: {e}",
            ctx.source_name
        ))
    })?;
    let results = v.get("results").and_then(|r| r.as_array()).ok_or_else(|| {
        UsageError::new(format!(
            "'{}': not nccl-tests JSON (no 'results' list)",
            ctx.source_name
        ))
    })?;
    let args: Vec<String> = v
        .get("args")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let collective = ctx
        .collective
        .clone()
        .or_else(|| collective_from(&args.join(" "), ctx))
        .ok_or_else(|| {
            UsageError::new(format!(
                "'{}': the JSON does not name its collective (no '*_perf' in args): pass --collective",
                ctx.source_name
            ))
        })?;
    let mut parsed = Parsed {
        tool: "nccl-tests".into(),
        tool_version: v.get("nccl_version").map(|n| format!("nccl {n}")),
        ..Default::default()
    };
    for d in v
        .pointer("/config/devices")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
    {
        let rank = d.get("rank").and_then(|r| r.as_u64());
        let host = d.get("hostname").and_then(|h| h.as_str());
        if let (Some(r), Some(h)) = (rank, host) {
            parsed.ranks.push((r as u32, h.to_string()));
        }
        if let Some(n) = d.get("device_info").and_then(|x| x.as_str()) {
            if !parsed.gpu_names.iter().any(|g| g == n) {
                parsed.gpu_names.push(n.to_string());
            }
            let index = d.get("device").and_then(|x| x.as_u64()).unwrap_or(0) as u32;
            if let Some(h) = host {
                let gpu = (h.to_string(), index, n.to_string());
                if !parsed.devices.contains(&gpu) {
                    parsed.devices.push(gpu);
                }
            }
        }
    }
    let bad = |what: &str| {
        UsageError::new(format!(
            "'{}': a result has no valid '{what}'",
            ctx.source_name
        ))
    };
    for r in results {
        let bytes = r
            .get("size")
            .and_then(|x| x.as_u64())
            .ok_or_else(|| bad("size"))?;
        let count = r
            .get("count")
            .and_then(|x| x.as_u64())
            .ok_or_else(|| bad("count"))?;
        let type_name = r
            .get("type")
            .and_then(|x| x.as_str())
            .ok_or_else(|| bad("type"))?;
        let Some(dtype) = dtype_of(type_name) else {
            skip_dtype(&mut parsed, type_name);
            continue;
        };
        let op = r.get("redop").and_then(|x| x.as_str()).and_then(op_of);
        for (key, in_place) in [("out_of_place", false), ("in_place", true)] {
            let Some(b) = r.get(key).filter(|b| b.is_object()) else {
                continue;
            };
            let num = |k: &str| b.get(k).and_then(|x| x.as_f64()).filter(|x| x.is_finite());
            let figures = [
                num("time").or_else(|| num("cpu_time")),
                num("alg_bw"),
                num("bus_bw"),
                num("nwrong"),
            ];
            parsed.rows.extend(timed_row(
                &collective,
                dtype,
                op,
                in_place,
                count,
                bytes,
                figures,
            ));
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_prefixes_come_off_and_table_lines_stay() {
        let row =
            "     1048576        262144     float     sum      -1    67.31   15.58   27.26       0";
        for (line, want) in [
            ("[1,0]<stdout>:# nThread 1", "# nThread 1"),
            (
                "Wed May  1 10:00:00 2024[1,3]<stdout>:# Using devices",
                "# Using devices",
            ),
            ("[2024-05-01 10:00:00] # Using devices", "# Using devices"),
            ("0: # Using devices", "# Using devices"),
            ("12: # Using devices", "# Using devices"),
            ("gpu-node-07: # Using devices", "# Using devices"),
            (
                "# Collective test starting: all_reduce_perf",
                "# Collective test starting: all_reduce_perf",
            ),
            (row, row.trim_start()),
        ] {
            assert_eq!(strip_launcher_prefix(line).trim(), want.trim(), "{line}");
        }
    }

    #[test]
    fn collectives_are_named_by_program_or_start_line_not_by_conclusion() {
        assert_eq!(
            collective_named("mpirun -np 16 /opt/nccl-tests/build/all_gather_perf_mpi -b 8"),
            Some("all_gather_perf".into())
        );
        assert_eq!(
            collective_named("# Collective test starting: reduce_scatter_perf"),
            Some("reduce_scatter_perf".into())
        );
        assert_eq!(
            collective_named("# Collective test concluded: all_reduce_perf"),
            None
        );
        assert_eq!(collective_named("# Avg bus bandwidth    : 1.15327"), None);
    }

    #[test]
    fn rank_lines_of_new_and_old_layouts() {
        assert_eq!(
            rank_line("#  Rank  9 Group  0 Pid 739787 on     h100-4 device  1 [0002:00:02] NVIDIA H100 80GB HBM3"),
            Some((9, "h100-4".into(), 1, "NVIDIA H100 80GB HBM3".into()))
        );
        assert_eq!(
            rank_line("   Rank  3 Pid 1821216 on AI-A100-Beethoven01 device  3 [0x00] NVIDIA A100-SXM4-40GB"),
            Some((3, "AI-A100-Beethoven01".into(), 3, "NVIDIA A100-SXM4-40GB".into()))
        );
        assert_eq!(rank_line("# Using devices"), None);
    }
}
