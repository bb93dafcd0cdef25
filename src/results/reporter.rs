//! Where a run's results go as they are measured: each output format is one type
//! implementing [`Reporter`] (the JSON files, the terminal table, the charts).

use super::{Record, RunDocument};
use anyhow::Result;
use std::path::PathBuf;

/// One output of a run, told of each step as it happens.
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
    fn links(&mut self, _matrix: &super::links::LinkMatrix) -> Result<()> {
        Ok(())
    }
    /// The run ended (completed, failed a check, or aborted). Returns the file written, if any.
    fn finish(&mut self, doc: &RunDocument) -> Result<Option<PathBuf>>;
}
