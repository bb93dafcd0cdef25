//! Point-to-point on host buffers through the communicator (MPI): the host moves of
//! the shared schedule in [`crate::runner::p2p`].

use crate::comm::Communicator;
use crate::runner::buffer::HostBuffer;
use crate::runner::p2p::{P2pCase, P2pEndpoint, P2pWorkload};
use anyhow::Result;
use std::time::Instant;

/// This rank's part in a point-to-point case on host memory.
pub type HostPointToPoint<'a> = P2pWorkload<HostEndpoint<'a>>;

/// The point-to-point workload on host buffers.
pub fn host_point_to_point<'a>(
    comm: &'a dyn Communicator,
    case: P2pCase,
) -> Result<HostPointToPoint<'a>> {
    P2pWorkload::new(comm.rank(), case, |bytes, slots| {
        Ok(HostEndpoint {
            comm,
            bytes,
            send: HostBuffer::new(bytes),
            recv: HostBuffer::new(bytes * slots),
            ack: HostBuffer::new(if slots > 0 { 4 } else { 0 }),
            started: Instant::now(),
        })
    })
}

/// Host buffers and the communicator.
pub struct HostEndpoint<'a> {
    comm: &'a dyn Communicator,
    bytes: usize,
    send: HostBuffer,
    /// The receive slots of `bytes` each.
    recv: HostBuffer,
    ack: HostBuffer,
    started: Instant,
}

impl P2pEndpoint for HostEndpoint<'_> {
    fn exchange(&mut self, peer: usize, sends: usize, receives: usize) -> Result<()> {
        let messages = vec![self.send.bytes(); sends];
        let mut slots: Vec<&mut [u8]> = self
            .recv
            .bytes_mut()
            .chunks_mut(self.bytes.max(1))
            .take(receives)
            .collect();
        self.comm.exchange(&messages, &mut slots, peer)
    }

    fn send(&mut self, peer: usize) -> Result<()> {
        self.comm.send(self.send.bytes(), peer)
    }

    fn recv(&mut self, peer: usize) -> Result<()> {
        let bytes = self.bytes;
        self.comm.recv(&mut self.recv.bytes_mut()[..bytes], peer)
    }

    fn send_ack(&mut self, peer: usize) -> Result<()> {
        self.comm.send(self.ack.bytes(), peer)
    }

    fn recv_ack(&mut self, peer: usize) -> Result<()> {
        self.comm.recv(self.ack.bytes_mut(), peer)
    }

    fn start_clock(&mut self) -> Result<()> {
        self.started = Instant::now();
        Ok(())
    }

    fn stop_clock(&mut self) -> Result<f64> {
        Ok(self.started.elapsed().as_secs_f64())
    }

    fn load_message(&mut self, message: &[u8]) -> Result<()> {
        self.send.bytes_mut().copy_from_slice(message);
        Ok(())
    }

    fn clear_received(&mut self) -> Result<()> {
        self.recv.bytes_mut().fill(0);
        Ok(())
    }

    fn received(&mut self) -> Result<Vec<u8>> {
        Ok(self.recv.bytes().to_vec())
    }

    fn check_method(&self) -> &'static str {
        "exact: every received byte against the sender's pattern"
    }
}
