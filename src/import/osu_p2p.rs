//! OSU micro-benchmarks point-to-point output: `osu_latency`, `osu_latency_mp`,
//! `osu_bw` and `osu_bibw`, as clusterbench `p2p` records.
//!
//! ```text
//! # OSU MPI Latency Test v5.6.2
//! # Size          Latency (us)
//! 0                       0.25
//! ```
//!
//! Versions differ in their header lines: 7.1 to 7.3 print a `# Datatype:` line after
//! the column header, 7.4 and later print it before and name the latency column
//! `Avg Latency(us)`; `--validation` adds a `Validation` column (`Pass`/`Fail`) and
//! `-z` tail-latency columns (`P50 Tail Lat(us)`, ...). Builds with a GPU runtime say
//! `MPI-CUDA` (or `-ROCM`, `-OPENACC`, `-SYCL`) in the title and where the buffers
//! were: `# Send Buffer on DEVICE (D) and Receive Buffer on DEVICE (D)`.
//!
//! Latency is OSU's one-way figure, half the ping-pong round trip, in microseconds:
//! the time of a clusterbench `latency` record. Bandwidth is in MB/s (1e6 bytes/s) over
//! a window of messages (64 unless `-W` said otherwise, which the log does not print),
//! both ways for `osu_bibw`: the time of one window follows from it exactly as
//! clusterbench times its `bandwidth` and `bidir` modes.

use super::osu_log::{backend, buffer, buffer_note, is_family_read, title, Buffer, Title};
use super::{number, time_summary, ImportContext, Parsed};
use crate::core::p2p::P2pMode;
use crate::error::UsageError;
use crate::results::{Check, Metric, Params, Record};

/// OSU's window when `-W` is not given (`WINDOW_SIZE_LARGE`).
pub const OSU_DEFAULT_WINDOW: u32 = 64;

/// The point-to-point tests this import reads, as their titles name them.
const TESTS: [(&str, P2pMode, &str); 4] = [
    ("Latency", P2pMode::Latency, "osu_latency"),
    ("Multi-process Latency", P2pMode::Latency, "osu_latency_mp"),
    ("Bandwidth", P2pMode::Bandwidth, "osu_bw"),
    ("Bi-Directional Bandwidth", P2pMode::Bidir, "osu_bibw"),
];

/// One row of an OSU point-to-point log.
#[derive(Debug, Clone, PartialEq)]
pub struct P2pRow {
    pub mode: P2pMode,
    /// Bytes per message.
    pub bytes: u64,
    /// Messages per iteration (1 for latency).
    pub window: u32,
    /// Seconds per iteration: the one-way latency, or the time of one window.
    pub time_s: f64,
    /// Fastest and slowest iteration, when the log has those columns.
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    /// The 99th-percentile latency (`-z` tail columns), seconds.
    pub p99_s: Option<f64>,
    /// GB/s (1e9 bytes) as the log states it (bandwidth tests) or follows from the latency.
    pub gbps: f64,
    /// `--validation`: whether OSU found the received data right.
    pub validation: Option<bool>,
}

fn mode_of(t: &Title) -> Option<(P2pMode, &'static str)> {
    if !is_family_read(&t.family) {
        return None;
    }
    TESTS
        .iter()
        .find(|(name, _, _)| *name == t.name)
        .map(|(_, mode, program)| (*mode, *program))
}

/// Whether `text` is the log of an OSU point-to-point test this import reads (its
/// first OSU title decides).
pub fn is_point_to_point(text: &str) -> bool {
    text.lines()
        .find_map(title)
        .is_some_and(|t| mode_of(&t).is_some())
}

/// The OSU point-to-point programs this import reads, for messages.
pub fn programs() -> String {
    TESTS.map(|t| t.2).join(", ")
}

/// What a header column holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Size,
    Value,
    Min,
    Max,
    Iterations,
    Validation,
    /// A `P<n> Tail ...` column and its percentile.
    Tail(u32),
    Other,
}

fn column_of(name: &str, mode: P2pMode) -> Column {
    let latency = mode == P2pMode::Latency;
    if name == "Size" {
        Column::Size
    } else if (latency && (name.starts_with("Latency") || name.starts_with("Avg Latency")))
        || (!latency && (name.starts_with("Bandwidth") || name.starts_with("Bi-Bandwidth")))
    {
        Column::Value
    } else if latency && name.starts_with("Min Latency") {
        Column::Min
    } else if latency && name.starts_with("Max Latency") {
        Column::Max
    } else if name == "Iterations" {
        Column::Iterations
    } else if name == "Validation" {
        Column::Validation
    } else if let Some(p) = name
        .strip_prefix('P')
        .and_then(|r| r.split_once(" Tail"))
        .and_then(|(p, _)| p.parse().ok())
    {
        Column::Tail(p)
    } else {
        Column::Other
    }
}

