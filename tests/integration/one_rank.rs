//! One process: collectives measure no interconnect there. Skipped unless named with
//! --bench; named, measured out-of-place only as local copies and kept out of models,
//! latency charts and comparisons.

use crate::common::*;
use clusterbench::results::Params;

#[test]
fn a_suite_on_one_rank_skips_its_collectives_and_says_why_in_one_line() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("mixed.toml"),
        r#"description = "a collective and STREAM"
[[bench]]
name = "allreduce"
minbytes = "8"
maxbytes = "64"
[[bench]]
name = "membw"
array_size = "2M"
iters = 3
"#,
    )
    .unwrap();
    let out = clusterbench(dir.path())
        .args(["run", "--suite", "./mixed.toml", "--output", "r"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("allreduce")).collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].starts_with("clusterbench: skipping allreduce on one rank: ")
            && said[0].contains("measures no interconnect"),
        "{stderr}"
    );
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_matches_schema(&path);
    assert!(!doc.records.is_empty());
    assert!(doc.records.iter().all(|r| r.benchmark == "membw"));
    // The document's options are those of the run that happened.
    assert!(!doc.run.options.to_string().contains("allreduce"));

    // -q: the same run, without the line.
    let out = clusterbench(dir.path())
        .args(["run", "--suite", "./mixed.toml", "-q", "--output", "q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("skipping"), "{stderr}");
}

#[test]
fn collectives_named_on_one_rank_are_local_copies_kept_out_of_model_charts_and_compare() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(["run", "--bench", "allreduce,membw", "-b", "8", "-e", "4K"])
        .args(["-f", "8", "-n", "3", "-w", "1", "--array-size", "2M"])
        .args(["--output", "r"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("# local copy: "), "{stdout}");
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_all_checked_and_passed(&doc);
    let copies: Vec<_> = doc
        .records
        .iter()
        .filter(|r| r.benchmark == "allreduce")
        .collect();
    // 8, 64, 512, 4096 bytes, out-of-place only: in place on one rank does nothing.
    assert_eq!(copies.len(), 4);
    for r in &copies {
        assert!(r.is_local_copy());
        assert!(
            matches!(
                r.params,
                Params::Collective {
                    in_place: false,
                    ..
                }
            ),
            "{:?}",
            r.params
        );
    }
    let rows = stdout
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(" float "));
    assert_eq!(
        rows.filter(|l| l.contains(" local ")).count(),
        4,
        "{stdout}"
    );

    // Charts: the copy's bandwidth, but no latency chart.
    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
    let charts = files_in(&dir.path().join("r").join(format!("{stem}-charts")));
    assert!(
        charts.contains(&"allreduce-algbw.png".to_string()),
        "{charts:?}"
    );
    assert!(
        !charts
            .iter()
            .any(|c| c.starts_with("allreduce-time") || c.contains("latency")),
        "{charts:?}"
    );

    // model: nothing to fit, and it says why.
    let json = path.to_str().unwrap();
    let out = clusterbench(dir.path())
        .args(["model", json])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("local copies"), "{stderr}");

    // compare: the local copies get no verdict; STREAM is compared.
    let out = clusterbench(dir.path())
        .args(["compare", json, json])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("membw copy"), "{stdout}");
    assert!(!stdout.contains("allreduce"), "{stdout}");
}

#[test]
fn a_collective_only_in_place_has_nothing_to_run_on_one_rank() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(["run", "--bench", "broadcast", "-b", "8", "-e", "64"])
        .args(["--output", "r"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("nothing to run: broadcast on one rank: in place only"),
        "{stderr}"
    );
}
