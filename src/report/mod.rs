//! Reporters: each output format is one type implementing [`Reporter`].

pub mod compare;
pub mod grid;
pub mod html;
pub mod json;
pub mod links;
pub mod plot;
pub mod table;
pub mod validate;

use crate::options::RunOptions;
use crate::results::{Record, RunDocument};
use anyhow::Result;
use std::path::PathBuf;

pub trait Reporter {
    /// The run starts; `doc` has the metadata and environment but no records.
    fn begin(&mut self, doc: &RunDocument) -> Result<()>;
    /// A benchmark starts.
    fn begin_bench(
        &mut self,
        _benchmark: &str,
        _backend: &str,
        _ranks: usize,
        _nodes: u32,
    ) -> Result<()> {
        Ok(())
    }
    /// A record was measured.
    fn record(&mut self, record: &Record) -> Result<()>;
    /// The link matrix of `clusterbench links` is complete.
    fn links(&mut self, _matrix: &crate::results::links::LinkMatrix) -> Result<()> {
        Ok(())
    }
    /// The run ended (completed, failed a check, or aborted). Returns the file written, if any.
    fn finish(&mut self, doc: &RunDocument) -> Result<Option<PathBuf>>;
}

/// The reporters of a run on rank 0: the JSON files always, the table unless quiet.
pub fn reporters(options: &RunOptions) -> Result<Vec<Box<dyn Reporter>>> {
    let mut out: Vec<Box<dyn Reporter>> =
        vec![Box::new(json::JsonReporter::new(&options.output_dir)?)];
    if !options.quiet {
        out.push(Box::new(table::TableReporter::stdout()));
    }
    Ok(out)
}

/// Reads results files (`.json` documents or `.jsonl` streams) for charts and reports,
/// labelled by the system they ran on.
pub fn load_sources(paths: &[PathBuf]) -> Result<Vec<plot::Source>> {
    let docs = paths
        .iter()
        .map(|p| json::read_results(p).map(|d| (p.clone(), d)))
        .collect::<Result<Vec<_>>>()?;
    Ok(plot::label_sources(docs))
}
