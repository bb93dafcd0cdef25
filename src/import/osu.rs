//! OSU micro-benchmarks collective output:
//!
//! ```text
//! # OSU MPI Allreduce Latency Test v5.6.2
//! # Size       Avg Latency(us)
//! 4                       3.90
//! ```
//!
//! Newer versions (and `-f`) add `Min Latency(us)`, `Max Latency(us)` and
//! `Iterations` columns and sometimes a `# Datatype:` line. Sizes are bytes per rank;
//! OSU collectives use MPI_FLOAT unless told otherwise.

use super::{dtype_of, number, ImportContext, Parsed, Row};
use crate::core::{DType, ReduceOp};
use crate::error::UsageError;

/// Parses an OSU collective log (one test per file).
pub fn parse(text: &str, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed {
        tool: "osu-micro-benchmarks".into(),
        ..Default::default()
    };
    let mut collective: Option<String> = None;
    let mut dtype = DType::Float;
    let mut columns: Vec<String> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(title) = t.strip_prefix("# OSU ") {
            // "MPI Allreduce Latency Test v5.6.2"
            let words: Vec<&str> = title.split_whitespace().collect();
            if collective.is_some() {
                return Err(UsageError::new(format!(
                    "'{}': more than one OSU test in one file: split it, one test per file",
                    ctx.source_name
                )));
            }
            let Some(test_at) = words.iter().position(|w| *w == "Test") else {
                continue;
            };
            parsed.tool_version = words
                .get(test_at + 1)
                .map(|v| v.trim_start_matches('v').to_string());
            let name_words: Vec<&str> = words[..test_at]
                .iter()
                .copied()
                .filter(|w| !w.starts_with("MPI") && *w != "Latency" && *w != "Bandwidth")
                .collect();
            let name = name_words.join("").to_ascii_lowercase();
            let known = [
                "allreduce",
                "allgather",
                "reducescatter",
                "broadcast",
                "bcast",
                "alltoall",
                "reduce",
            ];
            if !known.contains(&name.as_str()) {
                return Err(UsageError::new(format!(
                    "'{}': OSU test '{}' is not a collective this import reads ({}; point-to-point: {})",
                    ctx.source_name,
                    words[..test_at].join(" "),
                    known.join(", "),
                    super::osu_p2p::programs()
                )));
            }
            collective = Some(name);
            continue;
        }
        if let Some(d) = t.strip_prefix("# Datatype:") {
            let name = d.trim().trim_end_matches('.');
            dtype = dtype_of(name).ok_or_else(|| {
                UsageError::new(format!(
                    "'{}': datatype {name} is not in the result schema (float, double, int32, int64)",
                    ctx.source_name
                ))
            })?;
            continue;
        }
        if t.starts_with("# Size") {
            columns = header_columns(t);
            continue;
        }
        if t.is_empty() || t.starts_with('#') || columns.is_empty() {
            continue;
        }
        let cells: Vec<&str> = t.split_whitespace().collect();
        let Some(bytes) = cells.first().and_then(|c| c.parse::<u64>().ok()) else {
            continue;
        };
        let col = |name: &str| {
            columns
                .iter()
                .position(|c| c.starts_with(name))
                .and_then(|i| cells.get(i))
                .and_then(|c| number(c))
        };
        let Some(avg_us) = col("Avg Latency") else {
            return Err(UsageError::new(format!(
                "'{}': row '{t}' has no average latency",
                ctx.source_name
            )));
        };
        if avg_us <= 0.0 {
            continue;
        }
        let Some(name) = collective.clone() else {
            return Err(UsageError::new(format!(
                "'{}': result rows before the '# OSU ... Test' title",
                ctx.source_name
            )));
        };
        let op = (name == "allreduce" || name == "reduce" || name == "reducescatter")
            .then_some(ReduceOp::Sum);
        parsed.rows.push(Row {
            collective: name,
            dtype,
            op,
            in_place: false,
            count: bytes / dtype.size() as u64,
            bytes,
            time_s: avg_us * 1e-6,
            min_s: col("Min Latency").map(|v| v * 1e-6),
            max_s: col("Max Latency").map(|v| v * 1e-6),
            algbw: None,
            busbw: None,
            wrong: None,
        });
    }
    if collective.is_none() {
        return Err(UsageError::new(format!(
            "'{}': no '# OSU ... Test' title: not an OSU micro-benchmarks log",
            ctx.source_name
        )));
    }
    Ok(parsed)
}

/// The column names of an OSU `# Size ...` header line: OSU pads its columns with two
/// or more spaces, and names may hold one (`Avg Latency(us)`).
pub(crate) fn header_columns(line: &str) -> Vec<String> {
    line.trim_start_matches('#')
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}
