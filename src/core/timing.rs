//! The schedule that times device work without the host's launch cost.
//!
//! Recording an event, queueing one call and recording again on an idle stream times
//! the host's launch and enqueue cost along with the call, and for a collective the
//! ranks' skew too: small messages and small GEMMs come out slower than they are. The
//! references avoid it two ways: nccl-tests queues many calls back to back between one
//! pair of events and divides; nvbandwidth first holds the stream with a spin kernel
//! and releases it only once everything is queued. This schedule does the latter and
//! keeps a sample per call: hold, (one untimed call that absorbs the ranks' skew),
//! mark, then call and mark for each call of the batch, release, wait. The device then
//! runs the batch back to back, and the time between two marks is one call's.
//!
//! The moves are a trait, so the schedule is the same code for every GPU workload
//! and is tested here on the CPU.

use anyhow::Result;

/// Calls queued behind one hold: few enough that queueing them takes far less than
/// the hold's own time limit and never fills the device's launch queue.
pub const MAX_BATCH: u32 = 32;

/// A device queue that can be held and marked.
pub trait HeldQueue {
    /// A timestamp taken by the device when it reaches it (a CUDA event).
    type Mark;
    /// Stops the device from starting anything queued from now on until
    /// [`release`](Self::release).
    fn hold(&mut self) -> Result<()>;
    /// Queues one call of the work being timed.
    fn enqueue(&mut self) -> Result<()>;
    /// Queues a timestamp.
    fn mark(&mut self) -> Result<Self::Mark>;
    /// Lets the device run what was queued.
    fn release(&mut self) -> Result<()>;
    /// Waits until the device has passed `mark`; fails if the hold gave way before
    /// it was released (the times would then include the launch cost).
    fn wait(&mut self, mark: &Self::Mark) -> Result<()>;
    /// Seconds between two marks the device has passed.
    fn seconds(&self, from: &Self::Mark, to: &Self::Mark) -> Result<f64>;
}

/// How a workload's calls are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Calls per hold (at least 1).
    pub batch: u32,
    /// Queue one untimed call first after the hold: a collective's first call waits
    /// for the last rank to release its stream, and that wait is no call's time.
    pub absorb_skew: bool,
    /// Operations one call performs (a CUDA graph replays several): each sample is
    /// divided by it.
    pub calls_per_enqueue: u32,
}

impl Schedule {
    /// Batches of [`MAX_BATCH`], one operation per call.
    pub fn held(absorb_skew: bool) -> Self {
        Schedule {
            batch: MAX_BATCH,
            absorb_skew,
            calls_per_enqueue: 1,
        }
    }
}

/// Runs `iterations` timed calls on `queue` by the schedule, handing each call's time
/// in seconds to `record`, in order.
pub fn run_held<Q: HeldQueue + ?Sized>(
    queue: &mut Q,
    iterations: u32,
    schedule: Schedule,
    record: &mut dyn FnMut(f64),
) -> Result<()> {
    let per_call = f64::from(schedule.calls_per_enqueue.max(1));
    let mut left = iterations;
    while left > 0 {
        let calls = left.min(schedule.batch.max(1));
        queue.hold()?;
        let queued = queue_batch(queue, calls, schedule.absorb_skew);
        // Released whatever happened, or the device would sit out the hold's limit.
        let released = queue.release();
        let marks = queued?;
        released?;
        if let Some(last) = marks.last() {
            queue.wait(last)?;
        }
        for pair in marks.windows(2) {
            record(queue.seconds(&pair[0], &pair[1])? / per_call);
        }
        left -= calls;
    }
    Ok(())
}

/// The time of one call, from a `run_timed` that is asked for one: a workload's
/// `iterate` in terms of its `run_timed`.
pub fn timed_once(run: impl FnOnce(&mut dyn FnMut(f64)) -> Result<()>) -> Result<f64> {
    let mut last = None;
    run(&mut |t| last = Some(t))?;
    last.ok_or_else(|| anyhow::anyhow!("a timed call produced no time"))
}