/// Parses one OSU point-to-point test (`osu::parse` splits a file into its tests).
pub fn parse(text: &str, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let src = &ctx.source_name;
    let err = |msg: String| UsageError::new(format!("'{src}': {msg}"));
    if let Some(r) = ctx.ranks.filter(|r| *r != 2) {
        return Err(err(format!(
            "OSU point-to-point tests run on exactly 2 ranks, not --ranks {r}"
        )));
    }
    if ctx.hosts.len() > 2 || ctx.hosts.iter().any(|h| h.trim().is_empty()) {
        return Err(err(format!(
            "--hosts names the hosts of the 2 ranks (one name, or two), not '{}'",
            ctx.hosts.join(",")
        )));
    }
    let mut parsed = Parsed {
        tool: super::OSU_TOOL.into(),
        fixed_ranks: Some(2),
        ..Default::default()
    };
    let mut test: Option<(Title, P2pMode, &'static str)> = None;
    let mut placement: Option<(Buffer, Buffer)> = None;
    let mut columns: Vec<(String, Column)> = Vec::new();
    let mut tails_dropped = false;
    for (i, line) in text.lines().enumerate() {
        let at = format!("line {}", i + 1);
        let t = line.trim();
        if let Some(found) = title(t) {
            if test.is_some() {
                return Err(err(format!(
                    "{at}: a second OSU test in one file: split it, one test per file"
                )));
            }
            let (mode, program) = mode_of(&found).ok_or_else(|| {
                err(format!(
                    "{at}: OSU test '{}' is not one this import reads (point-to-point: {})",
                    t.trim_start_matches("# OSU "),
                    programs()
                ))
            })?;
            test = Some((found, mode, program));
            continue;
        }
        let Some((_, mode, _)) = &test else {
            // Launcher and library chatter before the title.
            continue;
        };
        let mode = *mode;
        if let Some(rest) = t.strip_prefix("# Send Buffer on ") {
            let codes = rest
                .split_once(" and Receive Buffer on ")
                .and_then(|(s, r)| Some((buffer(s)?, buffer(r)?)));
            placement =
                Some(codes.ok_or_else(|| {
                    err(format!("{at}: cannot read the buffer placement in '{t}'"))
                })?);
            continue;
        }
        if let Some(d) = t.strip_prefix("# Datatype:") {
            let d = d.trim().trim_end_matches('.');
            if d != "MPI_CHAR" {
                parsed
                    .notes
                    .push(format!("messages of {d} (sizes are in bytes all the same)"));
            }
            continue;
        }
        if t.starts_with("# Size") {
            columns = super::osu::header_columns(t)
                .into_iter()
                .map(|c| {
                    let kind = column_of(&c, mode);
                    (c, kind)
                })
                .collect();
            if !columns.iter().any(|c| c.1 == Column::Value) {
                return Err(err(format!(
                    "{at}: the column header '{t}' has no {} column",
                    if mode == P2pMode::Latency {
                        "latency"
                    } else {
                        "bandwidth"
                    }
                )));
            }
            if columns.iter().any(|c| c.0 == "Transmit Size") {
                return Err(err(format!(
                    "{at}: a derived-datatype run (Transmit Size column) moves other amounts than its Size column says; it is not imported"
                )));
            }
            for (name, c) in &columns {
                if *c == Column::Other {
                    parsed.notes.push(format!("column '{name}' not read"));
                }
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') || !t.starts_with(|c: char| c.is_ascii_digit()) {
            // Comments, and warnings that MPI libraries print between rows.
            continue;
        }
        if columns.is_empty() {
            return Err(err(format!(
                "{at}: result row '{t}' before the '# Size' column header"
            )));
        }
        let cells: Vec<&str> = t.split_whitespace().collect();
        if cells.len() != columns.len() {
            return Err(err(format!(
                "{at}: row '{t}' has {} fields where the header names {} ({}): truncated or not an OSU row",
                cells.len(),
                columns.len(),
                columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let bytes = cells[0].parse::<u64>().map_err(|_| {
            err(format!(
                "{at}: size '{}' is not a whole number of bytes",
                cells[0]
            ))
        })?;
        let mut value = None;
        let mut row = P2pRow {
            mode,
            bytes,
            window: 1,
            time_s: 0.0,
            min_s: None,
            max_s: None,
            p99_s: None,
            gbps: 0.0,
            validation: None,
        };
        for ((name, column), cell) in columns.iter().zip(&cells) {
            let numeric = || {
                number(cell)
                    .filter(|v| *v >= 0.0)
                    .ok_or_else(|| err(format!("{at}: {name} '{cell}' is not a number")))
            };
            match column {
                Column::Size | Column::Other => {}
                Column::Value => value = Some(numeric()?),
                Column::Min => row.min_s = Some(numeric()? * 1e-6),
                Column::Max => row.max_s = Some(numeric()? * 1e-6),
                Column::Iterations => {
                    cell.parse::<u64>()
                        .map_err(|_| err(format!("{at}: {name} '{cell}' is not a whole number")))?;
                }
                Column::Validation => {
                    row.validation = Some(match *cell {
                        "Pass" => true,
                        "Fail" => false,
                        _ => {
                            return Err(err(format!(
                                "{at}: Validation '{cell}' is neither Pass nor Fail"
                            )))
                        }
                    })
                }
                Column::Tail(p) => {
                    let v = numeric()?;
                    if *p == 99 && mode == P2pMode::Latency {
                        row.p99_s = Some(v * 1e-6);
                    } else {
                        tails_dropped = true;
                    }
                }
            }
        }
        let Some(value) = value.filter(|v| *v > 0.0) else {
            // OSU prints two decimals: a value below its resolution reads 0.00.
            parsed.skipped.push(format!(
                "{bytes} B: printed as 0.00, below the log's resolution"
            ));
            continue;
        };
        if mode == P2pMode::Latency {
            row.time_s = value * 1e-6;
            row.gbps = bytes as f64 / row.time_s / 1e9;
        } else {
            row.window = ctx.window.unwrap_or(OSU_DEFAULT_WINDOW);
            let moved = mode.bytes_per_iteration(bytes as usize, row.window as usize);
            row.time_s = moved / (value * 1e6);
            row.gbps = value / 1e3;
            if row.time_s <= 0.0 {
                return Err(err(format!(
                    "{at}: a bandwidth for {bytes}-byte messages is not possible"
                )));
            }
        }
        parsed.p2p.push(row);
    }
    let Some((found, mode, program)) = test else {
        return Err(err(
            "no '# OSU ... Test' title: not an OSU micro-benchmarks log".into(),
        ));
    };
    parsed.tool_version = found.version.clone();
    parsed.notes.insert(0, format!("{program} (one rank pair)"));
    if mode != P2pMode::Latency && ctx.window.is_none() {
        parsed.notes.push(format!(
            "window of {OSU_DEFAULT_WINDOW} messages assumed (OSU's default; the log does not print -W): pass --window if it was changed"
        ));
    }
    if tails_dropped {
        parsed
            .notes
            .push("tail columns other than the P99 latency not kept".into());
    }
    parsed.backend = Some(backend(&found, placement.as_ref()));
    parsed.notes.extend(buffer_note(&found, placement.as_ref()));
    if ctx.hosts.is_empty() && ctx.nodes.is_none() {
        parsed.notes.push(
            "the log names no hosts (recorded as unknown, on 1 node): pass --hosts and --nodes"
                .into(),
        );
    }
    if !ctx.hosts.is_empty() {
        let second = ctx.hosts.get(1).unwrap_or(&ctx.hosts[0]);
        parsed.ranks = vec![(0, ctx.hosts[0].clone()), (1, second.clone())];
    }
    Ok(parsed)
}

/// The record of one row; `hosts` are the (rank, host) pairs known.
pub(super) fn record(
    row: &P2pRow,
    backend: &str,
    ranks: u32,
    nodes: u32,
    hosts: &[(u32, String)],
    source: &str,
) -> Result<Record, UsageError> {
    let host = |rank: u32| {
        hosts
            .iter()
            .find(|(r, _)| *r == rank)
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| "unknown".into())
    };
    let mut time_s = time_summary(source, row.time_s, row.min_s, row.max_s)?;
    if let Some(p99) = row.p99_s {
        time_s.p99 = p99;
        time_s.max = time_s.max.max(p99);
    }
    let best = if time_s.min > 0.0 && time_s.min < row.time_s {
        row.gbps * row.time_s / time_s.min
    } else {
        row.gbps
    };
    let check = match row.validation {
        Some(passed) => Check {
            performed: true,
            passed,
            checked: 0,
            wrong: 0,
            max_error_ratio: None,
            method: format!(
                "osu-micro-benchmarks --validation: {} (the log does not count wrong bytes)",
                if passed { "Pass" } else { "Fail" }
            ),
        },
        None => Check {
            performed: false,
            passed: true,
            checked: 0,
            wrong: 0,
            max_error_ratio: None,
            method: "not checked (the log has no Validation column)".into(),
        },
    };
    Ok(Record {
        benchmark: "p2p".into(),
        backend: backend.into(),
        ranks,
        nodes,
        params: Params::PointToPoint {
            mode: row.mode.name().into(),
            bytes: row.bytes,
            window: row.window,
            from: 0,
            to: 1,
            from_host: host(0),
            to_host: host(1),
        },
        time_s,
        samples_s: vec![row.time_s],
        metrics: vec![Metric {
            name: "bandwidth".into(),
            unit: "GB/s".into(),
            value: row.gbps,
            best,
        }],
        check,
        per_node: Vec::new(),
        timing: None,
        rank_mean_s: None,
    })
}
