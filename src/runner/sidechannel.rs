//! A TCP side channel between rank 0 and every other rank, outside MPI, so that the
//! live ranks can still compare notes when a peer has gone silent and MPI is stuck.
//!
//! Every rank other than 0 keeps one connection to rank 0 and sends a heartbeat line
//! each second from a thread of its own; rank 0 notes when it last heard from each. A
//! rank whose heartbeats stop (its process stopped, or its node's link is down) or
//! whose connection closed (its process died) is the one rank 0 names when a
//! measurement makes no progress. Rank 0 sends its verdict back over the same
//! connections, and a rank that receives it prints it and ends: the job ends on one
//! story, told by the rank that can know it.
//!
//! The channel never carries measurements and makes no MPI call, so it neither
//! changes a timing nor needs MPI's thread support. Where it cannot be set up (rank
//! 0's host name does not resolve, a firewall), the run goes on without it and a fault
//! is reported without a culprit.

use crate::core::Communicator;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a rank tells rank 0 it is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A rank unheard for this long is silent: several heartbeats missed, far more than a
/// loaded machine delays one.
pub const SILENT_AFTER: Duration = Duration::from_secs(5);
/// How long a rank tries to reach rank 0 when the channel is set up.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// Round trips are judged over this window.
const ROUND_TRIP_WINDOW: Duration = Duration::from_secs(10);
/// A rank answers slowly when its round trip is at least this long and this many
/// times the slowest of the others': a link that crawls, unlike a loaded machine.
const SLOW_ROUND_TRIP: Duration = Duration::from_secs(1);
const SLOW_FACTOR: f64 = 10.0;

/// What rank 0 knows of one other rank.
#[derive(Debug, Clone, Default)]
struct Peer {
    /// When its last line came; `None` until it connected.
    last_heard: Option<Instant>,
    /// Its connection ended: the process is gone.
    closed: bool,
    /// It closed its end at the end of its session (said goodbye): neither silent nor
    /// gone.
    left: bool,
    /// When rank 0's ping still unanswered went out.
    ping_sent: Option<Instant>,
    /// Recent round trips: when each answer came, and the seconds it took.
    round_trips: Vec<(Instant, f64)>,
}

impl Peer {
    /// The slowest recent round trip, an unanswered ping counting as long as it has
    /// been out.
    fn slowest_round_trip(&self, now: Instant) -> f64 {
        let pending = self
            .ping_sent
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        self.round_trips
            .iter()
            .filter(|(at, _)| now.duration_since(*at) <= ROUND_TRIP_WINDOW)
            .map(|&(_, s)| s)
            .fold(pending, f64::max)
    }
}

/// A rank whose answers crawl while the others answer at once, as rank 0 saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Slow {
    pub rank: usize,
    /// Its slowest recent round trip, in seconds.
    pub round_trip_s: f64,
    /// The slowest recent round trip of any other rank.
    pub others_s: f64,
}

/// A rank that went silent, as rank 0 saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Silent {
    pub rank: usize,
    /// Seconds since it was last heard.
    pub for_s: f64,
    /// Its connection closed (the process ended) rather than fell quiet.
    pub closed: bool,
}

#[derive(Default)]
struct State {
    /// Rank 0: every rank's record (index = rank).
    peers: Vec<Peer>,
    /// Rank 0: the connections to send pings and the verdict on, by rank.
    writers: Vec<(usize, TcpStream)>,
    /// Other ranks: the verdict rank 0 sent, once it came.
    verdict: Option<Verdict>,
    /// The session is over: the channel's threads end.
    closed: bool,
    /// Rank 0: the port its listener takes connections on. Other ranks: their
    /// connection to rank 0.
    port: u16,
    connection: Option<TcpStream>,
}

/// Rank 0's word on how the job ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What happened, in one line.
    pub text: String,
    /// Whether a rank went silent, whose node the launcher may not reach at once: the
    /// ranks then stay until the launcher ends them (for a while), since a rank's own
    /// exit would make the launcher wait on that node.
    pub linger: bool,
}

