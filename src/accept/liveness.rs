//! Who crashed or hung, when MPI cannot say: every rank keeps a TCP connection to rank 0
//! beside MPI and writes a byte to it every second from a thread of its own. A process
//! that dies closes its connection at once (the kernel does it, whatever killed it);
//! one that is stopped or frozen falls silent. Rank 0 watches the connections from a
//! thread that makes no MPI call, so it learns which rank went first even while its
//! own MPI call waits forever for that rank, before the launcher ends the job.

use crate::core::Communicator;
use anyhow::{Context, Result};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BEAT: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(100);
/// How long rank 0 waits for every rank to connect, and a rank to connect.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);
/// What a rank writes last when it ends normally.
const BYE: u8 = b'B';

/// A rank lost while the watch was on.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Its connection closed without a goodbye: the process ended (crash, kill, abort).
    Ended { rank: usize },
    /// Nothing heard for this long: the process is stopped or its node frozen.
    Silent { rank: usize, seconds: f64 },
}

/// This rank's side of the watch; `finish` ends it cleanly.
pub struct Liveness {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Liveness {
    /// Starts the watch; collective. On rank 0, `on_loss` is called (on the watching
    /// thread) for the first rank lost; `silence`: how long a rank may be silent (None:
    /// never taken for hung). `root_host`: the name other ranks reach rank 0 by.
    pub fn start(
        comm: &dyn Communicator,
        root_host: &str,
        silence: Option<Duration>,
        on_loss: impl FnOnce(Loss) + Send + 'static,
    ) -> Result<Liveness> {
        let stop = Arc::new(AtomicBool::new(false));
        if comm.rank() == 0 {
            let listener = TcpListener::bind(("0.0.0.0", 0)).context("liveness: listening")?;
            let port = listener.local_addr()?.port();
            comm.broadcast_bytes(&port.to_le_bytes())?;
            let peers = accept_all(&listener, comm.size() - 1)?;
            let s = Arc::clone(&stop);
            let thread = std::thread::Builder::new()
                .name("liveness".into())
                .spawn(move || watch(peers, silence, &s, on_loss))?;
            Ok(Liveness {
                stop,
                thread: Some(thread),
            })
        } else {
            let port_bytes = comm.broadcast_bytes(&[])?;
            let port = u16::from_le_bytes(port_bytes.as_slice().try_into().unwrap_or([0, 0]));
            let Some(mut stream) = connect(root_host, port) else {
                crate::errln!("clusterbench: rank {}: cannot reach rank 0 at {root_host}:{port}; a crash of this rank will not be named", comm.rank());
                return Ok(Liveness { stop, thread: None });
            };
            let _ = stream.write_all(&(comm.rank() as u32).to_le_bytes());
            let s = Arc::clone(&stop);
            let thread = std::thread::Builder::new()
                .name("liveness".into())
                .spawn(move || beat(stream, &s))?;
            Ok(Liveness {
                stop,
                thread: Some(thread),
            })
        }
    }

    /// Ends the watch (a rank says goodbye first, so that its ending is not a loss).
    pub fn finish(self) {}
}

/// Also on the way out with an error: an error every rank reached alike ends every
/// rank, and is no rank's crash (a rank alone in error prints it, and its step is the
/// one the results file shows under way).
impl Drop for Liveness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn connect(host: &str, port: u16) -> Option<TcpStream> {
    let deadline = Instant::now() + CONNECT_LIMIT;
    while Instant::now() < deadline {
        if let Ok(addrs) = (host, port).to_socket_addrs() {
            for a in addrs.filter(|a| a.is_ipv4()) {
                if let Ok(s) = TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                    return Some(s);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The connections of up to `expected` ranks, each with its rank.
fn accept_all(listener: &TcpListener, expected: usize) -> Result<Vec<(usize, TcpStream)>> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + CONNECT_LIMIT;
    let mut peers = Vec::new();
    while peers.len() < expected && Instant::now() < deadline {
        match listener.accept() {
            Ok((mut s, _)) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut rank = [0u8; 4];
                if s.read_exact(&mut rank).is_ok() {
                    s.set_nonblocking(true)?;
                    peers.push((u32::from_le_bytes(rank) as usize, s));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => return Err(e).context("liveness: accepting a rank"),
        }
    }
    if peers.len() < expected {
        crate::errln!(
            "clusterbench: {} of {expected} ranks did not connect to rank 0's liveness watch; a crash of those will not be named",
            expected - peers.len()
        );
    }
    Ok(peers)
}

fn beat(mut stream: TcpStream, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        if stream.write_all(b".").is_err() {
            return;
        }
        let until = Instant::now() + BEAT;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(POLL);
        }
    }
    let _ = stream.write_all(&[BYE]);
}

fn watch(
    mut peers: Vec<(usize, TcpStream)>,
    silence: Option<Duration>,
    stop: &AtomicBool,
    on_loss: impl FnOnce(Loss),
) {
    let mut heard: Vec<Instant> = vec![Instant::now(); peers.len()];
    let mut done: Vec<bool> = vec![false; peers.len()];
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::SeqCst) {
        for (i, (rank, s)) in peers.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            // Everything waiting is read: a goodbye may follow heartbeats.
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        on_loss(Loss::Ended { rank: *rank });
                        return;
                    }
                    Ok(n) => {
                        heard[i] = Instant::now();
                        if buf[..n].contains(&BYE) {
                            done[i] = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => {
                        on_loss(Loss::Ended { rank: *rank });
                        return;
                    }
                }
            }
            if let Some(limit) = silence {
                let quiet = heard[i].elapsed();
                if !done[i] && quiet > limit {
                    on_loss(Loss::Silent {
                        rank: *rank,
                        seconds: quiet.as_secs_f64(),
                    });
                    return;
                }
            }
        }
        std::thread::sleep(POLL);
    }
}
