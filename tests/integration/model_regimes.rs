//! `model` on a real multi-regime sweep: the committed nccl-tests all-reduce log of two
//! H100 nodes, whose curve changes protocol twice. Every expected figure is read from
//! the log's own text.

use crate::decisions::{cb, fixture, text};

const LOG: &str = "nccl-tests-all_reduce_perf-a3mega-16gpu.log";

/// One row of the log: size in bytes, then (time in seconds, busbw in GB/s) out of
/// place and in place.
struct Row {
    bytes: f64,
    out_of_place: (f64, f64),
    in_place: (f64, f64),
}

fn rows_of_the_log() -> Vec<Row> {
    let log = std::fs::read_to_string(fixture(LOG)).expect("fixture readable");
    log.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim_start().starts_with('>'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 13 {
                return None;
            }
            let num = |i: usize| f[i].parse::<f64>().ok();
            Some(Row {
                bytes: num(0)?,
                out_of_place: (num(5)? * 1e-6, num(7)?),
                in_place: (num(9)? * 1e-6, num(11)?),
            })
        })
        .collect()
}

#[test]
fn a_real_h100_all_reduce_sweep_is_fitted_regime_by_regime() {
    let rows = rows_of_the_log();
    assert_eq!(rows.len(), 31, "every size of the log read");
    let dir = crate::common::tempdir();
    let d = dir.path();
    let log = fixture(LOG);
    let o = cb(
        d,
        &[
            "import",
            log.to_str().unwrap(),
            "--instance-type",
            "a3-megagpu-8g",
            "-o",
            "nccl.json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = cb(d, &["model", "nccl.json", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let fits: serde_json::Value = serde_json::from_slice(&o.stdout).expect("model prints JSON");
    let fits = fits.as_array().expect("one fit per sweep");
    assert_eq!(fits.len(), 2, "{fits:?}");
    for fit in fits {
        let in_place = fit["in_place"].as_bool().unwrap();
        let column = |r: &Row| if in_place { r.in_place } else { r.out_of_place };
        let ranks = fit["ranks"].as_f64().unwrap();
        assert_eq!(ranks, 16.0);
        // Large-message bandwidth, as nccl-tests' bus bandwidth, against the log's top.
        let top_busbw = rows.iter().map(|r| column(r).1).fold(0.0, f64::max);
        let beta = fit["beta_bytes_per_s"]
            .as_f64()
            .expect("a large-message beta");
        let busbw = beta / 1e9 * 2.0 * (ranks - 1.0) / ranks;
        assert!(
            (busbw / top_busbw - 1.0).abs() < 0.10,
            "fitted busbw {busbw:.1} GB/s, the log's top {top_busbw} GB/s"
        );
        // The regimes together describe the whole sweep.
        let regimes = fit["regimes"].as_array().unwrap();
        assert!((2..=4).contains(&regimes.len()), "{regimes:?}");
        let mut squares = 0.0;
        for r in &rows {
            let regime = regimes
                .iter()
                .find(|g| {
                    g["min_bytes"].as_f64().unwrap() <= r.bytes
                        && r.bytes <= g["max_bytes"].as_f64().unwrap()
                })
                .unwrap_or_else(|| panic!("a regime covers {} B: {regimes:?}", r.bytes));
            let alpha = regime["alpha_s"].as_f64().unwrap();
            let per_byte = regime["beta_bytes_per_s"].as_f64().map_or(0.0, |b| 1.0 / b);
            let measured = column(r).0;
            squares += ((alpha + r.bytes * per_byte - measured) / measured).powi(2);
        }
        let rms = (squares / rows.len() as f64).sqrt();
        assert!(rms < 0.15, "RMS relative error {rms:.3}");
        let reported = fit["rms_rel_error"].as_f64().unwrap();
        assert!((reported - rms).abs() < 1e-3, "{reported} vs {rms}");
        // alpha is the small-message regime's: the log's smallest times.
        let alpha = fit["alpha_s"].as_f64().unwrap();
        assert_eq!(alpha, regimes[0]["alpha_s"].as_f64().unwrap());
        let smallest = column(&rows[1]).0;
        assert!(
            (alpha / smallest - 1.0).abs() < 0.15,
            "{alpha} vs {smallest}"
        );
    }
    // One rank count cannot calibrate a link; the refusal says what it found.
    let o = cb(d, &["predict", "--ranks", "64", "--calibrate", "nccl.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("found 1 rank count: 16"), "{}", text(&o));
}
