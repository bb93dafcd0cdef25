//! Several ranks under mpirun.

use crate::common::*;
use clusterbench::results::{Params, RunStatus};
use std::process::Command;

/// mpirun with the settings these machines need: root allowed, oversubscription for
/// more ranks than cores, and yielding ranks so that oversubscribed runs progress.
pub fn mpirun(np: usize, dir: &std::path::Path) -> Command {
    mpirun_bound(np, dir, "none")
}

/// [`mpirun`] with each rank bound as `--bind-to` says (`none`, `core`).
fn mpirun_bound(np: usize, dir: &std::path::Path, bind: &str) -> Command {
    let mut c = Command::new("mpirun");
    c.current_dir(dir)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["-np", &np.to_string(), "--oversubscribe", "--bind-to", bind])
        .args([
            "--mca",
            "mpi_yield_when_idle",
            "1",
            "--mca",
            "btl",
            "self,vader,tcp",
        ])
        .arg(bin());
    c
}

fn run_ok(np: usize, args: &[&str]) -> clusterbench::results::RunDocument {
    run_ok_bound(np, "none", args)
}

/// [`run_ok`] with each rank bound as `--bind-to` says.
fn run_ok_bound(np: usize, bind: &str, args: &[&str]) -> clusterbench::results::RunDocument {
    let dir = tempdir();
    let out = mpirun_bound(np, dir.path(), bind)
        .args(args)
        .args(["-q", "--output", "r"])
        .output()
        .expect("mpirun starts");
    assert!(
        out.status.success(),
        "mpirun -np {np} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (path, doc) = only_document(&dir.path().join("r"));
    assert_matches_schema(&path);
    doc
}

#[test]
fn allreduce_two_ranks_every_dtype_and_op() {
    let doc = run_ok(
        2,
        &[
            "run",
            "--bench",
            "allreduce",
            "-b",
            "4",
            "-e",
            "64K",
            "-f",
            "16",
            "-n",
            "3",
            "-w",
            "1",
            "-d",
            "all",
            "-o",
            "all",
        ],
    );
    assert_all_checked_and_passed(&doc);
    assert_eq!(doc.environment.ranks.len(), 2);
    assert!(doc
        .environment
        .mpi
        .as_ref()
        .unwrap()
        .library_version
        .contains("MPI"));
    // 4 B .. 64 KiB by 16 (4 sizes; 4 B is below one double or int64 and is skipped),
    // 4 dtypes x 4 ops x 2 placements.
    let expected = (4 * 2 + 3 * 2) * 4 * 2;
    assert_eq!(doc.records.len(), expected);
    for r in &doc.records {
        assert_eq!(r.ranks, 2);
        let (algbw, busbw) = (r.metric("algbw").unwrap(), r.metric("busbw").unwrap());
        // busbw = algbw x 2(n-1)/n = algbw for n = 2.
        assert!((busbw.value - algbw.value).abs() <= 1e-12 * algbw.value);
    }
}

#[test]
fn bitwise_ops_on_integers_across_three_ranks() {
    let doc = run_ok(
        3,
        &[
            "run",
            "--bench",
            "allreduce",
            "-b",
            "64",
            "-e",
            "4K",
            "-f",
            "64",
            "-n",
            "2",
            "-d",
            "int32,int64",
            "-o",
            "band,bor,bxor",
        ],
    );
    assert_all_checked_and_passed(&doc);
    assert_eq!(doc.records.len(), 2 * 2 * 3 * 2);
}

/// `rank_mean_s` averages each rank's own mean, while every sample is the slowest
/// rank's time: it lies between the samples' mean divided by the ranks and that mean.
/// Returns it over the samples' mean.
fn assert_rank_mean_bounds(r: &clusterbench::results::Record) -> f64 {
    let mean = r.samples_s.iter().sum::<f64>() / r.samples_s.len() as f64;
    let rank_mean = r.rank_mean_s.expect("a measured record has rank_mean_s");
    let share = rank_mean / mean;
    assert!(
        share <= 1.0 + 1e-9 && share >= 1.0 / f64::from(r.ranks) - 1e-9,
        "{} {:?}: rank mean {rank_mean} s against the samples' mean {mean} s",
        r.benchmark,
        r.params
    );
    share
}

/// One rank five times slower, the other not: the slowest rank's times are the slow
/// rank's, and the mean over ranks sits well below them (at about 3/5). Its verdict
/// rests on the fast rank staying fast. Unbound, each rank pins a STREAM worker to
/// every core, and the slow rank's injected busy wait then took a core from the fast
/// rank's workers for whole scheduler slices: the rank mean came out at 0.98-0.99 of
/// the slowest rank's in about one run in five. So each rank is bound to a core of its
/// own (one worker each), and the test runs with the serial ones.
#[test]
fn serial_the_rank_mean_averages_a_slow_and_a_fast_rank() {
    let doc = run_ok_bound(
        2,
        "core",
        &[
            "run",
            "--bench",
            "membw",
            "--array-size",
            "1M",
            "-n",
            "5",
            "-w",
            "1",
            "--debug-slowdown",
            "5",
            "--debug-slow-rank",
            "1",
        ],
    );
    assert_all_checked_and_passed(&doc);
    assert!(!doc.records.is_empty());
    for r in &doc.records {
        let share = assert_rank_mean_bounds(r);
        assert!(
            share < 0.9,
            "{:?}: rank mean at {share} of the slowest rank's mean",
            r.params
        );
    }
}

#[test]
fn four_ranks_oversubscribed_every_benchmark() {
    let doc = run_ok(
        4,
        &[
            "run",
            "--bench",
            "allreduce,membw,matmul",
            "-b",
            "8",
            "-e",
            "1M",
            "-f",
            "32",
            "-n",
            "3",
            "-w",
            "1",
            "--array-size",
            "1M",
            "--sizes",
            "64",
            "--shapes",
            "proj:96x64x128",
        ],
    );
    assert_all_checked_and_passed(&doc);
    assert_eq!(doc.environment.ranks.len(), 4);
    let ranks: Vec<u32> = doc.environment.ranks.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, vec![0, 1, 2, 3]);
    for r in &doc.records {
        assert_eq!(r.ranks, 4);
        assert_rank_mean_bounds(r);
        if r.benchmark == "allreduce" {
            let f = r.metric("busbw").unwrap().value / r.metric("algbw").unwrap().value;
            assert!(
                (f - 1.5).abs() < 1e-9,
                "busbw factor 2(n-1)/n = 1.5 for 4 ranks, got {f}"
            );
        }
        if let Params::Stream {
            elements,
            bytes_moved,
            ref kernel,
            ..
        } = r.params
        {
            let base = kernel.trim_end_matches("_nt");
            let arrays = if base == "add" || base == "triad" {
                3
            } else {
                2
            };
            assert_eq!(
                bytes_moved,
                4 * arrays * 8 * elements,
                "bytes of all 4 ranks"
            );
        }
    }
}

