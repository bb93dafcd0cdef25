//! Stopping a run early on SIGINT or SIGTERM without losing what it measured.
//!
//! The first signal only raises a flag: the measurement under way finishes, all ranks
//! agree on the flag at its end (folded into the reduction of the samples that every
//! measurement already does, so no collective is added and no timing changes), and the
//! run ends with status `interrupted`, its document and charts written. A second
//! signal ends the process at once.
//!
//! All ranks must stop after the same measurement, or one would wait forever in the
//! next collective: a launcher forwards the signal to every rank, but not always at
//! the same moment (one may see it during the next measurement, or not at all), so a
//! rank's own flag is never acted on alone.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub use signal_hook::consts::signal::{SIGINT, SIGTERM};

/// The exit code of a process ended by `signal`, as shells report it (130 for SIGINT,
/// 143 for SIGTERM).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// `SIGINT`, `SIGTERM`: a signal's name for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        other => format!("signal {other}"),
    }
}

/// This process's record of an interrupt: whether one came, and which signal first.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Catches SIGINT and SIGTERM from now on: the first one is noted, a second one
    /// ends the process at once with its exit code.
    pub fn install() -> std::io::Result<Interrupt> {
        let interrupt = Interrupt::default();
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it runs before the flag below is set: it sees the flag
            // only when an earlier signal set it.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                exit_code(signal),
                Arc::clone(&interrupt.requested),
            )?;
            // Reached by the first signal only (a second one ends the process above), so
            // the signal noted is the first.
            signal_hook::flag::register_usize(
                signal,
                Arc::clone(&interrupt.signal),
                signal as usize,
            )?;
            signal_hook::flag::register(signal, Arc::clone(&interrupt.requested))?;
        }
        Ok(interrupt)
    }

    /// The signal that interrupted this process, if one did (this rank's view only).
    pub fn local_signal(&self) -> Option<i32> {
        if !self.requested.load(Ordering::SeqCst) {
            return None;
        }
        match self.signal.load(Ordering::SeqCst) {
            0 => Some(SIGINT),
            s => Some(s as i32),
        }
    }

    /// This rank's vote in the agreement of [`agreed_signal`]: 0 when not interrupted.
    pub fn vote(&self) -> f64 {
        self.local_signal().map_or(0.0, f64::from)
    }

    /// Notes `signal` as if it had arrived (tests).
    pub fn raise(&self, signal: i32) {
        let _ =
            self.signal
                .compare_exchange(0, signal as usize, Ordering::SeqCst, Ordering::SeqCst);
        self.requested.store(true, Ordering::SeqCst);
    }
}

/// The signal all ranks stop for, from the maximum of their votes: any rank's signal
/// stops every rank, and SIGTERM, the launcher's, wins over SIGINT.
pub fn agreed_signal(max_vote: f64) -> Option<i32> {
    (max_vote >= 1.0).then_some(max_vote as i32)
}

/// The run was interrupted after a measurement that every rank finished.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}", signal_name(*.signal))]
pub struct Interrupted {
    pub signal: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_names_the_exit_code_and_any_rank_stops_all() {
        let interrupt = Interrupt::default();
        assert_eq!(interrupt.local_signal(), None);
        assert_eq!(agreed_signal(interrupt.vote()), None);
        interrupt.raise(SIGTERM);
        interrupt.raise(SIGINT);
        assert_eq!(interrupt.local_signal(), Some(SIGTERM));
        // Ranks vote 0 (not interrupted), 2 and 15: all stop, for SIGTERM.
        let max = [0.0, f64::from(SIGINT), interrupt.vote()]
            .into_iter()
            .fold(0.0, f64::max);
        assert_eq!(agreed_signal(max), Some(SIGTERM));
        assert_eq!(exit_code(SIGINT), 130);
        assert_eq!(exit_code(SIGTERM), 143);
    }
}
