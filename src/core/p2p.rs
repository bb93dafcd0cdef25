//! Point-to-point cases: what a backend's point-to-point workload runs.
//!
//! The CPU backend runs them on host buffers through the communicator (MPI); a GPU
//! backend supplies its own workload for the same case through
//! [`Backend::point_to_point`](crate::core::Backend::point_to_point) (device
//! buffers, NCCL send/recv), and every benchmark built on it (`p2p`, `links`) runs
//! unchanged.

use crate::core::{iterate_each, LocalCheck, Workload};
use anyhow::Result;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P2pMode {
    /// Ping-pong; the time is half the round trip.
    Latency,
    /// A window of messages from the first rank to the second, then a small
    /// acknowledgement back (OSU's osu_bw).
    Bandwidth,
    /// Windows both ways at once (OSU's osu_bibw).
    Bidir,
}

impl P2pMode {
    pub const ALL: [P2pMode; 3] = [P2pMode::Latency, P2pMode::Bandwidth, P2pMode::Bidir];

    pub fn name(self) -> &'static str {
        match self {
            P2pMode::Latency => "latency",
            P2pMode::Bandwidth => "bandwidth",
            P2pMode::Bidir => "bidir",
        }
    }

    /// Bytes that cross the link per iteration, for the bandwidth figure.
    pub fn bytes_per_iteration(self, bytes: usize, window: usize) -> f64 {
        match self {
            P2pMode::Latency => bytes as f64,
            P2pMode::Bandwidth => (bytes * window) as f64,
            P2pMode::Bidir => (2 * bytes * window) as f64,
        }
    }
}

impl fmt::Display for P2pMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One point-to-point measurement between two ranks.
#[derive(Debug, Clone, Copy)]
pub struct P2pCase {
    pub mode: P2pMode,
    /// Bytes per message.
    pub bytes: usize,
    /// Messages in flight per iteration (1 for latency).
    pub window: usize,
    /// The first rank (sender of the one-way bandwidth test) and the second.
    pub pair: (usize, usize),
    /// Test-only: the first rank corrupts one byte of what it sends before the check.
    pub corrupt: bool,
    /// Test-only: this rank waits this long before each latency-test send, as if its
    /// link added the delay (a slow node where the kernel has no netem to make one).
    pub send_delay: Option<std::time::Duration>,
}

/// The window for `bytes`-byte messages: at most `window`, and at most 64 MiB in flight.
pub fn window_for(bytes: usize, window: usize) -> usize {
    const MAX_IN_FLIGHT: usize = 64 << 20;
    window.min((MAX_IN_FLIGHT / bytes.max(1)).max(1))
}

/// Byte `i` of the messages `rank` sends: differs between the two ends and along the
/// message, so a message from the wrong rank or a shifted one is caught.
pub fn pattern(rank: usize, i: usize) -> u8 {
    ((i * 31 + rank * 7 + 1) % 251) as u8
}

