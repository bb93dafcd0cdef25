//! The results files: `<run_id>.jsonl` streamed while running, `<run_id>.json` at the end.

use crate::error::UsageError;
use crate::results::reporter::Reporter;
use crate::results::{AbortInfo, Record, RunDocument, RunStatus, StreamLine};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct JsonReporter {
    dir: PathBuf,
    stream: Option<BufWriter<File>>,
    stream_path: PathBuf,
}

impl JsonReporter {
    pub fn new(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            UsageError::new(format!(
                "cannot create output directory '{}': {e}",
                dir.display()
            ))
        })?;
        Ok(JsonReporter {
            dir: dir.to_path_buf(),
            stream: None,
            stream_path: PathBuf::new(),
        })
    }

    fn write_line(&mut self, line: &StreamLine) -> Result<()> {
        if let Some(w) = self.stream.as_mut() {
            serde_json::to_writer(&mut *w, line)?;
            w.write_all(b"\n")?;
            // Flushed per line: a run that dies keeps every record measured so far.
            w.flush()
                .with_context(|| format!("writing {}", self.stream_path.display()))?;
        }
        Ok(())
    }
}

/// Writes `doc` to `path` atomically: a temporary file in the same directory, then a rename.
pub fn write_document(doc: &RunDocument, path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        serde_json::to_writer_pretty(&mut w, doc)?;
        w.write_all(b"\n")?;
        w.flush()?;
    }
    // A temporary file is created 0600; results are for everyone who may read the
    // directory, as the `.jsonl` beside them is.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("renaming the results into {}", path.display()))?;
    Ok(())
}

/// Versions up to this build's are read: each added only optional fields.
fn readable_schema(v: u64) -> bool {
    (u64::from(crate::results::OLDEST_READABLE_SCHEMA)..=u64::from(crate::results::SCHEMA_VERSION))
        .contains(&v)
}

fn unreadable_schema(path: &Path, v: u64) -> UsageError {
    UsageError::new(format!(
        "'{}' has schema version {v}; this clusterbench reads versions {} to {}{}",
        path.display(),
        crate::results::OLDEST_READABLE_SCHEMA,
        crate::results::SCHEMA_VERSION,
        if v > u64::from(crate::results::SCHEMA_VERSION) {
            " (it was written by a newer clusterbench)"
        } else {
            ""
        }
    ))
}

/// Reads a results document, with a clear error for a schema this version cannot read.
pub fn read_document(path: &Path) -> Result<RunDocument> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(format!("cannot read '{}': {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| UsageError::new(format!("'{}' is not valid JSON: {e}", path.display())))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if readable_schema(v) => {}
        Some(v) => return Err(unreadable_schema(path, v).into()),
        None => {
            return Err(UsageError::new(format!(
                "'{}' is not a clusterbench results file (no schema_version)",
                path.display()
            ))
            .into())
        }
    }
    let mut doc: RunDocument = serde_json::from_value(value).map_err(|e| {
        UsageError::new(format!(
            "'{}' does not match the results schema: {e}",
            path.display()
        ))
    })?;
    upgrade(&mut doc);
    Ok(doc)
}

impl Reporter for JsonReporter {
    fn begin(&mut self, doc: &RunDocument) -> Result<()> {
        self.stream_path = self.dir.join(format!("{}.jsonl", doc.run.run_id));
        let file = File::create(&self.stream_path).map_err(|e| {
            UsageError::new(format!(
                "cannot write '{}': {e}",
                self.stream_path.display()
            ))
        })?;
        self.stream = Some(BufWriter::new(file));
        self.write_line(&StreamLine::Header {
            schema_version: doc.schema_version,
            tool: doc.tool.clone(),
            run: doc.run.clone(),
            environment: doc.environment.clone(),
        })
    }

    fn record(&mut self, record: &Record) -> Result<()> {
        self.write_line(&StreamLine::Record(record.clone()))
    }

    fn links(&mut self, matrix: &crate::results::links::LinkMatrix) -> Result<()> {
        self.write_line(&StreamLine::Links(matrix.clone()))
    }

