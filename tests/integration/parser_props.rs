//! Property tests of the parsers of results, claims and other tools' logs: arbitrary
//! and mutated input gives a value or a usage error, never a panic.

use clusterbench::analysis::validate::{ClaimsFile, BUILTIN_CLAIMS};
use clusterbench::import::{import, Format, ImportContext};
use clusterbench::results::Params;
use proptest::prelude::*;

fn ctx() -> ImportContext {
    ImportContext {
        source_name: "prop".into(),
        ranks: Some(4),
        nodes: None,
        instance_type: None,
        collective: Some("all_reduce_perf".into()),
        hosts: Vec::new(),
        window: None,
    }
}

const FORMATS: [Format; 4] = [
    Format::Auto,
    Format::NcclTests,
    Format::NcclTestsJson,
    Format::Osu,
];

/// The context of an OSU point-to-point log: it needs no rank count.
fn p2p_ctx() -> ImportContext {
    ImportContext {
        source_name: "prop".into(),
        ..Default::default()
    }
}

/// Real OSU collective logs (read with `ctx()`'s rank count).
const OSU_COLLECTIVE_FIXTURES: [&str; 5] = [
    "osu_alltoall-v5.6.2-impi.out",
    "osu_allgather-v5.6.2-impi.out",
    "osu_alltoall-v5.6.2-ucx-noise-head.out",
    "osu_alltoallw-v7.0-two-runs-head.out",
    "osu_reduce-cuda-v7.3-192ranks-head.out",
];

const OSU_P2P_FIXTURES: [&str; 7] = [
    "osu_bw-cuda-v7.2-a100-nvlink.out",
    "osu_bw-rocm-v7.5-two-pairs-head.out",
    "osu_latency-v5.6.2-handwritten.out",
    "osu_latency_mp-v5.6.3-handwritten.out",
    "osu_bw-v7.1-handwritten.out",
    "osu_bibw-v7.5-validation-handwritten.out",
    "osu_latency-cuda-v7.5-tail-handwritten.out",
];

fn fixture(name: &str) -> String {
    std::fs::read_to_string(crate::decisions::fixture(name)).unwrap()
}

