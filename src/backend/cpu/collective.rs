//! Collectives on host buffers through the communicator (MPI, or local threads).

use crate::backend::buffer::HostBuffer;
use crate::core::collective::initial_values;
use crate::core::Communicator;
use crate::core::{Collective, CollectiveCase};
use crate::core::{LocalCheck, Workload};
use anyhow::Result;

/// A collective on host buffers through the communicator (MPI or local).
pub(super) struct HostCollective<'a> {
    coll: &'static dyn Collective,
    comm: &'a dyn Communicator,
    case: CollectiveCase,
    recv_count: usize,
    send: HostBuffer,
    /// The output; in place also the input, sized for the larger of the two.
    recv: HostBuffer,
}

impl<'a> HostCollective<'a> {
    pub(super) fn new(
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Self {
        let (send_count, recv_count) = coll.counts(case.count, comm.size());
        let size = case.dtype.size();
        let (send_len, recv_len) = if case.in_place {
            (0, send_count.max(recv_count))
        } else {
            (send_count, recv_count)
        };
        let mut me = HostCollective {
            coll,
            comm,
            case,
            recv_count,
            send: HostBuffer::new(send_len * size),
            recv: HostBuffer::new(recv_len * size),
        };
        me.fill_inputs(false);
        me
    }

    fn fill_inputs(&mut self, for_check: bool) {
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        let corrupt = for_check && self.case.corrupt;
        let (input, received) = initial_values(self.coll, self.case, rank, ranks, corrupt);
        if !self.case.in_place {
            self.send.fill(self.case.dtype, input);
        }
        self.recv.fill(self.case.dtype, received);
    }

    fn call(&mut self) -> Result<()> {
        let send = (!self.case.in_place).then(|| self.send.bytes());
        self.coll.call(
            self.comm,
            send,
            self.recv.bytes_mut(),
            self.recv_count,
            self.case.dtype,
            self.case.op,
        )
    }
}

impl Workload for HostCollective<'_> {
    fn iterate(&mut self) -> Result<f64> {
        let start = crate::clock::now();
        self.call()?;
        Ok(start.elapsed())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.fill_inputs(true);
        self.call()?;
        let (rank, ranks) = (self.comm.rank(), self.comm.size());
        let expected =
            self.coll
                .expected(self.case.op, self.case.dtype, rank, ranks, self.case.count);
        let wrong = self
            .recv
            .count_wrong_in(self.case.dtype, self.recv_count, expected);
        Ok(LocalCheck {
            checked: self.recv_count as u64,
            wrong,
            max_error_ratio: None,
            method: "exact: every output element against its computed value",
        })
    }
}
