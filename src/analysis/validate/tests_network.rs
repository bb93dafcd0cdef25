//! Network claims judged on published multi-node runs, each with the verdict its
//! publisher gives.

use super::*;
use crate::results::environment::NcclTuning;
use crate::results::RunDocument;

const AWS_P5: &str =
    include_str!("../../../tests/fixtures/nccl-tests-all_reduce_perf-aws-2x-p5-reference.log");
const AWS_P4DE: &str =
    include_str!("../../../tests/fixtures/nccl-tests-all_reduce_perf-aws-2x-p4de-reference.log");

/// A published log of a 16-GPU all-reduce on two instances of `instance`.
fn two_node_import(text: &str, instance: &str) -> RunDocument {
    let ctx = crate::import::ImportContext {
        source_name: "t".into(),
        ranks: Some(16),
        nodes: Some(2),
        collective: Some("all_reduce".into()),
        instance_type: Some(instance.into()),
        ..Default::default()
    };
    crate::import::import(text, crate::import::Format::NcclTests, &ctx).unwrap()
}

fn builtin(name: &str) -> (String, ClaimsFile) {
    ClaimsFile::builtin()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
}

fn network(doc: &RunDocument, file: (String, ClaimsFile)) -> ClaimResult {
    validate(doc, &[file])
        .into_iter()
        .find(|r| r.id == "network_per_node")
        .unwrap()
}

/// The AWS p5 reference run, reduced to its 16 GiB in-place row with `busbw` and the
/// NCCL settings `tuning`.
fn one_row(busbw: f64, tuning: Option<NcclTuning>) -> RunDocument {
    let mut doc = two_node_import(AWS_P5, "p5.48xlarge");
    doc.records.retain(|r| {
        matches!(r.params, crate::results::Params::Collective { bytes, in_place, .. }
            if bytes == 1 << 34 && in_place)
    });
    assert_eq!(doc.records.len(), 1);
    for m in &mut doc.records[0].metrics {
        if m.name == "busbw" {
            (m.value, m.best) = (busbw, busbw);
        }
    }
    for h in &mut doc.environment.hosts {
        h.nccl_tuning = tuning.clone();
    }
    doc
}

fn ring_from_environment() -> Option<NcclTuning> {
    Some(NcclTuning {
        algo: Some("Ring".into()),
        proto: None,
        source: "environment".into(),
        chosen: vec![],
    })
}

#[test]
fn aws_reference_runs_pass_with_the_tree_conversion() {
    // AWS: "the output should look as below". busbw 487.26 GB/s is above the 400 GB/s
    // of 32 EFA cards, so the run was not ring: 487.26 x 1/15 x 8 GB/s = 2079 Gbps.
    let p5 = network(&two_node_import(AWS_P5, "p5.48xlarge"), builtin("aws-p5"));
    assert_eq!(p5.outcome, Outcome::Pass, "{p5:?}");
    let m = p5.measured.unwrap();
    assert!((m - 487.26 * 8.0 / 15.0 * 8.0).abs() < 0.01, "{m}");
    assert_eq!(p5.measured_low, None);
    let how = p5.conversion.as_deref().unwrap();
    assert!(
        how.contains("was not ring") && how.contains("lower bound"),
        "{how}"
    );
    assert!(p5.evidence.contains("16 GiB"), "{}", p5.evidence);
    // 2x p4de at 2 GiB: 78.33 GB/s busbw, 334 of 400 Gbps.
    let p4de = network(
        &two_node_import(AWS_P4DE, "p4de.24xlarge"),
        builtin("aws-p4de"),
    );
    assert_eq!(p4de.outcome, Outcome::Pass, "{p4de:?}");
    assert!((p4de.measured.unwrap() - 78.33 * 8.0 / 15.0 * 8.0).abs() < 0.01);
    // The same healthy runs pass their 2-node latency bounds, at the better half of
    // their 8-byte rows: 69.12 us (p5, out of place) and 163.3 us (p4de, in place).
    for (doc, file, want) in [
        (two_node_import(AWS_P5, "p5.48xlarge"), "aws-p5", 69.12),
        (
            two_node_import(AWS_P4DE, "p4de.24xlarge"),
            "aws-p4de",
            163.3,
        ),
    ] {
        let r = validate(&doc, &[builtin(file)])
            .into_iter()
            .find(|r| r.id == "allreduce_latency_2node")
            .unwrap();
        assert_eq!(
            (r.outcome, r.measured),
            (Outcome::Pass, Some(want)),
            "{r:?}"
        );
    }
}