/// Queues one batch behind a hold: the marks around every call, first to last.
fn queue_batch<Q: HeldQueue + ?Sized>(
    queue: &mut Q,
    calls: u32,
    absorb_skew: bool,
) -> Result<Vec<Q::Mark>> {
    if absorb_skew {
        queue.enqueue()?;
    }
    let mut marks = Vec::with_capacity(calls as usize + 1);
    marks.push(queue.mark()?);
    for _ in 0..calls {
        queue.enqueue()?;
        marks.push(queue.mark()?);
    }
    Ok(marks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::bail;

    /// A device simulated on the host: while held it only queues; on release it runs
    /// the queue, each call taking the next of `durations`, and stamps the marks.
    #[derive(Default)]
    struct FakeDevice {
        log: Vec<String>,
        held: bool,
        clock: f64,
        durations: Vec<f64>,
        queued: Vec<Option<usize>>,
        stamps: Vec<f64>,
        fail_enqueue_at: Option<usize>,
        hold_gives_way: bool,
        enqueued: usize,
    }

    impl FakeDevice {
        fn run_queue(&mut self) {
            for item in std::mem::take(&mut self.queued) {
                match item {
                    Some(mark) => self.stamps[mark] = self.clock,
                    None => {
                        let d = self.durations.get(self.enqueued).copied().unwrap_or(1.0);
                        self.clock += d;
                        self.enqueued += 1;
                    }
                }
            }
        }
    }

    impl HeldQueue for FakeDevice {
        type Mark = usize;
        fn hold(&mut self) -> Result<()> {
            assert!(!self.held, "held twice");
            self.held = true;
            self.log.push("hold".into());
            Ok(())
        }
        fn enqueue(&mut self) -> Result<()> {
            if self.fail_enqueue_at == Some(self.log.len()) {
                bail!("launch failed");
            }
            self.log.push("call".into());
            self.queued.push(None);
            // The host's launch cost passes on the host clock, not the device's.
            if !self.held {
                self.run_queue();
            }
            Ok(())
        }
        fn mark(&mut self) -> Result<usize> {
            self.log.push("mark".into());
            self.stamps.push(f64::NAN);
            self.queued.push(Some(self.stamps.len() - 1));
            Ok(self.stamps.len() - 1)
        }
        fn release(&mut self) -> Result<()> {
            assert!(self.held, "released without a hold");
            self.held = false;
            self.log.push("release".into());
            self.run_queue();
            Ok(())
        }
        fn wait(&mut self, mark: &usize) -> Result<()> {
            self.log.push("wait".into());
            assert!(
                !self.stamps[*mark].is_nan(),
                "waited on a mark never reached"
            );
            if self.hold_gives_way {
                bail!("the hold gave way");
            }
            Ok(())
        }
        fn seconds(&self, from: &usize, to: &usize) -> Result<f64> {
            Ok(self.stamps[*to] - self.stamps[*from])
        }
    }

    fn run(dev: &mut FakeDevice, iterations: u32, schedule: Schedule) -> Result<Vec<f64>> {
        let mut samples = Vec::new();
        run_held(dev, iterations, schedule, &mut |t| samples.push(t))?;
        Ok(samples)
    }

    #[test]
    fn every_call_is_queued_behind_the_hold_between_two_marks() {
        let mut dev = FakeDevice::default();
        run(&mut dev, 2, Schedule::held(true)).unwrap();
        assert_eq!(
            dev.log,
            ["hold", "call", "mark", "call", "mark", "call", "mark", "release", "wait"]
        );
        let mut dev = FakeDevice::default();
        run(&mut dev, 1, Schedule::held(false)).unwrap();
        assert_eq!(dev.log, ["hold", "mark", "call", "mark", "release", "wait"]);
    }

    #[test]
    fn samples_are_each_calls_own_time_and_skip_the_absorbing_call() {
        let mut dev = FakeDevice {
            // The first (absorbing) call waits 9 s for the last rank.
            durations: vec![9.0, 1.0, 2.0, 3.0],
            ..Default::default()
        };
        assert_eq!(
            run(&mut dev, 3, Schedule::held(true)).unwrap(),
            [1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn long_runs_are_split_into_batches_and_keep_one_sample_per_call() {
        let mut dev = FakeDevice::default();
        let samples = run(&mut dev, 2 * MAX_BATCH + 5, Schedule::held(false)).unwrap();
        assert_eq!(samples.len(), (2 * MAX_BATCH + 5) as usize);
        assert_eq!(dev.log.iter().filter(|l| *l == "hold").count(), 3);
        assert_eq!(
            dev.log.iter().filter(|l| *l == "call").count(),
            samples.len()
        );
        assert!(samples.iter().all(|&t| t == 1.0), "{samples:?}");
    }

    #[test]
    fn a_call_that_replays_several_operations_reports_one_operations_time() {
        let mut dev = FakeDevice {
            durations: vec![8.0, 8.0],
            ..Default::default()
        };
        let schedule = Schedule {
            calls_per_enqueue: 4,
            ..Schedule::held(false)
        };
        assert_eq!(run(&mut dev, 2, schedule).unwrap(), [2.0, 2.0]);
    }

    #[test]
    fn a_failed_launch_still_releases_the_hold_and_is_reported() {
        let mut dev = FakeDevice {
            fail_enqueue_at: Some(4),
            ..Default::default()
        };
        let e = run(&mut dev, 4, Schedule::held(false)).unwrap_err();
        assert!(e.to_string().contains("launch failed"), "{e}");
        assert_eq!(dev.log.last().map(String::as_str), Some("release"));
        assert!(!dev.held);
    }

    #[test]
    fn a_hold_that_gave_way_fails_the_measurement() {
        let mut dev = FakeDevice {
            hold_gives_way: true,
            ..Default::default()
        };
        let e = run(&mut dev, 3, Schedule::held(false)).unwrap_err();
        assert!(e.to_string().contains("gave way"), "{e}");
    }

    #[test]
    fn zero_iterations_queue_nothing() {
        let mut dev = FakeDevice::default();
        assert!(run(&mut dev, 0, Schedule::held(true)).unwrap().is_empty());
        assert!(dev.log.is_empty());
    }
}
