//! The results documents charts are drawn from: each labelled by the system it ran
//! on, and the records of it worth drawing.

use crate::results::{Record, RunDocument};
use std::path::PathBuf;

/// A results document and the label its lines carry in charts and tables.
#[derive(Debug, Clone)]
pub struct Source {
    pub label: String,
    pub path: PathBuf,
    pub doc: RunDocument,
}

/// The system a document ran on, for titles: instance type or host names, and the CPU.
pub fn system_name(doc: &RunDocument) -> String {
    let hosts = &doc.environment.hosts;
    let Some(first) = hosts.first() else {
        return "unknown host".into();
    };
    let machine = first
        .instance_type
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| first.hostname.clone());
    if hosts.len() > 1 {
        format!("{machine} x{} nodes", hosts.len())
    } else {
        machine
    }
}

/// The processor (and accelerator, once recorded) of a document's first host.
pub fn hardware_name(doc: &RunDocument) -> String {
    let cpu = doc
        .environment
        .hosts
        .first()
        .and_then(|h| h.cpu_model.clone())
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpu} ({} backend)", doc.run.backend)
}

/// Labels for several documents: the system name, made unique with the run's start
/// time where two runs on one system share a rank count (and so could not be told
/// apart by the rank counts their lines carry).
pub fn label_sources(docs: Vec<(PathBuf, RunDocument)>) -> Vec<Source> {
    let names: Vec<String> = docs.iter().map(|(_, d)| system_name(d)).collect();
    let ranks: Vec<Vec<u32>> = docs
        .iter()
        .map(|(_, d)| d.records.iter().map(|r| r.ranks).collect())
        .collect();
    let n = docs.len();
    let clashes = |i: usize| {
        (0..n).any(|j| {
            j != i
                && names[j] == names[i]
                && (ranks[i].is_empty()
                    || ranks[j].is_empty()
                    || ranks[i].iter().any(|r| ranks[j].contains(r)))
        })
    };
    docs.into_iter()
        .enumerate()
        .map(|(i, (path, doc))| {
            let label = if clashes(i) {
                let when = doc.run.started_at.get(..19).unwrap_or(&doc.run.started_at);
                format!("{} {}", names[i], when.replace('T', " "))
            } else {
                names[i].clone()
            };
            Source { label, path, doc }
        })
        .collect()
}

/// The systems `sources` ran on, for the line under a chart's title.
pub(super) fn subtitle(sources: &[&Source]) -> String {
    let mut systems: Vec<String> = Vec::new();
    for s in sources {
        let name = format!("{} · {}", system_name(&s.doc), hardware_name(&s.doc));
        if !systems.contains(&name) {
            systems.push(name);
        }
    }
    match systems.len() {
        0 => String::new(),
        1 => systems.remove(0),
        n => format!("{n} systems: {}", systems.join("; ")),
    }
}

/// Records worth drawing: checked-and-passed or unchecked, never failed.
pub(super) fn drawable(doc: &RunDocument) -> impl Iterator<Item = &Record> {
    doc.records.iter().filter(|r| r.check.passed)
}

pub(super) fn metric_value(r: &Record, name: &str) -> Option<f64> {
    r.metric(name).map(|m| m.value).filter(|v| v.is_finite())
}

/// STREAM's own order of its kernels (copy, scale, add, triad, dot), each followed by
/// its streaming-store variant (`copy_nt`), for rows and categories; any other name
/// sorts after them.
pub fn stream_rank(kernel: &str) -> usize {
    use crate::core::{StreamKernel, StreamStores};
    StreamKernel::of_record_name(kernel).map_or(usize::MAX, |(k, stores)| {
        let at = StreamKernel::ALL.iter().position(|&x| x == k).unwrap_or(0);
        2 * at + usize::from(stores == StreamStores::Streaming)
    })
}
