//! The hang watchdog.
//!
//! Two layers, so that MPI stays single-threaded (Open MPI's `MPI_THREAD_MULTIPLE`
//! made a 2-rank 8-byte ping-pong 2-3x slower here, which would distort every
//! latency figure):
//!
//! 1. Before each measurement, every rank calls [`Communicator::arrive`]: non-blocking
//!    messages on a separate communicator, polled against a deadline. Rank 0 learns
//!    exactly which ranks never arrived and ends the job with a message naming them.
//!    A rank whose release from rank 0 does not come names rank 0.
//! 2. During the measurement, a thread that makes no MPI calls watches the deadline.
//!    When an operation is stuck past it (a rank stalled or died after arriving), every
//!    waiting rank prints what it was doing and at which iteration, and exits non-zero,
//!    which makes the launcher end the rest of the job. The ranks that print nothing
//!    are the ones that never arrived.
//!
//! Records are streamed to the `.jsonl` file as they are measured, so everything
//! measured before the hang is on disk.
//!
//! [`Communicator::arrive`]: crate::comm::Communicator::arrive

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Exit code of a job the watchdog ended (a failure while measuring).
pub const TIMEOUT_EXIT_CODE: i32 = 1;

struct Armed {
    what: String,
    deadline: Instant,
    total: u64,
}

#[derive(Default)]
struct Shared {
    armed: Mutex<Option<Armed>>,
    changed: Condvar,
    iteration: AtomicU64,
}

/// A watchdog thread for this rank.
pub struct Watchdog {
    shared: Arc<Shared>,
    pub timeout: Duration,
}

impl Watchdog {
    /// Starts the thread. `who` names this rank in messages (`rank 3 (node04)`).
    pub fn start(timeout: Duration, who: String) -> Watchdog {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watch(&s, timeout, &who))
            .expect("spawning the watchdog thread");
        Watchdog { shared, timeout }
    }

    /// Watches `what` (e.g. `allreduce 1 MiB float sum out-of-place`) from now on, for
    /// `total` iterations.
    pub fn arm(&self, what: String, total: u64) {
        self.shared.iteration.store(0, Ordering::Relaxed);
        *self.shared.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed {
            what,
            deadline: Instant::now() + self.timeout,
            total,
        });
        self.shared.changed.notify_all();
    }

    /// Notes that iteration `i` (1-based) is under way.
    pub fn progress(&self, i: u64) {
        self.shared.iteration.store(i, Ordering::Relaxed);
    }

    pub fn disarm(&self) {
        *self.shared.armed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.shared.changed.notify_all();
    }
}

fn watch(shared: &Shared, timeout: Duration, who: &str) {
    let mut armed = shared.armed.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let wait = match armed.as_ref() {
            None => Duration::from_secs(3600),
            Some(a) => {
                let now = Instant::now();
                if now >= a.deadline {
                    let i = shared.iteration.load(Ordering::Relaxed);
                    eprintln!(
                        "clusterbench: watchdog: {who}: {} made no progress for {:.0} s (stuck in operation {i} of {}); every rank had arrived when it started, so a rank it waits for has stalled or died; ending the job",
                        a.what,
                        timeout.as_secs_f64(),
                        a.total,
                    );
                    std::process::exit(TIMEOUT_EXIT_CODE);
                }
                a.deadline - now
            }
        };
        armed = shared
            .changed
            .wait_timeout(armed, wait)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Ranks that did not arrive at a measurement within the limit.
#[derive(Debug, thiserror::Error)]
#[error("watchdog: {who}: {what}: {missing} never arrived within {seconds:.0} s (--timeout); ending the job, records measured before are in the .jsonl file")]
pub struct NeverArrived {
    pub what: String,
    pub who: String,
    pub missing: String,
    pub seconds: f64,
}