/// The moves of the point-to-point schedule on one kind of buffer: host memory through
/// the communicator (MPI), or device memory through NCCL. The schedule, the timing rule
/// and the check are [`P2pWorkload`]'s, the same for every endpoint.
///
/// An endpoint holds one message to send, `slots` receive slots of the message's size
/// and a small acknowledgement buffer. Moves may complete before they return (MPI) or
/// be queued in order on a device stream (NCCL); [`P2pEndpoint::stop_clock`] returns
/// once every move since [`P2pEndpoint::start_clock`] has completed.
pub trait P2pEndpoint {
    /// Sends the message to `peer` `sends` times and receives `receives` messages from
    /// `peer` into slots `0..receives`, all in flight at once.
    fn exchange(&mut self, peer: usize, sends: usize, receives: usize) -> Result<()>;
    /// Sends the message once to `peer`.
    fn send(&mut self, peer: usize) -> Result<()> {
        self.exchange(peer, 1, 0)
    }
    /// Receives one message from `peer` into slot 0.
    fn recv(&mut self, peer: usize) -> Result<()> {
        self.exchange(peer, 0, 1)
    }
    /// Sends the acknowledgement that closes a one-way window.
    fn send_ack(&mut self, peer: usize) -> Result<()>;
    /// Receives that acknowledgement.
    fn recv_ack(&mut self, peer: usize) -> Result<()>;
    fn start_clock(&mut self) -> Result<()>;
    /// Waits for every move since [`P2pEndpoint::start_clock`]; the seconds they took.
    fn stop_clock(&mut self) -> Result<f64>;
    /// Makes `message` the message sent.
    fn load_message(&mut self, message: &[u8]) -> Result<()>;
    /// Zeroes every receive slot.
    fn clear_received(&mut self) -> Result<()>;
    /// The receive slots, back to back.
    fn received(&mut self) -> Result<Vec<u8>>;
    /// How the check compares, recorded with it.
    fn check_method(&self) -> &'static str;
    /// How the clock is read.
    fn timing(&self) -> crate::core::Timing {
        crate::core::Timing::HostClock
    }
    /// Whether a send returns once the message is on its way (host transports), so
    /// that the latency loop can time itself from clock marks taken right after each
    /// send ([`P2pWorkload`]'s `run_timed`). Endpoints whose sends are queued on a
    /// device stream time each round trip with their clock instead.
    fn marks_sends(&self) -> bool {
        false
    }
}

/// This rank's part in a point-to-point case, on any [`P2pEndpoint`]: one end of the
/// pair, or idle.
pub struct P2pWorkload<E> {
    rank: usize,
    case: P2pCase,
    /// (peer, whether this rank is the first of the pair); `None` when not in the pair.
    role: Option<(usize, bool)>,
    endpoint: E,
}

/// This rank's role in `case`: (peer, whether it is the first of the pair).
pub fn role(rank: usize, case: &P2pCase) -> Option<(usize, bool)> {
    match case.pair {
        (a, b) if a == rank => Some((b, true)),
        (a, b) if b == rank => Some((a, false)),
        _ => None,
    }
}

/// The test-only delay before a latency-test send.
fn pause(delay: Option<std::time::Duration>) {
    if let Some(d) = delay {
        std::thread::sleep(d);
    }
}

/// The message `rank` sends: `bytes` of [`pattern`], the first byte changed when
/// `corrupt`.
pub fn message(rank: usize, bytes: usize, corrupt: bool) -> Vec<u8> {
    let mut m: Vec<u8> = (0..bytes).map(|i| pattern(rank, i)).collect();
    if corrupt {
        if let Some(b) = m.first_mut() {
            *b = b.wrapping_add(1);
        }
    }
    m
}

impl<E: P2pEndpoint> P2pWorkload<E> {
    /// `endpoint(bytes, slots)` makes the endpoint's buffers: messages of `bytes` and
    /// `slots` receive slots (both 0 on a rank outside the pair).
    pub fn new(
        rank: usize,
        case: P2pCase,
        endpoint: impl FnOnce(usize, usize) -> Result<E>,
    ) -> Result<Self> {
        let role = role(rank, &case);
        let slots = match (role, case.mode) {
            (None, _) => 0,
            (Some(_), P2pMode::Latency) => 1,
            (Some(_), _) => case.window,
        };
        let bytes = if role.is_some() { case.bytes } else { 0 };
        let mut endpoint = endpoint(bytes, slots)?;
        endpoint.load_message(&message(rank, bytes, false))?;
        Ok(P2pWorkload {
            rank,
            case,
            role,
            endpoint,
        })
    }

