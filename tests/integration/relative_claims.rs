//! Claims against other hardware ("up to 35% lower latency than P5") are checked as
//! the ratio of one quantity in two results files. The runs are AWS's published 2 x p5
//! and 2 x p4de nccl-tests references (`tests/fixtures/`); the claims, written here,
//! compare them so that each verdict can be reached.

use crate::common::{explain_block, fixture, import_two_node_allreduce, tempdir, validate_in};
use std::path::Path;

const CLAIMS: &str = r#"
[target]
name = "Test p5"
kind = "instance"

[[relative]]
id = "latency_vs_p4de"
what = "2-node all-reduce time against p4de's"
quantity = "two_node_allreduce_latency"
baseline = "aws-p4de"
ratio = 0.9
convention = "p5 over p4de"
source = "test"

[[relative]]
id = "much_lower_latency_vs_p4de"
what = "2-node all-reduce time against p4de's, claimed far lower"
quantity = "two_node_allreduce_latency"
baseline = "aws-p4de"
ratio = 0.3
convention = "p5 over p4de"
source = "test"

[[relative]]
id = "latency_vs_p5"
what = "2-node all-reduce time against p5's"
quantity = "two_node_allreduce_latency"
baseline = "aws-p5"
ratio = 0.9
convention = "this over p5"
source = "test"
"#;

fn prepare(dir: &Path) {
    for (log, instance, out) in [
        (
            "nccl-tests-all_reduce_perf-aws-2x-p5-reference.log",
            "p5.48xlarge",
            "p5.json",
        ),
        (
            "nccl-tests-all_reduce_perf-aws-2x-p4de-reference.log",
            "p4de.24xlarge",
            "p4de.json",
        ),
    ] {
        import_two_node_allreduce(dir, &fixture(log), &["--instance-type", instance], out);
    }
    std::fs::write(dir.join("claims.toml"), CLAIMS).unwrap();
}

fn validate(dir: &Path, this: &str, baseline: &str) -> (Option<i32>, String) {
    validate_in(
        dir,
        &[
            this,
            "--claims",
            "claims.toml",
            "--explain",
            "--relative-to",
            baseline,
        ],
    )
}

fn block<'a>(out: &'a str, id: &str) -> &'a str {
    explain_block(out, "Test p5", id)
}

#[test]
fn a_ratio_between_two_runs_passes_warns_or_says_it_cannot_be_taken() {
    let dir = tempdir();
    prepare(dir.path());
    let (code, out) = validate(dir.path(), "p5.json", "p4de.json");
    // 8 B: 69.12 us on p5, 163.3 us on p4de.
    let pass = block(&out, "latency_vs_p4de");
    assert!(
        pass.contains(": pass\n") && pass.contains("measured: 0.423 x"),
        "{pass}"
    );
    assert!(
        pass.contains("records: this run 69.120 us")
            && pass.contains("AWS p4de.24xlarge 163.300 us"),
        "{pass}"
    );
    assert!(
        pass.contains("compared with: p4de.json (aws-p4de)"),
        "{pass}"
    );
    let warn = block(&out, "much_lower_latency_vs_p4de");
    assert!(
        warn.contains(": warn\n") && warn.contains("short of the claimed 0.3x"),
        "{warn}"
    );
    // The baseline is p4de, not the p5 this claim compares against.
    let other = block(&out, "latency_vs_p5");
    assert!(
        other.contains(": not measured\n")
            && other.contains(
                "the baseline results ran on p4de.24xlarge, not on the hardware of 'aws-p5'"
            ),
        "{other}"
    );
    assert_eq!(code, Some(0), "{out}");
    let row = out.lines().find(|l| l.contains("against p4de's ")).unwrap();
    assert!(row.contains("<= 0.9x") && row.contains("pass"), "{row}");
}

#[test]
fn a_run_no_better_than_its_baseline_fails() {
    let dir = tempdir();
    prepare(dir.path());
    // p4de's run taken as the newer hardware, against p5: 2.36x the time.
    let (code, out) = validate(dir.path(), "p4de.json", "p5.json");
    let fail = block(&out, "latency_vs_p5");
    assert!(
        fail.contains(": FAIL\n") && fail.contains("no better than the baseline"),
        "{fail}"
    );
    assert_eq!(code, Some(1), "{out}");
}
