//! model and predict on real runs under mpirun (2 and 4 ranks on this machine).

use crate::common::*;
use crate::mpi::mpirun;

fn sweep(np: usize, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let out = mpirun(np, dir)
        .args([
            "run",
            "--bench",
            "allreduce",
            "-b",
            "1K",
            "-e",
            "4M",
            "-f",
            "4",
            "-n",
            "10",
            "-w",
            "2",
            "-q",
            "--output",
            name,
        ])
        .output()
        .expect("mpirun starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    only_document(&dir.join(name)).0
}

#[test]
fn fits_and_predictions_from_runs_on_two_and_four_ranks() {
    let dir = tempdir();
    let d = dir.path();
    let r2 = sweep(2, d, "r2");
    let r4 = sweep(4, d, "r4");
    let (r2, r4) = (r2.to_str().unwrap(), r4.to_str().unwrap());
    let model = clusterbench(d)
        .args(["model", r2, r4, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        model.status.success(),
        "{}",
        String::from_utf8_lossy(&model.stderr)
    );
    let fits: serde_json::Value = serde_json::from_slice(&model.stdout).unwrap();
    let fits = fits.as_array().unwrap();
    // Out-of-place and in-place at each rank count.
    assert_eq!(fits.len(), 4, "{fits:?}");
    for f in fits {
        assert!(f["alpha_s"].as_f64().unwrap() >= 0.0);
        // Null when a noisy sweep shows no size dependence; else positive.
        let beta = f["beta_bytes_per_s"].as_f64();
        assert!(beta.is_none_or(|b| b > 0.0), "{f}");
        assert_eq!(f["points"], 7);
        assert!(!f["regimes"].as_array().unwrap().is_empty(), "{f}");
        let rms = f["rms_rel_error"].as_f64().unwrap();
        eprintln!(
            "fit {} ranks: alpha {:.2} us, beta {:.3} GB/s, rms error {:.1}%",
            f["ranks"],
            f["alpha_s"].as_f64().unwrap() * 1e6,
            beta.unwrap_or(f64::NAN) / 1e9,
            rms * 100.0
        );
    }
    let pred = clusterbench(d)
        .args([
            "predict",
            "--ranks",
            "8",
            "--calibrate",
            r2,
            r4,
            "-b",
            "1K",
            "-e",
            "4M",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        pred.status.success(),
        "{}",
        String::from_utf8_lossy(&pred.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&pred.stdout).unwrap();
    // Calibrated from one node: every rank on it, the intra-node link set.
    assert_eq!(v["topology"]["gpus_per_node"], 8);
    for p in v["predictions"].as_array().unwrap() {
        let ring = p["ring_s"].as_f64().unwrap();
        assert!(ring.is_finite() && ring > 0.0, "{p}");
    }
    // One rank count is not enough to separate latency from the rank dependence.
    let one = clusterbench(d)
        .args(["predict", "--ranks", "8", "--calibrate", r2])
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(2));
}