    /// One iteration of the schedule (OSU's osu_latency, osu_bw, osu_bibw).
    fn run_once(&mut self) -> Result<()> {
        let Some((peer, first)) = self.role else {
            return Ok(());
        };
        let window = self.case.window;
        let e = &mut self.endpoint;
        let delay = self.case.send_delay;
        match (self.case.mode, first) {
            (P2pMode::Latency, true) => {
                pause(delay);
                e.send(peer)?;
                e.recv(peer)
            }
            (P2pMode::Latency, false) => {
                e.recv(peer)?;
                pause(delay);
                e.send(peer)
            }
            (P2pMode::Bandwidth, true) => {
                e.exchange(peer, window, 0)?;
                e.recv_ack(peer)
            }
            (P2pMode::Bandwidth, false) => {
                e.exchange(peer, 0, window)?;
                e.send_ack(peer)
            }
            (P2pMode::Bidir, _) => e.exchange(peer, window, window),
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

impl<E: P2pEndpoint> Workload for P2pWorkload<E> {
    /// The first rank's time, as OSU's tests take it; the second rank reports 0, so
    /// that the slowest-rank reduction yields the first rank's time. (The second rank's
    /// clock also runs while it waits for the next ping, which would add the first
    /// rank's own loop overhead to every iteration.)
    fn iterate(&mut self) -> Result<f64> {
        let Some((_, first)) = self.role else {
            return Ok(0.0);
        };
        self.endpoint.start_clock()?;
        self.run_once()?;
        let t = self.endpoint.stop_clock()?;
        Ok(match (first, self.case.mode) {
            (true, P2pMode::Latency) => t / 2.0,
            (true, _) => t,
            (false, _) => 0.0,
        })
    }

    /// Latency on an endpoint that [marks its sends](P2pEndpoint::marks_sends): half of
    /// each round trip, from one ping leaving to the next.
    ///
    /// The first rank reads the clock right after each ping is sent, and hands the
    /// sample over, while the ping travels and the peer answers: both are off the round
    /// trip's critical path, which runs from the reply's arrival to the next send.
    /// Reading the clock before the send and after the receive, with the caller's
    /// bookkeeping between iterations, put a clock read (30-50 ns on a 2-core KVM
    /// guest) and the bookkeeping into every 8-byte round trip of about 350 ns there:
    /// 10-20% above a C ping-pong. Consecutive marks are one whole back-to-back round
    /// trip apart, as in a C loop timed from end to end: the samples add up to the
    /// loop's time. An untimed first round trip sets the first mark; the second rank
    /// makes it too, and never reads the clock.
    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        match (self.role, self.case.mode) {
            (Some((peer, true)), P2pMode::Latency) if self.endpoint.marks_sends() => {
                let delay = self.case.send_delay;
                let e = &mut self.endpoint;
                pause(delay);
                e.send(peer)?;
                let mut mark = crate::clock::now();
                e.recv(peer)?;
                for _ in 0..iterations {
                    pause(delay);
                    e.send(peer)?;
                    let sent = crate::clock::now();
                    record(mark.seconds_to(sent) / 2.0);
                    mark = sent;
                    e.recv(peer)?;
                }
                Ok(())
            }
            (Some((_, false)), P2pMode::Latency) if self.endpoint.marks_sends() => {
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

    fn timing(&self) -> crate::core::Timing {
        self.endpoint.timing()
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        let mut check = LocalCheck {
            checked: 0,
            wrong: 0,
            max_error_ratio: None,
            method: self.endpoint.check_method(),
        };
        let Some((peer, first)) = self.role else {
            return Ok(check);
        };
        let bytes = self.case.bytes;
        let corrupt = self.case.corrupt && first;
        self.endpoint
            .load_message(&message(self.rank, bytes, corrupt))?;
        self.endpoint.clear_received()?;
        self.endpoint.start_clock()?;
        self.run_once()?;
        self.endpoint.stop_clock()?;
        self.endpoint
            .load_message(&message(self.rank, bytes, false))?;
        if self.receives() {
            for slot in self.endpoint.received()?.chunks(bytes.max(1)) {
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

    /// Records the moves; "receives" the peer's pattern, corrupted when told to.
    struct Recorder {
        moves: Vec<String>,
        bytes: usize,
        slots: usize,
        received: Vec<u8>,
        peer_corrupts: bool,
        peer: usize,
    }

    impl P2pEndpoint for Recorder {
        fn exchange(&mut self, peer: usize, sends: usize, receives: usize) -> Result<()> {
            self.moves
                .push(format!("exchange {peer} {sends} {receives}"));
            let m = message(self.peer, self.bytes, self.peer_corrupts);
            for slot in self.received.chunks_mut(self.bytes).take(receives) {
                slot.copy_from_slice(&m);
            }
            Ok(())
        }
        fn send_ack(&mut self, peer: usize) -> Result<()> {
            self.moves.push(format!("ack to {peer}"));
            Ok(())
        }
        fn recv_ack(&mut self, peer: usize) -> Result<()> {
            self.moves.push(format!("ack from {peer}"));
            Ok(())
        }
        fn start_clock(&mut self) -> Result<()> {
            Ok(())
        }
        fn stop_clock(&mut self) -> Result<f64> {
            Ok(1.0)
        }
        fn load_message(&mut self, message: &[u8]) -> Result<()> {
            assert_eq!(message.len(), self.bytes);
            Ok(())
        }
        fn clear_received(&mut self) -> Result<()> {
            self.received = vec![0; self.bytes * self.slots];
            Ok(())
        }
        fn received(&mut self) -> Result<Vec<u8>> {
            Ok(self.received.clone())
        }
        fn check_method(&self) -> &'static str {
            "test"
        }
    }

    fn workload(rank: usize, mode: P2pMode, peer_corrupts: bool) -> P2pWorkload<Recorder> {
        let case = P2pCase {
            mode,
            bytes: 16,
            window: 4,
            pair: (2, 0),
            corrupt: false,
            send_delay: None,
        };
        let peer = if rank == 2 { 0 } else { 2 };
        P2pWorkload::new(rank, case, |bytes, slots| {
            Ok(Recorder {
                moves: vec![],
                bytes,
                slots,
                received: vec![0; bytes * slots],
                peer_corrupts,
                peer,
            })
        })
        .unwrap()
    }

    #[test]
    fn schedule_and_timing_rule_per_mode_and_role() {
        let mut first = workload(2, P2pMode::Latency, false);
        assert_eq!(first.iterate().unwrap(), 0.5, "half the round trip");
        assert_eq!(first.endpoint.moves, ["exchange 0 1 0", "exchange 0 0 1"]);
        let mut second = workload(0, P2pMode::Latency, false);
        assert_eq!(
            second.iterate().unwrap(),
            0.0,
            "the first rank's time counts"
        );
        assert_eq!(second.endpoint.moves, ["exchange 2 0 1", "exchange 2 1 0"]);

        let mut first = workload(2, P2pMode::Bandwidth, false);
        assert_eq!(first.iterate().unwrap(), 1.0);
        assert_eq!(first.endpoint.moves, ["exchange 0 4 0", "ack from 0"]);
        let mut second = workload(0, P2pMode::Bandwidth, false);
        second.iterate().unwrap();
        assert_eq!(second.endpoint.moves, ["exchange 2 0 4", "ack to 2"]);

        let mut both = workload(0, P2pMode::Bidir, false);
        both.iterate().unwrap();
        assert_eq!(both.endpoint.moves, ["exchange 2 4 4"]);

        let mut idle = workload(1, P2pMode::Bidir, false);
        assert_eq!(idle.iterate().unwrap(), 0.0);
        assert!(idle.endpoint.moves.is_empty());
        assert_eq!((idle.endpoint.bytes, idle.endpoint.slots), (0, 0));
    }

    #[test]
    fn receivers_check_every_byte_and_count_the_corrupt_one() {
        let check = workload(0, P2pMode::Bandwidth, false).verify().unwrap();
        assert_eq!((check.checked, check.wrong), (64, 0));
        let check = workload(0, P2pMode::Bandwidth, true).verify().unwrap();
        assert_eq!(
            (check.checked, check.wrong),
            (64, 4),
            "one byte per window slot"
        );
        // The one-way sender receives only the acknowledgement: nothing to check.
        let check = workload(2, P2pMode::Bandwidth, true).verify().unwrap();
        assert_eq!(check.checked, 0);
        let check = workload(2, P2pMode::Latency, true).verify().unwrap();
        assert_eq!((check.checked, check.wrong), (16, 1));
    }
}