/// This rank's end of the side channel.
#[derive(Clone)]
pub struct SideChannel {
    rank: usize,
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl SideChannel {
    /// Sets the channel up on every rank (a collective call: rank 0 broadcasts its
    /// port). `root_host` is rank 0's host name; `on_verdict` runs on a rank other than
    /// 0 when rank 0's verdict arrives. `None` where the channel could not be set up.
    pub fn open(
        comm: &dyn Communicator,
        root_host: &str,
        on_verdict: impl Fn(&Verdict) + Send + 'static,
    ) -> Option<SideChannel> {
        let channel = SideChannel {
            rank: comm.rank(),
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
        };
        let listener = if comm.rank() == 0 {
            TcpListener::bind(("0.0.0.0", 0)).ok()
        } else {
            None
        };
        let port = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map_or(0u16, |a| a.port());
        let agreed = comm.broadcast_bytes(&port.to_le_bytes()).ok()?;
        let port = u16::from_le_bytes(agreed.get(..2)?.try_into().ok()?);
        if port == 0 || comm.size() < 2 {
            return None;
        }
        if let Some(listener) = listener {
            {
                let mut state = channel.lock();
                state.peers = vec![Peer::default(); comm.size()];
                state.port = port;
            }
            let c = channel.clone();
            std::thread::Builder::new()
                .name("sidechannel".into())
                .spawn(move || c.accept(listener))
                .ok()?;
            let c = channel.clone();
            std::thread::Builder::new()
                .name("sidechannel-ping".into())
                .spawn(move || c.ping())
                .ok()?;
        } else {
            let stream = connect(root_host, port)?;
            let _ = stream.set_write_timeout(Some(HEARTBEAT * 2));
            let mut writer = stream.try_clone().ok()?;
            writer
                .write_all(format!("hello {}\n", comm.rank()).as_bytes())
                .ok()?;
            channel.lock().connection = stream.try_clone().ok();
            let c = channel.clone();
            std::thread::Builder::new()
                .name("heartbeat".into())
                .spawn(move || {
                    while !c.lock().closed && writer.write_all(b"beat\n").is_ok() {
                        std::thread::sleep(HEARTBEAT);
                    }
                })
                .ok()?;
            let c = channel.clone();
            std::thread::Builder::new()
                .name("verdict".into())
                .spawn(move || c.await_verdict(stream, on_verdict))
                .ok()?;
        }
        Some(channel)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rank 0: takes every rank's connection and follows its heartbeats.
    fn accept(self, listener: TcpListener) {
        for stream in listener.incoming().flatten() {
            if self.lock().closed {
                return;
            }
            let c = self.clone();
            let _ = std::thread::Builder::new()
                .name("sidechannel-peer".into())
                .spawn(move || c.follow(stream));
        }
    }

    /// Rank 0: one rank's lines, until its connection ends.
    fn follow(self, stream: TcpStream) {
        let Ok(writer) = stream.try_clone() else {
            return;
        };
        let mut lines = BufReader::new(stream).lines();
        let rank = match lines.next() {
            Some(Ok(hello)) => hello
                .strip_prefix("hello ")
                .and_then(|r| r.parse::<usize>().ok()),
            _ => None,
        };
        let Some(rank) = rank.filter(|&r| r > 0 && r < self.lock().peers.len()) else {
            return;
        };
        {
            let mut state = self.lock();
            state.peers[rank].last_heard = Some(Instant::now());
            let _ = writer.set_write_timeout(Some(HEARTBEAT * 2));
            state.writers.push((rank, writer));
        }
        for line in lines {
            let Ok(line) = line else { break };
            let now = Instant::now();
            let mut state = self.lock();
            let peer = &mut state.peers[rank];
            peer.last_heard = Some(now);
            if line == "bye" {
                peer.left = true;
                return;
            }
            if line == "pong" {
                if let Some(sent) = peer.ping_sent.take() {
                    peer.round_trips
                        .retain(|(at, _)| now.duration_since(*at) <= ROUND_TRIP_WINDOW);
                    peer.round_trips
                        .push((now, now.duration_since(sent).as_secs_f64()));
                }
            }
        }
        self.lock().peers[rank].closed = true;
    }

    /// Rank 0: pings every rank each second (one ping out at a time), so that a rank
    /// behind a crawling link shows in its round trips.
    fn ping(self) {
        loop {
            std::thread::sleep(HEARTBEAT);
            if self.lock().closed {
                return;
            }
            let now = Instant::now();
            let targets: Vec<TcpStream> = {
                let mut state = self.lock();
                let State { peers, writers, .. } = &mut *state;
                writers
                    .iter()
                    .filter_map(|(rank, w)| {
                        let peer = &mut peers[*rank];
                        if peer.ping_sent.is_some() {
                            return None;
                        }
                        peer.ping_sent = Some(now);
                        w.try_clone().ok()
                    })
                    .collect()
            };
            for mut w in targets {
                let _ = w.write_all(b"ping\n");
            }
        }
    }

    /// Other ranks: answers rank 0's pings, and waits for its verdict and hands it on.
    fn await_verdict(self, stream: TcpStream, on_verdict: impl Fn(&Verdict)) {
        let Ok(mut replies) = stream.try_clone() else {
            return;
        };
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if line == "ping" {
                let _ = replies.write_all(b"pong\n");
                continue;
            }
            let verdict = match line.split_once(' ') {
                Some(("verdict", rest)) => rest.split_once(' ').map(|(linger, text)| Verdict {
                    text: text.to_string(),
                    linger: linger == "linger",
                }),
                _ => None,
            };
            if let Some(verdict) = verdict {
                self.lock().verdict = Some(verdict.clone());
                self.shared.1.notify_all();
                on_verdict(&verdict);
            }
        }
    }

    /// Rank 0: whether a rank went quiet while its process still lives, as far as rank
    /// 0 can tell (its node unreachable, or the process stopped).
    pub fn any_quiet(&self) -> bool {
        self.silent().iter().any(|s| !s.closed)
    }

    /// Rank 0: the ranks that connected and then went silent or closed, longest
    /// silent first.
    pub fn silent(&self) -> Vec<Silent> {
        self.silent_after(SILENT_AFTER)
    }

    /// Rank 0: as `silent`, a rank unheard for `after` counting as silent.
    pub fn silent_after(&self, after: Duration) -> Vec<Silent> {
        let now = Instant::now();
        let mut silent: Vec<Silent> = self
            .lock()
            .peers
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.left)
            .filter_map(|(rank, p)| {
                let since = now.duration_since(p.last_heard?);
                (p.closed || since >= after).then_some(Silent {
                    rank,
                    for_s: since.as_secs_f64(),
                    closed: p.closed,
                })
            })
            .collect();
        silent.sort_by(|a, b| b.for_s.total_cmp(&a.for_s));
        silent
    }