/// `text` with the bytes in `cut` removed and `insert` put at `at` (positions wrap).
fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(insert);
    out.extend(&chars[end..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_an_importer(text in ".{0,400}") {
        for f in FORMATS {
            let _ = import(&text, f, &ctx());
        }
    }

    #[test]
    fn mutated_real_logs_never_panic_an_importer(
        at in 0usize..12000,
        cut in 0usize..200,
        insert in "[ 0-9a-z#.\\-\\n{}\\[\\]\":,]{0,40}",
    ) {
        for (name, f, ctx) in [
            ("nccl-tests-all_reduce_perf-a3mega-16gpu.log", Format::NcclTests),
            ("nccl-tests-all_reduce_perf-a3mega-16gpu.json", Format::NcclTestsJson),
            ("osu_allreduce-v5.6.2-64ranks.out", Format::Osu),
        ]
        .into_iter()
        .chain(OSU_COLLECTIVE_FIXTURES.map(|name| (name, Format::Osu)))
        .map(|(name, f)| (name, f, ctx()))
        .chain(OSU_P2P_FIXTURES.map(|name| (name, Format::Osu, p2p_ctx())))
        {
            let text = mutate(&fixture(name), at, cut, &insert);
            if let Ok(doc) = import(&text, f, &ctx) {
                // Whatever is accepted is a well-formed document.
                prop_assert!(!doc.records.is_empty());
                for r in &doc.records {
                    prop_assert!(r.time_s.median.is_finite() && r.time_s.median > 0.0);
                    prop_assert!(r.ranks >= r.nodes && r.nodes >= 1);
                }
                let json = serde_json::to_string(&doc).unwrap();
                let back: clusterbench::results::RunDocument = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back.records.len(), doc.records.len());
            }
        }
    }

    #[test]
    fn generated_nccl_tests_rows_import_exactly(
        rows in proptest::collection::vec((1u64..1u64 << 40, 1u32..1_000_000, 0u32..100), 1..20)
    ) {
        let mut text = String::from(
            "# nThread 1 nGpus 1 minBytes 8 maxBytes 8 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0\n\
             #       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n",
        );
        for (bytes, t_centi, wrong) in &rows {
            let t = *t_centi as f64 / 100.0;
            text.push_str(&format!(
                "{:>12} {:>12} float sum -1 {t:.2} 1.00 1.50 {wrong} {t:.2} 1.00 1.50 0\n",
                bytes * 4,
                bytes
            ));
        }
        let doc = import(&text, Format::NcclTests, &ctx()).unwrap();
        prop_assert_eq!(doc.records.len(), rows.len() * 2);
        for (pair, (bytes, t_centi, wrong)) in doc.records.chunks(2).zip(&rows) {
            let expect = (*t_centi as f64 / 100.0) * 1e-6;
            prop_assert!((pair[0].time_s.median - expect).abs() <= 1e-12 * expect.max(1.0));
            prop_assert_eq!(pair[0].check.wrong, *wrong as u64);
            prop_assert_eq!(pair[0].check.passed, *wrong == 0);
            match &pair[0].params {
                clusterbench::results::Params::Collective { bytes: b, count, .. } => {
                    prop_assert_eq!(*b, bytes * 4);
                    prop_assert_eq!(*count, *bytes);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    /// Launcher prefixes and NCCL diagnostics interleaved anywhere change nothing, and
    /// runs of different collectives one after another keep their own rows and ranks.
    #[test]
    fn prefixed_interleaved_and_concatenated_nccl_tests_runs_import_as_clean_ones(
        runs in proptest::collection::vec(
            (0usize..4, 1u32..9, proptest::collection::vec((1u64..1u64 << 30, 1u32..1_000_000), 1..6)),
            1..4,
        ),
        prefix in 0usize..5,
        noise in proptest::collection::vec(0usize..200, 0..8),
    ) {
        let names = ["all_reduce_perf", "all_gather_perf", "reduce_scatter_perf", "alltoall_perf"];
        let mut lines: Vec<String> = Vec::new();
        for (name, ranks, rows) in &runs {
            lines.push(format!("# Collective test starting: {}", names[*name]));
            lines.push("# nThread 1 nGpus 1 minBytes 8 maxBytes 8 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0".into());
            for r in 0..*ranks {
                lines.push(format!("#  Rank {r:>2} Group  0 Pid {r:>6} on node{} device {r:>2} [0x07] NVIDIA H100 80GB HBM3", r / 4));
            }
            lines.push("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong".into());
            for (count, t_centi) in rows {
                let t = *t_centi as f64 / 100.0;
                lines.push(format!("{:>12} {count:>12} float sum -1 {t:.2} 1.00 1.50 0 {t:.2} 1.00 1.50 0", count * 4));
            }
        }
        let clean = ImportContext { ranks: None, collective: None, ..ctx() };
        let plain = import(&(lines.join("\n") + "\n"), Format::NcclTests, &clean).unwrap();
        let mut noisy = String::new();
        for (i, line) in lines.iter().enumerate() {
            if noise.contains(&i) {
                noisy.push_str(&format!("[1,3]<stdout>:node1:21:28 [3] NCCL INFO Channel {i:02}/32 :    0\n"));
                noisy.push_str("node0:21:21 [0] NCCL WARN something\n");
            }
            let p = match prefix {
                0 => String::new(),
                1 => "[1,0]<stdout>:".into(),
                2 => format!("Wed May  1 10:00:{:02} 2024[1,0]<stdout>:", i % 60),
                3 => "0: ".into(),
                _ => "node0: ".into(),
            };
            noisy.push_str(&format!("{p}{line}\n"));
        }
        let prefixed = import(&noisy, Format::NcclTests, &clean).unwrap();
        prop_assert_eq!(plain.records.len(), prefixed.records.len());
        let expected: usize = runs.iter().map(|(_, _, rows)| rows.len() * 2).sum();
        prop_assert_eq!(plain.records.len(), expected);
        let mut at = 0;
        for (name, ranks, rows) in &runs {
            let benchmark = clusterbench::import::benchmark_name(names[*name]);
            for _ in 0..rows.len() * 2 {
                for doc in [&plain, &prefixed] {
                    let r = &doc.records[at];
                    prop_assert_eq!(&r.benchmark, &benchmark);
                    prop_assert_eq!(r.ranks, *ranks);
                    prop_assert_eq!(r.nodes, (ranks - 1) / 4 + 1);
                }
                prop_assert_eq!(plain.records[at].time_s.median, prefixed.records[at].time_s.median);
                at += 1;
            }
        }
    }

    #[test]
    fn arbitrary_lines_under_an_osu_point_to_point_title_never_panic(
        which in 0usize..4,
        lines in proptest::collection::vec("[ 0-9a-zA-Z#.:()/\\-]{0,60}", 0..12),
    ) {
        let title = [
            "# OSU MPI Latency Test v7.5",
            "# OSU MPI Bandwidth Test v5.6.2",
            "# OSU MPI-CUDA Bi-Directional Bandwidth Test v7.3",
            "# OSU MPI Multi-process Latency Test v5.6.3",
        ][which];
        let text = format!("{title}\n{}\n", lines.join("\n"));
        if let Ok(doc) = import(&text, Format::Auto, &p2p_ctx()) {
            for r in &doc.records {
                prop_assert_eq!(r.benchmark.as_str(), "p2p");
                prop_assert!(r.time_s.median.is_finite() && r.time_s.median > 0.0);
            }
        }
    }

    #[test]
    fn arbitrary_lines_under_an_osu_collective_title_never_panic(
        which in 0usize..5,
        prefix in 0usize..4,
        lines in proptest::collection::vec("[ 0-9a-zA-Z#.:()/\\-\\[\\]<>,]{0,60}", 0..12),
    ) {
        let title = [
            "# OSU MPI All-to-All Personalized Exchange Latency Test v5.6.2",
            "# OSU NCCL-CUDA Allreduce Latency Test v7.5",
            "# OSU MPI-CUDA Reduce Latency Test v7.3",
            "# OSU MPI Barrier Latency Test v7.4",
            "# OSU MPI Allgatherv Latency Test v7.4",
        ][which];
        let prefix = ["", "[1,0]<stdout>:", "0: ", "node1: "][prefix];
        let text: String = std::iter::once(title.to_string())
            .chain(lines)
            .map(|l| format!("{prefix}{l}\n"))
            .collect();
        if let Ok(doc) = import(&text, Format::Auto, &ctx()) {
            for r in &doc.records {
                prop_assert!(r.time_s.median.is_finite() && r.time_s.median > 0.0);
                prop_assert_eq!(r.ranks, 4);
            }
        }
    }

    /// Rows generated under one or more collective titles, each test after its own
    /// launch command and under a launcher prefix, come back one record per row, in
    /// order, each named by its own test.
    #[test]
    fn generated_osu_collective_tests_import_exactly(
        tests in proptest::collection::vec(
            (0usize..6, proptest::collection::vec((0u32..24, 1u32..10_000_000), 1..8)),
            1..4,
        ),
        prefix in 0usize..3,
        minmax in any::<bool>(),
    ) {
        let names = [
            ("All-to-All Personalized Exchange", "alltoall"),
            ("Allreduce", "allreduce"),
            ("Broadcast", "broadcast"),
            ("Reduce_scatter", "reducescatter"),
            ("Gatherv", "gatherv"),
            ("Allgather", "allgather"),
        ];
        let prefix = ["", "[1,0]<stdout>:", "3: "][prefix];
        let mut text = String::new();
        let mut expected = Vec::new();
        for (which, rows) in &tests {
            let (title, name) = names[*which];
            text.push_str(&format!("{prefix}mpirun -np 16 ./osu_x -i 100 -x 10\n"));
            text.push_str(&format!("{prefix}# OSU MPI {title} Latency Test v7.4\n"));
            text.push_str(&format!("{prefix}# Datatype: MPI_CHAR.\n"));
            if minmax {
                text.push_str(&format!("{prefix}# Size       Avg Latency(us)   Min Latency(us)   Max Latency(us)  Iterations\n"));
            } else {
                text.push_str(&format!("{prefix}# Size       Avg Latency(us)\n"));
            }
            for (shift, centi) in rows {
                let v = *centi as f64 / 100.0;
                if minmax {
                    text.push_str(&format!("{prefix}{:<10}{v:>18.2}{:>18.2}{:>18.2}{:>12}\n", 1u64 << shift, v / 2.0, v * 2.0, 100));
                } else {
                    text.push_str(&format!("{prefix}{:<10}{v:>18.2}\n", 1u64 << shift));
                }
                expected.push((name, 1u64 << shift, v));
            }
        }
        let ctx = ImportContext { ranks: None, collective: None, ..ctx() };
        let doc = import(&text, Format::Auto, &ctx).unwrap();
        prop_assert_eq!(doc.records.len(), expected.len());
        for (r, (name, bytes, printed)) in doc.records.iter().zip(&expected) {
            prop_assert_eq!(r.benchmark.as_str(), *name);
            prop_assert_eq!(r.ranks, 16);
            let Params::Collective { bytes: b, count, .. } = &r.params else { panic!("{:?}", r.params) };
            // nccl-tests' columns: OSU prints one rank's block for the gathers and
            // all-to-alls (the size is all 16), and the whole buffer for reduce-scatter
            // (the count is one block of 16).
            let blocks = if ["alltoall", "gatherv", "allgather"].contains(name) { 16 } else { 1 };
            prop_assert_eq!(*b, *bytes * blocks);
            let per_block = if *name == "reducescatter" { 16 } else { 1 };
            prop_assert_eq!(*count, *bytes / 4 / per_block);
            prop_assert!((r.time_s.median - printed * 1e-6).abs() <= 1e-12 * printed);
            if minmax {
                prop_assert!(r.time_s.min <= r.time_s.median && r.time_s.max >= r.time_s.median);
            }
        }
    }

    #[test]
    fn generated_osu_point_to_point_rows_import_exactly(
        which in 0usize..3,
        rows in proptest::collection::vec((0u32..32, 1u32..10_000_000), 1..20),
        window in proptest::option::of(1u32..512),
    ) {
        let (title, column, mode, factor) = [
            ("# OSU MPI Latency Test v5.6.2", "Latency (us)", "latency", 0.0),
            ("# OSU MPI Bandwidth Test v7.1", "Bandwidth (MB/s)", "bandwidth", 1.0),
            ("# OSU MPI Bi-Directional Bandwidth Test v7.5", "Bandwidth (MB/s)", "bidir", 2.0),
        ][which];
        let mut text = format!("{title}\n# Size{column:>22}\n");
        for (shift, centi) in &rows {
            text.push_str(&format!("{:<10}{:>18.2}\n", 1u64 << shift, *centi as f64 / 100.0));
        }
        let ctx = ImportContext { window, ..p2p_ctx() };
        let doc = import(&text, Format::Auto, &ctx).unwrap();
        prop_assert_eq!(doc.records.len(), rows.len());
        for (r, (shift, centi)) in doc.records.iter().zip(&rows) {
            let bytes = 1u64 << shift;
            let printed = *centi as f64 / 100.0;
            let Params::PointToPoint { mode: m, bytes: b, window: w, .. } = &r.params else {
                panic!("{:?}", r.params)
            };
            prop_assert_eq!((m.as_str(), *b, r.ranks), (mode, bytes, 2));
            let bw = r.metric("bandwidth").unwrap().value;
            if factor == 0.0 {
                prop_assert_eq!(*w, 1);
                prop_assert!((r.time_s.median - printed * 1e-6).abs() <= 1e-12 * printed);
            } else {
                prop_assert_eq!(*w, window.unwrap_or(64));
                let expect = factor * (bytes * u64::from(*w)) as f64 / (printed * 1e6);
                prop_assert!((r.time_s.median - expect).abs() <= 1e-12 * expect);
                prop_assert!((bw - printed / 1e3).abs() <= 1e-12 * printed);
            }
        }
    }

    #[test]
    fn arbitrary_and_mutated_claims_never_panic(
        text in ".{0,300}",
        which in 0usize..BUILTIN_CLAIMS.len(),
        at in 0usize..4000,
        cut in 0usize..50,
        insert in "[ a-z0-9=\\[\\]\".\\n-]{0,20}",
    ) {
        let _ = ClaimsFile::parse(&text, "prop");
        let _ = ClaimsFile::parse(&mutate(BUILTIN_CLAIMS[which].1, at, cut, &insert), "prop");
    }

    #[test]
    fn arbitrary_and_mutated_results_files_never_panic(
        at in 0usize..3000,
        cut in 0usize..100,
        insert in "[ a-z0-9{}\\[\\]\":,.\\-]{0,30}",
    ) {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/baselines/quick-cpu-2core.json"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        std::fs::write(&p, mutate(&text, at, cut, &insert)).unwrap();
        if let Ok(doc) = clusterbench::results::files::read_document(&p) {
            // A document that reads can be compared and fitted without a panic.
            let _ = clusterbench::analysis::compare::compare(&doc, &doc, &Default::default());
            let _ = clusterbench::analysis::model::fit_collectives(&doc);
        }
    }
}
