//! What an nccl-tests log says of NCCL's algorithm and protocol: the settings that
//! forced them and the choices NCCL printed. They decide how a multi-node
//! all-reduce's bus bandwidth converts into a network rate (`validate`).

/// NCCL's algorithm and protocol numbers (`nccl_common.h`) as names.
fn algo_name(word: &str) -> String {
    match word {
        "0" => "Tree".into(),
        "1" => "Ring".into(),
        "2" => "CollNetDirect".into(),
        "3" => "CollNetChain".into(),
        "4" => "NVLS".into(),
        "5" => "NVLSTree".into(),
        "6" => "PAT".into(),
        other => match other.to_ascii_uppercase().as_str() {
            "TREE" => "Tree".into(),
            "RING" => "Ring".into(),
            "COLLNETDIRECT" | "COLLNET_DIRECT" => "CollNetDirect".into(),
            "COLLNETCHAIN" | "COLLNET_CHAIN" => "CollNetChain".into(),
            "NVLS" => "NVLS".into(),
            "NVLSTREE" | "NVLS_TREE" => "NVLSTree".into(),
            "PAT" => "PAT".into(),
            _ => other.to_string(),
        },
    }
}

fn proto_name(word: &str) -> String {
    match word.to_ascii_uppercase().as_str() {
        "0" | "LL" => "LL".into(),
        "1" | "LL128" => "LL128".into(),
        "2" | "SIMPLE" => "Simple".into(),
        _ => word.to_string(),
    }
}

/// Reads what a line says of NCCL's algorithm and protocol: `NCCL_ALGO=...` on a
/// command or `export` line, NCCL's "NCCL_ALGO set by environment to ..." (ENV), and
/// its per-size decisions "N Bytes -> Algo A proto P" (TUNING; numbers in older
/// releases, names in newer ones).
pub(super) fn read_tuning(
    line: &str,
    tuning: &mut Option<crate::results::environment::NcclTuning>,
) {
    use crate::results::environment::{NcclChoice, NcclTuning};
    let entry = |t: &mut Option<NcclTuning>, source: &str| -> NcclTuning {
        let mut e = t.take().unwrap_or_default();
        if !e.source.split(", ").any(|s| s == source) {
            if !e.source.is_empty() {
                e.source.push_str(", ");
            }
            e.source.push_str(source);
        }
        e
    };
    if line.contains("NCCL INFO") {
        for (var, is_algo) in [("NCCL_ALGO", true), ("NCCL_PROTO", false)] {
            if let Some(rest) = line.split(&format!("{var} set by environment to")).nth(1) {
                let value = rest.trim().to_string();
                if !value.is_empty() {
                    let mut e = entry(tuning, "log NCCL INFO");
                    if is_algo {
                        e.algo = Some(value);
                    } else {
                        e.proto = Some(value);
                    }
                    *tuning = Some(e);
                }
            }
        }
        if let Some((before, after)) = line.split_once(" Bytes -> Algo ") {
            // Newer releases name the collective before the size; keep all-reduce's.
            let mut before_words = before.split_whitespace().rev();
            let bytes = before_words.next().and_then(|b| b.parse::<u64>().ok());
            let collective_ok = before_words
                .next()
                .filter(|w| w.ends_with(':') && w.chars().next().is_some_and(char::is_uppercase))
                .is_none_or(|w| w == "AllReduce:");
            let mut words = after.split_whitespace();
            let algo = words.next();
            let proto = words
                .next()
                .filter(|w| w.eq_ignore_ascii_case("proto"))
                .and_then(|_| words.next());
            if let (true, Some(bytes), Some(algo), Some(proto)) =
                (collective_ok, bytes, algo, proto)
            {
                let mut e = entry(tuning, "log TUNING lines");
                let choice = NcclChoice {
                    bytes,
                    algo: algo_name(algo),
                    proto: proto_name(proto),
                };
                if !e.chosen.contains(&choice) {
                    e.chosen.push(choice);
                }
                *tuning = Some(e);
            }
        }
        return;
    }
    for word in line.split_whitespace() {
        for (var, is_algo) in [("NCCL_ALGO=", true), ("NCCL_PROTO=", false)] {
            if let Some(value) = word.strip_prefix(var) {
                let value = value.trim_matches(|c| c == '"' || c == '\'' || c == ';');
                if !value.is_empty() {
                    let mut e = entry(tuning, "log command line");
                    if is_algo {
                        e.algo = Some(value.to_string());
                    } else {
                        e.proto = Some(value.to_string());
                    }
                    *tuning = Some(e);
                }
            }
        }
    }
}
