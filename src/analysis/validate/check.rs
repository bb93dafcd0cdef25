//! Every claim judged against its measurement: pass, warn, fail, or why not.

use super::claims::{canonical, Canonical};
use super::measure::measure;
use super::{ClaimsFile, Quantity};
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
    pub outcome: Outcome,
    /// Which records gave the figure, or why there is none.
    pub evidence: String,
    /// Other sources for the same id with a different figure.
    pub conflicts_with: Vec<String>,
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
            let (measured, evidence, outcome) = if c.quantity == Quantity::Informational {
                (
                    None,
                    "stated, not testable here".to_string(),
                    Outcome::Informational,
                )
            } else {
                match measure(c, doc, &file.target) {
                    Err(why) => (None, why, Outcome::NotMeasured),
                    Ok((m, ev)) => {
                        // Back into the claim's unit.
                        let scale = match canon {
                            Canonical::GBps(v) | Canonical::Tflops(v) | Canonical::Micros(v) => {
                                if v > 0.0 {
                                    c.value / v
                                } else {
                                    1.0
                                }
                            }
                            Canonical::Other => 1.0,
                        };
                        let in_unit = m * scale;
                        let outcome = if c.quantity == Quantity::TwoNodeAllreduceLatency {
                            if in_unit <= c.value {
                                Outcome::Pass
                            } else if in_unit <= c.value * 1.1 {
                                Outcome::Warn
                            } else {
                                Outcome::Fail
                            }
                        } else if c.achievable.is_none() {
                            Outcome::Reported
                        } else {
                            let need = c.achievable.unwrap_or(1.0);
                            let frac = if c.value > 0.0 {
                                in_unit / c.value
                            } else {
                                0.0
                            };
                            if frac >= need {
                                Outcome::Pass
                            } else if frac >= need * 0.9 {
                                Outcome::Warn
                            } else {
                                Outcome::Fail
                            }
                        };
                        (Some(in_unit), ev, outcome)
                    }
                }
            };
            out.push(ClaimResult {
                file: name.clone(),
                target: file.target.name.clone(),
                id: c.id.clone(),
                what: c.what.clone(),
                claimed: c.value,
                unit: c.unit.clone(),
                convention: c.convention.clone(),
                source: c.source.clone(),
                fraction: measured.filter(|_| c.value > 0.0).map(|m| m / c.value),
                measured,
                achievable: c.achievable,
                outcome,
                evidence,
                conflicts_with,
            });
        }
    }
    out
}
