//! The host clock that times work on the host: the CPU's time-stamp counter where it
//! ticks at a constant rate (an invariant TSC on x86-64, the system counter on
//! AArch64), calibrated once per process against the monotonic clock by the `quanta`
//! crate; elsewhere the monotonic clock itself.
//!
//! A timed iteration reads the clock before and after, and for a collective the time
//! between two iterations delays the other ranks as well, so the read's cost shows in
//! the smallest calls. On a 2-core AMD EPYC (Zen 3) KVM guest `clock_gettime` took
//! about 36 ns and `rdtsc` 12 ns; 8-byte all-reduces between two ranks take about
//! 470 ns there, and timed with `clock_gettime` they came out 5-9% slower, a few
//! percent above a C loop that reads `MPI_Wtime` once per call. `benches/harness.rs`
//! (`clock`) measures the two reads side by side.

use std::sync::LazyLock;

static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// A reading of the host clock, in the clock's own ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(u64);

/// Reads the host clock.
#[inline]
pub fn now() -> Stamp {
    Stamp(CLOCK.raw())
}

impl Stamp {
    /// Seconds from this reading to `later`; 0 when `later` is not later.
    #[inline]
    pub fn seconds_to(self, later: Stamp) -> f64 {
        CLOCK.delta_as_nanos(self.0, later.0) as f64 * 1e-9
    }

    /// Seconds since this reading.
    #[inline]
    pub fn elapsed(self) -> f64 {
        self.seconds_to(now())
    }
}

/// Calibrates the clock now, once per process (it stops when the counter agrees with
/// the monotonic clock to 10 ns, and after 0.2 s at most), so that no timed
/// iteration pays for it.
pub fn calibrate() {
    LazyLock::force(&CLOCK);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn readings_do_not_go_back() {
        let mut last = now();
        for _ in 0..100_000 {
            let next = now();
            assert!(next >= last, "{next:?} before {last:?}");
            last = next;
        }
    }

    #[test]
    fn an_interval_agrees_with_the_monotonic_clock() {
        // Each end is read between two monotonic reads, so the stamps' interval lies
        // between the inner and the outer monotonic interval, whatever the scheduler
        // does between the reads; 0.1% allows for the calibration's scale error.
        calibrate();
        let before_start = Instant::now();
        let start = now();
        let after_start = Instant::now();
        std::thread::sleep(Duration::from_millis(30));
        let before_end = Instant::now();
        let end = now();
        let after_end = Instant::now();
        let seconds = start.seconds_to(end);
        let inner = (before_end - after_start).as_secs_f64();
        let outer = (after_end - before_start).as_secs_f64();
        assert!(
            seconds >= inner * 0.999 && seconds <= outer * 1.001,
            "{seconds} s outside [{inner}, {outer}]"
        );
        assert!(start.elapsed() >= seconds);
    }

    #[test]
    fn a_reversed_interval_is_zero() {
        let a = now();
        std::thread::sleep(Duration::from_millis(1));
        let b = now();
        assert!(a.seconds_to(b) > 0.0);
        assert_eq!(b.seconds_to(a), 0.0);
    }
}
