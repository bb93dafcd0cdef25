use super::*;
use crate::core::DType;
use crate::results::{Check, Metric, Params, Record, RunDocument};
use crate::stats::Summary;

fn record(bytes: u64, samples: Vec<f64>) -> Record {
    Record {
        benchmark: "allreduce".into(),
        backend: "cpu".into(),
        ranks: 2,
        nodes: 1,
        params: Params::Collective {
            dtype: DType::Float,
            op: None,
            in_place: false,
            count: bytes / 4,
            bytes,
        },
        time_s: Summary::of(&samples).unwrap(),
        samples_s: samples,
        metrics: vec![Metric {
            name: "busbw".into(),
            unit: "GB/s".into(),
            value: 1.0,
            best: 1.0,
        }],
        check: Check::skipped(),
        per_node: Vec::new(),
        timing: None,
    }
}

fn doc(records: Vec<Record>) -> RunDocument {
    let text = include_str!("../../../tests/fixtures/nccl-tests-all_reduce_perf-a3mega-16gpu.json");
    let ctx = crate::import::ImportContext {
        source_name: "t".into(),
        ..Default::default()
    };
    let mut d = crate::import::import(text, crate::import::Format::NcclTestsJson, &ctx).unwrap();
    d.records = records;
    d
}

fn samples(center: f64, spread: f64) -> Vec<f64> {
    (0..20)
        .map(|i| center * (1.0 + spread * ((i % 5) as f64 - 2.0) / 2.0))
        .collect()
}

#[test]
fn verdicts_follow_the_interval_not_the_point() {
    let base = doc(vec![
        record(1024, samples(1.0, 0.02)),
        record(4096, samples(1.0, 0.02)),
    ]);
    let cand = doc(vec![
        record(1024, samples(2.0, 0.02)),
        record(4096, samples(1.05, 0.02)),
    ]);
    let rep = compare(&base, &cand, &CompareOptions::default()).unwrap();
    assert_eq!(rep.comparisons.len(), 2);
    assert_eq!(rep.comparisons[0].verdict, Verdict::Regression);
    // 5% slower is inside the 10% threshold.
    assert_eq!(rep.comparisons[1].verdict, Verdict::Unchanged);
    assert_eq!(rep.regressions, 1);
    // A per-benchmark threshold of 150% lets the doubling pass.
    let mut opts = CompareOptions::default();
    parse_thresholds(&["allreduce=1.5".to_string()], &mut opts).unwrap();
    assert_eq!(compare(&base, &cand, &opts).unwrap().regressions, 0);
    // Very noisy samples: the same doubling of the median is not provable.
    let noisy_base = doc(vec![record(1024, samples(1.0, 0.9))]);
    let noisy_cand = doc(vec![record(1024, samples(1.3, 0.9))]);
    let rep = compare(&noisy_base, &noisy_cand, &CompareOptions::default()).unwrap();
    assert_eq!(
        rep.comparisons[0].verdict,
        Verdict::Unchanged,
        "{:?}",
        rep.comparisons[0]
    );
}

#[test]
fn keys_are_generic_over_parameters_and_unmatched_records_are_listed() {
    let base = doc(vec![
        record(1024, samples(1.0, 0.01)),
        record(8, samples(1.0, 0.01)),
    ]);
    let cand = doc(vec![
        record(1024, samples(1.0, 0.01)),
        record(16, samples(1.0, 0.01)),
    ]);
    let rep = compare(&base, &cand, &CompareOptions::default()).unwrap();
    assert_eq!(rep.comparisons.len(), 1);
    assert_eq!(rep.only_in_baseline.len(), 1);
    assert_eq!(rep.only_in_candidate.len(), 1);
    assert!(match_key(&record(8, vec![1.0])).contains("\"bytes\":8"));
    let other = doc(vec![record(64, samples(1.0, 0.01))]);
    assert!(compare(&base, &other, &CompareOptions::default()).is_err());
}

#[test]
fn thresholds_parse_fractions_percentages_and_names() {
    let mut o = CompareOptions::default();
    parse_thresholds(&["5%".into(), "busbw=0.2".into()], &mut o).unwrap();
    assert!((o.default_threshold - 0.05).abs() < 1e-12);
    assert_eq!(o.thresholds["busbw"], 0.2);
    for bad in ["x", "=0.1", "-0.1", "nan"] {
        assert!(parse_thresholds(&[bad.into()], &mut o).is_err(), "{bad}");
    }
    assert!(Reference::parse("membw:").is_err());
    assert_eq!(Reference::parse("membw").unwrap().value, None);
}
