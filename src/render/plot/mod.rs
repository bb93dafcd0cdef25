//! Charts of results documents, drawn with `plotters` to PNG and SVG.
//!
//! Charts are described first ([`LineChart`], [`Heatmap`]) and drawn second, so the
//! same description renders to a PNG file, to an SVG file, or inline into the HTML
//! report. Text in PNGs uses the DejaVu Sans font bundled in `harness/fonts/`, so
//! charts look the same on a machine with no fonts installed.
//!
//! Built from results: for every collective (any benchmark whose params are
//! `Collective`) bus and algorithm bandwidth and time against message size, and,
//! given runs with different rank or node counts, small-message latency against the
//! number of ranks (or nodes); point-to-point bandwidth and latency (log-log)
//! against message size; matmul TFLOP/s against size per dtype; memory bandwidth
//! against array size per kernel. Series more than 100x apart get a log y axis. Records that failed their check are
//! never drawn. The host-by-host [`Heatmap`] takes a plain [`HostMatrix`].
//!
//! The path of a chart: `source` (labelled documents, drawable records) feeds `build`
//! (one file per family of charts), which fills the types of `model`; `draw` turns
//! those into pixels, and knows nothing of results. Numbers and times are
//! labelled by `crate::units`, as everywhere else.

use crate::results::RunDocument;
use std::path::{Path, PathBuf};

mod build;
mod draw;

mod model;
mod source;

pub use crate::units::{format_number, format_seconds};
pub use build::{build_charts, series_far_apart};
pub use draw::{draw_heatmap, draw_line, render_svg, write_charts, write_png, HEIGHT, WIDTH};
pub use model::{Band, Chart, Heatmap, HostMatrix, LineChart, NamedChart, Peak, Scale, Series};
pub use source::{hardware_name, label_sources, stream_rank, system_name, Source};

/// The charts of a finished run, into `<output>/<run_id>-charts/`. Called by rank 0
/// after the results are on disk: a failure here (even a panic inside the plotting
/// library) becomes a warning and never costs a measured figure.
pub fn write_run_charts(doc: &RunDocument, output_dir: &Path) -> Option<PathBuf> {
    let dir = output_dir.join(format!("{}-charts", doc.run.run_id));
    let source = Source {
        label: system_name(doc),
        path: output_dir.join(format!("{}.json", doc.run.run_id)),
        doc: doc.clone(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let charts = build_charts(std::slice::from_ref(&source));
        if charts.is_empty() {
            return Ok(None);
        }
        write_charts(&charts, &dir, "").map(|_| Some(dir.clone()))
    }));
    match outcome {
        Ok(Ok(dir)) => dir,
        Ok(Err(e)) => {
            crate::errln!("clusterbench: warning: charts not written: {e:#}");
            None
        }
        Err(_) => {
            crate::errln!("clusterbench: warning: charts not written: the plotting library failed");
            None
        }
    }
}

/// Draws a finished run's charts into `<output>/<run id>-charts/`: the last reporter,
/// so the charts are a view of results already on disk and never a risk to them.
pub struct ChartReporter {
    pub output_dir: PathBuf,
    pub quiet: bool,
}

impl crate::results::reporter::Reporter for ChartReporter {
    fn begin(&mut self, _doc: &RunDocument) -> anyhow::Result<()> {
        Ok(())
    }

    fn record(&mut self, _record: &crate::results::Record) -> anyhow::Result<()> {
        Ok(())
    }

    fn finish(&mut self, doc: &RunDocument) -> anyhow::Result<Option<PathBuf>> {
        if let Some(dir) = write_run_charts(doc, &self.output_dir) {
            if !self.quiet {
                crate::errln!("clusterbench: charts written to {}", dir.display());
            }
        }
        Ok(None)
    }
}
