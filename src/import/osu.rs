//! OSU micro-benchmarks output: a file split into its tests, and the collective
//! latency tests read here (point-to-point ones in `osu_p2p`).
//!
//! ```text
//! # OSU MPI Allreduce Latency Test v5.6.2
//! # Size       Avg Latency(us)
//! 4                       3.90
//! ```
//!
//! Newer versions (and `-f`) add `Min Latency(us)`, `Max Latency(us)` and
//! `Iterations` columns and a `# Datatype:` line; `osu_barrier` has no size column.
//! Sizes are bytes per rank, recorded in nccl-tests' terms (see [`as_nccl_tests`]).
//! 5.x collectives move MPI_CHAR (MPI_FLOAT for
//! reductions), 7.x say which in `# Datatype:`; the schema has no name for MPI_CHAR,
//! so such rows are recorded as float by their size in bytes, which stays exact.
//! The NCCL tests of `osu_xccl_*` title themselves `NCCL-CUDA`.

use super::osu_log::{backend, buffer, buffer_note, is_family_read, sections, title, Section};
use super::osu_p2p;
use super::{dtype_of, number, ImportContext, Parsed, Row};
use crate::core::{DType, ReduceOp};
use crate::error::UsageError;

/// An OSU row's size in nccl-tests' columns, which the records keep: OSU prints the
/// bytes of one rank's block for the gathers, scatters and all-to-alls (nccl-tests:
/// the whole buffer, `ranks` blocks), and the whole send buffer for reduce-scatter
/// (nccl-tests counts its block). Returns (count, bytes).
pub fn as_nccl_tests(benchmark: &str, count: u64, bytes: u64, ranks: u32) -> (u64, u64) {
    let ranks = u64::from(ranks.max(1));
    match benchmark {
        "allgather" | "allgatherv" | "alltoall" | "alltoallv" | "alltoallw" | "gather"
        | "gatherv" | "scatter" | "scatterv" => (count, bytes * ranks),
        "reducescatter" => (count / ranks, bytes),
        _ => (count, bytes),
    }
}

/// The collective latency tests this import reads: the title's name with spaces,
/// `-` and `_` removed, lower case, and the collective it is.
const COLLECTIVES: [(&str, &str); 16] = [
    ("allreduce", "allreduce"),
    ("allgather", "allgather"),
    ("allgatherv", "allgatherv"),
    ("alltoallpersonalizedexchange", "alltoall"),
    ("alltoallvpersonalizedexchange", "alltoallv"),
    ("alltoallwpersonalizedexchange", "alltoallw"),
    ("alltoall", "alltoall"),
    ("broadcast", "broadcast"),
    ("bcast", "broadcast"),
    ("reduce", "reduce"),
    ("reducescatter", "reducescatter"),
    ("gather", "gather"),
    ("gatherv", "gatherv"),
    ("scatter", "scatter"),
    ("scatterv", "scatterv"),
    ("barrier", "barrier"),
];

fn collective_of(name: &str) -> Option<&'static str> {
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    let key = key.trim_end_matches("latency");
    COLLECTIVES.iter().find(|(k, _)| *k == key).map(|(_, c)| *c)
}

fn known_tests() -> String {
    let mut names: Vec<&str> = COLLECTIVES.iter().map(|(_, c)| *c).collect();
    names.dedup();
    names.join(", ")
}

