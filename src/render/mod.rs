//! What people read: the terminal table, charts (PNG, SVG), the one-file HTML report
//! the link-matrix view and trends over runs, each a view of results documents.

pub mod compare;
pub mod export;
pub mod grid;
pub mod html;
pub mod links;
pub mod plot;
pub mod table;
pub mod trend;
pub mod validate;

use anyhow::Result;
use std::path::PathBuf;

/// Reads results files (`.json` documents or `.jsonl` streams) for charts and reports,
/// labelled by the system they ran on; names on standard error each file of a run that
/// did not reach its end.
pub fn load_sources(paths: &[PathBuf]) -> Result<Vec<plot::Source>> {
    let docs = paths
        .iter()
        .map(|p| crate::results::files::read_results(p).map(|d| (p.clone(), d)))
        .collect::<Result<Vec<_>>>()?;
    // Partial results are drawn, and said to be partial.
    for (path, doc) in &docs {
        if let Some(note) = crate::results::ending::note(path, doc) {
            crate::errln!("clusterbench: note: {note}");
        }
    }
    Ok(plot::label_sources(docs))
}
