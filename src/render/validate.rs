//! The checked claims as a terminal table or GitHub markdown.

use crate::analysis::validate::{ClaimResult, Outcome};

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "FAIL",
        Outcome::NotMeasured => "not measured",
        Outcome::Reported => "reported",
        Outcome::Informational => "info",
    }
}

fn measured_text(r: &ClaimResult) -> String {
    match (r.measured_low, r.measured) {
        (Some(low), Some(high)) => format!("{low:.3} to {high:.3} {}", r.unit),
        (None, Some(m)) => format!("{m:.3} {}", r.unit),
        _ => "not measured".into(),
    }
}

/// Renders the results as a terminal table or markdown; `explain` adds, for each
/// claim, the records used, the conversion, the source and the reason for its verdict.
pub fn render(results: &[ClaimResult], markdown: bool, explain: bool) -> String {
    let header = [
        "target",
        "claim",
        "claimed",
        "measured",
        "% of claim",
        "need",
        "result",
        "source",
    ];
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let mut what = r.what.clone();
            if !r.conflicts_with.is_empty() {
                what.push_str(" [sources differ]");
            }
            vec![
                r.target.clone(),
                what,
                format!("{} {}", r.claimed, r.unit),
                measured_text(r),
                match (r.measured_low, r.fraction) {
                    (Some(low), Some(f)) if r.claimed > 0.0 => {
                        format!("{:.1}-{:.1}%", low / r.claimed * 100.0, f * 100.0)
                    }
                    (_, Some(f)) => format!("{:.1}%", f * 100.0),
                    _ => "-".into(),
                },
                match (r.outcome, r.achievable) {
                    (Outcome::Informational | Outcome::NotMeasured | Outcome::Reported, _) => {
                        "-".into()
                    }
                    _ if r.need.is_some() => r.need.clone().unwrap_or_default(),
                    (_, Some(a)) if r.unit != "us" => format!(">= {:.0}%", a * 100.0),
                    _ if r.unit == "us" => format!("<= {} us", r.claimed),
                    _ => ">= 100%".into(),
                },
                outcome_word(r.outcome).into(),
                r.source.clone(),
            ]
        })
        .collect();
    let mut out = crate::render::grid::render(&header, &rows, markdown);
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    out.push_str(&format!(
        "\n{} pass, {} warn, {} fail, {} not measured, {} reported without a threshold, {} informational\n",
        count(Outcome::Pass),
        count(Outcome::Warn),
        count(Outcome::Fail),
        count(Outcome::NotMeasured),
        count(Outcome::Reported),
        count(Outcome::Informational)
    ));
    // Which conversion each converted figure used, and why: always said, since the
    // same busbw means different network rates under different algorithms.
    if !explain {
        for r in results.iter().filter(|r| r.measured.is_some()) {
            if let Some(c) = &r.conversion {
                out.push_str(&format!("{} '{}': {c}\n", r.target, r.id));
            }
        }
    }
    let mut told: Vec<(&str, &str)> = Vec::new();
    for r in results.iter().filter(|r| !r.conflicts_with.is_empty()) {
        if told.contains(&(r.file.as_str(), r.id.as_str())) {
            continue;
        }
        told.push((r.file.as_str(), r.id.as_str()));
        out.push_str(&format!(
            "sources differ on {} '{}': {} {} ({}) vs {}\n",
            r.target,
            r.id,
            r.claimed,
            r.unit,
            r.source,
            r.conflicts_with.join("; ")
        ));
    }
    if explain {
        out.push_str(&explanation(results, markdown));
    }
    out
}

/// One block per claim: what it says, the records behind the figure, the conversion,
/// the source, and why it passed, warned or failed.
fn explanation(results: &[ClaimResult], markdown: bool) -> String {
    let mut out = String::new();
    for r in results {
        let (head, item) = if markdown { ("### ", "- ") } else { ("", "  ") };
        out.push_str(&format!(
            "\n{head}{} '{}': {}: {}\n",
            r.target,
            r.id,
            r.what,
            outcome_word(r.outcome)
        ));
        out.push_str(&format!(
            "{item}claimed: {} {} ({})\n",
            r.claimed, r.unit, r.convention
        ));
        out.push_str(&format!("{item}measured: {}\n", measured_text(r)));
        if let Some(other) = &r.relative_to {
            out.push_str(&format!("{item}compared with: {other}\n"));
        }
        out.push_str(&format!("{item}records: {}\n", r.evidence));
        if let Some(c) = &r.conversion {
            out.push_str(&format!("{item}conversion: {c}\n"));
        }
        out.push_str(&format!("{item}source: {}\n", r.source));
        if let Some(need) = &r.need {
            out.push_str(&format!("{item}threshold: {need} the baseline's figure\n"));
        }
        if let Some(a) = r.achievable.filter(|_| r.unit != "us") {
            out.push_str(&format!(
                "{item}threshold: {:.0}% of the claim\n",
                a * 100.0
            ));
            if let Some(from) = &r.achievable_source {
                out.push_str(&format!("{item}threshold from: {from}\n"));
            }
        }
        out.push_str(&format!("{item}why: {}\n", r.why));
    }
    out
}
