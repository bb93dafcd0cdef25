//! A reader that goes away (`clusterbench env | head`): every printing command ends
//! quietly, with the exit status it would have had with its output read to the end.

use crate::common::{bin, files_in, tempdir};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BASELINE: &str = "results/baselines/quick-cpu-2core.json";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `clusterbench ARGS` in the repository, its standard output read to the end.
fn read_to_the_end(args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(repo())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("binary runs")
}

/// `clusterbench ARGS` with a standard output whose reader closed before the program
/// started, so that its very first write fails with EPIPE, as the writes after `head`
/// has read its lines do. A socket pair stands for the pipe: a write to either gives
/// EPIPE once the other end is closed, and `std::io::pipe` is newer than the crate's
/// oldest supported Rust.
fn reader_gone(args: &[&str]) -> Output {
    let (writer, reader) = UnixStream::pair().expect("socket pair");
    drop(reader);
    Command::new(bin())
        .current_dir(repo())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(OwnedFd::from(writer)))
        .stderr(Stdio::piped())
        .output()
        .expect("binary runs")
}

/// `clusterbench ARGS 2>&1 | head`: both outputs on one socket whose reader is gone.
fn both_readers_gone(args: &[&str]) -> std::process::ExitStatus {
    let (writer, reader) = UnixStream::pair().expect("socket pair");
    drop(reader);
    let errors = writer.try_clone().expect("the socket's second descriptor");
    Command::new(bin())
        .current_dir(repo())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(OwnedFd::from(writer)))
        .stderr(Stdio::from(OwnedFd::from(errors)))
        .status()
        .expect("binary runs")
}

fn assert_quiet_like_a_full_read(args: &[&str]) {
    let full = read_to_the_end(args);
    assert!(
        !full.stdout.is_empty(),
        "{args:?} prints nothing, so this proves nothing"
    );
    let cut = reader_gone(args);
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert_eq!(
        cut.status.code(),
        full.status.code(),
        "{args:?} with its reader gone: {stderr}"
    );
    assert_eq!(
        stderr,
        String::from_utf8_lossy(&full.stderr),
        "{args:?}: a closed pipe adds nothing to the error output"
    );
}

#[test]
fn printing_commands_end_quietly_when_the_reader_goes_away() {
    for args in [
        &["schema"][..],
        &["env"],
        &["list"],
        &["--help"],
        &["links", "--help"],
        // Without CUDA support it prints only its error.
        #[cfg(feature = "cuda")]
        &["cuda-check"],
        &["run", "--dry-run", "--suite", "quick"],
        &["export", BASELINE],
        &[
            "validate",
            BASELINE,
            "--claims",
            "harness/claims/gpu-h100-sxm.toml",
        ],
        &["compare", BASELINE, BASELINE],
        &[
            "import",
            "tests/fixtures/osu_allreduce-v5.6.2-64ranks.out",
            "--ranks",
            "64",
        ],
    ] {
        assert_quiet_like_a_full_read(args);
    }
}

#[test]
fn the_schema_and_the_list_exit_zero_with_nothing_on_stderr() {
    for command in ["schema", "list"] {
        let cut = reader_gone(&[command]);
        assert_eq!(cut.status.code(), Some(0), "{command}");
        assert_eq!(String::from_utf8_lossy(&cut.stderr), "", "{command}");
    }
}

#[test]
fn a_regression_still_fails_when_the_reader_goes_away() {
    let dir = tempdir();
    let dir_str = dir.path().to_str().expect("UTF-8 temp path");
    let (base, new) = (format!("{dir_str}/a.json"), format!("{dir_str}/b.json"));
    let fixture = "tests/fixtures/osu_allreduce-v5.6.2-64ranks.out";
    let done = read_to_the_end(&["import", fixture, "--ranks", "64", "-o", &base]);
    assert!(done.status.success(), "{done:?}");
    // The same log made half as fast: every one of its 19 rows regresses.
    let mut slower = clusterbench::results::files::read_document(Path::new(&base)).unwrap();
    for r in &mut slower.records {
        r.samples_s.iter_mut().for_each(|t| *t *= 2.0);
        r.time_s = clusterbench::stats::Summary::of(&r.samples_s).unwrap();
        r.metrics.iter_mut().for_each(|m| {
            m.value /= 2.0;
            m.best /= 2.0;
        });
    }
    clusterbench::results::files::write_document(&slower, Path::new(&new)).unwrap();
    let cut = reader_gone(&["compare", &base, &new]);
    assert_eq!(cut.status.code(), Some(1), "{cut:?}");
    assert_eq!(
        String::from_utf8_lossy(&cut.stderr).trim_end(),
        "clusterbench: error: 19 measurements regressed"
    );
}

#[test]
fn messages_to_a_closed_pipe_do_not_end_a_run_either() {
    let dir = tempdir();
    let out = dir.path().to_str().expect("UTF-8 temp path");
    let status = both_readers_gone(&[
        "run",
        "--bench",
        "allreduce",
        "-b",
        "8",
        "-e",
        "64",
        "-n",
        "2",
        "-w",
        "1",
        "--output",
        out,
    ]);
    assert_eq!(status.code(), Some(0));
    assert!(
        files_in(dir.path()).iter().any(|f| f.ends_with(".json")),
        "no results document in {:?}",
        files_in(dir.path())
    );
    // A usage error keeps its exit code with nobody to read it.
    assert_eq!(
        both_readers_gone(&["run", "--bench", "nosuch"]).code(),
        Some(2)
    );
}

#[test]
fn a_run_whose_reader_goes_away_finishes_and_writes_its_results() {
    let dir = tempdir();
    let out = dir.path().to_str().expect("UTF-8 temp path");
    let cut = reader_gone(&[
        "run",
        "--bench",
        "allreduce",
        "-b",
        "8",
        "-e",
        "64",
        "-n",
        "2",
        "-w",
        "1",
        "--output",
        out,
    ]);
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert_eq!(cut.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert!(
        files_in(dir.path()).iter().any(|f| f.ends_with(".json")),
        "no results document in {:?}",
        files_in(dir.path())
    );
}
