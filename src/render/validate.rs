//! The checked claims as a terminal table or GitHub markdown.

use crate::analysis::validate::{ClaimResult, Outcome};

/// Renders the results as a terminal table or markdown.
pub fn render(results: &[ClaimResult], markdown: bool) -> String {
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
                r.measured
                    .map(|m| format!("{m:.3} {}", r.unit))
                    .unwrap_or_else(|| "not measured".into()),
                r.fraction
                    .map(|f| format!("{:.1}%", f * 100.0))
                    .unwrap_or_else(|| "-".into()),
                match (r.outcome, r.achievable) {
                    (Outcome::Informational | Outcome::NotMeasured | Outcome::Reported, _) => {
                        "-".into()
                    }
                    (_, Some(a)) if r.unit != "us" => format!(">= {:.0}%", a * 100.0),
                    _ if r.unit == "us" => format!("<= {} us", r.claimed),
                    _ => ">= 100%".into(),
                },
                match r.outcome {
                    Outcome::Pass => "pass",
                    Outcome::Warn => "warn",
                    Outcome::Fail => "FAIL",
                    Outcome::NotMeasured => "not measured",
                    Outcome::Reported => "reported",
                    Outcome::Informational => "info",
                }
                .into(),
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
    out
}
