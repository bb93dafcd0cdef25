//! The NVLink domain of each GPU, as NCCL prints it in a log made with
//! `NCCL_DEBUG=INFO` on multi-node NVLink systems (GB200/GB300 NVL72):
//!
//! `gb200a-04:2101743:2101803 [1] NCCL INFO MNNVL busId 0x901000 fabric UUID 3143b15bc2cd192b.28cc9b5473fb5b93 cliqueId 0x7ffe state 3 healthMask 0xaa`
//!
//! (NVIDIA/nccl issue 1769). The host and CUDA device come from NCCL's line prefix;
//! the fabric's cluster UUID is kept as NCCL prints it (two 64-bit halves), which
//! compares equal between GPUs of one cluster, the one use made of it.

use crate::results::environment::NvlinkDomain;

/// NVML_GPU_FABRIC_STATE_COMPLETED: the ids are valid only once registration finished.
const STATE_COMPLETED: &str = "3";

/// The word after `key` among `words`.
fn after<'a>(words: &[&'a str], key: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| *w == key)
        .and_then(|i| words.get(i + 1).copied())
}

/// Reads one MNNVL line: (host, CUDA device, domain); `None` for any other line or a
/// GPU whose fabric registration has not completed.
pub(super) fn read_fabric(line: &str) -> Option<(String, u32, NvlinkDomain)> {
    let (prefix, info) = line.split_once("NCCL INFO MNNVL ")?;
    let host = prefix.split(':').next()?.trim().to_string();
    let device: u32 = prefix
        .split('[')
        .nth(1)?
        .split(']')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let words: Vec<&str> = info.split_whitespace().collect();
    if after(&words, "state")? != STATE_COMPLETED {
        return None;
    }
    let uuid = after(&words, "UUID")?;
    let clique = after(&words, "cliqueId")?;
    let clique_id = match clique.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => clique.parse().ok()?,
    };
    if host.is_empty() || uuid.chars().all(|c| c == '0' || c == '.') {
        return None;
    }
    Some((
        host,
        device,
        NvlinkDomain {
            cluster_uuid: uuid.to_string(),
            clique_id,
            source: "NCCL INFO MNNVL line".into(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verbatim from NVIDIA/nccl issue 1769 (a 4-GPU GB200 node, NCCL_DEBUG=INFO).
    const ISSUE_1769: &str = "\
gb200a-04:2101743:2101803 [1] NCCL INFO MNNVL busId 0x901000 fabric UUID 3143b15bc2cd192b.28cc9b5473fb5b93 cliqueId 0x7ffe state 3 healthMask 0xaa
gb200a-04:2101744:2101802 [2] NCCL INFO MNNVL busId 0x1801000 fabric UUID 3143b15bc2cd192b.28cc9b5473fb5b93 cliqueId 0x7ffe state 3 healthMask 0xaa
gb200a-04:2101745:2101800 [3] NCCL INFO MNNVL busId 0x1901000 fabric UUID 3143b15bc2cd192b.28cc9b5473fb5b93 cliqueId 0x7ffe state 3 healthMask 0xaa
gb200a-04:2101742:2101799 [0] NCCL INFO MNNVL busId 0x801000 fabric UUID 3143b15bc2cd192b.28cc9b5473fb5b93 cliqueId 0x7ffe state 3 healthMask 0xaa
gb200a-04:2101743:2101803 [1] NCCL INFO Setting affinity for GPU 1 to ff,ffffffff,ffffffff";

    #[test]
    fn mnnvl_lines_give_each_gpu_its_domain() {
        let read: Vec<(String, u32, NvlinkDomain)> =
            ISSUE_1769.lines().filter_map(read_fabric).collect();
        let devices: Vec<u32> = read.iter().map(|(_, d, _)| *d).collect();
        assert_eq!(devices, [1, 2, 3, 0]);
        for (host, _, domain) in &read {
            assert_eq!(host, "gb200a-04");
            assert_eq!(domain.cluster_uuid, "3143b15bc2cd192b.28cc9b5473fb5b93");
            assert_eq!(domain.clique_id, 0x7ffe);
        }
        // Registration not finished, or no cluster: no domain.
        let line = ISSUE_1769.lines().next().unwrap();
        assert!(read_fabric(&line.replace("state 3", "state 2")).is_none());
        assert!(read_fabric(&line.replace(
            "3143b15bc2cd192b.28cc9b5473fb5b93",
            "0000000000000000.0000000000000000"
        ))
        .is_none());
    }
}