    fn finish(&mut self, doc: &RunDocument) -> Result<Option<PathBuf>> {
        self.write_line(&StreamLine::Footer {
            finished_at: doc.run.finished_at.clone().unwrap_or_default(),
            status: doc.run.status,
            abort: doc.run.abort.clone(),
        })?;
        let path = self.dir.join(format!("{}.json", doc.run.run_id));
        write_document(doc, &path)?;
        Ok(Some(path))
    }
}

/// Reads the `.jsonl` stream of a run, complete or not: the header, every record that
/// reached the file, and the footer when the run got that far. A run that died has no
/// footer; its status reads `aborted`. A cut-off last line is ignored.
pub fn read_stream(path: &Path) -> Result<RunDocument> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(format!("cannot read '{}': {e}", path.display())))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let bad = |n: usize, e: &dyn std::fmt::Display| {
        UsageError::new(format!(
            "'{}' line {}: not a clusterbench results stream: {e}",
            path.display(),
            n + 1
        ))
    };
    let mut doc = match lines.next() {
        Some((n, line)) => {
            match serde_json::from_str::<StreamLine>(line).map_err(|e| bad(n, &e))? {
                StreamLine::Header {
                    schema_version,
                    tool,
                    run,
                    environment,
                } => {
                    if !readable_schema(u64::from(schema_version)) {
                        return Err(unreadable_schema(path, u64::from(schema_version)).into());
                    }
                    RunDocument {
                        schema_version,
                        tool,
                        run,
                        environment,
                        records: Vec::new(),
                        links: None,
                    }
                }
                _ => return Err(bad(n, &"the first line is not a header").into()),
            }
        }
        None => return Err(bad(0, &"the file is empty").into()),
    };
    let mut finished = false;
    let mut lines = lines.peekable();
    while let Some((n, line)) = lines.next() {
        let parsed = match serde_json::from_str::<StreamLine>(line) {
            Ok(p) => p,
            // The last line of a run killed mid-write may be cut short.
            Err(_) if lines.peek().is_none() => break,
            Err(e) => return Err(bad(n, &e).into()),
        };
        match parsed {
            StreamLine::Record(r) => doc.records.push(r),
            StreamLine::Links(m) => doc.links = Some(m),
            StreamLine::Footer {
                finished_at,
                status,
                abort,
            } => {
                doc.run.finished_at = Some(finished_at);
                doc.run.status = status;
                doc.run.abort = abort;
                finished = true;
            }
            StreamLine::Header { .. } => return Err(bad(n, &"a second header").into()),
        }
    }
    if !finished {
        doc.run.status = crate::results::RunStatus::Aborted;
    }
    upgrade(&mut doc);
    Ok(doc)
}

/// Ends the stream at `stream` of a run that cannot finish normally (its measuring
/// thread is stuck in a collective that will never return): appends the footer with
/// status `aborted` and `abort`, and writes the final `.json` beside it from what the
/// stream holds. Returns the path of the `.json`.
pub fn finish_aborted_stream(
    stream: &Path,
    finished_at: String,
    abort: AbortInfo,
) -> Result<PathBuf> {
    let mut doc = read_stream(stream)?;
    doc.run.status = RunStatus::Aborted;
    doc.run.finished_at = Some(finished_at.clone());
    doc.run.abort = Some(abort.clone());
    let footer = StreamLine::Footer {
        finished_at,
        status: RunStatus::Aborted,
        abort: Some(abort),
    };
    let mut line = serde_json::to_vec(&footer)?;
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .append(true)
        .open(stream)
        .and_then(|mut f| f.write_all(&line))
        .with_context(|| format!("writing {}", stream.display()))?;
    let path = stream.with_extension("json");
    write_document(&doc, &path)?;
    Ok(path)
}

/// Brings a document of an older schema to this one's meaning. Up to schema 3,
/// clusterbench's all-gather, reduce-scatter and all-to-all records counted the larger
/// of a rank's buffers (ranks blocks); nccl-tests, and so imports, count one block.
fn upgrade(doc: &mut RunDocument) {
    if doc.schema_version >= 4 || doc.tool.name != env!("CARGO_PKG_NAME") {
        return;
    }
    for r in &mut doc.records {
        if let crate::results::Params::Collective { count, .. } = &mut r.params {
            if ["allgather", "reducescatter", "alltoall"].contains(&r.benchmark.as_str()) {
                *count /= u64::from(r.ranks.max(1));
            }
        }
    }
}

