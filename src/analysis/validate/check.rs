//! Every claim judged against its measurement: pass, warn, fail, or why not.

use super::claims::{canonical, Canonical};
use super::measure::measure;
use super::{Claim, ClaimsFile, Quantity, Target};
use crate::results::RunDocument;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    NotMeasured,
    /// Measured and shown, but the claim has no sourced achievable fraction.
    Reported,
    Informational,
}

/// One claim checked.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimResult {
    pub file: String,
    pub target: String,
    pub id: String,
    pub what: String,
    pub claimed: f64,
    pub unit: String,
    pub convention: String,
    pub source: String,
    /// In the claim's unit.
    pub measured: Option<f64>,
    /// Measured as a fraction of the claim.
    pub fraction: Option<f64>,
    pub achievable: Option<f64>,
    /// The measured run the achievable fraction comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achievable_source: Option<String>,
    pub outcome: Outcome,
    /// The lower end, in the claim's unit, when the figure is a range (network
    /// rate with the all-reduce algorithm unknown; `measured` is the upper end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_low: Option<f64>,
    /// Which records gave the figure, or why there is none.
    pub evidence: String,
    /// How the measured quantity was converted into the claim's, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<String>,
    /// Why the claim passed, warned, failed or was not judged.
    pub why: String,
    /// Other sources for the same id with a different figure.
    pub conflicts_with: Vec<String>,
    /// For a claim against other hardware: the results file it was compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_to: Option<String>,
    /// What the verdict needs, where the claim's own figure does not say it (relative
    /// claims: `<= 0.65x`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need: Option<String>,
}

/// Checks every claim of `files` against `doc`.
pub fn validate(doc: &RunDocument, files: &[(String, ClaimsFile)]) -> Vec<ClaimResult> {
    let mut out = Vec::new();
    for (name, file) in files {
        for c in &file.claims {
            let conflicts_with: Vec<String> = file
                .claims
                .iter()
                .filter(|o| o.id == c.id && (o.value != c.value || o.unit != c.unit))
                .map(|o| format!("{} {} ({})", o.value, o.unit, o.source))
                .collect();
            let canon = canonical(c.value, &c.unit).unwrap_or(Canonical::Other);
            let judged = judge(c, canon, doc, &file.target);
            out.push(ClaimResult {
                file: name.clone(),
                target: file.target.name.clone(),
                id: c.id.clone(),
                what: c.what.clone(),
                claimed: c.value,
                unit: c.unit.clone(),
                convention: c.convention.clone(),
                source: c.source.clone(),
                fraction: judged
                    .measured
                    .filter(|_| c.value > 0.0)
                    .map(|m| m / c.value),
                measured: judged.measured,
                measured_low: judged.measured_low,
                achievable: c.achievable,
                achievable_source: c.achievable_source.clone(),
                outcome: judged.outcome,
                evidence: judged.evidence,
                conversion: judged.conversion,
                why: judged.why,
                conflicts_with,
                relative_to: None,
                need: None,
            });
        }
    }
    out
}

/// A claim's verdict and what it rests on.
struct Judged {
    measured: Option<f64>,
    measured_low: Option<f64>,
    outcome: Outcome,
    evidence: String,
    conversion: Option<String>,
    why: String,
}

fn judge(c: &Claim, canon: Canonical, doc: &RunDocument, target: &Target) -> Judged {
    let unjudged = |outcome: Outcome, evidence: String, why: &str| Judged {
        measured: None,
        measured_low: None,
        outcome,
        evidence,
        conversion: None,
        why: why.to_string(),
    };
    if c.quantity == Quantity::Informational {
        return unjudged(
            Outcome::Informational,
            "stated, not testable here".into(),
            "stated for the record: nothing measures it",
        );
    }
    let m = match measure(c, doc, target) {
        Err(why) => {
            return unjudged(
                Outcome::NotMeasured,
                why,
                "no record in the results measures this quantity",
            )
        }
        Ok(m) => m,
    };
    // Back into the claim's unit.
    let scale = match canon {
        Canonical::GBps(v) | Canonical::Tflops(v) | Canonical::Micros(v) if v > 0.0 => c.value / v,
        _ => 1.0,
    };
    let in_unit = m.value * scale;
    let judged = m.judged * scale;
    let unit = &c.unit;
    let upper_bound = matches!(
        c.quantity,
        Quantity::TwoNodeAllreduceLatency | Quantity::PointToPointLatency
    );
    let (mut outcome, mut why) = if upper_bound {
        if judged <= c.value {
            (
                Outcome::Pass,
                format!(
                    "{judged:.3} {unit} is within the bound of {} {unit}",
                    c.value
                ),
            )
        } else if judged <= c.value * 1.1 {
            (
                Outcome::Warn,
                format!(
                    "{judged:.3} {unit} is above the bound of {} {unit} by less than 10%",
                    c.value
                ),
            )
        } else {
            (
                Outcome::Fail,
                format!(
                    "{judged:.3} {unit} is more than 10% above the bound of {} {unit}",
                    c.value
                ),
            )
        }
    } else if let Some(need) = c.achievable {
        let frac = if c.value > 0.0 { judged / c.value } else { 0.0 };
        // One decimal, or two where one would show a figure just short of the
        // threshold as equal to it.
        let pct = |f: f64| {
            if format!("{:.1}", f * 100.0) == format!("{:.1}", need * 100.0) && f != need {
                format!("{:.2}%", f * 100.0)
            } else {
                format!("{:.1}%", f * 100.0)
            }
        };
        if frac >= need {
            (
                Outcome::Pass,
                format!(
                    "{} of the claim reaches the {} a healthy system reaches",
                    pct(frac),
                    pct(need)
                ),
            )
        } else if frac >= need * 0.9 {
            (Outcome::Warn, format!("{} of the claim is below the {} a healthy system reaches, by less than 10% of it", pct(frac), pct(need)))
        } else {
            (
                Outcome::Fail,
                format!(
                    "{} of the claim is far below the {} a healthy system reaches",
                    pct(frac),
                    pct(need)
                ),
            )
        }
    } else {
        (
            Outcome::Reported,
            "the claim has no sourced achievable fraction: shown, not judged".to_string(),
        )
    };
    if m.warn_at_most && outcome == Outcome::Fail {
        outcome = Outcome::Warn;
        why.push_str("; a lower bound or a range only warns, never fails");
    }
    if m.low.is_some() {
        why = format!("judged by the lower end of the range: {why}");
    }
    Judged {
        measured: Some(in_unit),
        measured_low: m.low.map(|l| l * scale),
        outcome,
        evidence: m.evidence,
        conversion: m.conversion,
        why,
    }
}
