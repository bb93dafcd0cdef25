//! Point-to-point on host buffers through the communicator (MPI).

use crate::comm::Communicator;
use crate::runner::buffer::HostBuffer;
use crate::runner::p2p::{pattern, P2pCase, P2pMode};
use crate::runner::{LocalCheck, Workload};
use anyhow::Result;
use std::time::Instant;

/// This rank's part in a point-to-point case: one end of the pair, or idle.
pub struct HostPointToPoint<'a> {
    comm: &'a dyn Communicator,
    case: P2pCase,
    /// (peer, whether this rank is the first of the pair); `None` when not in the pair.
    role: Option<(usize, bool)>,
    send: HostBuffer,
    /// `window` receive slots of `bytes` each (one for latency).
    recv: HostBuffer,
    ack: HostBuffer,
}

impl<'a> HostPointToPoint<'a> {
    pub fn new(comm: &'a dyn Communicator, case: P2pCase) -> Self {
        let me = comm.rank();
        let role = match case.pair {
            (a, b) if a == me => Some((b, true)),
            (a, b) if b == me => Some((a, false)),
            _ => None,
        };
        let slots = if case.mode == P2pMode::Latency {
            1
        } else {
            case.window
        };
        let active = role.is_some();
        let mut p = HostPointToPoint {
            comm,
            case,
            role,
            send: HostBuffer::new(if active { case.bytes } else { 0 }),
            recv: HostBuffer::new(if active { case.bytes * slots } else { 0 }),
            ack: HostBuffer::new(if active { 4 } else { 0 }),
        };
        p.fill_send(false);
        p
    }

    fn fill_send(&mut self, corrupt: bool) {
        let me = self.comm.rank();
        for (i, b) in self.send.bytes_mut().iter_mut().enumerate() {
            *b = pattern(me, i);
        }
        if corrupt {
            if let Some(b) = self.send.bytes_mut().first_mut() {
                *b = b.wrapping_add(1);
            }
        }
    }

    fn run_once(&mut self) -> Result<()> {
        let Some((peer, first)) = self.role else {
            return Ok(());
        };
        let bytes = self.case.bytes;
        let window = self.case.window;
        let comm = self.comm;
        match (self.case.mode, first) {
            (P2pMode::Latency, true) => {
                comm.send(self.send.bytes(), peer)?;
                comm.recv(self.recv.bytes_mut(), peer)
            }
            (P2pMode::Latency, false) => {
                comm.recv(self.recv.bytes_mut(), peer)?;
                comm.send(self.send.bytes(), peer)
            }
            (P2pMode::Bandwidth, true) => {
                let sends = vec![self.send.bytes(); window];
                comm.exchange(&sends, &mut [], peer)?;
                comm.recv(self.ack.bytes_mut(), peer)
            }
            (P2pMode::Bandwidth, false) => {
                let mut slots: Vec<&mut [u8]> = self.recv.bytes_mut().chunks_mut(bytes).collect();
                comm.exchange(&[], &mut slots, peer)?;
                comm.send(self.ack.bytes(), peer)
            }
            (P2pMode::Bidir, _) => {
                let sends = vec![self.send.bytes(); window];
                let mut slots: Vec<&mut [u8]> = self.recv.bytes_mut().chunks_mut(bytes).collect();
                comm.exchange(&sends, &mut slots, peer)
            }
        }
    }

    /// Whether this rank receives the measured messages (and so checks them).
    fn receives(&self) -> bool {
        match self.role {
            Some((_, first)) => self.case.mode != P2pMode::Bandwidth || !first,
            None => false,
        }
    }
}

impl Workload for HostPointToPoint<'_> {
    /// The first rank's time, as OSU's tests take it; the second rank reports 0, so
    /// that the slowest-rank reduction yields the first rank's time. (The second rank's
    /// clock also runs while it waits for the next ping, which would add the first
    /// rank's own loop overhead to every iteration.)
    fn iterate(&mut self) -> Result<f64> {
        let start = Instant::now();
        self.run_once()?;
        let t = start.elapsed().as_secs_f64();
        Ok(match (self.role, self.case.mode) {
            (Some((_, true)), P2pMode::Latency) => t / 2.0,
            (Some((_, true)), _) => t,
            _ => 0.0,
        })
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        let first = matches!(self.role, Some((_, true)));
        self.fill_send(self.case.corrupt && first);
        self.recv.bytes_mut().fill(0);
        self.run_once()?;
        self.fill_send(false);
        let mut check = LocalCheck {
            checked: 0,
            wrong: 0,
            max_error_ratio: None,
            method: "exact: every received byte against the sender's pattern",
        };
        if let (true, Some((peer, _))) = (self.receives(), self.role) {
            for slot in self.recv.bytes().chunks(self.case.bytes.max(1)) {
                check.checked += slot.len() as u64;
                check.wrong += slot
                    .iter()
                    .enumerate()
                    .filter(|(i, &b)| b != pattern(peer, *i))
                    .count() as u64;
            }
        }
        Ok(check)
    }
}
