//! Published healthy runs pass the claims of their hardware: each built-in claims file
//! whose `published_run` names a fixture is checked here against that run, imported
//! verbatim (`tests/fixtures/`, addresses in its README). A threshold that fails
//! hardware its own publisher calls healthy is a wrong threshold.

use crate::common::{clusterbench, tempdir, TWO_NODE_ALLREDUCE};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One published run: the claims file it must pass, its fixture, the import options
/// its log needs, `--claims` when the run's own hardware has no file (another
/// instance of the same board), and the claims it measures, all of which must pass.
struct Published {
    claims: &'static str,
    fixture: &'static str,
    import: &'static [&'static str],
    explicit_claims: bool,
    passes: &'static [&'static str],
}

const RUNS: &[Published] = &[
    Published {
        claims: "aws-p5",
        fixture: "nccl-tests-all_reduce_perf-aws-2x-p5-reference.log",
        import: TWO_NODE_ALLREDUCE,
        explicit_claims: false,
        passes: &["network_per_node", "allreduce_latency_2node"],
    },
    Published {
        claims: "aws-p4de",
        fixture: "nccl-tests-all_reduce_perf-aws-2x-p4de-reference.log",
        import: TWO_NODE_ALLREDUCE,
        explicit_claims: false,
        passes: &["network_per_node", "allreduce_latency_2node"],
    },
    Published {
        claims: "aws-p6-b200",
        fixture: "nccl-tests-all_reduce_perf-aws-2x-p6-b200-dstack-head.log",
        import: TWO_NODE_ALLREDUCE,
        explicit_claims: false,
        passes: &["allreduce_latency_2node"],
    },
    Published {
        claims: "gcp-a3-mega",
        fixture: "nccl-tests-all_reduce_perf-a3mega-16gpu.log",
        import: &[],
        explicit_claims: false,
        passes: &["network_per_node", "allreduce_latency_2node"],
    },
    // No p4d run is published; OCI's BM.GPU4.8 is the same 8x A100-SXM4-40GB board.
    Published {
        claims: "aws-p4d",
        fixture: "nccl-tests-all_reduce_perf-a100-40gb-g8-oci.log",
        import: &[],
        explicit_claims: true,
        passes: &["nvlink_allreduce"],
    },
];

fn instance_of(claims: &str) -> String {
    let text = std::fs::read_to_string(repo().join(format!("harness/claims/{claims}.toml")))
        .unwrap_or_else(|e| panic!("{claims}: {e}"));
    let file = clusterbench::analysis::validate::ClaimsFile::parse(&text, claims).unwrap();
    file.target.matches[0].clone()
}

/// Imports `run` and validates it: the exit code and each claim's (id, outcome).
fn validate_published(dir: &Path, run: &Published) -> (i32, Vec<(String, String)>, String) {
    let log = repo().join("tests/fixtures").join(run.fixture);
    let out = format!("{}.json", run.claims);
    let mut import = clusterbench(dir);
    import.arg("import").arg(&log).args(run.import);
    if !run.explicit_claims {
        import.args(["--instance-type", &instance_of(run.claims)]);
    }
    let o = import.args(["-o", &out]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut validate = clusterbench(dir);
    validate.args(["validate", &out, "--format", "json"]);
    let claims_path = repo().join(format!("harness/claims/{}.toml", run.claims));
    if run.explicit_claims {
        validate.arg("--claims").arg(&claims_path);
    }
    let o = validate.output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let results: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", run.claims));
    let outcomes = results
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["file"]
                .as_str()
                .is_some_and(|f| f.ends_with(&format!("{}.toml", run.claims)) || f == run.claims)
        })
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (o.status.code().unwrap_or(-1), outcomes, text)
}

#[test]
fn published_healthy_runs_pass_the_claims_of_their_hardware() {
    let dir = tempdir();
    for run in RUNS {
        let (code, outcomes, text) = validate_published(dir.path(), run);
        assert_eq!(code, 0, "{}: {text}", run.claims);
        assert!(
            !outcomes.is_empty(),
            "{}: no claim of the file: {text}",
            run.claims
        );
        for (id, outcome) in &outcomes {
            assert!(
                outcome != "fail" && outcome != "warn",
                "{} '{id}' {outcome} on its published healthy run: {text}",
                run.claims
            );
        }
        for want in run.passes {
            assert!(
                outcomes.iter().any(|(id, o)| id == want && o == "pass"),
                "{} '{want}' does not pass: {outcomes:?}",
                run.claims
            );
        }
    }
}

/// A file that names a fixture as its published run is checked against it above.
#[test]
fn every_published_run_fixture_is_tested() {
    use clusterbench::analysis::validate::ClaimsFile;
    for (name, file) in ClaimsFile::builtin() {
        let run = file.target.published_run.unwrap_or_default();
        let Some(at) = run.find("tests/fixtures/") else {
            continue;
        };
        let fixture: String = run[at + "tests/fixtures/".len()..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | ';' | ','))
            .collect();
        assert!(
            repo().join("tests/fixtures").join(&fixture).is_file(),
            "{name}: {fixture} is not in tests/fixtures"
        );
        assert!(
            RUNS.iter()
                .any(|r| r.claims == name && r.fixture == fixture),
            "{name}: its published run {fixture} is not tested"
        );
    }
}

/// `--explain` names, beside each threshold, the measured run it comes from.
#[test]
fn explain_names_the_run_behind_each_threshold() {
    let dir = tempdir();
    let run = &RUNS[0];
    validate_published(dir.path(), run);
    let o = clusterbench(dir.path())
        .args(["validate", "aws-p5.json", "--explain"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let block = out
        .split("\nAWS p5.48xlarge 'network_per_node'")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        block.contains("threshold: 60% of the claim\n  threshold from: https://github.com/aws-samples/awsome-distributed-training/blob/main/micro-benchmarks/nccl-tests/README.md: AWS's 2x p5.48xlarge reference"),
        "{block}"
    );
}