#[test]
fn a_tree_figure_below_the_threshold_warns_and_never_fails() {
    // Half the reference's rate, algorithm unknown: ring would be 1950 Gbps, within
    // the NICs' rate, so both conversions stay possible: a range, judged by its lower
    // end, that warns at most.
    let r = network(&one_row(243.6, None), builtin("aws-p5"));
    assert_eq!(r.outcome, Outcome::Warn, "{r:?}");
    let (low, high) = (r.measured_low.unwrap(), r.measured.unwrap());
    assert!((high - 243.6 * 8.0).abs() < 0.01 && (low - 243.6 * 8.0 * 8.0 / 15.0).abs() < 0.01);
    assert!(r.conversion.unwrap().contains("not recorded"));
    // Tree known from the environment: a lower bound, so it warns too.
    let tree = Some(NcclTuning {
        algo: Some("Tree".into()),
        ..ring_from_environment().unwrap()
    });
    let r = network(&one_row(243.6, tree), builtin("aws-p5"));
    assert_eq!(r.outcome, Outcome::Warn, "{r:?}");
    assert!(r
        .conversion
        .unwrap()
        .contains("NCCL_ALGO=Tree (environment)"));
}

#[test]
fn ring_runs_are_judged_by_busbw_and_can_fail() {
    // nccl-tests issue 290: "For NDR @ 400Gbps you should see 46-48GB/s per NIC" under
    // NCCL_ALGO=RING. Eight NDR NICs (ND H100 v5: 3200 Gbps) at 46 GB/s each pass.
    let ring = ring_from_environment();
    let r = network(
        &one_row(8.0 * 46.0, ring.clone()),
        builtin("azure-nd-h100-v5"),
    );
    assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    assert!((r.measured.unwrap() - 8.0 * 46.0 * 8.0).abs() < 0.01);
    assert!(r.conversion.unwrap().starts_with("ring conversion"));
    // nccl-tests issue 252: NCCL_ALGO=RING, busbw 95.10 GB/s at 8 GiB, "looks great
    // with ~24GB/s per NIC": four 200 Gbps NICs (800 Gbps), 95% of them.
    let four_hdr = ClaimsFile::parse(
        "[target]\nname = \"4x HDR\"\nkind = \"instance\"\ngpus_per_node = 8\n\
         [[claim]]\nid = \"network_per_node\"\nwhat = \"w\"\nquantity = \"network_bandwidth_per_node\"\n\
         value = 800\nunit = \"Gbps\"\nconvention = \"c\"\nsource = \"https://github.com/NVIDIA/nccl-tests/issues/252\"\n\
         achievable = 0.92\nmin_bytes = \"1G\"\n",
        "hdr",
    )
    .unwrap();
    let r = network(&one_row(95.10, ring.clone()), ("hdr".into(), four_hdr));
    assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    // Under ring a NIC rate far below the claim is a failure.
    let r = network(&one_row(8.0 * 23.0, ring), builtin("azure-nd-h100-v5"));
    assert_eq!(r.outcome, Outcome::Fail, "{r:?}");
}

#[test]
fn nccl_tuning_lines_of_a_log_decide_the_conversion() {
    // NCCL's TUNING line as published in https://github.com/NVIDIA/nccl/issues/1595
    // ("Algo 1" is ring), for this run's 16 GiB size, ahead of the AWS table.
    let text =
        format!("[0] NCCL INFO 17179869184 Bytes -> Algo 1 proto 2 time 3970.683594\n{AWS_P5}");
    let doc = two_node_import(&text, "p5.48xlarge");
    let tuning = doc.environment.hosts[0].nccl_tuning.clone().unwrap();
    assert_eq!(tuning.chosen.len(), 1);
    assert_eq!(
        (
            tuning.chosen[0].algo.as_str(),
            tuning.chosen[0].proto.as_str()
        ),
        ("Ring", "Simple")
    );
    let r = network(&doc, builtin("aws-p5"));
    assert!(
        r.conversion.unwrap().contains("NCCL chose Ring/Simple"),
        "{:?}",
        r.why
    );
    assert!((r.measured.unwrap() - 487.26 * 8.0).abs() < 0.01);
    // NCCL's ENV line and a command line with -x NCCL_ALGO=...
    let env = format!("host:1:1 [0] NCCL INFO NCCL_ALGO set by environment to Tree\n{AWS_P5}");
    let t = two_node_import(&env, "p5.48xlarge").environment.hosts[0]
        .nccl_tuning
        .clone()
        .unwrap();
    assert_eq!(
        (t.algo.as_deref(), t.source.as_str()),
        (Some("Tree"), "log NCCL INFO")
    );
    let cmd = format!("mpirun -np 16 -x NCCL_ALGO=RING -x NCCL_PROTO=Simple ./all_reduce_perf -b 8 -e 16G\n{AWS_P5}");
    let t = two_node_import(&cmd, "p5.48xlarge").environment.hosts[0]
        .nccl_tuning
        .clone()
        .unwrap();
    assert_eq!(
        (t.algo.as_deref(), t.proto.as_deref()),
        (Some("RING"), Some("Simple"))
    );
}

