//! Point-to-point on host buffers through the communicator (MPI): the host moves of
//! the shared schedule in [`crate::core::p2p`].

use crate::backend::buffer::HostBuffer;
use crate::core::p2p::{P2pCase, P2pEndpoint, P2pWorkload};
use crate::core::Communicator;
use anyhow::Result;

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
            started: crate::clock::now(),
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
    started: crate::clock::Stamp,
}

impl P2pEndpoint for HostEndpoint<'_> {
    fn exchange(&mut self, peer: usize, sends: usize, receives: usize) -> Result<()> {
        let send = self.send.bytes();
        self.comm
            .exchange(send, sends, self.recv.bytes_mut(), receives, peer)
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
        self.started = crate::clock::now();
        Ok(())
    }

    fn stop_clock(&mut self) -> Result<f64> {
        Ok(self.started.elapsed())
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

    fn marks_sends(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::p2p::P2pMode;
    use crate::core::Missing;
    use crate::core::Workload;
    use crate::core::{DType, ReduceOp};
    use anyhow::bail;
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

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
        fn exchange(&self, _: &[u8], _: usize, _: &mut [u8], _: usize, _: usize) -> Result<()> {
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
            send_delay: None,
        };
        let mut end = host_point_to_point(comm, case)?;
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