/// Parses an OSU log: every test in it, each read on its own.
pub fn parse(text: &str, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let src = &ctx.source_name;
    let tests = sections(text);
    if tests.is_empty() {
        return Err(UsageError::new(format!(
            "'{src}': no '# OSU ... Test' title: not an OSU micro-benchmarks log"
        )));
    }
    let p2p: Vec<bool> = tests
        .iter()
        .map(|s| osu_p2p::is_point_to_point(&s.text))
        .collect();
    if p2p.contains(&true) && p2p.contains(&false) {
        return Err(UsageError::new(format!(
            "'{src}': point-to-point and collective OSU tests in one file run on different rank counts, which one import cannot record: split the file"
        )));
    }
    let mut merged = Parsed {
        tool: super::OSU_TOOL.into(),
        ..Default::default()
    };
    let mut launch_ranks: Vec<u32> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for (k, test) in tests.iter().enumerate() {
        let one = if p2p[k] {
            osu_p2p::parse(&test.text, ctx)?
        } else {
            parse_collective(test, ctx)?
        };
        let label = one
            .rows
            .first()
            .map(|r| r.collective.clone())
            .or_else(|| one.p2p.first().map(|r| format!("p2p {}", r.mode.name())));
        if let Some(label) = label {
            if let Some(earlier) = labels.iter().position(|l| *l == label) {
                merged.notes.push(format!(
                    "tests {} and {} are both {label}",
                    earlier + 1,
                    k + 1
                ));
            }
            labels.push(label);
        } else {
            labels.push(String::new());
        }
        if tests.len() > 1 {
            merged.notes.push(format!(
                "test {} of {} from line {}: {} rows",
                k + 1,
                tests.len(),
                test.title_line,
                one.rows.len() + one.p2p.len()
            ));
        }
        if let Some(launch) = &test.launch {
            if let Some(r) = launch.ranks {
                if !launch_ranks.contains(&r) {
                    launch_ranks.push(r);
                }
            }
            let counts: Vec<String> = [
                ("iterations", launch.iterations),
                ("warm-up", launch.warmup),
            ]
            .iter()
            .filter_map(|(what, n)| n.map(|n| format!("{what} {n}")))
            .collect();
            if !counts.is_empty() {
                merged.notes.push(format!(
                    "test at line {}: {} (from its command line)",
                    test.title_line,
                    counts.join(", ")
                ));
            }
        }
        match (&merged.backend, &one.backend) {
            (Some(a), Some(b)) if a != b => {
                return Err(UsageError::new(format!(
                    "'{src}': the test at line {} ran on backend {b} and an earlier one on {a}: split the file, one backend per import",
                    test.title_line
                )))
            }
            (None, Some(b)) => merged.backend = Some(b.clone()),
            _ => {}
        }
        merged.tool_version = merged.tool_version.or(one.tool_version);
        merged.fixed_ranks = merged.fixed_ranks.or(one.fixed_ranks);
        merged.run_starts.push(merged.rows.len() + merged.p2p.len());
        merged.rows.extend(one.rows);
        merged.p2p.extend(one.p2p);
        merged.skipped.extend(one.skipped);
        if merged.ranks.is_empty() {
            merged.ranks = one.ranks;
        }
        for note in one.notes {
            if !merged.notes.contains(&note) {
                merged.notes.push(note);
            }
        }
    }
    if p2p[0] && tests.len() > 1 {
        merged.notes.push(format!(
            "{} point-to-point tests recorded as ranks 0 and 1: the log does not say which pair each ran on",
            tests.len()
        ));
    }
    if ctx.ranks.is_none() && merged.fixed_ranks.is_none() {
        match launch_ranks.as_slice() {
            [] => {}
            [r] => {
                merged.fixed_ranks = Some(*r);
                merged
                    .notes
                    .push(format!("{r} ranks, as the launch command says"));
            }
            several => {
                let list: Vec<String> = several.iter().map(u32::to_string).collect();
                return Err(UsageError::new(format!(
                    "'{src}': its tests ran on different rank counts ({}): split the file, one rank count per import",
                    list.join(", ")
                )));
            }
        }
    }
    Ok(merged)
}