#[test]
fn azure_nd_h200_v5_published_one_node_nvls_run_passes() {
    // Azure's AI benchmarking guide, ND H200 v5: in-place NVLS all-reduce busbw
    // 477.41 GB/s at 4G and 479.98 GB/s at 8G on one VM (8 GPUs).
    let mut doc = one_row(479.98, None);
    doc.records[0].nodes = 1;
    doc.records[0].ranks = 8;
    let results = validate(&doc, &[builtin("azure-nd-h200-v5")]);
    for id in ["nvlink_allreduce", "allreduce_busbw_nvls"] {
        let r = results.iter().find(|r| r.id == id).unwrap();
        assert_eq!(r.outcome, Outcome::Pass, "{r:?}");
    }
}

/// Published one-node all-reduce figures (tables, not logs) pass the NVLink claims of
/// the instances built on the same boards: ring busbw of 4x GB200 (Azure's guide, ND
/// GB200 v6, 679.61 GB/s at 8G) and of 8x B200 with NVLS off (ml-engineering, p6-b200,
/// 682.2 GB/s at 8 GiB), NVLS busbw of 8x H100 (Azure's guide, ND H100 v5, 478.87 GB/s).
#[test]
fn published_one_node_runs_pass_the_nvlink_claims_of_their_boards() {
    for (busbw, ranks, files) in [
        (
            679.61,
            4,
            &[
                "azure-nd-gb200-v6",
                "gcp-a4x",
                "oci-bm-gpu-gb200-4",
                "aws-p6e-gb200",
            ][..],
        ),
        (682.2, 8, &["aws-p6-b200", "oci-bm-gpu-b200-8"][..]),
        (478.87, 8, &["azure-nd-h100-v5", "oci-bm-gpu-h100-8"][..]),
    ] {
        let mut doc = one_row(busbw, None);
        doc.records[0].nodes = 1;
        doc.records[0].ranks = ranks;
        for file in files {
            let results = validate(&doc, &[builtin(file)]);
            let nvlink: Vec<_> = results
                .iter()
                .filter(|r| r.id == "nvlink_allreduce" || r.id == "allreduce_busbw_nvls")
                .collect();
            assert!(!nvlink.is_empty(), "{file}");
            for r in nvlink {
                assert_eq!(r.outcome, Outcome::Pass, "{file}: {r:?}");
            }
        }
    }
}

#[test]
fn point_to_point_latency_counts_only_pairs_on_two_nodes() {
    let text = include_str!("../../../tests/fixtures/osu_latency-v5.6.2-handwritten.out");
    let ctx = crate::import::ImportContext {
        source_name: "t".into(),
        hosts: vec!["node1".into(), "node2".into()],
        nodes: Some(2),
        ..Default::default()
    };
    let mut doc = crate::import::import(text, crate::import::Format::Osu, &ctx).unwrap();
    let claims = ClaimsFile::parse(
        "[target]\nname = \"f\"\nkind = \"instance\"\n[[claim]]\nid = \"lat\"\nwhat = \"w\"\n\
         quantity = \"point_to_point_latency\"\nvalue = 2.0\nunit = \"us\"\nconvention = \"c\"\nsource = \"s\"\n",
        "f",
    )
    .unwrap();
    let r = &validate(&doc, &[("f".into(), claims.clone())])[0];
    assert_eq!((r.outcome, r.measured), (Outcome::Pass, Some(1.5)), "{r:?}");
    // The same pair on one node says nothing of the network.
    for rec in &mut doc.records {
        rec.nodes = 1;
        if let crate::results::Params::PointToPoint { to_host, .. } = &mut rec.params {
            *to_host = "node1".into();
        }
    }
    let r = &validate(&doc, &[("f".into(), claims)])[0];
    assert_eq!(r.outcome, Outcome::NotMeasured, "{r:?}");
}

#[test]
fn the_runs_own_gpus_per_node_set_the_tree_conversion() {
    // One GPU on each of two p5 instances: both conversions give busbw itself, and
    // the output says the run used 1 of the instance's 8 GPUs per node.
    let mut doc = one_row(40.0, None);
    (doc.records[0].ranks, doc.records[0].nodes) = (2, 2);
    let r = network(&doc, builtin("aws-p5"));
    assert_eq!(r.measured_low, r.measured, "{r:?}");
    assert!((r.measured.unwrap() - 320.0).abs() < 1e-9);
    let how = r.conversion.unwrap();
    assert!(how.contains("1 GPUs per node of the instance's 8"), "{how}");
    assert_eq!(r.outcome, Outcome::Warn);
}

