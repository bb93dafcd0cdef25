use assert_cmd::Command;
use clusterbench::results::files::read_document;
use clusterbench::results::RunDocument;
use std::path::{Path, PathBuf};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_clusterbench"))
}

/// The binary as a command, with results going to `out`.
pub fn clusterbench(out: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(out);
    c
}

/// A fresh output directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// The one results document in `dir`.
pub fn only_document(dir: &Path) -> (PathBuf, RunDocument) {
    let jsons: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("output directory exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(
        jsons.len(),
        1,
        "expected one results file in {}: {jsons:?}",
        dir.display()
    );
    let doc = read_document(&jsons[0]).expect("results file reads back");
    (jsons[0].clone(), doc)
}

/// The stream file's lines, parsed.
pub fn stream_lines(json_path: &Path) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(json_path.with_extension("jsonl")).expect("jsonl stream exists");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each stream line is JSON"))
        .collect()
}

/// Every record was checked and passed.
pub fn assert_all_checked_and_passed(doc: &RunDocument) {
    assert!(!doc.records.is_empty(), "no records");
    for r in &doc.records {
        assert!(
            r.check.performed,
            "{} {:?} was not checked",
            r.benchmark, r.params
        );
        assert!(
            r.check.passed,
            "{} {:?} failed: {:?}",
            r.benchmark, r.params, r.check
        );
        assert_eq!(r.check.wrong, 0);
        assert!(r.check.checked > 0);
        assert!(
            r.time_s.min > 0.0
                && r.time_s.min <= r.time_s.median
                && r.time_s.median <= r.time_s.max
        );
        assert_eq!(r.samples_s.len(), r.time_s.n);
        for m in &r.metrics {
            // busbw is 0 on one rank (nothing crosses a link); every other figure is positive.
            let zero_ok = m.name == "busbw" && r.ranks == 1;
            assert!(
                m.value.is_finite() && (m.value > 0.0 || zero_ok && m.value == 0.0),
                "{m:?}"
            );
            assert!(m.best >= m.value, "best is at the minimum time: {m:?}");
        }
    }
}

/// Validates a document against the published JSON Schema.
pub fn assert_matches_schema(path: &Path) {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/harness/schema/results.schema.json"
        ))
        .expect("published schema exists"),
    )
    .expect("schema is JSON");
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not match the schema: {errors:#?}",
        path.display()
    );
}

/// `run --bench allreduce -b MIN -e MAX`: the start of most ad-hoc runs in the tests.
pub fn run_allreduce<'a>(min: &'a str, max: &'a str) -> [&'a str; 7] {
    ["run", "--bench", "allreduce", "-b", min, "-e", max]
}

/// The names of the entries of `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A file of `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `import` flags for a bare nccl-tests all-reduce table of 2 nodes of 8 GPUs (no
/// header, no device list).
pub const TWO_NODE_ALLREDUCE: &[&str] = &[
    "--format",
    "nccl-tests",
    "--ranks",
    "16",
    "--nodes",
    "2",
    "--collective",
    "all_reduce",
];

/// Imports `log` (a bare nccl-tests all-reduce table on 2 nodes of 8 GPUs) as `out` in
/// `dir`, with `extra` import flags (e.g. `--instance-type`).
pub fn import_two_node_allreduce(dir: &Path, log: &Path, extra: &[&str], out: &str) {
    let o = clusterbench(dir)
        .args(["import", log.to_str().unwrap()])
        .args(TWO_NODE_ALLREDUCE)
        .args(extra)
        .args(["-o", out])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `clusterbench validate ARGS` in `dir`: its exit code and its output (stdout, then
/// stderr).
pub fn validate_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = clusterbench(dir)
        .arg("validate")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The `--explain` block of claim `id` in validate's output, for a target named `target`.
pub fn explain_block<'a>(out: &'a str, target: &str, id: &str) -> &'a str {
    let head = format!("\n{target} '");
    let rest = out
        .split(&format!("{head}{id}'"))
        .nth(1)
        .unwrap_or_else(|| panic!("no block for {id}: {out}"));
    rest.split(&head).next().unwrap_or(rest)
}
