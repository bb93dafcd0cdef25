//! A job of one process.

use crate::core::{Communicator, Missing};
use crate::core::{DType, ReduceOp};
use anyhow::{bail, ensure, Result};

/// On one rank every collective but the reductions' arithmetic is a copy of the input
/// (or nothing, in place).
fn copy_in(send: Option<&[u8]>, recv: &mut [u8]) -> Result<()> {
    if let Some(send) = send {
        ensure!(
            send.len() <= recv.len(),
            "send buffer larger than the receive buffer"
        );
        recv[..send.len()].copy_from_slice(send);
    }
    Ok(())
}

/// The single-rank communicator: every collective is a copy (or nothing).
pub struct LocalComm;

impl Communicator for LocalComm {
    fn split(&self, color: Option<u32>) -> Result<Option<Box<dyn Communicator>>> {
        Ok(color.map(|_| Box::new(LocalComm) as Box<dyn Communicator>))
    }

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
        copy_in(send, recv)
    }

    fn all_gather(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        _recv_count: usize,
        _dtype: DType,
    ) -> Result<()> {
        copy_in(send, recv)
    }

    fn reduce_scatter(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        _recv_count: usize,
        _dtype: DType,
        _op: ReduceOp,
    ) -> Result<()> {
        copy_in(send, recv)
    }

    fn broadcast(&self, _buf: &mut [u8], _count: usize, _dtype: DType, _root: usize) -> Result<()> {
        Ok(())
    }

    fn all_to_all(
        &self,
        send: Option<&[u8]>,
        recv: &mut [u8],
        _recv_count: usize,
        _dtype: DType,
    ) -> Result<()> {
        copy_in(send, recv)
    }

    fn send(&self, _buf: &[u8], peer: usize) -> Result<()> {
        bail!("send to rank {peer}: a single-process job has no other rank")
    }

    fn recv(&self, _buf: &mut [u8], peer: usize) -> Result<()> {
        bail!("receive from rank {peer}: a single-process job has no other rank")
    }

    fn exchange(&self, _: &[u8], _: usize, _: &mut [u8], _: usize, peer: usize) -> Result<()> {
        bail!("exchange with rank {peer}: a single-process job has no other rank")
    }

    fn arrive(&self, _deadline: std::time::Instant) -> Result<(), Missing> {
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
