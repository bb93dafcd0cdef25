//! MPI communicator (feature `mpi`): one process per rank under mpirun or srun.

use super::Communicator;
use crate::options::{DType, ReduceOp};
use anyhow::{anyhow, bail, ensure, Result};
use mpi::collective::{CommunicatorCollectives, Root};
use mpi::datatype::PartitionMut;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator as _, SimpleCommunicator};
use mpi::Count;

extern "C" {
    fn clusterbench_mpi_in_place() -> *mut std::ffi::c_void;
}

pub struct MpiComm {
    // Finalises MPI when dropped.
    _universe: mpi::environment::Universe,
    world: SimpleCommunicator,
}

impl MpiComm {
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| anyhow!("MPI was already initialised"))?;
        let world = universe.world();
        Ok(MpiComm {
            _universe: universe,
            world,
        })
    }
}

fn raw_datatype(dtype: DType) -> ffi::MPI_Datatype {
    // SAFETY: reading the library's predefined handles, valid after MPI_Init.
    unsafe {
        match dtype {
            DType::Float => ffi::RSMPI_FLOAT,
            DType::Double => ffi::RSMPI_DOUBLE,
            DType::Int32 => ffi::RSMPI_INT32_T,
            DType::Int64 => ffi::RSMPI_INT64_T,
            other => unreachable!("{other} never reaches MPI collectives (options reject it)"),
        }
    }
}

fn raw_op(op: ReduceOp) -> ffi::MPI_Op {
    // SAFETY: as above.
    unsafe {
        match op {
            ReduceOp::Sum => ffi::RSMPI_SUM,
            ReduceOp::Prod => ffi::RSMPI_PROD,
            ReduceOp::Min => ffi::RSMPI_MIN,
            ReduceOp::Max => ffi::RSMPI_MAX,
            ReduceOp::Band => ffi::RSMPI_BAND,
            ReduceOp::Bor => ffi::RSMPI_BOR,
            ReduceOp::Bxor => ffi::RSMPI_BXOR,
        }
    }
}

impl Communicator for MpiComm {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn all_reduce(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        dtype: DType,
        op: ReduceOp,
    ) -> Result<()> {
        ensure!(
            recv.len() % dtype.size() == 0,
            "all_reduce: buffer is not a whole number of {dtype}"
        );
        if let Some(s) = send {
            ensure!(
                s.len() == recv.len(),
                "all_reduce: send and receive buffers differ in size"
            );
        }
        let count = Count::try_from(recv.len() / dtype.size()).map_err(|_| {
            anyhow!(
                "all_reduce: {} elements exceed MPI's int count",
                recv.len() / dtype.size()
            )
        })?;
        // SAFETY: both buffers hold `count` elements of `dtype` and do not overlap
        // (Rust's borrow rules); MPI_IN_PLACE comes from the library's own header.
        let rc = unsafe {
            let send_ptr = match send {
                Some(s) => s.as_ptr() as *const std::ffi::c_void,
                None => clusterbench_mpi_in_place() as *const std::ffi::c_void,
            };
            ffi::MPI_Allreduce(
                send_ptr,
                recv.as_mut_ptr() as *mut std::ffi::c_void,
                count,
                raw_datatype(dtype),
                raw_op(op),
                self.world.as_raw(),
            )
        };
        if rc != 0 {
            bail!("MPI_Allreduce failed with error code {rc}");
        }
        Ok(())
    }

    fn gather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        let root = self.world.process_at_rank(0);
        let len = Count::try_from(data.len()).map_err(|_| anyhow!("gather: message too large"))?;
        if self.world.rank() == 0 {
            let mut lens: Vec<Count> = vec![0; self.size()];
            root.gather_into_root(&len, &mut lens[..]);
            let displs: Vec<Count> = lens
                .iter()
                .scan(0, |acc, &l| {
                    let d = *acc;
                    *acc += l;
                    Some(d)
                })
                .collect();
            let total: usize = lens.iter().map(|&l| l as usize).sum();
            let mut buf = vec![0u8; total];
            {
                let mut part = PartitionMut::new(&mut buf[..], &lens[..], &displs[..]);
                root.gather_varcount_into_root(data, &mut part);
            }
            Ok(lens
                .iter()
                .zip(&displs)
                .map(|(&l, &d)| buf[d as usize..(d + l) as usize].to_vec())
                .collect())
        } else {
            root.gather_into(&len);
            root.gather_varcount_into(data);
            Ok(Vec::new())
        }
    }

    fn broadcast_bytes(&self, data: &[u8]) -> Result<Vec<u8>> {
        let root = self.world.process_at_rank(0);
        let mut len = data.len() as u64;
        root.broadcast_into(&mut len);
        let mut buf = if self.world.rank() == 0 {
            data.to_vec()
        } else {
            vec![0u8; len as usize]
        };
        root.broadcast_into(&mut buf[..]);
        Ok(buf)
    }

    fn library_version(&self) -> Option<String> {
        mpi::environment::library_version()
            .ok()
            .map(|v| v.trim_end_matches('\0').trim().to_string())
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
