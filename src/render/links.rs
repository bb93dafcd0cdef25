//! The link matrix as text: node x node bandwidth and latency, then the flags.

use crate::results::links::{FlaggedFor, LinkMatrix};
use std::fmt::Write;

fn grid(m: &LinkMatrix, title: &str, cells: &[Vec<Option<f64>>], digits: usize) -> String {
    let width = m.hosts.iter().map(|h| h.len()).max().unwrap_or(4).max(9);
    let mut out = format!("#\n# {title}\n{:>width$}", "");
    for (j, _) in m.hosts.iter().enumerate() {
        let _ = write!(out, " {:>9}", format!("[{j}]"));
    }
    out.push('\n');
    for (i, h) in m.hosts.iter().enumerate() {
        let _ = write!(out, "{:>width$}", format!("[{i}] {h}"));
        for c in &cells[i] {
            match c {
                Some(v) => {
                    let _ = write!(out, " {v:>9.digits$}");
                }
                None => out.push_str(&format!(" {:>9}", "-")),
            }
        }
        out.push('\n');
    }
    out
}

/// Whether the rows are the ranks of one node (`host rank N`, every rank measuring for
/// itself) rather than nodes.
fn rows_are_ranks(m: &LinkMatrix) -> bool {
    m.hosts.len() == m.ranks.len()
        && m.hosts
            .iter()
            .zip(&m.ranks)
            .all(|(h, r)| h.ends_with(&format!(" rank {r}")))
}

/// The matrices, per-node medians and flagged pairs and nodes.
pub fn matrix_text(m: &LinkMatrix) -> String {
    let row = if rows_are_ranks(m) { "rank" } else { "node" };
    let mut out = format!(
        "#\n# links: {} {row}s, {} rounds of disjoint pairs{}; {} B latency messages, {} B bandwidth messages x {} in flight\n",
        m.hosts.len(),
        m.rounds,
        match m.passes {
            Some(n) if n > 1 => format!(", each pair measured {n} times and the better kept"),
            _ => String::new(),
        },
        m.latency_bytes,
        m.bandwidth_bytes,
        m.window
    );
    out += &grid(
        m,
        "bandwidth (GB/s, unidirectional, median)",
        &m.bandwidth_gbps,
        3,
    );
    out += &grid(m, "latency (us, one way, median)", &m.latency_us, 2);
    let s = &m.stats;
    let _ = writeln!(
        out,
        "#\n# per {row} (median of its pairs); flagged: bandwidth below {:.3} GB/s or latency above {:.2} us\n#   ({row} medians {:.3} GB/s, {:.2} us; {} scaled MADs and at least {:.0}% away)",
        s.bandwidth.threshold,
        s.latency.threshold,
        s.bandwidth.median,
        s.latency.median,
        s.k,
        s.min_relative * 100.0
    );
    for n in &m.nodes {
        let flag = FlaggedFor::of(n.slow_bandwidth, n.slow_latency)
            .map(|f| format!("  <-- SLOW: {}", f.words()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "#   {:<20} {:>9.3} GB/s {:>9.2} us{flag}",
            n.host, n.bandwidth_gbps, n.latency_us
        );
    }
    let flagged: Vec<String> = m
        .pairs
        .iter()
        .filter_map(|p| {
            FlaggedFor::of(p.slow_bandwidth, p.slow_latency)
                .map(|f| format!("{} - {} ({})", p.host_a, p.host_b, f.words()))
        })
        .collect();
    let _ = writeln!(
        out,
        "# flagged pairs: {}",
        if flagged.is_empty() {
            "none".to_string()
        } else {
            flagged.join(", ")
        }
    );
    out
}
