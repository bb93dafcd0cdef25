//! The vendor's claimed figures, as peak lines on the charts that measure them.

use super::super::source::drawable;
use super::super::{Chart, NamedChart, Peak, Source};

/// Draws the vendor's claimed figure (built-in claims files, picked by the detected
/// instance type or GPU model as `validate` picks them) as a dashed line on the charts
/// that measure the same quantity in the same unit.
pub(super) fn attach_claimed_peaks(charts: &mut [NamedChart], source: &Source) {
    use crate::analysis::validate::{self, ClaimsFile, Quantity};
    let (instances, gpus) = validate::detected_hardware(&source.doc);
    let files = validate::auto_select(&ClaimsFile::builtin(), &instances, &gpus);
    if files.is_empty() {
        return;
    }
    let on_gpu = source.doc.run.backend == "cuda";
    let one_node = source.doc.environment.hosts.len() <= 1;
    let dtypes_of = |bench: &str| -> Vec<String> {
        let mut d: Vec<String> = drawable(&source.doc)
            .filter(|r| r.benchmark == bench)
            .filter_map(validate::record_dtype)
            .collect();
        d.sort();
        d.dedup();
        d
    };
    for chart in charts.iter_mut() {
        let Chart::Line(line) = &mut chart.chart else {
            continue;
        };
        // The GPU claims speak of GPUs: a CPU run on the same instance is not held to them.
        let (quantity, unit, dtype) = match (chart.benchmark.as_str(), chart.metric.as_str()) {
            ("membw", "bandwidth") if on_gpu => (Quantity::GpuMemoryBandwidth, "GB/s", None),
            ("membw", "bandwidth") => (Quantity::HostMemoryBandwidth, "GB/s", None),
            ("allreduce", "busbw") if on_gpu && one_node => {
                (Quantity::IntraNodeAllreduceBusbw, "GB/s", None)
            }
            ("matmul", "tflops") if on_gpu => match dtypes_of("matmul").as_slice() {
                [only] => (Quantity::MatmulTflops, "TFLOP/s", Some(only.clone())),
                _ => continue,
            },
            _ => continue,
        };
        let claim = files.iter().find_map(|(_, f)| {
            f.claims.iter().find(|c| {
                c.quantity == quantity
                    && c.unit == unit
                    && (dtype.is_none()
                        || c.dtype.as_deref().map(validate::normalize_dtype) == dtype)
            })
        });
        if let Some(c) = claim {
            // The membw chart adds up all ranks, one GPU each: so does the claim.
            let ranks = source.doc.environment.ranks.len().max(1);
            let (value, times) = match quantity {
                Quantity::GpuMemoryBandwidth if ranks > 1 => {
                    (c.value * ranks as f64, format!(" × {ranks} GPUs"))
                }
                _ => (c.value, String::new()),
            };
            line.peak = Some(Peak {
                label: format!("claimed: {}{times}", c.what),
                value,
                unit: c.unit.clone(),
            });
        }
    }
}
