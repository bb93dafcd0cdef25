//! Point-to-point cases: what a backend's point-to-point workload runs.
//!
//! The CPU backend runs them on host buffers through the communicator (MPI); a GPU
//! backend supplies its own workload for the same case through
//! [`Backend::point_to_point`](crate::backend::Backend::point_to_point) (device
//! buffers, NCCL send/recv), and every benchmark built on it (`p2p`, `links`) runs
//! unchanged.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P2pMode {
    /// Ping-pong; the time is half the round trip.
    Latency,
    /// A window of messages from the first rank to the second, then a small
    /// acknowledgement back (OSU's osu_bw).
    Bandwidth,
    /// Windows both ways at once (OSU's osu_bibw).
    Bidir,
}

impl P2pMode {
    pub const ALL: [P2pMode; 3] = [P2pMode::Latency, P2pMode::Bandwidth, P2pMode::Bidir];

    pub fn name(self) -> &'static str {
        match self {
            P2pMode::Latency => "latency",
            P2pMode::Bandwidth => "bandwidth",
            P2pMode::Bidir => "bidir",
        }
    }

    /// Bytes that cross the link per iteration, for the bandwidth figure.
    pub fn bytes_per_iteration(self, bytes: usize, window: usize) -> f64 {
        match self {
            P2pMode::Latency => bytes as f64,
            P2pMode::Bandwidth => (bytes * window) as f64,
            P2pMode::Bidir => (2 * bytes * window) as f64,
        }
    }
}

impl fmt::Display for P2pMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One point-to-point measurement between two ranks.
#[derive(Debug, Clone, Copy)]
pub struct P2pCase {
    pub mode: P2pMode,
    /// Bytes per message.
    pub bytes: usize,
    /// Messages in flight per iteration (1 for latency).
    pub window: usize,
    /// The first rank (sender of the one-way bandwidth test) and the second.
    pub pair: (usize, usize),
    /// Test-only: the first rank corrupts one byte of what it sends before the check.
    pub corrupt: bool,
}

/// The window for `bytes`-byte messages: at most `window`, and at most 64 MiB in flight.
pub fn window_for(bytes: usize, window: usize) -> usize {
    const MAX_IN_FLIGHT: usize = 64 << 20;
    window.min((MAX_IN_FLIGHT / bytes.max(1)).max(1))
}

/// Byte `i` of the messages `rank` sends: differs between the two ends and along the
/// message, so a message from the wrong rank or a shifted one is caught.
pub fn pattern(rank: usize, i: usize) -> u8 {
    ((i * 31 + rank * 7 + 1) % 251) as u8
}
