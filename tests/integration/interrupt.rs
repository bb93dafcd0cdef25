//! SIGINT and SIGTERM: the first keeps everything measured (status `interrupted`,
//! the document and the charts written, exit 130 or 143), a second ends at once.

use crate::common::*;
use clusterbench::results::RunStatus;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};

/// A child process that is killed if the test ends before it does.
pub struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        Running(Some(
            command
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the run starts"),
        ))
    }

    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the run is still tracked")
    }

    pub fn pid(&mut self) -> u32 {
        self.child().id()
    }

    /// Waits until the run has streamed at least one record to its `.jsonl` file in
    /// `results`; fails if the run ends first.
    pub fn wait_for_a_record(&mut self, results: &Path) {
        loop {
            if let Ok(Some(status)) = self.child().try_wait() {
                panic!("the run ended ({status}) before it streamed a record");
            }
            if streamed_records(results) >= 1 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The exit status and stderr.
    pub fn finish(self) -> (ExitStatus, String) {
        let (status, _, stderr) = self.finish_with_stdout();
        (status, stderr)
    }

    /// The exit status, stdout and stderr.
    pub fn finish_with_stdout(mut self) -> (ExitStatus, String, String) {
        let child = self.0.take().expect("the run is still tracked");
        let out = child.wait_with_output().expect("the run ends");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status, text(&out.stdout), text(&out.stderr))
    }
}

/// The record lines of the `.jsonl` stream in `results` (0 until it exists).
fn streamed_records(results: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(results) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| {
            text.lines()
                .filter(|l| l.starts_with("{\"type\":\"record\""))
                .count()
        })
        .sum()
}

/// A child process of `parent` for which `wanted` holds.
pub fn child_pid(parent: u32, wanted: impl Fn(u32) -> bool) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The parent is the 4th field, after the command name in parentheses.
        let of: u32 = stat
            .rsplit(')')
            .next()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (of == parent && wanted(pid)).then_some(pid)
    })
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A long sweep of short measurements: 60 x membw (5 kernels each).
fn long_membw_run(dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir)
        .args(["run", "--bench", &vec!["membw"; 60].join(",")])
        .args(["--array-size", "256K", "-n", "200", "-w", "1"])
        .args(["--output", "r"]);
    c
}

/// The `.json` document is interrupted and holds every record streamed before it.
fn assert_interrupted_with_every_record(results: &Path) -> PathBuf {
    let (path, doc) = only_document(results);
    assert_matches_schema(&path);
    assert_eq!(doc.run.status, RunStatus::Interrupted);
    assert!(doc.run.finished_at.is_some());
    let streamed: Vec<serde_json::Value> = stream_lines(&path);
    let records = streamed.iter().filter(|l| l["type"] == "record").count();
    assert!(!doc.records.is_empty());
    assert_eq!(doc.records.len(), records, "every streamed record is kept");
    assert_all_checked_and_passed(&doc);
    let footer = streamed.last().expect("a footer line");
    assert_eq!(footer["type"], "footer", "{footer}");
    assert_eq!(footer["status"], "interrupted", "{footer}");
    path
}

#[test]
fn sigint_keeps_the_records_writes_the_charts_and_exits_130() {
    let dir = tempdir();
    let results = dir.path().join("r");
    let mut run = Running::start(long_membw_run(dir.path()));
    run.wait_for_a_record(&results);
    signal(run.pid(), "INT");
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    let path = assert_interrupted_with_every_record(&results);
    let doc = only_document(&results).1;
    assert!(
        doc.records.len() < 300,
        "the run stopped early: {}",
        doc.records.len()
    );
    let charts = path.with_file_name(format!(
        "{}-charts",
        path.file_stem().unwrap().to_string_lossy()
    ));
    assert!(
        files_in(&charts).iter().any(|f| f.ends_with(".png")),
        "charts in {}",
        charts.display()
    );
}

