//! What a collective is: the four things nccl-tests asks of each (bytes per call,
//! input data, the bus-bandwidth factor, the call itself), with inputs whose every
//! reduction is exact, so results are checked element by element.

use super::comm::Communicator;
use super::types::{DType, ReduceOp};
use anyhow::Result;

/// The standard collectives, for libraries that have each as one call (NCCL): a
/// collective says which it is, so a backend never dispatches on its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectiveKind {
    AllReduce,
    AllGather,
    ReduceScatter,
    /// From rank 0.
    Broadcast,
    AllToAll,
}

/// Bounds that keep a collective's inputs and every partial reduction of them exact
/// integers in a datatype (so the check can compare exactly, in any reduction order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactInputs {
    /// Input values stay within 1..=max.
    pub max: i64,
    /// In a sum, only ranks below this contribute non-zero values.
    pub contributors: usize,
}

/// The largest `n` such that every integer of magnitude up to `n` is exact in `dtype`.
pub fn exact_integers(dtype: DType) -> i64 {
    match dtype {
        DType::Float | DType::Tf32 => 1 << 24,
        DType::Double => 1 << 53,
        DType::Int32 => i32::MAX as i64,
        DType::Int64 => i64::MAX,
        DType::Fp16 => 1 << 11,
        DType::Bf16 => 1 << 8,
        DType::Fp8E4m3 => 1 << 4,
        DType::Fp8E5m2 => 1 << 3,
    }
}

impl ExactInputs {
    /// For data that is only moved (no reduction).
    pub fn moved(dtype: DType) -> ExactInputs {
        ExactInputs {
            max: exact_integers(dtype),
            contributors: usize::MAX,
        }
    }

    /// For `op` over `ranks` inputs: a sum of `ranks` values up to `max` stays exact,
    /// and where even a sum of ones would not (more ranks than exact integers, as in
    /// fp8), only the first ranks contribute. Products are of +1 and -1, and minimum
    /// and maximum never leave the inputs' range.
    pub fn reduced(dtype: DType, op: ReduceOp, ranks: usize) -> ExactInputs {
        let exact = exact_integers(dtype);
        match op {
            ReduceOp::Sum => ExactInputs {
                max: (exact / ranks.max(1) as i64).max(1),
                contributors: usize::try_from(exact).unwrap_or(usize::MAX),
            },
            _ => ExactInputs::moved(dtype),
        }
    }
}

/// One collective, described by the four things nccl-tests asks of each: bytes per
/// call, input data, the bus-bandwidth factor and the call itself.
///
/// `count` is the message size in elements as nccl-tests counts it: the larger of a
/// rank's send and receive buffers (for all-gather the gathered output, for
/// reduce-scatter the input, for all-to-all either).
pub trait Collective: Sync {
    fn name(&self) -> &'static str;
    /// algbw x factor = busbw (nccl-tests' convention).
    fn busbw_factor(&self, ranks: usize) -> f64;
    /// Elements in the (send, receive) buffers of one rank for a message of `count`.
    fn counts(&self, count: usize, ranks: usize) -> (usize, usize);
    /// The count nccl-tests prints for a message of `count` elements, which the
    /// record keeps: the smaller of a rank's buffers (for all-gather a rank's input,
    /// for reduce-scatter its output); all-to-all prints its block per peer.
    fn printed_count(&self, count: usize, ranks: usize) -> usize {
        let (send, recv) = self.counts(count, ranks);
        send.min(recv)
    }
    /// Whether the collective reduces (takes `-o`).
    fn reduces(&self) -> bool {
        true
    }
    /// The placements swept: out-of-place (`false`) and in-place (`true`).
    fn placements(&self) -> &'static [bool] {
        &[false, true]
    }
    /// In place, the element offset in the one buffer where this rank's input goes.
    fn in_place_input_offset(&self, _count: usize, _rank: usize, _ranks: usize) -> usize {
        0
    }
    /// Which standard collective this is, for libraries with one call per collective.
    fn kind(&self) -> Option<CollectiveKind> {
        None
    }
    /// Input element `i` of `rank`: small integers, exact in `dtype` (see [`ExactInputs`]).
    fn input(
        &self,
        op: ReduceOp,
        dtype: DType,
        rank: usize,
        ranks: usize,
        count: usize,
        i: usize,
    ) -> i64;
    /// The expected value of output element `i` on `rank`.
    fn expected(
        &self,
        op: ReduceOp,
        dtype: DType,
        rank: usize,
        ranks: usize,
        count: usize,
    ) -> Box<dyn Fn(usize) -> i64 + Send + Sync>;
    /// Runs the collective once; `send == None` means in place (`buf` holds the input).
    /// `recv_count` is the receive count of [`Collective::counts`].
    fn call(
        &self,
        comm: &dyn Communicator,
        send: Option<&[u8]>,
        buf: &mut [u8],
        recv_count: usize,
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()>;
}

/// A value no collective of the inputs produces, so unwritten output is caught.
pub const UNWRITTEN: i64 = -7;

/// What a rank's buffers hold before a call of `case`, element by element: (the send
/// buffer, the receive buffer). Out of place the receive buffer holds [`UNWRITTEN`];
/// in place it also holds the input, at [`Collective::in_place_input_offset`].
/// `corrupt` (test-only) puts the first input element off by one.
pub fn initial_values(
    coll: &'static dyn Collective,
    case: CollectiveCase,
    rank: usize,
    ranks: usize,
    corrupt: bool,
) -> (impl Fn(usize) -> i64 + Copy, impl Fn(usize) -> i64 + Copy) {
    let CollectiveCase {
        dtype,
        op,
        count,
        in_place,
        ..
    } = case;
    let inputs = coll.counts(count, ranks).0;
    let offset = coll.in_place_input_offset(count, rank, ranks);
    let input = move |i: usize| {
        let v = coll.input(op, dtype, rank, ranks, count, i);
        if corrupt && i == 0 {
            v + 1
        } else {
            v
        }
    };
    let received = move |i: usize| {
        if in_place && (offset..offset + inputs).contains(&i) {
            input(i - offset)
        } else {
            UNWRITTEN
        }
    };
    (input, received)
}

/// One point of a collective sweep.
#[derive(Debug, Clone, Copy)]
pub struct CollectiveCase {
    pub dtype: DType,
    pub op: ReduceOp,
    pub count: usize,
    pub in_place: bool,
    /// Test-only: corrupt one input element on this rank before the check.
    pub corrupt: bool,
}
