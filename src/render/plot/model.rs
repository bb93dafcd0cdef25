//! What a chart shows, before it is drawn: lines against scaled axes with an optional
//! peak line, or a host-by-host heatmap. The same description renders to PNG, to SVG
//! or inline into the HTML report.

/// A claimed or theoretical peak, drawn as a dashed horizontal line.
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    pub label: String,
    pub value: f64,
    pub unit: String,
}

/// How an axis maps values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Linear from zero.
    Linear,
    /// Powers of two, labelled as byte sizes (8 B, 1 KiB, ..., 1 GiB).
    Log2Bytes,
    /// Powers of two, labelled as plain numbers (1, 2, 4, ...).
    Log2Count,
    /// Powers of ten of seconds, labelled in time units (1 µs, 10 µs, 1 ms).
    Log10Seconds,
    /// Powers of ten, labelled as plain numbers (0.1, 1, 10, 100): figures of series
    /// too far apart for one linear axis.
    Log10,
    /// Named categories at 0, 1, 2, ... (the chart's `categories`); points, no lines.
    Category,
    /// Named steps in order at 0, 1, 2, ... (the chart's `categories`, e.g. runs over
    /// time); points joined by lines.
    Ordinal,
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// (x, y) in data units; points a log scale cannot show are skipped.
    pub points: Vec<(f64, f64)>,
}

/// Lines against a shared x axis, with an optional peak line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    /// A second line under the title: the systems the data came from.
    pub subtitle: String,
    pub x_label: String,
    pub y_label: String,
    pub x_scale: Scale,
    pub y_scale: Scale,
    /// Names of the x positions when `x_scale` is [`Scale::Category`] or [`Scale::Ordinal`].
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub peak: Option<Peak>,
    /// Shaded ranges of y behind the lines (a reference run's noise), in the colour
    /// of the series they belong to.
    pub bands: Vec<Band>,
}

/// A range of y shaded across the whole chart, belonging to one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Index into the chart's series.
    pub series: usize,
    pub low: f64,
    pub high: f64,
}

/// A square matrix of figures between hosts (e.g. link bandwidth from row to column).
#[derive(Debug, Clone, PartialEq)]
pub struct HostMatrix {
    pub hosts: Vec<String>,
    /// `values[from][to]`; None where nothing was measured (the diagonal, a failed pair).
    pub values: Vec<Vec<Option<f64>>>,
    pub unit: String,
}

/// A host-by-host (or GPU-by-GPU) heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub title: String,
    pub subtitle: String,
    pub matrix: HostMatrix,
    pub peak: Option<Peak>,
    /// What the rows and columns are: `host`, `GPU`.
    pub axis: String,
    /// Cells (`from`, `to`) whose figure carries a `*`, and what the mark means.
    pub marked: Vec<(usize, usize)>,
    pub mark_note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    Line(LineChart),
    Heatmap(Heatmap),
}

impl Chart {
    pub fn title(&self) -> &str {
        match self {
            Chart::Line(c) => &c.title,
            Chart::Heatmap(h) => &h.title,
        }
    }
}

/// A chart with what it shows, so callers can find one (e.g. to add a claimed peak).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedChart {
    /// File stem: `allreduce-busbw`, `matmul-tflops`, ...
    pub name: String,
    pub benchmark: String,
    /// The metric on the y axis: `busbw`, `algbw`, `time`, `latency`, `tflops`, `bandwidth`.
    pub metric: String,
    pub chart: Chart,
}
