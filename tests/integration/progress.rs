//! The progress line: on a terminal, measurements done of the total, the one under way
//! and the time left; nothing when stderr is piped, or with -q.

use crate::common::*;
use std::process::Command;

/// Measurements of one STREAM benchmark: five kernels, and the four that write again
/// with streaming stores where offered.
const PER_MEMBW: usize = if cfg!(target_arch = "x86_64") { 9 } else { 5 };
const MEASUREMENTS: usize = 2 * PER_MEMBW;

/// Two STREAM benchmarks, every measurement long enough to be drawn.
const RUN: [&str; 9] = [
    "run",
    "--bench",
    "membw,membw",
    "--array-size",
    "1M",
    "-n",
    "20",
    "--output",
    "r",
];

#[test]
fn piped_or_quiet_runs_draw_no_progress() {
    for quiet in [false, true] {
        let dir = tempdir();
        let out = clusterbench(dir.path())
            .args(RUN)
            .args(quiet.then_some("-q"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("measured"), "{stderr}");
        assert!(
            !stderr.contains('\r') && !stderr.contains('\u{1b}'),
            "{stderr}"
        );
        let (_, doc) = only_document(&dir.path().join("r"));
        assert_eq!(doc.records.len(), MEASUREMENTS);
    }
}

#[test]
fn a_terminal_shows_done_of_total_the_measurement_and_the_time_left() {
    let dir = tempdir();
    // `script` gives the run a terminal and copies what it draws.
    let command = format!("{} {} > /dev/null", bin().display(), RUN.join(" "));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .output()
        .expect("script (util-linux) runs");
    let drawn = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{drawn}");
    assert!(
        drawn.contains(&format!("0/{MEASUREMENTS} measured")),
        "{drawn}"
    );
    assert!(
        drawn.contains(&format!(
            "/{MEASUREMENTS} measured · membw copy 1 MiB per array"
        )),
        "{drawn}"
    );
    // In the first benchmark the time left is its own; in the last, the run's.
    assert!(drawn.contains(" left in this benchmark"), "{drawn}");
    assert!(drawn.contains(" · ETA "), "{drawn}");
    // The line is cleared at the end: the last thing on the terminal is not it.
    let last = drawn.trim_end().rsplit(['\r', '\n']).next().unwrap_or("");
    assert!(last.contains("results written"), "{last:?}");
}

#[test]
fn a_signal_is_acknowledged_on_the_terminal_at_once() {
    use crate::interrupt::{child_pid, signal, Running};
    let dir = tempdir();
    // The process stalls for 4 s before its second measurement: the line must say
    // what the signal does while nothing else moves.
    let command = format!(
        "exec {} run --bench membw --array-size 256K -n 2 --timeout 1 --debug-stall-rank 0 --output r > /dev/null",
        bin().display()
    );
    let mut script = Command::new("script");
    script
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path());
    let mut run = Running::start(script);
    run.wait_for_a_record(&dir.path().join("r"));
    let terminal = run.pid();
    let pid = child_pid(terminal, |_| true).expect("the run under script");
    signal(pid, "INT");
    let (status, drawn, _) = run.finish_with_stdout();
    assert_eq!(status.code(), Some(130), "{drawn}");
    assert!(
        drawn.contains("SIGINT: stopping after this measurement (again: at once)"),
        "{drawn}"
    );
    assert!(drawn.contains("interrupted by SIGINT"), "{drawn}");
}
