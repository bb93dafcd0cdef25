use super::*;
use crate::results::RunDocument;

fn nccl_doc() -> RunDocument {
    let text = include_str!("../../../tests/fixtures/nccl-tests-all_reduce_perf-a3mega-16gpu.json");
    let ctx = crate::import::ImportContext {
        source_name: "t".into(),
        ..Default::default()
    };
    crate::import::import(text, crate::import::Format::NcclTestsJson, &ctx).unwrap()
}

fn builtin(name: &str) -> (String, ClaimsFile) {
    ClaimsFile::builtin()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
}

#[test]
fn gpu_names_pick_the_longest_matching_datasheet() {
    let files = ClaimsFile::builtin();
    assert_eq!(
        files.len(),
        BUILTIN_CLAIMS.len(),
        "every built-in file parses"
    );
    let pick = |gpu: &str| {
        auto_select(&files, &[], &[gpu.to_string()])
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(pick("NVIDIA GB200"), ["gpu-gb200"]);
    assert_eq!(pick("NVIDIA B200"), ["gpu-b200"]);
    assert_eq!(pick("NVIDIA H100 80GB HBM3"), ["gpu-h100-sxm"]);
    assert_eq!(pick("NVIDIA H100 PCIe"), ["gpu-h100-pcie"]);
    assert!(pick("Tesla T4").is_empty());
    // GH200 (96 GB, another memory bandwidth) is not an H200.
    assert!(pick("NVIDIA GH200 480GB").is_empty());
    assert_eq!(pick("NVIDIA H200"), ["gpu-h200"]);
    // A100 40 GB (1,555 GB/s) and 80 GB (2,039 GB/s) are told apart; the 80 GB PCIe
    // card (1,935 GB/s) matches neither.
    assert_eq!(pick("NVIDIA A100-SXM4-40GB"), ["gpu-a100-40gb"]);
    assert_eq!(pick("NVIDIA A100-SXM4-80GB"), ["gpu-a100"]);
    assert!(pick("NVIDIA A100 80GB PCIe").is_empty());
    let hbm = |file: &str| {
        files
            .iter()
            .find(|(n, _)| n == file)
            .and_then(|(_, f)| f.claims.iter().find(|c| c.id == "hbm_bandwidth"))
            .map(|c| c.value)
    };
    assert_eq!(hbm("gpu-a100-40gb"), Some(1555.0));
    assert_eq!(hbm("gpu-a100"), Some(2039.0));
    let brings = |instance: &str| {
        auto_select(&files, &[instance.to_string()], &[])
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(brings("p4d.24xlarge"), ["aws-p4d", "gpu-a100-40gb"]);
    assert_eq!(brings("p4de.24xlarge"), ["aws-p4de", "gpu-a100"]);
    // An instance brings its GPU's datasheet.
    let p5 = auto_select(&files, &["p5.48xlarge".into()], &[]);
    let names: Vec<&str> = p5.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["aws-p5", "gpu-h100-sxm"]);
    // Blackwell Ultra: B300 is not taken for GB300, nor B200 for B300.
    assert_eq!(pick("NVIDIA B300 SXM6 AC"), ["gpu-b300"]);
    assert_eq!(pick("NVIDIA GB300"), ["gpu-gb300"]);
    for (instance, files) in [
        ("p6-b300.48xlarge", ["aws-p6-b300", "gpu-b300"]),
        ("p6e-gb300.36xlarge", ["aws-p6e-gb300", "gpu-gb300"]),
        ("a4x-highgpu-4g", ["gcp-a4x", "gpu-gb200"]),
        ("a4x-maxgpu-4g-metal", ["gcp-a4x-max", "gpu-gb300"]),
        (
            "Standard_ND128isr_NDR_GB200_v6",
            ["azure-nd-gb200-v6", "gpu-gb200"],
        ),
        (
            "Standard_ND128isr_GB300_v6",
            ["azure-nd-gb300-v6", "gpu-gb300"],
        ),
        ("BM.GPU.H100.8", ["oci-bm-gpu-h100-8", "gpu-h100-sxm"]),
        ("BM.GPU.H200.8", ["oci-bm-gpu-h200-8", "gpu-h200"]),
        ("BM.GPU.B200.8", ["oci-bm-gpu-b200-8", "gpu-b200"]),
        ("BM.GPU.GB200.4", ["oci-bm-gpu-gb200-4", "gpu-gb200"]),
    ] {
        assert_eq!(brings(instance), files, "{instance}");
    }
}

#[test]
fn hardware_is_read_from_the_hosts_including_gpu_names() {
    let gpu = |name: &str| -> crate::results::environment::GpuInfo {
        serde_json::from_value(serde_json::json!({"index": 0, "name": name,
            "compute_capability": "9.0", "sm_count": 132, "memory_bytes": 0}))
        .unwrap()
    };
    let mut doc = nccl_doc();
    // An imported log records its GPU models; this test sets its own.
    let mut host = doc.environment.hosts[0].clone();
    host.gpus.clear();
    doc.environment.hosts = vec![host.clone(), host];
    for h in &mut doc.environment.hosts {
        h.instance_type = Some("p5en.48xlarge".into());
    }
    doc.environment.hosts[0].gpus = vec![gpu("NVIDIA H200"), gpu("NVIDIA H200")];
    let (i, g) = detected_hardware(&doc);
    assert_eq!(i, ["p5en.48xlarge"]);
    assert_eq!(g, ["NVIDIA H200"]);
    doc.environment.hosts.clear();
    assert_eq!(detected_hardware(&doc), (vec![], vec![]));
}

#[test]
fn latency_bounds_and_not_measured_claims() {
    let doc = nccl_doc();
    // Smallest size: 135.8 us out of place, 123.5 us in place; the best counts.
    let p5 = validate(&doc, &[builtin("aws-p5")]);
    let lat = p5
        .iter()
        .find(|r| r.id == "allreduce_latency_2node")
        .unwrap();
    assert_eq!(lat.measured, Some(123.5));
    assert_eq!(lat.outcome, Outcome::Fail);
    let p4d = validate(&doc, &[builtin("aws-p4d")]);
    let lat = p4d
        .iter()
        .find(|r| r.id == "allreduce_latency_2node")
        .unwrap();
    assert_eq!(lat.outcome, Outcome::Pass);
    // Two nodes: nothing tests the one-node NVLink claim.
    let nvl = p5.iter().find(|r| r.id == "nvlink_allreduce").unwrap();
    assert_eq!((nvl.outcome, nvl.measured), (Outcome::NotMeasured, None));
    let info = p5.iter().find(|r| r.id == "ultracluster_size").unwrap();
    assert_eq!(info.outcome, Outcome::Informational);
}

#[test]
fn bad_claims_are_rejected_with_the_claim_named() {
    let base = "[target]\nname = \"x\"\nkind = \"gpu\"\n[[claim]]\nid = \"a\"\nwhat = \"w\"\nquantity = \"matmul_tflops\"\nconvention = \"c\"\nsource = \"s\"\n";
    assert!(ClaimsFile::parse(&format!("{base}value = 1.0\nunit = \"TFLOP/s\"\n"), "f").is_ok());
    let e =
        ClaimsFile::parse(&format!("{base}value = 1.0\nunit = \"parsecs\"\n"), "f").unwrap_err();
    assert!(e.to_string().contains("unknown unit 'parsecs'"), "{e}");
    let e = ClaimsFile::parse(&format!("{base}value = -1.0\nunit = \"GB/s\"\n"), "f").unwrap_err();
    assert!(e.to_string().contains("bad value"), "{e}");
    let e = ClaimsFile::parse(
        &format!("{base}value = 1.0\nunit = \"GB/s\"\nachievable = 7.0\n"),
        "f",
    )
    .unwrap_err();
    assert!(e.to_string().contains("achievable"), "{e}");
    assert!(ClaimsFile::parse(
        &format!("{base}value = 1.0\nunit = \"GB/s\"\nsurprise = 1\n"),
        "f"
    )
    .is_err());
}

#[test]
fn records_are_picked_by_their_kind_not_their_name() {
    use crate::core::DType;
    use crate::results::{Check, Metric, Params, Record};
    let metric = |name: &str, unit: &str, value: f64| Metric {
        name: name.into(),
        unit: unit.into(),
        value,
        best: value,
    };
    let mut doc = nccl_doc();
    let template = Record {
        benchmark: String::new(),
        backend: "cpu".into(),
        ranks: 1,
        nodes: 1,
        check: Check::skipped(),
        ..doc.records[0].clone()
    };
    doc.records = vec![
        // STREAM and GEMM records under names that say nothing of their kind...
        Record {
            benchmark: "stream".into(),
            params: Params::Stream {
                kernel: "triad".into(),
                array_bytes: 1 << 26,
                elements: 1 << 23,
                threads: 2,
                bytes_moved: 3 << 26,
            },
            metrics: vec![metric("bandwidth", "GB/s", 20.0)],
            ..template.clone()
        },
        Record {
            benchmark: "gemm".into(),
            params: Params::Matmul {
                dtype: DType::Double,
                label: "square".into(),
                m: 256,
                n: 256,
                k: 256,
                threads: 2,
                engine: None,
            },
            metrics: vec![metric("tflops", "TFLOP/s", 0.05)],
            ..template.clone()
        },
        // ... and a copy whose name looks like theirs.
        Record {
            benchmark: "membw_matmul".into(),
            params: Params::Copy {
                copy: "h2d_pinned".into(),
                bytes: 1 << 20,
                bytes_moved: 1 << 20,
                src_gpu: None,
                dst_gpu: None,
                peer_path: None,
            },
            metrics: vec![
                metric("bandwidth", "GB/s", 99.0),
                metric("tflops", "TFLOP/s", 9.0),
            ],
            ..template
        },
    ];
    let host = "[target]\nname = \"host\"\nkind = \"cpu\"\n\
        [[claim]]\nid = \"bw\"\nwhat = \"w\"\nquantity = \"host_memory_bandwidth\"\nvalue = 10.0\nunit = \"GB/s\"\nconvention = \"c\"\nsource = \"s\"\n\
        [[claim]]\nid = \"mm\"\nwhat = \"w\"\nquantity = \"matmul_tflops\"\nvalue = 50.0\nunit = \"GFLOP/s\"\nconvention = \"c\"\nsource = \"s\"\ndtype = \"fp64\"\n";
    let file = ClaimsFile::parse(host, "host").unwrap();
    let results = validate(&doc, &[("host".into(), file)]);
    let measured: Vec<Option<f64>> = results.iter().map(|r| r.measured).collect();
    assert_eq!(measured, [Some(20.0), Some(50.0)], "{results:?}");
    assert!(
        results[0].evidence.starts_with("stream triad"),
        "{results:?}"
    );
    assert!(
        results[1].evidence.starts_with("gemm double square"),
        "{results:?}"
    );
}

/// Host memory bandwidth is the best STREAM figure: a streaming-store triad faster
/// than the regular kernels is the one measured against the claim.
#[test]
fn a_faster_streaming_store_kernel_is_the_host_memory_figure() {
    use crate::results::{Check, Metric, Params, Record};
    let mut doc = nccl_doc();
    let template = Record {
        benchmark: "membw".into(),
        backend: "cpu".into(),
        ranks: 1,
        nodes: 1,
        check: Check::skipped(),
        ..doc.records[0].clone()
    };
    let stream = |kernel: &str, gbps: f64| Record {
        params: Params::Stream {
            kernel: kernel.into(),
            array_bytes: 1 << 26,
            elements: 1 << 23,
            threads: 2,
            bytes_moved: 3 << 26,
        },
        metrics: vec![Metric {
            name: "bandwidth".into(),
            unit: "GB/s".into(),
            value: gbps,
            best: gbps,
        }],
        ..template.clone()
    };
    doc.records = vec![
        stream("copy", 20.0),
        stream("copy_nt", 19.0),
        stream("triad", 21.0),
        stream("triad_nt", 24.5),
        stream("dot", 22.0),
    ];
    let host = "[target]\nname = \"host\"\nkind = \"cpu\"\n\
        [[claim]]\nid = \"bw\"\nwhat = \"w\"\nquantity = \"host_memory_bandwidth\"\nvalue = 30.0\nunit = \"GB/s\"\nconvention = \"c\"\nsource = \"s\"\n";
    let file = ClaimsFile::parse(host, "host").unwrap();
    let results = validate(&doc, &[("host".into(), file)]);
    assert_eq!(results[0].measured, Some(24.5), "{results:?}");
    assert!(
        results[0].evidence.starts_with("membw triad_nt"),
        "{results:?}"
    );
}

/// Every threshold of a built-in file names the measured run it comes from, and
/// every file names a published run of its hardware or says why there is none.
#[test]
fn builtin_thresholds_cite_the_runs_they_come_from() {
    for (name, file) in ClaimsFile::builtin() {
        let run = file.target.published_run.as_deref().unwrap_or("");
        assert!(!run.trim().is_empty(), "{name}: no published_run");
        for c in &file.claims {
            if c.achievable.is_some() {
                let from = c.achievable_source.as_deref().unwrap_or("");
                assert!(
                    from.contains("http") || from.starts_with("no "),
                    "{name} '{}': achievable without the run it comes from",
                    c.id
                );
            }
        }
    }
    let orphan = "[target]\nname = \"x\"\nkind = \"gpu\"\n[[claim]]\nid = \"a\"\nwhat = \"w\"\nquantity = \"matmul_tflops\"\nconvention = \"c\"\nsource = \"s\"\nvalue = 1.0\nunit = \"TFLOP/s\"\nachievable_source = \"a run\"\n";
    let e = ClaimsFile::parse(orphan, "f").unwrap_err();
    assert!(e.to_string().contains("achievable_source"), "{e}");
}

#[test]
fn relative_claims_parse_with_their_checks() {
    let p5en = builtin("aws-p5en").1;
    let ids: Vec<&str> = p5en.relative.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["latency_vs_p5", "allreduce_latency_vs_p5"]);
    assert!(p5en
        .relative
        .iter()
        .all(|c| c.baseline == "aws-p5" && c.ratio == 0.65));
    let text = |ratio: &str, source: &str| {
        format!(
            "[target]\nname = \"t\"\nkind = \"instance\"\n[[relative]]\nid = \"r\"\nwhat = \"w\"\nquantity = \"point_to_point_latency\"\nbaseline = \"aws-p5\"\nratio = {ratio}\nconvention = \"c\"\nsource = \"{source}\"\n"
        )
    };
    assert!(ClaimsFile::parse(&text("0.65", "s"), "t").is_ok());
    let e = ClaimsFile::parse(&text("0", "s"), "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ratio must be a positive number"), "{e}");
    let e = ClaimsFile::parse(&text("0.65", " "), "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no source"), "{e}");
}
