//! The comparison as a terminal table or GitHub markdown.

use crate::analysis::compare::{Basis, Better, CompareReport, Gate, Verdict};

/// The verdict as the JSON spells it; a regression in bold in markdown.
fn verdict_text(v: Verdict, markdown: bool) -> String {
    if markdown && v == Verdict::Regression {
        format!("**{}**", v.word())
    } else {
        v.word().into()
    }
}

/// How many records are in a list, by benchmark: `3 (allreduce 2, membw 1)`.
fn by_benchmark(labels: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for l in labels {
        let bench = l.split(' ').next().unwrap_or_default();
        match counts.iter_mut().find(|(b, _)| *b == bench) {
            Some((_, n)) => *n += 1,
            None => counts.push((bench, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(b, n)| format!("{b} {n}")).collect();
    format!("{} ({})", labels.len(), parts.join(", "))
}

fn pct(ratio: f64) -> String {
    format!("{:+.1}%", (ratio - 1.0) * 100.0)
}

fn figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
}

/// Renders the report as a terminal table or markdown; `verbose` lists every record
/// found on one side only.
pub fn render(report: &CompareReport, markdown: bool, verbose: bool) -> String {
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
                if c.basis == Basis::ThresholdOnly {
                    "no spread: one sample".into()
                } else {
                    format!("{} .. {}", pct(c.time_ratio.low), pct(c.time_ratio.high))
                },
                format!("{:.0}%", c.threshold * 100.0),
                verdict_text(c.verdict, markdown),
            ]
        })
        .collect();
    let mut out = String::new();
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if !report.notes.is_empty() {
        out.push('\n');
    }
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
                if b.basis == Basis::ThresholdOnly {
                    "no spread: one sample".into()
                } else {
                    format!("{} .. {}", pct(b.time_ratio.low), pct(b.time_ratio.high))
                },
                format!("{:.0}%", b.threshold * 100.0),
                verdict_text(b.verdict, markdown),
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
    let one_sample = report
        .comparisons
        .iter()
        .filter(|c| c.basis == Basis::ThresholdOnly)
        .count();
    if one_sample > 0 {
        note.push_str(&format!(
            "; {one_sample} with one sample on a side have no spread: judged by the threshold alone"
        ));
    }
    if report.comparisons.iter().any(|c| c.better == Better::Lower) {
        note.push_str("; a latency is compared as a time: it regresses when it grows");
    }
    out.push_str(&note);
    out.push('\n');
    for (what, list) in [
        ("only in the baseline", &report.only_in_baseline),
        ("only in the candidate", &report.only_in_candidate),
    ] {
        if list.is_empty() {
            continue;
        }
        if verbose {
            out.push_str(&format!("{} {what}:\n", list.len()));
            let bullet = if markdown { "- " } else { "  " };
            for l in list.iter() {
                out.push_str(&format!("{bullet}{l}\n"));
            }
        } else {
            out.push_str(&format!(
                "{} {what}, not compared (--verbose lists them)\n",
                by_benchmark(list)
            ));
        }
    }
    out
}
