//! Which built-in claims files speak of the hardware a results file ran on.

use super::{ClaimsFile, TargetKind};
use crate::results::RunDocument;

/// Instance types and GPU names found in a results document, each once.
pub fn detected_hardware(doc: &RunDocument) -> (Vec<String>, Vec<String>) {
    let mut instances: Vec<String> = Vec::new();
    let mut gpus: Vec<String> = Vec::new();
    for h in &doc.environment.hosts {
        if let Some(t) = &h.instance_type {
            if !instances.contains(t) {
                instances.push(t.clone());
            }
        }
        for g in &h.gpus {
            if !gpus.contains(&g.name) {
                gpus.push(g.name.clone());
            }
        }
    }
    (instances, gpus)
}

/// Whether `fragment` stands in `name` as the start of a word: `H200` is in
/// `NVIDIA H200` but not in `NVIDIA GH200 480GB`, another part with other figures.
fn names_part(name: &str, fragment: &str) -> bool {
    !fragment.is_empty()
        && name.match_indices(fragment).any(|(at, _)| {
            name[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric())
        })
}

/// Picks built-in claims files for the detected hardware: the instance file whose
/// `matches` has the instance type, and for each GPU name the GPU file with the
/// longest fragment that starts a word of the name (so `GB200` is not taken for
/// `B200`, nor `GH200` for `H200`).
pub fn auto_select(
    files: &[(String, ClaimsFile)],
    instances: &[String],
    gpus: &[String],
) -> Vec<(String, ClaimsFile)> {
    let mut out: Vec<(String, ClaimsFile)> = Vec::new();
    let mut push = |n: &String, f: &ClaimsFile| {
        if !out.iter().any(|(m, _)| m == n) {
            out.push((n.clone(), f.clone()));
        }
    };
    for t in instances {
        for (n, f) in files {
            if f.target.kind == TargetKind::Instance
                && f.target.matches.iter().any(|m| m.eq_ignore_ascii_case(t))
            {
                push(n, f);
                if let Some(gpu) = &f.target.gpu {
                    if let Some((gn, gf)) = files.iter().find(|(m, _)| m == gpu) {
                        push(gn, gf);
                    }
                }
            }
        }
    }
    for g in gpus {
        let g_low = g.to_ascii_lowercase();
        let best = files
            .iter()
            .filter(|(_, f)| f.target.kind == TargetKind::Gpu)
            .filter_map(|(n, f)| {
                f.target
                    .matches
                    .iter()
                    .filter(|m| names_part(&g_low, &m.to_ascii_lowercase()))
                    .map(|m| m.len())
                    .max()
                    .map(|len| (len, n, f))
            })
            .max_by_key(|(len, _, _)| *len);
        if let Some((_, n, f)) = best {
            push(n, f);
        }
    }
    out
}
