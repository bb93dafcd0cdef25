//! The comparison as a terminal table or GitHub markdown.

use crate::analysis::compare::{CompareReport, Gate, Verdict};

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "REGRESSION",
        Verdict::Improvement => "improvement",
        Verdict::Unchanged => "ok",
    }
}

fn pct(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

fn figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

/// Renders the report as a terminal table or markdown.
pub fn render(report: &CompareReport, markdown: bool) -> String {
    let header = [
        "measurement",
        "metric",
        "baseline",
        "candidate",
        "time change",
        "interval",
        "threshold",
        "verdict",
    ];
    let rows: Vec<Vec<String>> = report
        .comparisons
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                match (&c.metric, &c.unit) {
                    (Some(m), Some(u)) => format!("{m} ({u})"),
                    _ => "time".into(),
                },
                figure(c.baseline_value),
                figure(c.candidate_value),
                pct(c.time_ratio.estimate),
                if c.samples.0 < 2 || c.samples.1 < 2 {
                    "one sample".into()
                } else {
                    format!("{} .. {}", pct(c.time_ratio.low), pct(c.time_ratio.high))
                },
                format!("{:.0}%", c.threshold * 100.0),
                verdict_text(c.verdict).into(),
            ]
        })
        .collect();
    let mut out = String::new();
    if markdown {
        out.push_str(&format!(
            "### clusterbench compare: {} vs {}\n\n",
            report.baseline, report.candidate
        ));
    }
    out.push_str(&crate::render::grid::render(&header, &rows, markdown));
    let bench_rows: Vec<Vec<String>> = report
        .benchmarks
        .iter()
        .map(|b| {
            vec![
                b.benchmark.clone(),
                b.records.to_string(),
                pct(b.time_ratio.estimate),
                format!("{} .. {}", pct(b.time_ratio.low), pct(b.time_ratio.high)),
                format!("{:.0}%", b.threshold * 100.0),
                verdict_text(b.verdict).into(),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&crate::render::grid::render(
        &[
            "benchmark",
            "records",
            "time change (geomean)",
            "interval",
            "threshold",
            "verdict",
        ],
        &bench_rows,
        markdown,
    ));
    let mut note = format!(
        "\n{} compared; the gate counts {}: {} regressed, {} improved; time change is candidate over \
         baseline (positive = slower), {:.0}% bootstrap interval of the ratio of medians; \
         geometric mean of all {}",
        report.comparisons.len(),
        match report.gate {
            Gate::Records => "records",
            Gate::Benchmarks => "benchmarks",
        },
        report.regressions,
        report.improvements,
        report.confidence * 100.0,
        pct(report.geomean_time_ratio)
    );
    if let Some(n) = &report.normalized_by {
        note.push_str(&format!("; each side normalised by its own {n}"));
    }
    out.push_str(&note);
    out.push('\n');
    for (what, list) in [
        ("only in the baseline", &report.only_in_baseline),
        ("only in the candidate", &report.only_in_candidate),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("{} {what}: {}\n", list.len(), list.join("; ")));
        }
    }
    out
}
