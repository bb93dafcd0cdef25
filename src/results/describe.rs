//! Measurement points in words and as recorded parameters, for every layer that
//! names a point (progress, watchdog and error messages) or records one.

use super::Params;
use crate::core::{Collective, DType, ReduceOp};

/// A measurement in words, for progress and watchdog messages.
pub fn describe(benchmark: &str, params: &Params) -> String {
    use crate::units::format_bytes;
    match params {
        Params::Collective {
            dtype,
            op,
            in_place,
            bytes,
            ..
        } => format!(
            "{benchmark} {} {dtype}{} {}",
            format_bytes(*bytes),
            op.map(|o| format!(" {o}")).unwrap_or_default(),
            if *in_place {
                "in-place"
            } else {
                "out-of-place"
            }
        ),
        Params::Stream {
            kernel,
            array_bytes,
            ..
        } => format!("{benchmark} {kernel} {}", format_bytes(*array_bytes)),
        Params::Matmul { dtype, m, n, k, .. } => format!("{benchmark} {dtype} {m}x{n}x{k}"),
        Params::Copy { copy, bytes, .. } => format!("{benchmark} {copy} {}", format_bytes(*bytes)),
        Params::PointToPoint {
            mode,
            bytes,
            from,
            to,
            ..
        } => format!(
            "{benchmark} {mode} {} between ranks {from} and {to}",
            format_bytes(*bytes)
        ),
    }
}

/// The parameters recorded for one collective point of `count` elements (the larger
/// of a rank's buffers) over `ranks`, as nccl-tests prints them.
pub fn params(
    coll: &dyn Collective,
    dtype: DType,
    op: ReduceOp,
    in_place: bool,
    count: usize,
    ranks: usize,
) -> Params {
    Params::Collective {
        dtype,
        op: coll.reduces().then_some(op),
        in_place,
        count: coll.printed_count(count, ranks) as u64,
        bytes: (count * dtype.size()) as u64,
    }
}

/// What identifies a measurement across runs: benchmark, backend, ranks, nodes and
/// every parameter of the workload. A matmul's `engine` names what computed it, not
/// what was computed: a run on another engine (or one recorded before engines were)
/// is the same measurement, and comparing the two is how an engine change is judged.
pub fn match_key(r: &crate::results::Record) -> String {
    let mut params = serde_json::to_value(&r.params).unwrap_or(serde_json::Value::Null);
    if let Some(p) = params.as_object_mut() {
        p.remove("engine");
    }
    // serde_json's map is ordered by key, so this string is canonical.
    format!(
        "{}|{}|{}|{}|{}",
        r.benchmark, r.backend, r.ranks, r.nodes, params
    )
}