    /// Rank 0: the one rank whose recent round trips are slow while every other
    /// rank's are quick, if there is one.
    pub fn slow(&self) -> Option<Slow> {
        let now = Instant::now();
        let state = self.lock();
        let mut trips: Vec<(usize, f64)> = state
            .peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.last_heard.is_some() && !p.closed && !p.left)
            .map(|(rank, p)| (rank, p.slowest_round_trip(now)))
            .collect();
        trips.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (rank, round_trip_s) = *trips.first()?;
        let others_s = trips.get(1).map_or(0.0, |t| t.1);
        (round_trip_s >= SLOW_ROUND_TRIP.as_secs_f64() && round_trip_s >= others_s * SLOW_FACTOR)
            .then_some(Slow {
                rank,
                round_trip_s,
                others_s,
            })
    }

    /// Rank 0: sends `verdict` (one line) to every rank still connected.
    pub fn send_verdict(&self, verdict: &Verdict) {
        if self.rank != 0 {
            return;
        }
        let line = format!(
            "verdict {} {}\n",
            if verdict.linger { "linger" } else { "go" },
            verdict.text.replace('\n', " ")
        );
        for (_, w) in self.lock().writers.iter_mut() {
            let _ = w.write_all(line.as_bytes());
        }
    }

    /// Ends the channel at the end of a session that ended well, so that its threads
    /// and connections do not outlive it (`accept` runs one session per step). Another
    /// rank says goodbye first, so that rank 0 does not take it for gone.
    pub fn close(&self) {
        let (port, connection, writers) = {
            let mut state = self.lock();
            state.closed = true;
            (
                state.port,
                state.connection.take(),
                std::mem::take(&mut state.writers),
            )
        };
        if let Some(mut c) = connection {
            let _ = c.write_all(b"bye\n");
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        for (_, w) in writers {
            let _ = w.shutdown(std::net::Shutdown::Both);
        }
        if self.rank == 0 && port != 0 {
            // Wakes the listener's thread, blocked in accept, to see the channel closed.
            let _ = TcpStream::connect_timeout(
                &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_secs(1),
            );
        }
    }

    /// Other ranks: rank 0's verdict, waiting for it at most `limit`.
    pub fn wait_verdict(&self, limit: Duration) -> Option<Verdict> {
        let state = self.lock();
        let (state, _) = self
            .shared
            .1
            .wait_timeout_while(state, limit, |s| s.verdict.is_none())
            .unwrap_or_else(|e| e.into_inner());
        state.verdict.clone()
    }
}

