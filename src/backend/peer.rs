//! Whether a copy between two GPUs goes direct or through the host, from what the
//! driver said while peer access was set up. Pure logic, so it is tested without a GPU.

use crate::core::{PeerPath, PeerRoute};

/// How far one GPU got in mapping another GPU's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAccess {
    /// The driver says the hardware cannot (`cuDeviceCanAccessPeer` is 0).
    Unsupported,
    /// The hardware can, but asking for it failed (the driver's error).
    Failed(String),
    /// Enabled (`cuCtxEnablePeerAccess`), now or earlier in the process.
    Enabled,
}

impl PeerAccess {
    /// Why `from` cannot reach `to`'s memory, or None when it can.
    fn obstacle(&self, from: usize, to: usize) -> Option<String> {
        match self {
            PeerAccess::Enabled => None,
            PeerAccess::Unsupported => Some(format!(
                "GPU {from} cannot access GPU {to}'s memory (cuDeviceCanAccessPeer)"
            )),
            PeerAccess::Failed(why) => Some(format!(
                "enabling GPU {from}'s access to GPU {to}'s memory failed: {why}"
            )),
        }
    }
}

/// The path of a copy between GPUs `src` and `dst`, given each one's access to the
/// other's memory and the driver's attributes of the link from `src` to `dst`.
///
/// Direct only when both ways are enabled: a copy between contexts runs on the copy
/// engines over the peer link only where each side maps the other's memory; without
/// that the driver stages it through host memory. Which link (NVLink or PCIe) the
/// driver cannot say, so neither is claimed.
pub fn classify(
    src: usize,
    dst: usize,
    src_to_dst: &PeerAccess,
    dst_to_src: &PeerAccess,
    performance_rank: Option<i32>,
    native_atomics: Option<bool>,
) -> PeerPath {
    let obstacles: Vec<String> = [src_to_dst.obstacle(src, dst), dst_to_src.obstacle(dst, src)]
        .into_iter()
        .flatten()
        .collect();
    PeerPath {
        route: if obstacles.is_empty() {
            PeerRoute::Direct
        } else {
            PeerRoute::Staged
        },
        reason: (!obstacles.is_empty()).then(|| obstacles.join("; ")),
        performance_rank,
        native_atomics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_only_when_both_ways_are_enabled() {
        let both = classify(
            0,
            1,
            &PeerAccess::Enabled,
            &PeerAccess::Enabled,
            Some(0),
            Some(true),
        );
        assert_eq!(both.route, PeerRoute::Direct);
        assert_eq!(both.reason, None);
        assert_eq!(
            (both.performance_rank, both.native_atomics),
            (Some(0), Some(true))
        );

        let one_way = classify(
            2,
            3,
            &PeerAccess::Enabled,
            &PeerAccess::Unsupported,
            Some(1),
            Some(false),
        );
        assert_eq!(one_way.route, PeerRoute::Staged);
        assert_eq!(
            one_way.reason.as_deref(),
            Some("GPU 3 cannot access GPU 2's memory (cuDeviceCanAccessPeer)")
        );
    }

    #[test]
    fn every_obstacle_is_named() {
        let none = classify(
            1,
            0,
            &PeerAccess::Unsupported,
            &PeerAccess::Failed("CUDA_ERROR_TOO_MANY_PEERS".into()),
            None,
            None,
        );
        assert_eq!(none.route, PeerRoute::Staged);
        let reason = none.reason.unwrap();
        assert!(
            reason.starts_with("GPU 1 cannot access GPU 0's memory")
                && reason.ends_with(
                    "enabling GPU 0's access to GPU 1's memory failed: CUDA_ERROR_TOO_MANY_PEERS"
                ),
            "{reason}"
        );
    }
}