/// AWS's 2 x p5 reference with the domain size given: a routing test (the figures are
/// p5's; the claims are the GB200 UltraServer's, whose domain spans instances).
fn routed(size: Option<u32>) -> Vec<ClaimResult> {
    let mut doc = two_node_import(AWS_P5, "p6e-gb200.36xlarge");
    doc.environment.nvlink_domain_size = size;
    validate(&doc, &[builtin("aws-p6e-gb200")])
}

fn outcome_of<'a>(results: &'a [ClaimResult], id: &str) -> Vec<&'a ClaimResult> {
    results.iter().filter(|r| r.id == id).collect()
}

#[test]
fn all_reduce_inside_one_domain_goes_to_nvlink_claims_and_crossing_to_network() {
    // Inside one 72-GPU domain: the NVLink claims get the 2-node run, the network none.
    let inside = routed(Some(72));
    let nvlink = outcome_of(&inside, "nvlink_allreduce");
    assert_eq!(nvlink.len(), 2);
    for r in &nvlink {
        assert!(
            r.measured.is_some_and(|m| (m - 487.26).abs() < 0.01),
            "{r:?}"
        );
        assert!(
            r.evidence.contains("scored against the NVLink claims"),
            "{r:?}"
        );
    }
    for r in outcome_of(&inside, "network_per_node") {
        assert_eq!(r.outcome, Outcome::NotMeasured, "{r:?}");
        assert!(
            r.evidence.contains("stayed inside one NVLink domain"),
            "{r:?}"
        );
    }
    // Domains of 8 GPUs: 16 ranks cross two, so the network claims get it.
    let crossing = routed(Some(8));
    for r in outcome_of(&crossing, "nvlink_allreduce") {
        assert_eq!(r.outcome, Outcome::NotMeasured, "{r:?}");
    }
    for r in outcome_of(&crossing, "network_per_node") {
        assert!(r.measured.is_some(), "{r:?}");
        let conversion = r.conversion.as_deref().unwrap_or_default();
        assert!(
            conversion.contains("span 2 NVLink domains of 8 GPUs"),
            "{conversion}"
        );
    }
    // Nothing recorded: as before, the network's, with a word on the domain.
    let unknown = routed(None);
    for r in outcome_of(&unknown, "network_per_node") {
        assert!(r.measured.is_some(), "{r:?}");
        let conversion = r.conversion.as_deref().unwrap_or_default();
        assert!(
            conversion.contains("no NVLink domain recorded"),
            "{conversion}"
        );
    }
}

/// GCP's 2 x A3 Mega log with an MNNVL line per GPU added in NCCL's format (these H100s
/// have no multi-node NVLink: the lines are made up here to test the wiring from a
/// log's lines to the routing; the format is that of NVIDIA/nccl issue 1769).
fn a3mega_with_fabric(cliques: [u32; 2]) -> RunDocument {
    let mut text =
        include_str!("../../../tests/fixtures/nccl-tests-all_reduce_perf-a3mega-16gpu.log")
            .to_string();
    for (h, host) in ["ztan-mig-235z", "ztan-mig-gq73"].iter().enumerate() {
        for d in 0..8 {
            text.push_str(&format!(
                "{host}:1:1 [{d}] NCCL INFO MNNVL busId 0x{d}01000 fabric UUID 3143b15bc2cd192b.28cc9b5473fb5b93 cliqueId 0x{:x} state 3 healthMask 0xaa\n",
                cliques[h]
            ));
        }
    }
    let ctx = crate::import::ImportContext {
        source_name: "t".into(),
        collective: Some("all_reduce".into()),
        ..Default::default()
    };
    crate::import::import(&text, crate::import::Format::NcclTests, &ctx).unwrap()
}

#[test]
fn an_imported_logs_mnnvl_lines_route_its_run() {
    let doc = a3mega_with_fabric([0x7ffe, 0x7ffe]);
    let gpus: Vec<_> = doc.environment.hosts.iter().flat_map(|h| &h.gpus).collect();
    assert_eq!(gpus.len(), 16);
    assert!(gpus.iter().all(|g| g
        .nvlink_domain
        .as_ref()
        .is_some_and(|d| d.clique_id == 0x7ffe)));
    let results = validate(&doc, &[builtin("aws-p6e-gb200")]);
    let nvlink = outcome_of(&results, "nvlink_allreduce");
    assert!(
        nvlink[0]
            .evidence
            .contains("all 16 GPUs of the run report one NVLink domain"),
        "{:?}",
        nvlink[0]
    );
    // Two cliques: the run crossed domains.
    let doc = a3mega_with_fabric([0x7ffe, 0x7ffd]);
    let results = validate(&doc, &[builtin("aws-p6e-gb200")]);
    let network = outcome_of(&results, "network_per_node");
    let conversion = network[0].conversion.as_deref().unwrap_or_default();
    assert!(
        conversion.contains("report 2 NVLink domains"),
        "{conversion}"
    );
}
