//! Claims against other hardware ("P5en: up to 35% lower latency than P5"), checked
//! as the ratio of one quantity measured in two results files: this run's and a run
//! on the baseline hardware.
//!
//! Such claims are "up to" figures, best cases: a ratio at or past the claim passes,
//! one better than the baseline but short of the claim warns, and one no better than
//! the baseline fails.

use super::check::{ClaimResult, Outcome};
use super::measure::measure;
use super::{auto_select, detected_hardware, Claim, ClaimsFile, Quantity, RelativeClaim, Target};
use crate::results::RunDocument;

/// The unit `measure` gives a quantity in (the ratio does not depend on it).
fn measured_unit(q: Quantity) -> &'static str {
    match q {
        Quantity::TwoNodeAllreduceLatency | Quantity::PointToPointLatency => "us",
        Quantity::MatmulTflops => "TFLOP/s",
        _ => "GB/s",
    }
}

fn lower_is_better(q: Quantity) -> bool {
    matches!(
        q,
        Quantity::TwoNodeAllreduceLatency | Quantity::PointToPointLatency
    )
}

/// The absolute claim `measure` needs to find the quantity's figure. Its value is 0, so
/// a network figure is not judged against a line rate: the range's lower end counts.
fn probe(c: &RelativeClaim) -> Claim {
    Claim {
        id: c.id.clone(),
        what: c.what.clone(),
        quantity: c.quantity,
        value: 0.0,
        unit: measured_unit(c.quantity).into(),
        convention: String::new(),
        source: c.source.clone(),
        achievable: None,
        achievable_source: None,
        dtype: c.dtype.clone(),
        min_bytes: c.min_bytes.clone(),
        note: None,
    }
}

/// The figure of `c`'s quantity in `doc`, with the records it came from.
fn figure(c: &RelativeClaim, doc: &RunDocument, target: &Target) -> Result<(f64, String), String> {
    let m = measure(&probe(c), doc, target)?;
    if !(m.judged.is_finite() && m.judged > 0.0) {
        return Err(format!("the figure {} cannot be divided by", m.judged));
    }
    Ok((m.judged, m.evidence))
}

/// Whether `baseline` ran on the hardware the claim names; `Err` says on what it ran.
fn ran_on_baseline(
    baseline: &RunDocument,
    name: &str,
    builtin: &[(String, ClaimsFile)],
) -> Result<String, String> {
    let (instances, gpus) = detected_hardware(baseline);
    let picked = auto_select(builtin, &instances, &gpus);
    if picked.is_empty() {
        return Ok(" (its hardware is not recorded: taken to be the claim's baseline)".into());
    }
    if picked.iter().any(|(n, _)| n == name) {
        return Ok(String::new());
    }
    Err(format!(
        "the baseline results ran on {}, not on the hardware of '{name}'",
        instances
            .iter()
            .chain(gpus.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Checks the relative claims of `files` with `doc` against `baseline` (read from
/// `baseline_name`).
pub fn validate_relative(
    doc: &RunDocument,
    files: &[(String, ClaimsFile)],
    baseline: &RunDocument,
    baseline_name: &str,
) -> Vec<ClaimResult> {
    let builtin = ClaimsFile::builtin();
    let mut out = Vec::new();
    for (name, file) in files {
        for c in &file.relative {
            let (measured, outcome, evidence, why) =
                match judge(c, doc, &file.target, baseline, &builtin) {
                    Ok((ratio, outcome, evidence, why)) => (Some(ratio), outcome, evidence, why),
                    Err(evidence) => (
                        None,
                        Outcome::NotMeasured,
                        evidence,
                        "the ratio needs the quantity measured in both results files".to_string(),
                    ),
                };
            out.push(ClaimResult {
                file: name.clone(),
                target: file.target.name.clone(),
                id: c.id.clone(),
                what: c.what.clone(),
                claimed: c.ratio,
                unit: "x".into(),
                convention: c.convention.clone(),
                source: c.source.clone(),
                measured,
                fraction: None,
                achievable: None,
                achievable_source: None,
                outcome,
                measured_low: None,
                evidence,
                conversion: None,
                why,
                conflicts_with: Vec::new(),
                relative_to: Some(format!("{baseline_name} ({})", c.baseline)),
                need: Some(if lower_is_better(c.quantity) {
                    format!("<= {}x", c.ratio)
                } else {
                    format!(">= {}x", c.ratio)
                }),
            });
        }
    }
    out
}

type Verdict = (f64, Outcome, String, String);

fn judge(
    c: &RelativeClaim,
    doc: &RunDocument,
    target: &Target,
    baseline: &RunDocument,
    builtin: &[(String, ClaimsFile)],
) -> Result<Verdict, String> {
    let base_target = &builtin
        .iter()
        .find(|(n, _)| *n == c.baseline)
        .ok_or_else(|| format!("'{}' is not a built-in claims file", c.baseline))?
        .1
        .target;
    let note = ran_on_baseline(baseline, &c.baseline, builtin)?;
    let (this, this_from) = figure(c, doc, target).map_err(|e| format!("this run: {e}"))?;
    let (base, base_from) =
        figure(c, baseline, base_target).map_err(|e| format!("the baseline run: {e}"))?;
    let ratio = this / base;
    let unit = measured_unit(c.quantity);
    let evidence = format!(
        "this run {this:.3} {unit} ({this_from}) / {} {base:.3} {unit} ({base_from}){note} = {ratio:.3}x",
        base_target.name
    );
    let claimed = c.ratio;
    let (better, reached) = if lower_is_better(c.quantity) {
        (ratio < 1.0, ratio <= claimed)
    } else {
        (ratio > 1.0, ratio >= claimed)
    };
    let (outcome, why) = if reached {
        (
            Outcome::Pass,
            format!("{ratio:.3}x of the baseline reaches the claimed {claimed}x"),
        )
    } else if better {
        (
            Outcome::Warn,
            format!(
                "{ratio:.3}x: better than the baseline but short of the claimed {claimed}x (an 'up to' figure is a best case)"
            ),
        )
    } else {
        (
            Outcome::Fail,
            format!("{ratio:.3}x: no better than the baseline, against a claimed {claimed}x"),
        )
    };
    Ok((ratio, outcome, evidence, why))
}
