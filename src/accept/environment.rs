//! Step 1: every node has what its peers have (GPUs, NICs, NUMA, drivers, libraries),
//! and what the claims expect; a node unlike the majority is named with the difference.

use super::verdict::{Action, NodeVerdict, Reason};
use crate::results::environment::HostInfo;
use crate::results::Environment;

/// This machine's network interfaces (not loopback) and InfiniBand devices.
pub fn local_nics() -> Vec<String> {
    let list = |dir: &str, prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| format!("{prefix}{}", e.file_name().to_string_lossy()))
                    .filter(|n| n != "lo")
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let mut out = list("/sys/class/net", "");
    out.extend(list("/sys/class/infiniband", "ib:"));
    out
}

/// One compared fact of a host: its name, its value, and what a difference calls for.
struct Fact {
    what: &'static str,
    value: String,
    action: Action,
}

fn facts(h: &HostInfo, nics: &[String]) -> Vec<Fact> {
    let cuda = h.cuda.as_ref();
    let opt = |v: Option<&String>| v.cloned().unwrap_or_else(|| "none".into());
    let gpu_names: Vec<&str> = h.gpus.iter().map(|g| g.name.as_str()).collect();
    vec![
        Fact {
            what: "GPUs",
            value: h.gpus.len().to_string(),
            action: Action::Reset,
        },
        Fact {
            what: "GPU models",
            value: gpu_names.join(", "),
            action: Action::Reset,
        },
        Fact {
            what: "driver",
            value: opt(cuda.and_then(|c| c.driver_version.as_ref())),
            action: Action::Reset,
        },
        Fact {
            what: "NCCL",
            value: opt(cuda.and_then(|c| c.nccl_version.as_ref())),
            action: Action::Reset,
        },
        Fact {
            what: "cuBLAS",
            value: opt(cuda.and_then(|c| c.cublas_version.as_ref())),
            action: Action::Reset,
        },
        Fact {
            what: "kernel",
            value: opt(h.kernel.as_ref()),
            action: Action::Reset,
        },
        Fact {
            what: "OS",
            value: opt(h.os.as_ref()),
            action: Action::Reset,
        },
        Fact {
            what: "network interfaces",
            value: nics.len().to_string(),
            action: Action::Reset,
        },
        Fact {
            what: "NUMA nodes",
            value: h.numa_nodes.len().to_string(),
            action: Action::Monitor,
        },
        Fact {
            what: "CPU",
            value: opt(h.cpu_model.as_ref()),
            action: Action::Monitor,
        },
        Fact {
            what: "cores",
            value: h.cores.to_string(),
            action: Action::Monitor,
        },
        // Whole GiB: the kernel's own reservations differ by a few MiB between peers.
        Fact {
            what: "memory (GiB)",
            value: (h.memory_bytes >> 30).to_string(),
            action: Action::Monitor,
        },
    ]
}

/// The value most hosts have (the first of them on a tie).
fn majority(values: &[&str]) -> String {
    let mut best = ("", 0);
    for v in values {
        let n = values.iter().filter(|w| *w == v).count();
        if n > best.1 {
            best = (v, n);
        }
    }
    best.0.to_string()
}

/// Names every node unlike the majority, and every node with fewer GPUs than the
/// claims' `expected_gpus`. `nics`: each host's interfaces, by host name.
pub fn check(
    env: &Environment,
    nics: &[(String, Vec<String>)],
    expected_gpus: Option<u32>,
    nodes: &mut [NodeVerdict],
) {
    let no_nics = Vec::new();
    let per_host: Vec<Vec<Fact>> = env
        .hosts
        .iter()
        .map(|h| {
            let n = nics
                .iter()
                .find(|(host, _)| host == &h.hostname)
                .map_or(&no_nics, |(_, n)| n);
            facts(h, n)
        })
        .collect();
    for (i, h) in env.hosts.iter().enumerate() {
        let Some(node) = nodes.iter_mut().find(|n| n.host == h.hostname) else {
            continue;
        };
        let pointer = format!("/environment/hosts/{i}");
        for (f, fact) in per_host[i].iter().enumerate() {
            let values: Vec<&str> = per_host.iter().map(|p| p[f].value.as_str()).collect();
            let common = majority(&values);
            if env.hosts.len() > 2 && fact.value != common {
                node.add(Reason {
                    step: "environment".into(),
                    action: fact.action,
                    why: format!(
                        "{}: {} where its peers have {common}",
                        fact.what, fact.value
                    ),
                    records: vec![pointer.clone()],
                });
            }
        }
        if let Some(want) = expected_gpus {
            if (h.gpus.len() as u32) < want {
                node.add(Reason {
                    step: "environment".into(),
                    action: Action::Reset,
                    why: format!("{} GPUs where the claims expect {want}", h.gpus.len()),
                    records: vec![pointer.clone()],
                });
            }
        }
    }
}

/// Differences between two hosts only, said without judging (no majority to go by).
pub fn pair_note(env: &Environment, nics: &[(String, Vec<String>)]) -> Option<String> {
    let [a, b] = env.hosts.as_slice() else {
        return None;
    };
    let empty = Vec::new();
    let n = |h: &HostInfo| {
        nics.iter()
            .find(|(x, _)| x == &h.hostname)
            .map_or(&empty, |(_, v)| v)
            .clone()
    };
    let (fa, fb) = (facts(a, &n(a)), facts(b, &n(b)));
    let diffs: Vec<String> = fa
        .iter()
        .zip(&fb)
        .filter(|(x, y)| x.value != y.value)
        .map(|(x, y)| {
            format!(
                "{}: {} has {}, {} has {}",
                x.what, a.hostname, x.value, b.hostname, y.value
            )
        })
        .collect();
    (!diffs.is_empty()).then(|| {
        format!(
            "two nodes differ (no majority to say which is wrong): {}",
            diffs.join("; ")
        )
    })
}