/// Parses one collective latency test.
fn parse_collective(test: &Section, ctx: &ImportContext) -> Result<Parsed, UsageError> {
    let src = &ctx.source_name;
    let err = |msg: String| UsageError::new(format!("'{src}': {msg}"));
    let mut parsed = Parsed {
        tool: super::OSU_TOOL.into(),
        ..Default::default()
    };
    let mut found = None;
    let mut collective = "";
    let mut dtype: Option<DType> = None;
    let mut char_data = false;
    let mut placement = None;
    let mut columns: Vec<String> = Vec::new();
    for (i, line) in test.text.lines().enumerate() {
        let at = format!("line {}", i + 1);
        let t = line.trim();
        if let Some(head) = title(t) {
            let name = collective_of(&head.name).filter(|_| is_family_read(&head.family));
            let Some(name) = name else {
                return Err(err(format!(
                    "{at}: OSU test '{}' is not one this import reads (collectives: {}; point-to-point: {}; NCCL-CUDA titles of osu_xccl_* too)",
                    t.trim_start_matches("# OSU "),
                    known_tests(),
                    osu_p2p::programs()
                )));
            };
            collective = name;
            found = Some(head);
            continue;
        }
        if found.is_none() {
            continue;
        }
        if let Some(rest) = t.strip_prefix("# Send Buffer on ") {
            placement = rest
                .split_once(" and Receive Buffer on ")
                .and_then(|(s, r)| Some((buffer(s)?, buffer(r)?)));
            if placement.is_none() {
                return Err(err(format!(
                    "{at}: cannot read the buffer placement in '{t}'"
                )));
            }
            continue;
        }
        if let Some(d) = t.strip_prefix("# Datatype:") {
            let name = d.trim().trim_end_matches('.');
            if matches!(
                name,
                "MPI_CHAR" | "MPI_BYTE" | "MPI_SIGNED_CHAR" | "MPI_UNSIGNED_CHAR"
            ) {
                char_data = true;
            } else {
                dtype = Some(dtype_of(name).ok_or_else(|| {
                    err(format!(
                        "{at}: datatype {name} is not in the result schema (float, double, int32, int64)"
                    ))
                })?);
            }
            continue;
        }
        if t.starts_with("# Size") || t.starts_with("# Avg Latency") {
            columns = header_columns(t);
            continue;
        }
        if t.is_empty() || t.starts_with('#') || columns.is_empty() {
            continue;
        }
        let cells: Vec<&str> = t.split_whitespace().collect();
        let size_at = columns.iter().position(|c| c == "Size");
        let bytes = match size_at {
            Some(s) => match cells.get(s).and_then(|c| c.parse::<u64>().ok()) {
                Some(b) => b,
                // Launcher and library chatter between rows.
                None => continue,
            },
            None if t.starts_with(|c: char| c.is_ascii_digit()) => 0,
            None => continue,
        };
        let col = |name: &str| {
            columns
                .iter()
                .position(|c| c.starts_with(name))
                .and_then(|i| cells.get(i))
                .and_then(|c| number(c))
        };
        let Some(avg_us) = col("Avg Latency") else {
            return Err(err(format!("{at}: row '{t}' has no average latency")));
        };
        if avg_us <= 0.0 {
            parsed.skipped.push(format!(
                "{bytes} B: printed as 0.00, below the log's resolution"
            ));
            continue;
        }
        let reduces = matches!(collective, "allreduce" | "reduce" | "reducescatter");
        let dtype = dtype.unwrap_or(DType::Float);
        parsed.rows.push(Row {
            collective: collective.to_string(),
            dtype,
            op: reduces.then_some(ReduceOp::Sum),
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
    let Some(head) = found else {
        return Err(err(
            "no '# OSU ... Test' title: not an OSU micro-benchmarks log".into(),
        ));
    };
    if columns.is_empty() {
        return Err(err(format!(
            "the test at line {} has no '# Size ...' column header",
            test.title_line
        )));
    }
    parsed.tool_version = head.version.clone();
    parsed.backend = Some(backend(&head, placement.as_ref()));
    parsed.notes.extend(buffer_note(&head, placement.as_ref()));
    if head.family != "MPI" {
        parsed
            .notes
            .push(format!("{collective}: NCCL collectives of osu_xccl"));
    }
    if char_data {
        parsed.notes.push(format!(
            "{collective}: datatype MPI_CHAR, which the schema has no name for: recorded as float by size (bytes exact)"
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collective_titles_name_their_collective() {
        for (title, name) in [
            ("All-to-All Personalized Exchange", "alltoall"),
            ("All-to-Allv Personalized Exchange", "alltoallv"),
            ("Allgatherv", "allgatherv"),
            ("Broadcast", "broadcast"),
            ("Reduce_scatter", "reducescatter"),
            ("Reduce Scatter", "reducescatter"),
            ("Gather", "gather"),
            ("Scatterv", "scatterv"),
            ("Barrier", "barrier"),
        ] {
            assert_eq!(collective_of(title), Some(name), "{title}");
        }
        assert_eq!(collective_of("Non-blocking Allreduce"), None);
    }
}
