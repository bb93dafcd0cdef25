//! nccl-tests output: the text table every `*_perf` binary prints, and the JSON its
//! `-J FILE` option writes (util.cu's writer: `config.devices`, `results[]` with
//! `size`, `count`, `type`, `redop`, `root`, `out_of_place`/`in_place` objects
//! holding `time` (us), `alg_bw`, `bus_bw`, `nwrong`).

use super::{dtype_of, number, ImportContext, Parsed, Row};
use crate::core::ReduceOp;
use crate::error::UsageError;

fn op_of(name: &str) -> Option<ReduceOp> {
    ReduceOp::parse(name).ok()
}

/// The collective a log belongs to, from its "Collective test starting:" line, the
/// command line, or the caller.
fn collective_from(text: &str, ctx: &ImportContext) -> Option<String> {
    if let Some(c) = &ctx.collective {
        return Some(c.clone());
    }
    for line in text.lines() {
        if let Some(rest) = line.split("Collective test starting:").nth(1) {
            return Some(rest.trim().to_string());
        }
        for word in line.split_whitespace() {
            let base = word.rsplit('/').next().unwrap_or(word);
            if base.ends_with("_perf") && base.len() > 5 {
                return Some(base.to_string());
            }
        }
    }
    None
}

fn rank_line(line: &str) -> Option<(u32, String, String)> {
    // "#  Rank  0 Group  0 Pid   6899 on ztan-mig-235z device  0 [0000:04:00] NVIDIA H100 80GB HBM3"
    let rest = line.trim_start_matches('#').trim();
    let rest = rest.strip_prefix("Rank")?;
    let mut words = rest.split_whitespace();
    let rank: u32 = words.next()?.parse().ok()?;
    let after_on = rest.split(" on ").nth(1)?;
    let host = after_on.split_whitespace().next()?.to_string();
    let device = after_on.split(']').nth(1).unwrap_or("").trim().to_string();
    Some((rank, host, device))
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

/// Parses the text table.
pub fn parse_text(text: &str, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let collective = collective_from(text, ctx).ok_or_else(|| {
        UsageError::new(format!(
            "'{}': the log does not name its collective (no '*_perf' command or 'Collective test starting' line): pass --collective",
            ctx.source_name
        ))
    })?;
    let mut parsed = Parsed {
        tool: "nccl-tests".into(),
        ..Default::default()
    };
    let mut columns: Vec<String> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some((rank, host, device)) = rank_line(trimmed) {
            parsed.ranks.push((rank, host));
            if !device.is_empty() && !parsed.gpu_names.contains(&device) {
                parsed.gpu_names.push(device);
            }
            continue;
        }
        if let Some(v) = trimmed.strip_prefix("# nccl-tests version") {
            parsed.tool_version = v.split_whitespace().next().map(str::to_string);
            continue;
        }
        if trimmed.starts_with('#') {
            let words: Vec<&str> = trimmed.trim_start_matches('#').split_whitespace().collect();
            if words.first() == Some(&"size") && words.contains(&"count") {
                columns = words.iter().map(|w| w.to_string()).collect();
            }
            continue;
        }
        if trimmed.is_empty() || columns.is_empty() {
            continue;
        }
        let cells: Vec<&str> = trimmed.split_whitespace().collect();
        // size count type redop [root] then (time algbw busbw #wrong) x {out-of-place, in-place}.
        let lead = columns.iter().position(|c| c == "time" || c == "cputime");
        let Some(lead) = lead else { continue };
        if cells.len() < lead + 4 || cells[0].parse::<u64>().is_err() {
            continue;
        }
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
        for (block, in_place) in [(0usize, false), (1, true)] {
            let at = lead + block * 4;
            let Some(chunk) = cells.get(at..at + 4) else {
                continue;
            };
            let figures = [chunk[0], chunk[1], chunk[2], chunk[3]].map(number);
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
