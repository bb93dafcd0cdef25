//! Point-to-point on host buffers through the communicator (MPI).

use crate::comm::Communicator;
use crate::runner::buffer::HostBuffer;
use crate::runner::p2p::{pattern, P2pCase, P2pMode};
use crate::runner::{iterate_each, LocalCheck, Workload};
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

    /// The timed ping-pongs of the first rank of a latency case: half of each round
    /// trip, from one ping leaving to the next.
    ///
    /// The clock is read right after each ping is sent, and the sample handed over,
    /// while the ping travels and the peer answers: both are off the round trip's
    /// critical path, which runs from the reply's arrival to the next send. Reading the
    /// clock before the send and after the receive, with the caller's bookkeeping
    /// between iterations, put a clock read (30-50 ns on a 2-core KVM guest) and the
    /// bookkeeping into every 8-byte round trip of about 350 ns there: clusterbench
    /// measured 10-20% above a C ping-pong. Consecutive marks are one whole
    /// back-to-back round trip apart, as in a C loop timed from end to end: the samples
    /// add up to the loop's time. An untimed first round trip sets the first mark.
    fn ping_timed(
        &mut self,
        peer: usize,
        iterations: u32,
        record: &mut dyn FnMut(f64),
    ) -> Result<()> {
        let comm = self.comm;
        comm.send(self.send.bytes(), peer)?;
        let mut mark = Instant::now();
        comm.recv(self.recv.bytes_mut(), peer)?;
        for _ in 0..iterations {
            comm.send(self.send.bytes(), peer)?;
            let sent = Instant::now();
            record(sent.duration_since(mark).as_secs_f64() / 2.0);
            mark = sent;
            comm.recv(self.recv.bytes_mut(), peer)?;
        }
        Ok(())
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
    /// The first rank's time, as OSU's tests take it (latency: half the round trip);
    /// the other ranks report 0 and never read the clock, so that the slowest-rank
    /// reduction yields the first rank's time. (The second rank's clock also runs while
    /// it waits for the next ping, which would add the first rank's own loop overhead
    /// to every iteration.)
    fn iterate(&mut self) -> Result<f64> {
        match self.role {
            Some((_, true)) => {
                let start = Instant::now();
                self.run_once()?;
                let t = start.elapsed().as_secs_f64();
                Ok(match self.case.mode {
                    P2pMode::Latency => t / 2.0,
                    _ => t,
                })
            }
            _ => self.run_once().map(|()| 0.0),
        }
    }

    /// Latency: one more round trip than `iterations` (see [`HostPointToPoint::ping_timed`]).
    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        match (self.role, self.case.mode) {
            (Some((peer, true)), P2pMode::Latency) => self.ping_timed(peer, iterations, record),
            (Some((_, false)), P2pMode::Latency) => {
                self.run_once()?;
                for _ in 0..iterations {
                    self.run_once()?;
                    record(0.0);
                }
                Ok(())
            }
            _ => iterate_each(self, iterations, record),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::Missing;
    use crate::options::{DType, ReduceOp};
    use anyhow::bail;
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;
    use std::time::Duration;

    /// One end of an in-memory two-rank link. Rank 1 waits `delay` before each send,
    /// so every round trip takes at least that long.
    struct Link {
        rank: usize,
        to_peer: Sender<Vec<u8>>,
        from_peer: Mutex<Receiver<Vec<u8>>>,
        delay: Duration,
        sent: std::sync::atomic::AtomicUsize,
    }

    fn link_pair(delay: Duration) -> (Link, Link) {
        let (tx0, rx1) = channel();
        let (tx1, rx0) = channel();
        let end = |rank, to_peer, from_peer| Link {
            rank,
            to_peer,
            from_peer: Mutex::new(from_peer),
            delay,
            sent: Default::default(),
        };
        (end(0, tx0, rx0), end(1, tx1, rx1))
    }

    impl Communicator for Link {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            2
        }
        fn barrier(&self) {}
        fn all_reduce(&self, _: Option<&[u8]>, _: &mut [u8], _: DType, _: ReduceOp) -> Result<()> {
            bail!("not used")
        }
        fn all_gather(&self, _: Option<&[u8]>, _: &mut [u8], _: usize, _: DType) -> Result<()> {
            bail!("not used")
        }
        fn reduce_scatter(
            &self,
            _: Option<&[u8]>,
            _: &mut [u8],
            _: usize,
            _: DType,
            _: ReduceOp,
        ) -> Result<()> {
            bail!("not used")
        }
        fn broadcast(&self, _: &mut [u8], _: usize, _: DType, _: usize) -> Result<()> {
            bail!("not used")
        }
        fn all_to_all(&self, _: Option<&[u8]>, _: &mut [u8], _: usize, _: DType) -> Result<()> {
            bail!("not used")
        }
        fn send(&self, buf: &[u8], _: usize) -> Result<()> {
            if self.rank == 1 {
                std::thread::sleep(self.delay);
            }
            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(self.to_peer.send(buf.to_vec())?)
        }
        fn recv(&self, buf: &mut [u8], peer: usize) -> Result<()> {
            let rx = self.from_peer.lock().unwrap_or_else(|e| e.into_inner());
            // A protocol that leaves one end waiting for a message that never comes
            // fails here rather than hanging the test.
            let m = rx
                .recv_timeout(Duration::from_secs(10))
                .map_err(|e| anyhow::anyhow!("rank {} from {peer}: {e}", self.rank))?;
            buf.copy_from_slice(&m);
            Ok(())
        }
        fn exchange(&self, _: &[&[u8]], _: &mut [&mut [u8]], _: usize) -> Result<()> {
            bail!("not used")
        }
        fn arrive(&self, _: Instant) -> Result<(), Missing> {
            Ok(())
        }
        fn gather_bytes(&self, _: &[u8]) -> Result<Vec<Vec<u8>>> {
            bail!("not used")
        }
        fn broadcast_bytes(&self, _: &[u8]) -> Result<Vec<u8>> {
            bail!("not used")
        }
        fn library_version(&self) -> Option<String> {
            None
        }
        fn abort(&self, code: i32) -> ! {
            panic!("abort({code})")
        }
    }

    /// Runs warm-up iterations and `timed` timed ones on `comm`'s end of a latency case;
    /// returns the samples and the wall time of the timed part.
    fn latency_end(comm: &Link, warmup: u32, timed: u32) -> Result<(Vec<f64>, f64)> {
        let case = P2pCase {
            mode: P2pMode::Latency,
            bytes: 8,
            window: 1,
            pair: (0, 1),
            corrupt: false,
        };
        let mut end = HostPointToPoint::new(comm, case);
        for _ in 0..warmup {
            end.iterate()?;
        }
        let mut samples = Vec::new();
        let start = Instant::now();
        end.run_timed(timed, &mut |t| samples.push(t))?;
        let wall = start.elapsed().as_secs_f64();
        assert_eq!(end.verify()?.wrong, 0);
        Ok((samples, wall))
    }

    #[test]
    fn timed_latency_samples_are_back_to_back_half_round_trips() {
        let delay = Duration::from_millis(2);
        let (a, b) = link_pair(delay);
        let (timed, warmup) = (10, 2);
        let (ping, pong) = std::thread::scope(|s| {
            let pong = s.spawn(|| latency_end(&b, warmup, timed));
            let ping = latency_end(&a, warmup, timed);
            (ping, pong.join().expect("the pong end panicked"))
        });
        let (ping, ping_wall) = ping.unwrap();
        let (pong, _) = pong.unwrap();
        // Every timed iteration gives one sample on each end; the second rank's are 0.
        assert_eq!(ping.len(), timed as usize);
        assert_eq!(pong.len(), timed as usize);
        assert!(pong.iter().all(|&t| t == 0.0));
        // Both ends made the same number of round trips (one untimed more than the
        // timed ones, and the check's): otherwise a receive above would have failed.
        let trips = a.sent.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(trips, (warmup + 1 + timed + 1) as usize);
        assert_eq!(b.sent.load(std::sync::atomic::Ordering::Relaxed), trips);
        // Each sample is half of a whole round trip, the peer's delay included...
        let half = delay.as_secs_f64() / 2.0;
        assert!(ping.iter().all(|&t| t >= half), "{ping:?}");
        // ...and they do not overlap: together they fit within the timed loop, less
        // its last round trip (after the last mark).
        let sum: f64 = ping.iter().sum();
        assert!(
            2.0 * sum <= ping_wall - delay.as_secs_f64(),
            "2 x {sum} > {ping_wall} - {delay:?}"
        );
    }
}
