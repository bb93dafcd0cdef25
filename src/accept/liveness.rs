//! Who crashed or hung, when MPI cannot say, for the whole of an `accept` job: one
//! side channel (`runner::sidechannel`) opened before the first step and closed after
//! the last, over which every rank sends rank 0 a heartbeat each second. A process
//! that dies closes its connection at once (the kernel does it, whatever killed it);
//! one that is stopped or frozen falls silent. Rank 0 watches the channel from a thread
//! that makes no MPI call, so it learns which rank went first even while its own MPI
//! call waits forever for that rank, before the launcher ends the job.

use crate::core::Communicator;
use crate::runner::sidechannel::SideChannel;
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often rank 0 looks at the channel.
const POLL: Duration = Duration::from_millis(100);

/// A rank lost while the watch was on.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Its connection closed without a goodbye: the process ended (crash, kill, abort).
    Ended { rank: usize },
    /// Nothing heard for this long: the process is stopped or its node frozen.
    Silent { rank: usize, seconds: f64 },
}

/// This rank's side of the watch; `finish` (or dropping it) ends it cleanly.
pub struct Liveness {
    channel: Option<SideChannel>,
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
        let channel = SideChannel::open(comm, root_host, |_| {});
        if channel.is_none() && comm.size() > 1 {
            crate::errln!(
                "clusterbench: rank {}: no side channel to rank 0 at {root_host}; a crash or hang will not be named",
                comm.rank()
            );
        }
        let thread = match &channel {
            Some(c) if comm.rank() == 0 => {
                let (c, s) = (c.clone(), Arc::clone(&stop));
                Some(
                    std::thread::Builder::new()
                        .name("liveness".into())
                        .spawn(move || watch(&c, silence, &s, on_loss))?,
                )
            }
            _ => None,
        };
        Ok(Liveness {
            channel,
            stop,
            thread,
        })
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
        if let Some(c) = self.channel.take() {
            c.close();
        }
    }
}

/// Rank 0: the first rank whose connection ended, or that was silent for `silence`.
fn watch(
    channel: &SideChannel,
    silence: Option<Duration>,
    stop: &AtomicBool,
    on_loss: impl FnOnce(Loss),
) {
    // A rank never taken for hung is still watched for its end.
    let after = silence.unwrap_or(Duration::MAX);
    while !stop.load(Ordering::SeqCst) {
        let lost = channel.silent_after(after);
        if let Some(first) = lost.iter().find(|s| s.closed).or(lost.first()) {
            on_loss(if first.closed {
                Loss::Ended { rank: first.rank }
            } else {
                Loss::Silent {
                    rank: first.rank,
                    seconds: first.for_s,
                }
            });
            return;
        }
        std::thread::sleep(POLL);
    }
}
