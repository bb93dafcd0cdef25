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
        rank_mean_s: None,
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

#[test]
fn one_sample_records_are_judged_by_the_threshold_alone() {
    let base = doc(vec![
        record(1024, vec![1.0]),
        record(2048, vec![1.0]),
        record(4096, samples(1.0, 0.5)),
    ]);
    // 5% slower: inside the threshold; 50% slower: beyond it; one side of many samples
    // with a wide spread and the other of one: still the point against the threshold.
    let cand = doc(vec![
        record(1024, vec![1.05]),
        record(2048, vec![1.5]),
        record(4096, vec![1.2]),
    ]);
    let rep = compare(&base, &cand, &CompareOptions::default()).unwrap();
    let by_bytes = |b: u64| by_key(&rep, b);
    for b in [1024, 2048, 4096] {
        assert_eq!(by_bytes(b).basis, Basis::ThresholdOnly);
    }
    assert_eq!(by_bytes(1024).verdict, Verdict::Unchanged);
    assert_eq!(by_bytes(2048).verdict, Verdict::Regression);
    assert_eq!(by_bytes(4096).verdict, Verdict::Regression);
    assert_eq!(rep.benchmarks[0].basis, Basis::ThresholdOnly);
    let spread = compare(&base, &base, &CompareOptions::default()).unwrap();
    assert_eq!(by_key(&spread, 4096).basis, Basis::Interval);
}

fn by_key(rep: &CompareReport, bytes: u64) -> &Comparison {
    rep.comparisons
        .iter()
        .find(|c| c.key.contains(&format!("\"bytes\":{bytes}")))
        .unwrap()
}

fn p2p_latency(samples: Vec<f64>) -> Record {
    let mut r = record(8, samples);
    r.benchmark = "p2p".into();
    r.params = Params::PointToPoint {
        mode: "latency".into(),
        bytes: 8,
        window: 1,
        from: 0,
        to: 1,
        from_host: "a".into(),
        to_host: "b".into(),
    };
    r.metrics[0].name = "bandwidth".into();
    r
}

#[test]
fn latencies_are_figures_in_time_that_regress_when_they_grow() {
    let base = doc(vec![p2p_latency(samples(2e-6, 0.02))]);
    let cand = doc(vec![p2p_latency(samples(4e-6, 0.02))]);
    let rep = compare(&base, &cand, &CompareOptions::default()).unwrap();
    let c = &rep.comparisons[0];
    assert_eq!(c.better, Better::Lower);
    assert_eq!(
        (c.metric.as_deref(), c.unit.as_deref()),
        (Some("latency"), Some("us"))
    );
    assert!((c.baseline_value.unwrap() - 2.0).abs() < 1e-9, "{c:?}");
    assert!((c.candidate_value.unwrap() - 4.0).abs() < 1e-9, "{c:?}");
    assert_eq!(c.verdict, Verdict::Regression);
    // The other way round, the latency halved: an improvement.
    let rep = compare(&cand, &base, &CompareOptions::default()).unwrap();
    assert_eq!(rep.comparisons[0].verdict, Verdict::Improvement);
    // A record carrying its own time metric (an OSU latency test) is judged by it, and
    // a `latency` threshold applies to it.
    let timed = |t: f64| {
        let mut r = record(1024, vec![t]);
        r.metrics.insert(
            0,
            Metric {
                name: "latency".into(),
                unit: "us".into(),
                value: t * 1e6,
                best: t * 1e6,
            },
        );
        r
    };
    let mut opts = CompareOptions::default();
    parse_thresholds(&["latency=0.5".into()], &mut opts).unwrap();
    let rep = compare(&doc(vec![timed(1e-5)]), &doc(vec![timed(1.3e-5)]), &opts).unwrap();
    let c = &rep.comparisons[0];
    assert_eq!(
        (c.metric.as_deref(), c.better),
        (Some("latency"), Better::Lower)
    );
    assert_eq!((c.threshold, c.verdict), (0.5, Verdict::Unchanged));
    // A bandwidth record keeps its bandwidth, higher being better.
    let rep = compare(&base_bw(), &base_bw(), &CompareOptions::default()).unwrap();
    assert_eq!(rep.comparisons[0].better, Better::Higher);
}

fn base_bw() -> RunDocument {
    doc(vec![record(4096, samples(1.0, 0.02))])
}

/// A matmul recorded with its engine pairs with the same matmul recorded without one
/// (or on another engine): the engine is what computed it, not what was computed.
#[test]
fn a_matmul_pairs_across_engines_and_other_shapes_do_not() {
    let matmul = |m: u64, engine: Option<&str>| {
        let mut r = record(8, samples(1.0, 0.01));
        r.benchmark = "matmul".into();
        r.params = Params::Matmul {
            dtype: DType::Float,
            label: "square".into(),
            m,
            n: m,
            k: m,
            threads: 2,
            engine: engine.map(str::to_string),
        };
        r
    };
    let before = matmul(256, None);
    assert_eq!(
        match_key(&before),
        match_key(&matmul(256, Some("gemm 0.19.0 (avx512f)")))
    );
    assert_ne!(match_key(&before), match_key(&matmul(512, None)));
}
