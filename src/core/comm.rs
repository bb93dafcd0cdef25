//! How ranks talk to each other: the trait every communicator implements.

use super::types::{DType, ReduceOp};
use anyhow::Result;

/// Collective operations between the ranks of a job.
///
/// Buffers are passed as bytes with their datatype, so one object-safe trait serves
/// every element type; implementations reinterpret them.
pub trait Communicator {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    fn barrier(&self);

    /// All-reduce `count = recv.len() / dtype.size()` elements. `send == None` means in
    /// place: `recv` holds this rank's input and receives the result.
    fn all_reduce(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()>;

    /// All-gather: every rank contributes `recv_count / size()` elements (`send`, or in
    /// place its own block of `recv`, at offset `rank x block`) and receives all blocks
    /// in rank order.
    fn all_gather(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
    ) -> Result<()>;

    /// Reduce-scatter: every rank contributes `recv_count x size()` elements (`send`, or
    /// in place the whole of `recv`) and receives block `rank` of their reduction in the
    /// first `recv_count` elements of `recv`.
    fn reduce_scatter(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()>;

    /// Broadcast of `count` elements of `buf` from `root` to every rank.
    fn broadcast(&self, buf: &mut [u8], count: usize, dtype: DType, root: usize) -> Result<()>;

    /// All-to-all: block `d` of every rank's input (`recv_count / size()` elements) goes
    /// to rank `d`, which stores it as its block `source`. In place: `recv` holds the input.
    fn all_to_all(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        recv_count: usize,
        dtype: DType,
    ) -> Result<()>;

    /// Blocking send of `buf` to rank `peer`.
    fn send(&self, buf: &[u8], peer: usize) -> Result<()>;

    /// Blocking receive from rank `peer` into `buf` (the message has `buf.len()` bytes).
    fn recv(&self, buf: &mut [u8], peer: usize) -> Result<()>;

    /// A window of messages in flight at once with rank `peer`, as OSU's bandwidth tests
    /// keep them: posts `receives` non-blocking receives of `send.len()` bytes each into
    /// consecutive slots of `recv`, then `sends` non-blocking sends of `send`, and waits
    /// for all of them. Fails if the slots do not fit in `recv`.
    fn exchange(
        &self,
        send: &[u8],
        sends: usize,
        recv: &mut [u8],
        receives: usize,
        peer: usize,
    ) -> Result<()>;

    /// Arrival check before an operation: returns once every rank has called it, or,
    /// on rank 0, with [`Missing`] naming the ranks that did not arrive by `deadline`
    /// (on other ranks, `Missing` names rank 0 when rank 0 does not arrive by
    /// `deadline`, or arrives but sends no release within as long again). It polls
    /// non-blocking messages with tags of its own, so it never hangs for long.
    fn arrive(&self, deadline: std::time::Instant) -> Result<(), Missing>;

    /// Gathers every rank's bytes on rank 0 (in rank order); other ranks get an empty list.
    fn gather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>>;

    /// Rank 0's bytes, on every rank.
    fn broadcast_bytes(&self, data: &[u8]) -> Result<Vec<u8>>;

    /// The MPI library's version string, when there is one.
    fn library_version(&self) -> Option<String>;

    /// Ends the whole job (all ranks) with `code`.
    fn abort(&self, code: i32) -> !;

    /// A communicator of the ranks that give the same `color` (ranked as here), or
    /// `None` for a rank that gives none. Collective: every rank calls it.
    fn split(&self, color: Option<u32>) -> Result<Option<Box<dyn Communicator>>> {
        let _ = color;
        anyhow::bail!("this communicator cannot be split")
    }

    /// Element-wise maximum over ranks, in place.
    fn max_f64(&self, values: &mut [f64]) -> Result<()> {
        self.all_reduce(
            None,
            bytemuck::cast_slice_mut(values),
            DType::Double,
            ReduceOp::Max,
        )
    }

    /// Sum over ranks.
    fn sum_f64(&self, value: f64) -> Result<f64> {
        let mut v = [value];
        self.all_reduce(
            None,
            bytemuck::cast_slice_mut(&mut v),
            DType::Double,
            ReduceOp::Sum,
        )?;
        Ok(v[0])
    }

    /// Sum over ranks.
    fn sum_u64(&self, value: u64) -> Result<u64> {
        let mut v = [value as i64];
        self.all_reduce(
            None,
            bytemuck::cast_slice_mut(&mut v),
            DType::Int64,
            ReduceOp::Sum,
        )?;
        Ok(v[0] as u64)
    }
}

/// Ranks that did not arrive at an [`Communicator::arrive`] check in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rank(s) {} never arrived", list_ranks(.ranks))]
pub struct Missing {
    pub ranks: Vec<usize>,
}

/// `0, 2, 5`: ranks for messages.
pub fn list_ranks(ranks: &[usize]) -> String {
    ranks
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