#[test]
fn corruption_on_one_rank_is_counted_across_ranks() {
    let dir = tempdir();
    let out = mpirun(4, dir.path())
        .args(run_allreduce("1K", "4K"))
        .args(["-f", "4", "-n", "2", "-q", "--output", "r"])
        .args(["--debug-corrupt-rank", "2"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("failed their correctness check").count(),
        1,
        "printed once: {stderr}"
    );
    let (_, doc) = only_document(&dir.path().join("r"));
    assert_eq!(doc.run.status, RunStatus::CheckFailed);
    for r in &doc.records {
        // Element 0 of the reduction is wrong on each of the 4 ranks.
        assert_eq!(r.check.wrong, 4, "{r:?}");
        assert!(!r.check.passed);
    }
}

#[test]
fn usage_error_under_mpirun_is_printed_once() {
    let dir = tempdir();
    let out = mpirun(2, dir.path())
        .args(["run", "--bench", "allreduce", "-b", "1G", "-e", "1K"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("larger than maxbytes").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn env_names_every_rank() {
    let dir = tempdir();
    let out = mpirun(3, dir.path()).arg("env").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env: clusterbench::results::Environment = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(env.ranks.len(), 3);
    assert_eq!(env.mpi.unwrap().world_size, 3);
}

/// clusterbench's all-gather, all-to-all and reduce-scatter records and an OSU log's
/// pair up in `compare`: both keep nccl-tests' size and count. The OSU text is written
/// here for the keys alone (its latencies are placeholders, not measurements).
#[test]
fn native_and_osu_collective_records_pair_up_in_compare() {
    let dir = tempdir();
    let d = dir.path();
    let out = mpirun(4, d)
        .args(["run", "--bench", "allgather,alltoall,reducescatter"])
        .args(["-b", "256", "-e", "1K", "-d", "float", "-n", "3", "-w", "1"])
        .args(["-q", "--output", "r"])
        .output()
        .expect("mpirun starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (native, _) = only_document(&d.join("r"));
    // OSU prints one rank's block for all-gather and all-to-all (a quarter of
    // nccl-tests' size on 4 ranks) and the whole send buffer for reduce-scatter.
    let mut osu = String::new();
    for (title, sizes) in [
        ("Allgather", [64, 128, 256]),
        ("All-to-All Personalized Exchange", [64, 128, 256]),
        ("Reduce_scatter", [256, 512, 1024]),
    ] {
        osu.push_str(&format!(
            "# OSU MPI {title} Latency Test v7.4\n# Datatype: MPI_FLOAT.\n# Size       Avg Latency(us)\n"
        ));
        for s in sizes {
            osu.push_str(&format!("{s:<10}{:>18.2}\n", 5.0));
        }
    }
    std::fs::write(d.join("osu.out"), osu).unwrap();
    let import = clusterbench(d)
        .args(["import", "osu.out", "--ranks", "4", "-o", "osu.json"])
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let compare = clusterbench(d)
        .args(["compare", native.to_str().unwrap(), "osu.json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&compare.stdout);
    // Every out-of-place point of the three pairs; the in-place ones OSU lacks.
    assert!(text.contains("9 compared"), "{text}");
}
