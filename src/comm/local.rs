//! A job of one process.

use super::Communicator;
use crate::options::{DType, ReduceOp};
use anyhow::{ensure, Result};

/// The single-rank communicator: every collective is a copy (or nothing).
pub struct LocalComm;

impl Communicator for LocalComm {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn barrier(&self) {}

    fn all_reduce(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        _dtype: DType,
        _op: ReduceOp,
    ) -> Result<()> {
        if let Some(send) = send {
            ensure!(
                send.len() == recv.len(),
                "all_reduce: send and receive buffers differ in size"
            );
            recv.copy_from_slice(send);
        }
        Ok(())
    }

    fn gather_bytes(&self, data: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(vec![data.to_vec()])
    }

    fn broadcast_bytes(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(data.to_vec())
    }

    fn library_version(&self) -> Option<String> {
        None
    }

    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}
