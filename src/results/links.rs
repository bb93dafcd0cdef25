//! The node x node link matrix of `clusterbench links`.
//!
//! Rows and columns follow `hosts`; `latency_us[i][j]` and `bandwidth_gbps[i][j]` are
//! ready to draw as a heatmap (the diagonal is `null`). The matrix is symmetric: each
//! pair is measured once, from its lower-indexed node.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkMatrix {
    /// Node names, the rows and columns of the matrices.
    pub hosts: Vec<String>,
    /// The rank that measured for each node (its first rank).
    pub ranks: Vec<u32>,
    /// Bytes per latency message.
    pub latency_bytes: u64,
    /// Bytes per bandwidth message.
    pub bandwidth_bytes: u64,
    /// Bandwidth messages in flight per iteration.
    pub window: u32,
    /// Rounds of disjoint pairs that ran at once (N - 1 for even N, N for odd N).
    pub rounds: u32,
    /// How many times every pair was measured, all rounds over again; each figure is
    /// the better of them (absent in results from before: once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passes: Option<u32>,
    /// One-way latency (half the median round trip), microseconds.
    pub latency_us: Vec<Vec<Option<f64>>>,
    /// Unidirectional bandwidth at the median iteration time, GB/s (1e9 bytes).
    pub bandwidth_gbps: Vec<Vec<Option<f64>>>,
    /// Every pair, with its flags.
    pub pairs: Vec<LinkPair>,
    /// Per node: the median over its pairs, with its flags.
    pub nodes: Vec<NodeLinks>,
    /// The robust statistics the flags come from.
    pub stats: LinkStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkPair {
    /// Indices into `hosts`.
    pub a: u32,
    pub b: u32,
    pub host_a: String,
    pub host_b: String,
    /// The round (0-based) the pair ran in.
    pub round: u32,
    pub latency_us: f64,
    pub bandwidth_gbps: f64,
    /// Bandwidth below `stats.bandwidth.threshold`.
    pub slow_bandwidth: bool,
    /// Latency above `stats.latency.threshold`.
    pub slow_latency: bool,
    /// Why the pair is flagged, in one word (absent when it is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_for: Option<FlaggedFor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeLinks {
    pub host: String,
    /// Median over the node's pairs.
    pub latency_us: f64,
    pub bandwidth_gbps: f64,
    pub slow_bandwidth: bool,
    pub slow_latency: bool,
    /// Why the node is flagged, in one word (absent when it is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_for: Option<FlaggedFor>,
}

/// What a flagged pair or node is slow in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlaggedFor {
    Bandwidth,
    Latency,
    BandwidthAndLatency,
}

impl FlaggedFor {
    /// The reason for these two flags, if either is set.
    pub fn of(slow_bandwidth: bool, slow_latency: bool) -> Option<FlaggedFor> {
        match (slow_bandwidth, slow_latency) {
            (true, true) => Some(FlaggedFor::BandwidthAndLatency),
            (true, false) => Some(FlaggedFor::Bandwidth),
            (false, true) => Some(FlaggedFor::Latency),
            (false, false) => None,
        }
    }

    /// In words, for the terminal.
    pub fn words(self) -> &'static str {
        match self {
            FlaggedFor::Bandwidth => "bandwidth",
            FlaggedFor::Latency => "latency",
            FlaggedFor::BandwidthAndLatency => "bandwidth and latency",
        }
    }
}

/// Reference and threshold of one figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobustStat {
    /// Median of the per-node figures: what a typical node sees.
    pub median: f64,
    /// Median absolute deviation of the per-node figures, scaled by 1.4826 (a standard
    /// deviation for normal data).
    pub scaled_mad: f64,
    /// The flag line: bandwidth below it, or latency above it, is flagged.
    pub threshold: f64,
}

/// Flags: at least `K` scaled MADs and `MIN_RELATIVE` of the median away.
pub const K: f64 = 3.0;
pub const MIN_RELATIVE: f64 = 0.2;

impl RobustStat {
    /// The median, scaled MAD and flag line of `values`; `low_is_bad` for figures such
    /// as bandwidth, where the bad ones are low.
    pub fn of(values: &[f64], low_is_bad: bool) -> RobustStat {
        let m = crate::stats::median(values).unwrap_or(0.0);
        let s = crate::stats::scaled_mad(values).unwrap_or(0.0);
        let threshold = if low_is_bad {
            (m - K * s).min(m * (1.0 - MIN_RELATIVE))
        } else {
            (m + K * s).max(m * (1.0 + MIN_RELATIVE))
        };
        RobustStat {
            median: m,
            scaled_mad: s,
            threshold,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkStats {
    pub bandwidth: RobustStat,
    pub latency: RobustStat,
    /// How many scaled MADs from the median a figure must be to be flagged.
    pub k: f64,
    /// ...and at least this fraction of the median away (so that identical nodes, whose
    /// MAD is near 0, are not flagged for noise).
    pub min_relative: f64,
}