/// The results files `paths` name: each file as given, and for each directory its
/// `.json` documents and the `.jsonl` streams of runs that left no `.json` (a run
/// that died), in name order, which for clusterbench's run ids is time order.
pub fn results_in(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if !path.is_dir() {
            found.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path)
            .map_err(|e| UsageError::new(format!("cannot read '{}': {e}", path.display())))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let before = found.len();
        for f in &files {
            match f.extension().and_then(|e| e.to_str()) {
                Some("json") => found.push(f.clone()),
                Some("jsonl") if !f.with_extension("json").exists() => found.push(f.clone()),
                _ => {}
            }
        }
        if found.len() == before {
            return Err(UsageError::new(format!(
                "'{}' holds no results files (.json, or the .jsonl of a run that died)",
                path.display()
            ))
            .into());
        }
    }
    Ok(found)
}

/// Reads a results file: a `.jsonl` stream (complete or cut short) or a `.json` document.
pub fn read_results(path: &Path) -> Result<RunDocument> {
    if path.extension().is_some_and(|e| e == "jsonl") {
        read_stream(path)
    } else {
        read_document(path)
    }
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;

    /// A schema-3 all-gather record of clusterbench's counted both ranks' blocks; it
    /// is read as one block, while imports and other records keep their count.
    #[test]
    fn schema_3_counts_are_read_as_nccl_tests_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut doc = crate::results::tests::sample_document();
        doc.schema_version = 3;
        let mut gather = doc.records[0].clone();
        gather.benchmark = "allgather".into();
        gather.ranks = 4;
        if let crate::results::Params::Collective { count, .. } = &mut gather.params {
            *count = 4096;
        }
        doc.records = vec![gather.clone()];
        let count_of = |d: &RunDocument| match d.records[0].params {
            crate::results::Params::Collective { count, .. } => count,
            _ => unreachable!("a collective record"),
        };
        let path = dir.path().join("old.json");
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        assert_eq!(count_of(&read_document(&path).unwrap()), 1024);
        doc.tool.name = "nccl-tests".into();
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        assert_eq!(count_of(&read_document(&path).unwrap()), 4096);
        doc.tool.name = env!("CARGO_PKG_NAME").into();
        doc.schema_version = crate::results::SCHEMA_VERSION;
        std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
        assert_eq!(count_of(&read_document(&path).unwrap()), 4096);
    }
}

#[cfg(test)]
mod aborted_stream_tests {
    use super::*;
    use crate::results::Culprit;

    /// A stream cut off mid-run (header and records, no footer) gets its footer and
    /// its document, both saying why it stopped.
    #[test]
    fn a_stream_without_footer_is_finished_as_aborted_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut doc = crate::results::tests::sample_document();
        doc.run.status = RunStatus::Running;
        let mut reporter = JsonReporter::new(dir.path()).unwrap();
        reporter.begin(&doc).unwrap();
        reporter.record(&doc.records[0]).unwrap();
        let stream = dir.path().join(format!("{}.jsonl", doc.run.run_id));
        let abort = AbortInfo {
            reason: "rank 2 (node3) went silent".into(),
            culprits: vec![Culprit {
                rank: 2,
                host: Some("node3".into()),
            }],
            step: Some("allreduce 8 B float sum in-place, operation 3 of 10".into()),
        };
        let path =
            finish_aborted_stream(&stream, "2026-01-01T00:00:00Z".into(), abort.clone()).unwrap();
        let written = read_document(&path).unwrap();
        assert_eq!(written.run.status, RunStatus::Aborted);
        assert_eq!(written.run.abort.as_ref(), Some(&abort));
        assert_eq!(written.records, doc.records[..1]);
        let streamed = read_stream(&stream).unwrap();
        assert_eq!(streamed.run.status, RunStatus::Aborted);
        assert_eq!(streamed.run.abort, Some(abort));
        assert_eq!(
            streamed.run.finished_at.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
    }
}