/// Connects to rank 0's host, trying each of its addresses.
fn connect(host: &str, port: u16) -> Option<TcpStream> {
    let deadline = Instant::now() + CONNECT_LIMIT;
    while Instant::now() < deadline {
        for addr in (host, port).to_socket_addrs().ok()? {
            if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                return Some(s);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rank_that_stops_beating_or_closes_is_silent_and_others_are_not() {
        let channel = SideChannel {
            rank: 0,
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
        };
        let now = Instant::now();
        let long_ago = now.checked_sub(SILENT_AFTER * 3).unwrap_or(now);
        channel.lock().peers = vec![
            Peer::default(),
            Peer {
                last_heard: Some(now),
                ..Peer::default()
            },
            Peer {
                last_heard: Some(long_ago),
                ..Peer::default()
            },
            Peer {
                last_heard: Some(now),
                closed: true,
                ..Peer::default()
            },
            // Never connected: nothing is known of it.
            Peer::default(),
            // Said goodbye at the end of its session, then its connection closed.
            Peer {
                last_heard: Some(long_ago),
                closed: true,
                left: true,
                ..Peer::default()
            },
        ];
        let silent = channel.silent();
        let ranks: Vec<usize> = silent.iter().map(|s| s.rank).collect();
        assert_eq!(ranks, [2, 3]);
        assert!(silent[0].for_s >= (SILENT_AFTER * 3).as_secs_f64() - 0.5);
        assert!(silent[1].closed && !silent[0].closed);
    }

    #[test]
    fn a_rank_with_crawling_round_trips_is_slow_and_a_loaded_machine_is_not() {
        let channel = SideChannel {
            rank: 0,
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
        };
        let now = Instant::now();
        let answered = |s: f64| Peer {
            last_heard: Some(now),
            round_trips: vec![(now, s)],
            ..Peer::default()
        };
        channel.lock().peers = vec![
            Peer::default(),
            answered(0.001),
            answered(2.5),
            answered(0.002),
        ];
        assert_eq!(
            channel.slow(),
            Some(Slow {
                rank: 2,
                round_trip_s: 2.5,
                others_s: 0.002
            })
        );
        // Everyone slow alike: a loaded machine, not one link.
        channel.lock().peers = vec![Peer::default(), answered(1.2), answered(2.5), answered(1.5)];
        assert_eq!(channel.slow(), None);
        // An unanswered ping counts for as long as it has been out.
        let waiting = Peer {
            last_heard: Some(now),
            ping_sent: now.checked_sub(Duration::from_secs(3)),
            ..Peer::default()
        };
        channel.lock().peers = vec![Peer::default(), answered(0.001), waiting];
        assert_eq!(channel.slow().map(|s| s.rank), Some(2));
    }

    /// A closed channel's threads end: rank 0's listener (woken by close) and the
    /// follower of a rank that said goodbye, which is then neither silent nor gone.
    #[test]
    fn closing_ends_the_listener_and_a_goodbye_is_not_silence() {
        let channel = SideChannel {
            rank: 0,
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        {
            let mut state = channel.lock();
            state.peers = vec![Peer::default(); 2];
            state.port = port;
        }
        let (done, ended) = std::sync::mpsc::channel();
        let c = channel.clone();
        std::thread::spawn(move || {
            c.accept(listener);
            let _ = done.send(());
        });
        let mut rank1 = TcpStream::connect(("127.0.0.1", port)).unwrap();
        rank1.write_all(b"hello 1\nbeat\nbye\n").unwrap();
        drop(rank1);
        // The follower has read the goodbye once the peer is marked as left.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !channel.lock().peers[1].left {
            assert!(Instant::now() < deadline, "the goodbye was never read");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(channel.silent().is_empty());
        assert!(!channel.any_quiet());
        channel.close();
        ended
            .recv_timeout(Duration::from_secs(30))
            .expect("the listener's thread ends when the channel closes");
        assert!(channel.lock().closed);
    }
}
