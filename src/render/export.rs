//! Results as flat rows, one per record, for spreadsheets, pandas and dashboards:
//! the run (file, id, tool, status, hosts), what was measured (benchmark, backend,
//! ranks, nodes and every parameter), the time statistics, every metric and the
//! check. Columns are the union over all records; a record without one leaves it
//! empty (CSV) or null (JSON Lines).

use crate::results::{Record, RunDocument};
use anyhow::Result;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::PathBuf;

/// How the rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Columns every row has, before the parameters.
const RUN_COLUMNS: [&str; 13] = [
    "file",
    "run_id",
    "tool",
    "tool_version",
    "git_commit",
    "status",
    "started_at",
    "hosts",
    "instance_type",
    "benchmark",
    "backend",
    "ranks",
    "nodes",
];

/// The time statistics, in seconds, after the parameters: over the samples (each the
/// slowest rank's time per iteration), then `rank_mean_s`.
const TIME_COLUMNS: [&str; 8] = [
    "samples",
    "time_median_s",
    "time_mean_s",
    "time_min_s",
    "time_max_s",
    "time_p99_s",
    "time_stdev_s",
    "time_rank_mean_s",
];

const CHECK_COLUMNS: [&str; 4] = [
    "check_performed",
    "check_passed",
    "check_wrong",
    "check_method",
];

/// The rows of every record of `docs`, and the columns in order.
pub fn rows(docs: &[(PathBuf, RunDocument)]) -> (Vec<String>, Vec<Map<String, Value>>) {
    let mut params: Vec<String> = Vec::new();
    let mut metrics: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (path, doc) in docs {
        for record in &doc.records {
            let mut row = run_cells(path, doc, record);
            if let Value::Object(map) = serde_json::to_value(&record.params).unwrap_or_default() {
                for (key, value) in map {
                    if key == "kind" {
                        continue;
                    }
                    let taken = RUN_COLUMNS.contains(&key.as_str())
                        || TIME_COLUMNS.contains(&key.as_str())
                        || CHECK_COLUMNS.contains(&key.as_str());
                    let column = if taken { format!("param_{key}") } else { key };
                    if !params.contains(&column) {
                        params.push(column.clone());
                    }
                    row.insert(column, value);
                }
            }
            time_cells(record, &mut row);
            for m in &record.metrics {
                let column = format!("{} ({})", m.name, m.unit);
                if !metrics.contains(&column) {
                    metrics.push(column.clone());
                }
                row.insert(column, number(m.value));
            }
            row.insert("check_performed".into(), record.check.performed.into());
            row.insert("check_passed".into(), record.check.passed.into());
            row.insert("check_wrong".into(), record.check.wrong.into());
            row.insert("check_method".into(), record.check.method.clone().into());
            rows.push(row);
        }
    }
    let columns = RUN_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(params)
        .chain(TIME_COLUMNS.iter().map(|c| c.to_string()))
        .chain(metrics)
        .chain(CHECK_COLUMNS.iter().map(|c| c.to_string()))
        .collect();
    (columns, rows)
}

fn run_cells(path: &std::path::Path, doc: &RunDocument, record: &Record) -> Map<String, Value> {
    let hosts: Vec<&str> = doc
        .environment
        .hosts
        .iter()
        .map(|h| h.hostname.as_str())
        .collect();
    let instance_type = doc
        .environment
        .hosts
        .iter()
        .find_map(|h| h.instance_type.clone());
    let mut row = Map::new();
    row.insert("file".into(), path.display().to_string().into());
    row.insert("run_id".into(), doc.run.run_id.clone().into());
    row.insert("tool".into(), doc.tool.name.clone().into());
    row.insert("tool_version".into(), doc.tool.version.clone().into());
    row.insert("git_commit".into(), doc.tool.git_commit.clone().into());
    row.insert(
        "status".into(),
        serde_json::to_value(doc.run.status).unwrap_or_default(),
    );
    row.insert("started_at".into(), doc.run.started_at.clone().into());
    row.insert("hosts".into(), hosts.join(";").into());
    row.insert("instance_type".into(), instance_type.into());
    row.insert("benchmark".into(), record.benchmark.clone().into());
    row.insert("backend".into(), record.backend.clone().into());
    row.insert("ranks".into(), record.ranks.into());
    row.insert("nodes".into(), record.nodes.into());
    row
}

fn time_cells(record: &Record, row: &mut Map<String, Value>) {
    let t = &record.time_s;
    row.insert("samples".into(), t.n.into());
    for (column, v) in [
        ("time_median_s", t.median),
        ("time_mean_s", t.mean),
        ("time_min_s", t.min),
        ("time_max_s", t.max),
        ("time_p99_s", t.p99),
        ("time_stdev_s", t.stdev),
    ] {
        row.insert(column.into(), number(v));
    }
    // Each rank's mean, averaged over the ranks (OSU's and nccl-tests' statistic).
    let rank_mean = record.rank_mean_s.map_or(Value::Null, number);
    row.insert("time_rank_mean_s".into(), rank_mean);
}

/// A finite number, or null: JSON has no NaN.
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Writes the rows of `docs` to `out` as `format`.
pub fn write(docs: &[(PathBuf, RunDocument)], format: ExportFormat, out: impl Write) -> Result<()> {
    let (columns, rows) = rows(docs);
    match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&columns)?;
            for row in &rows {
                w.write_record(columns.iter().map(|c| cell(row.get(c))))?;
            }
            w.flush()?;
        }
        ExportFormat::Jsonl => {
            let mut out = std::io::BufWriter::new(out);
            for row in rows {
                // Every column, in order, so that each line has the same keys.
                let full: Map<String, Value> = columns
                    .iter()
                    .map(|c| (c.clone(), row.get(c).cloned().unwrap_or(Value::Null)))
                    .collect();
                serde_json::to_writer(&mut out, &Value::Object(full))?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    Ok(())
}

/// A CSV cell: strings as they are, numbers and booleans as JSON prints them, null
/// and absent as empty.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> RunDocument {
        crate::results::files::read_document(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/results/baselines/quick-cpu-2core.json"
        )))
        .unwrap()
    }

    #[test]
    fn every_record_is_one_row_with_its_parameters_and_metrics() {
        let d = doc();
        let n = d.records.len();
        let (columns, rows) = rows(&[(PathBuf::from("b.json"), d.clone())]);
        assert_eq!(rows.len(), n);
        for c in [
            "benchmark",
            "dtype",
            "bytes",
            "kernel",
            "time_median_s",
            "busbw (GB/s)",
        ] {
            assert!(columns.iter().any(|x| x == c), "{c}: {columns:?}");
        }
        let first = &rows[0];
        assert_eq!(
            first["benchmark"],
            Value::from(d.records[0].benchmark.clone())
        );
        assert_eq!(first["time_median_s"], number(d.records[0].time_s.median));
        assert_eq!(first["run_id"], Value::from(d.run.run_id.clone()));
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_record_with_the_same_cells() {
        let d = doc();
        let mut out = Vec::new();
        write(
            &[(PathBuf::from("b.json"), d.clone())],
            ExportFormat::Csv,
            &mut out,
        )
        .unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let header = reader.headers().unwrap().clone();
        let lines: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(lines.len(), d.records.len());
        assert!(lines.iter().all(|l| l.len() == header.len()));
        let at = header.iter().position(|h| h == "ranks").unwrap();
        assert_eq!(&lines[0][at], d.records[0].ranks.to_string());
    }
}
