//! `matmul --search`: brief unchecked candidates around each size, then the best shape
//! measured in full and checked.

use crate::common::*;

#[test]
fn search_measures_candidates_then_checks_the_best() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(["run", "--bench", "matmul", "--sizes", "64", "--search"])
        .args([
            "-d",
            "float",
            "-n",
            "2",
            "-w",
            "0",
            "-q",
            "--backend",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (_, doc) = only_document(&dir.path().join("clusterbench-results"));
    let label = |r: &clusterbench::results::Record| match &r.params {
        clusterbench::results::Params::Matmul { label, m, n, k, .. } => {
            (label.clone(), (*m, *n, *k))
        }
        other => panic!("not a matmul: {other:?}"),
    };
    let candidates: Vec<_> = doc
        .records
        .iter()
        .filter(|r| label(r).0 == "search")
        .collect();
    // Five square sizes (64..320), then other inner dimensions at the best side.
    let shapes: Vec<_> = candidates.iter().map(|r| label(r).1).collect();
    let squares: Vec<_> = shapes.iter().filter(|(m, n, k)| m == n && n == k).collect();
    assert_eq!(squares.len(), 5, "{shapes:?}");
    assert!(shapes.len() > 5, "{shapes:?}");
    assert!(candidates.iter().all(|r| !r.check.performed));
    let best: Vec<_> = doc
        .records
        .iter()
        .filter(|r| label(r).0 == "search_best")
        .collect();
    assert_eq!(best.len(), 1);
    let best = best[0];
    assert!(
        best.check.performed && best.check.passed,
        "{:?}",
        best.check
    );
    // The winner is the fastest candidate's shape.
    let fastest = candidates
        .iter()
        .max_by(|a, b| {
            let t = |r: &&&clusterbench::results::Record| r.metric("tflops").unwrap().value;
            t(a).total_cmp(&t(b))
        })
        .unwrap();
    assert_eq!(label(best).1, label(fastest).1);
}
