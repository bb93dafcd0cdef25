//! A log that repeats a test (two `all_reduce_perf` runs of the same sizes, two OSU
//! runs of one test) would give records with equal keys in one document, and
//! `compare` pairs each key once. Such a log becomes one document per run: a new
//! document starts at a run of the log whose keys the current one already holds.
//! Rows repeated inside one run (nccl-tests prints a 0-byte row for each size too
//! small for one element per rank) stay together: only runs are split.

use crate::results::describe::match_key;
use crate::results::{Record, RunDocument, RunStatus};
use std::collections::HashSet;

/// The document as one document per repeat of a run, in file order. `run_starts`
/// are the indexes of the records where each run of the log begins. A document
/// whose runs share no key comes back alone and unchanged.
pub fn split_repeated_runs(doc: RunDocument, run_starts: &[usize]) -> Vec<RunDocument> {
    let mut bounds: Vec<usize> = run_starts
        .iter()
        .copied()
        .filter(|&s| s > 0 && s < doc.records.len())
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    bounds.insert(0, 0);
    bounds.push(doc.records.len());
    let mut parts: Vec<Vec<Record>> = vec![Vec::new()];
    let mut keys: HashSet<String> = HashSet::new();
    for run in bounds.windows(2) {
        let records = &doc.records[run[0]..run[1]];
        let run_keys: HashSet<String> = records.iter().map(match_key).collect();
        if !keys.is_disjoint(&run_keys) {
            parts.push(Vec::new());
            keys.clear();
        }
        keys.extend(run_keys);
        if let Some(part) = parts.last_mut() {
            part.extend_from_slice(records);
        }
    }
    let total = parts.len();
    if total == 1 {
        return vec![doc];
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(index, records)| {
            let mut part = doc.clone();
            let n = index + 1;
            part.run.run_id = format!("{}-run{n}", doc.run.run_id);
            let note = format!(
                "run {n} of {total} in the file (the file repeats a test; each run is its own document)"
            );
            part.run.backend_note = Some(match &doc.run.backend_note {
                Some(before) => format!("{before}; {note}"),
                None => note,
            });
            if matches!(
                part.run.status,
                RunStatus::Completed | RunStatus::CheckFailed
            ) {
                part.run.status = if records.iter().all(|r| r.check.passed) {
                    RunStatus::Completed
                } else {
                    RunStatus::CheckFailed
                };
            }
            part.records = records;
            part
        })
        .collect()
}

/// Where run `n` (from 1) of a split import goes: the path asked for, then
/// `NAME-run2.EXT`, `NAME-run3.EXT`, ...
pub fn part_path(path: &std::path::Path, n: usize) -> std::path::PathBuf {
    if n <= 1 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-run{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-run{n}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn parts_are_named_after_the_path_asked_for() {
        let p = Path::new("/r/a3.json");
        assert_eq!(part_path(p, 1), Path::new("/r/a3.json"));
        assert_eq!(part_path(p, 2), Path::new("/r/a3-run2.json"));
        assert_eq!(part_path(Path::new("out"), 3), Path::new("out-run3"));
    }
}
