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
//! A GPU library that fails or hangs on its own (NCCL's asynchronous errors: a peer
//! died, a network error) registers a [`Guard`]: while an operation is armed the thread
//! polls it, and on a failure the waiting rank does not see, or on a timeout, it aborts
//! the library's work (`ncclCommAbort`) so that the peers see an error rather than hang.
//!
//! Records are streamed to the `.jsonl` file as they are measured, so everything
//! measured before the hang is on disk.
//!
//! [`Communicator::arrive`]: crate::core::Communicator::arrive

use super::fault::{Cause, FaultEnding, Stuck, FAULT_EXIT_CODE};
use super::interrupt::Interrupt;
use crate::core::Guard;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often an armed watchdog polls its guards.
const GUARD_POLL: Duration = Duration::from_millis(500);
/// How long a guard's failure may stand before the watchdog acts on it: the measuring
/// thread, which polls too, reports it as an ordinary error when it is not stuck.
const FAILURE_GRACE: Duration = Duration::from_secs(5);
/// How long the watchdog waits for guards to abort before it ends the process anyway.
const ABORT_LIMIT: Duration = Duration::from_secs(10);

/// How long an operation may make no progress after SIGINT or SIGTERM before the
/// watchdog takes it for stuck and ends the job with what it knows, rather than
/// waiting for an operation that will never end (a launcher that lost a node sends
/// SIGTERM, then SIGKILL after `odls_base_sigkill_timeout`).
const STUCK_AFTER_SIGNAL: Duration = Duration::from_secs(2);

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
    guards: Mutex<Vec<Weak<dyn Guard>>>,
    ending: Mutex<Option<Arc<FaultEnding>>>,
}

/// A watchdog thread for this rank.
pub struct Watchdog {
    shared: Arc<Shared>,
    pub timeout: Duration,
}

impl Watchdog {
    /// Starts the thread. `who` names this rank in messages (`rank 3 (node04)`);
    /// `interrupt` is this process's SIGINT/SIGTERM, which ends an operation that then
    /// makes no progress.
    pub fn start(timeout: Duration, who: String, interrupt: Interrupt) -> Watchdog {
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watch(&s, timeout, &who, &interrupt))
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

    /// Watches the ranks' arrival at `what` until `deadline` (a backstop: the arrival
    /// check has its own deadline), so that a signal while they wait is acted on.
    pub fn arm_arrival(&self, what: String, deadline: Instant) {
        self.shared.iteration.store(0, Ordering::Relaxed);
        *self.shared.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed {
            what,
            deadline,
            total: 0,
        });
        self.shared.changed.notify_all();
    }

    /// How the job ends when this watchdog fires: rank 0 names the culprits and
    /// writes the results, the others say what rank 0 found.
    pub fn set_ending(&self, ending: FaultEnding) {
        *self.shared.ending.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(ending));
    }

    /// Notes that iteration `i` (1-based) is under way.
    pub fn progress(&self, i: u64) {
        self.shared.iteration.store(i, Ordering::Relaxed);
    }

    /// Polls `guard` while an operation is armed and aborts it on a timeout. A weak
    /// reference: the guard's owner decides its lifetime.
    pub fn guard(&self, guard: Weak<dyn Guard>) {
        self.shared
            .guards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(guard);
    }

    pub fn disarm(&self) {
        *self.shared.armed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.shared.changed.notify_all();
    }
}

/// The guards still alive.
fn live_guards(shared: &Shared) -> Vec<Arc<dyn Guard>> {
    let mut guards = shared.guards.lock().unwrap_or_else(|e| e.into_inner());
    guards.retain(|g| g.strong_count() > 0);
    guards.iter().filter_map(Weak::upgrade).collect()
}

/// The first failure a guard reports.
fn guard_failure(shared: &Shared) -> Option<String> {
    live_guards(shared).iter().find_map(|g| g.failure())
}