#[test]
fn sigterm_exits_143_and_a_second_signal_ends_the_run_at_once() {
    let dir = tempdir();
    let results = dir.path().join("r");
    let mut run = Running::start(long_membw_run(dir.path()));
    run.wait_for_a_record(&results);
    signal(run.pid(), "TERM");
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert_interrupted_with_every_record(&results);

    // The process stalls for 4 x 60 s before its second measurement; the first signal
    // waits for that measurement to end, the second does not wait.
    let dir = tempdir();
    let results = dir.path().join("r");
    let mut stalled = Command::new(bin());
    stalled
        .current_dir(dir.path())
        .args(["run", "--bench", "membw", "--array-size", "256K", "-n", "2"])
        .args([
            "--timeout",
            "60",
            "--debug-stall-rank",
            "0",
            "--output",
            "r",
        ]);
    let mut run = Running::start(stalled);
    run.wait_for_a_record(&results);
    // Two different signals, so that they cannot merge into one while pending: SIGINT
    // is delivered first and only noted, SIGTERM then ends the process.
    signal(run.pid(), "INT");
    signal(run.pid(), "TERM");
    let (status, stderr) = run.finish();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(
        !files_in(&results).iter().any(|f| f.ends_with(".json")),
        "no document after a second signal: {:?}",
        files_in(&results)
    );
}

#[cfg(feature = "mpi")]
mod two_ranks {
    use super::*;
    use crate::mpi::mpirun;

    /// A long sweep on 2 ranks: 60 x (10 sizes x 2 placements) of 20,000 iterations,
    /// each measurement at least a few hundredths of a second however fast the
    /// machine, the sweep far longer than the tests wait.
    fn long_allreduce_run(dir: &Path) -> Command {
        let mut c = mpirun(2, dir);
        c.args(["run", "--bench", &vec!["allreduce"; 60].join(",")])
            .args(["-b", "8", "-e", "4K", "-n", "20000", "-w", "1"])
            .args(["-q", "--output", "r"]);
        c
    }

    /// The process id of `rank` among `launcher`'s children.
    fn rank_pid(launcher: u32, rank: usize) -> Option<u32> {
        let marker = format!("OMPI_COMM_WORLD_RANK={rank}");
        child_pid(launcher, |pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|&b| b == 0)
                    .any(|var| var == marker.as_bytes())
            })
        })
    }

    #[test]
    fn a_signal_seen_by_one_rank_stops_every_rank_after_the_same_measurement() {
        let dir = tempdir();
        let results = dir.path().join("r");
        let mut run = Running::start(long_allreduce_run(dir.path()));
        run.wait_for_a_record(&results);
        let rank1 = rank_pid(run.pid(), 1).expect("rank 1 is a child of mpirun");
        signal(rank1, "INT");
        let (status, stderr) = run.finish();
        // Every rank exits 130; mpirun passes the code on.
        assert_eq!(status.code(), Some(130), "{stderr}");
        assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
        assert!(!stderr.contains("MPI_ABORT"), "{stderr}");
        let doc = only_document(&results).1;
        assert!(doc.records.iter().all(|r| r.ranks == 2));
        assert_interrupted_with_every_record(&results);
    }

    /// Open MPI's mpirun, on SIGTERM or SIGINT, sends the ranks SIGTERM after
    /// `odls_base_sigkill_timeout` seconds and SIGKILL as long again, and exits 1
    /// whatever the ranks return: the ranks keep their results when that timeout lets
    /// them write.
    #[test]
    fn sigterm_to_mpirun_keeps_the_results_of_both_ranks() {
        let dir = tempdir();
        let results = dir.path().join("r");
        let mut command = long_allreduce_run(dir.path());
        command.env("OMPI_MCA_odls_base_sigkill_timeout", "10");
        let mut run = Running::start(command);
        run.wait_for_a_record(&results);
        signal(run.pid(), "TERM");
        let (status, stderr) = run.finish();
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
        assert_interrupted_with_every_record(&results);
    }
}
