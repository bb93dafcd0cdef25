//! `-g N` (several GPUs per process): every way to ask for it wrongly is one clear line
//! and exit 2, on machines with or without GPUs; `-g 1` is the default behaviour.

use crate::bad_input::expect_usage_error;
use crate::common::*;
use crate::cuda::machine_has_gpu;

#[test]
fn zero_gpus_per_process_is_refused() {
    expect_usage_error(
        &[
            "run",
            "--bench",
            "allreduce",
            "-g",
            "0",
            "--backend",
            "cuda",
        ],
        "-g/--gpus-per-rank takes the number of GPUs each process drives, at least 1",
    );
}

#[test]
fn several_gpus_need_the_cuda_backend() {
    let mut args = run_allreduce("8", "64").to_vec();
    args.extend(["--backend", "cpu", "--gpus-per-rank", "2"]);
    expect_usage_error(&args, "-g needs the CUDA backend");
}

#[test]
fn auto_without_a_gpu_does_not_fall_back_silently() {
    if machine_has_gpu() {
        eprintln!("skipped: this machine has a GPU, so auto picks CUDA");
        return;
    }
    let mut args = run_allreduce("8", "64").to_vec();
    args.extend(["-g", "2"]);
    expect_usage_error(
        &args,
        "-g 2 needs GPUs, and the CUDA backend is not available",
    );
}

#[test]
fn cuda_without_a_gpu_is_refused_with_several_gpus_too() {
    if machine_has_gpu() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    let mut args = run_allreduce("8", "64").to_vec();
    args.extend(["-g", "2", "--backend", "cuda"]);
    expect_usage_error(&args, "--backend cuda: ");
}

#[test]
fn more_gpus_than_the_process_sees_are_refused() {
    if !machine_has_gpu() {
        eprintln!("skipped: no GPU here (the device arithmetic is unit-tested)");
        return;
    }
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("env").output().unwrap();
    let env: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let visible = env["hosts"][0]["gpus"].as_array().unwrap().len();
    let too_many = (visible + 1).to_string();
    let mut args = run_allreduce("8", "64").to_vec();
    args.extend(["-g", &too_many, "--backend", "cuda"]);
    expect_usage_error(&args, &format!("sees {visible} CUDA device"));
}

#[test]
fn benchmarks_of_one_gpu_are_refused_with_several() {
    expect_usage_error(
        &["run", "--bench", "allreduce,p2p,matmul", "-g", "2"],
        "-g 2 is for the NCCL collectives (allreduce, allgather, reducescatter, broadcast, alltoall), not for p2p, matmul",
    );
    // The default suite has benchmarks of one GPU too.
    expect_usage_error(&["run", "-g", "4"], "not for membw, matmul");
}

#[test]
fn cuda_graphs_are_refused_with_several_gpus() {
    let mut args = run_allreduce("8", "64").to_vec();
    args.extend(["-g", "2", "--cuda-graph", "4"]);
    expect_usage_error(&args, "--cuda-graph is not supported with -g 2");
}

#[test]
fn one_gpu_per_process_is_the_default_and_leaves_the_document_as_before() {
    let dir = tempdir();
    let out = clusterbench(dir.path())
        .args(run_allreduce("8", "64"))
        .args(["-g", "1", "--backend", "cpu", "-q", "-n", "2", "-w", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (path, doc) = only_document(&dir.path().join("clusterbench-results"));
    assert_all_checked_and_passed(&doc);
    assert!(doc.records.iter().all(|r| r.ranks == 1));
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        raw["environment"]["ranks"][0].get("gpus").is_none(),
        "{raw}"
    );
    assert!(
        raw["run"]["options"].get("gpus_per_rank").is_none(),
        "{raw}"
    );
}