/// Aborts every guard, giving up after [`ABORT_LIMIT`] (an abort may itself hang on a
/// broken device or network; the process ends regardless).
fn abort_guards(shared: &Shared) {
    let guards = live_guards(shared);
    if guards.is_empty() {
        return;
    }
    let (done, finished) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("watchdog-abort".into())
        .spawn(move || {
            for g in guards {
                g.abort();
            }
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = finished.recv_timeout(ABORT_LIMIT);
    }
}

fn watch(shared: &Shared, timeout: Duration, who: &str, interrupt: &Interrupt) {
    let mut armed = shared.armed.lock().unwrap_or_else(|e| e.into_inner());
    // When a guard first reported a failure during the armed operation.
    let mut failing_since: Option<Instant> = None;
    // When a signal was first seen during the armed operation, and the operation then.
    let mut signalled: Option<(Instant, u64)> = None;
    loop {
        let wait = match armed.as_ref() {
            None => {
                failing_since = None;
                signalled = None;
                Duration::from_secs(3600)
            }
            Some(a) => {
                let now = Instant::now();
                let i = shared.iteration.load(Ordering::Relaxed);
                let stuck = |cause| Stuck {
                    what: a.what.clone(),
                    operation: i,
                    total: a.total,
                    cause,
                };
                if now >= a.deadline {
                    fire(shared, who, &stuck(Cause::Timeout(timeout)));
                }
                if let Some(signal) = interrupt.local_signal() {
                    // The measurement under way may finish and the run stop as asked;
                    // one that makes no progress at all never will.
                    let (since, at) = *signalled.get_or_insert((now, i));
                    if at != i {
                        signalled = Some((now, i));
                    } else if now.duration_since(since) >= STUCK_AFTER_SIGNAL {
                        fire(shared, who, &stuck(Cause::Signal(signal)));
                    }
                }
                match guard_failure(shared) {
                    Some(failure) => {
                        let since = *failing_since.get_or_insert(now);
                        if now.duration_since(since) >= FAILURE_GRACE {
                            fire(shared, who, &stuck(Cause::Failure(failure)));
                        }
                    }
                    None => failing_since = None,
                }
                (a.deadline - now).min(GUARD_POLL)
            }
        };
        armed = shared
            .changed
            .wait_timeout(armed, wait)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Aborts the guards and ends the process: through the fault ending when one is set
/// (rank 0 names the culprits and writes the results), else with this rank's message.
fn fire(shared: &Shared, who: &str, stuck: &Stuck) -> ! {
    abort_guards(shared);
    let ending = shared
        .ending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let Some(ending) = ending {
        ending.end(stuck);
    }
    crate::errln!(
        "clusterbench: watchdog: {who}: {}; ending the job",
        stuck_line(stuck)
    );
    std::process::exit(FAULT_EXIT_CODE);
}

fn stuck_line(stuck: &Stuck) -> String {
    match &stuck.cause {
        Cause::Timeout(t) => format!(
            "{} made no progress for {:.0} s",
            stuck.step(),
            t.as_secs_f64()
        ),
        Cause::Failure(f) => format!("{} failed: {f}", stuck.step()),
        Cause::Signal(s) => format!(
            "{} was stuck when {} came",
            stuck.step(),
            super::interrupt::signal_name(*s)
        ),
    }
}

/// Ranks that did not arrive at a measurement within the limit.
#[derive(Debug, thiserror::Error)]
#[error("watchdog: {who}: {what}: {missing} never arrived within {seconds:.0} s (--timeout); ending the job, records measured before are in the .jsonl file")]
pub struct NeverArrived {
    pub what: String,
    /// The ranks that did not arrive.
    pub ranks: Vec<usize>,
    pub who: String,
    pub missing: String,
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct Fake {
        failure: Option<String>,
        aborted: AtomicBool,
    }

    impl Guard for Fake {
        fn failure(&self) -> Option<String> {
            self.failure.clone()
        }
        fn abort(&self) {
            self.aborted.store(true, Ordering::SeqCst);
        }
    }

    fn fake(failure: Option<&str>) -> Arc<Fake> {
        Arc::new(Fake {
            failure: failure.map(String::from),
            aborted: AtomicBool::new(false),
        })
    }

    #[test]
    fn guards_are_polled_and_aborted_while_alive_only() {
        let shared = Shared::default();
        let healthy = fake(None);
        let failing = fake(Some("peer gone"));
        let dropped = fake(Some("dropped already"));
        for g in [&healthy, &failing, &dropped] {
            let weak: Weak<dyn Guard> = Arc::downgrade(&(g.clone() as Arc<dyn Guard>));
            shared.guards.lock().unwrap().push(weak);
        }
        drop(dropped);
        assert_eq!(live_guards(&shared).len(), 2);
        assert_eq!(guard_failure(&shared).as_deref(), Some("peer gone"));
        abort_guards(&shared);
        assert!(healthy.aborted.load(Ordering::SeqCst));
        assert!(failing.aborted.load(Ordering::SeqCst));
        drop(failing);
        assert_eq!(guard_failure(&shared), None);
    }
}
