use super::*;

fn baseline() -> RunDocument {
    serde_json::from_str(include_str!("../../results/baselines/quick-cpu-2core.json"))
        .expect("the committed baseline parses")
}

/// Four nodes' copies of the baseline, each record's median time scaled per node.
fn four_nodes(scale: impl Fn(usize, usize) -> f64) -> (Vec<RunDocument>, Vec<NodeVerdict>) {
    let base = baseline();
    let docs: Vec<RunDocument> = (0..4)
        .map(|n| {
            let mut d = base.clone();
            for (i, r) in d.records.iter_mut().enumerate() {
                r.time_s.median *= scale(n, i);
            }
            d
        })
        .collect();
    let nodes = (0..4)
        .map(|n| NodeVerdict::new(&format!("node{n}"), vec![n as u32]))
        .collect();
    (docs, nodes)
}

fn node_docs(docs: &[RunDocument]) -> Vec<NodeDoc<'_>> {
    docs.iter()
        .enumerate()
        .map(|(node, doc)| NodeDoc {
            node,
            doc,
            pointer: format!("/steps/1/documents/{node}"),
        })
        .collect()
}

#[test]
fn a_node_slower_in_every_measurement_is_isolated_and_noise_is_not() {
    let (docs, mut nodes) = four_nodes(|n, i| match n {
        2 => 3.0,
        // Up to 10% either way: noise, never flagged.
        _ => 1.0 + 0.05 * (((n + i) % 3) as f64 - 1.0),
    });
    slow_nodes("compute", &node_docs(&docs), &mut nodes);
    let actions: Vec<Action> = nodes.iter().map(|n| n.action).collect();
    assert_eq!(
        actions,
        [Action::Pass, Action::Pass, Action::Isolate, Action::Pass]
    );
    let reason = &nodes[2].reasons[0];
    assert_eq!(reason.records.len(), docs[0].records.len());
    assert!(reason.records[0].starts_with("/steps/1/documents/2/records/"));
    let n = docs[0].records.len();
    assert!(
        reason.why.contains(&format!("in {n} of {n} measurements")),
        "{}",
        reason.why
    );
}

#[test]
fn a_node_slow_in_a_few_measurements_is_noted_not_judged_and_two_nodes_never_are() {
    let (docs, mut nodes) = four_nodes(|n, i| if n == 1 && i == 0 { 2.0 } else { 1.0 });
    slow_nodes("compute", &node_docs(&docs), &mut nodes);
    assert!(nodes.iter().all(|n| n.action == Action::Pass));
    assert!(
        nodes[1].reasons[0].why.contains("1 of "),
        "{:?}",
        nodes[1].reasons
    );

    let (docs, mut nodes) = four_nodes(|n, _| if n == 0 { 5.0 } else { 1.0 });
    slow_nodes("compute", &node_docs(&docs[..2]), &mut nodes);
    assert!(nodes.iter().all(|n| n.action == Action::Pass));
}

/// A node slow at matmul because it computed with another engine (no OpenBLAS there)
/// is told so; peers on the same engine as the majority are not.
#[test]
fn a_slow_matmul_on_another_engine_names_both_engines() {
    let (mut docs, mut nodes) = four_nodes(|n, _| if n == 1 { 1.5 } else { 1.0 });
    let mut matmuls = 0;
    for (n, d) in docs.iter_mut().enumerate() {
        for r in &mut d.records {
            if let crate::results::Params::Matmul { engine, .. } = &mut r.params {
                *engine = Some(
                    if n == 1 {
                        "gemm 0.19.0 (fma)"
                    } else {
                        "openblas 0.3.21 (Zen)"
                    }
                    .into(),
                );
                matmuls += usize::from(n == 1);
            }
        }
    }
    assert!(matmuls > 0, "the baseline has matmul records");
    slow_nodes("compute", &node_docs(&docs), &mut nodes);
    let why = &nodes[1].reasons[0].why;
    assert_eq!(
        why.matches(", computed by gemm 0.19.0 (fma) where most nodes used openblas 0.3.21 (Zen)")
            .count(),
        matmuls,
        "{why}"
    );
    assert!(nodes
        .iter()
        .enumerate()
        .all(|(n, v)| n == 1 || v.reasons.is_empty()));
    // Without a majority engine (two and two), nothing is said of engines.
    assert_eq!(
        other_engine(&[Some("a"), Some("b"), Some("a"), Some("b")], 1),
        ""
    );
    assert_eq!(
        other_engine(&[Some("a"), Some("a"), Some("b")], 2),
        ", computed by b where most nodes used a"
    );
    assert_eq!(other_engine(&[Some("a"), Some("a"), None], 2), "");
    assert_eq!(other_engine(&[None, None, None], 0), "");
}

#[test]
fn a_failed_check_isolates_its_node_with_the_record_named() {
    let (mut docs, mut nodes) = four_nodes(|_, _| 1.0);
    docs[3].records[1].check.passed = false;
    docs[3].records[1].check.wrong = 7;
    failed_checks("compute", &node_docs(&docs), &mut nodes);
    assert_eq!(nodes[3].action, Action::Isolate);
    assert_eq!(
        nodes[3].reasons[0].records,
        ["/steps/1/documents/3/records/1"]
    );
    assert!(nodes[3].reasons[0].why.contains("7 wrong"));
    assert!(nodes[..3].iter().all(|n| n.reasons.is_empty()));
}

#[test]
fn the_worst_node_decides_and_the_drain_line_names_every_node_taken_out() {
    let mut nodes: Vec<NodeVerdict> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, h)| NodeVerdict::new(h, vec![i as u32]))
        .collect();
    assert_eq!(drain_command(&nodes), None);
    nodes[1].add(Reason {
        step: "links".into(),
        action: Action::Isolate,
        why: "slow".into(),
        records: vec![],
    });
    nodes[2].add(Reason {
        step: "environment".into(),
        action: Action::Reset,
        why: "driver \"575\" unlike its peers".into(),
        records: vec![],
    });
    nodes[0].add(Reason {
        step: "claims".into(),
        action: Action::Monitor,
        why: "below".into(),
        records: vec![],
    });
    assert_eq!(
        drain_command(&nodes).unwrap(),
        "scontrol update nodename=b,c state=drain reason=\"clusterbench accept: links isolate; environment reset\""
    );
    assert!(Action::Isolate > Action::Reset && Action::Reset > Action::Monitor);
    assert!(!Action::Monitor.takes_out() && Action::Reset.takes_out());
}
