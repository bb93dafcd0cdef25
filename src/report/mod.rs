//! Reporters: each output format is one type implementing [`Reporter`].

pub mod compare;
pub mod grid;
pub mod html;
pub mod json;
pub mod links;
pub mod plot;
pub mod table;
pub mod validate;

use anyhow::Result;
use std::path::PathBuf;

/// Reads results files (`.json` documents or `.jsonl` streams) for charts and reports,
/// labelled by the system they ran on.
pub fn load_sources(paths: &[PathBuf]) -> Result<Vec<plot::Source>> {
    let docs = paths
        .iter()
        .map(|p| json::read_results(p).map(|d| (p.clone(), d)))
        .collect::<Result<Vec<_>>>()?;
    Ok(plot::label_sources(docs))
}
