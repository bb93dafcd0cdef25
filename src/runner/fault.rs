//! Ending a job on a fault that MPI cannot report: a measurement stuck past its limit,
//! or the launcher's SIGTERM while one is stuck (Open MPI's `mpirun` sends it when it
//! loses a node's daemon).
//!
//! Rank 0 names the ranks that went silent on the side channel, writes the `.jsonl`
//! footer and the `.json` document (status `aborted`, the reason, the culprits, the
//! step) from what the stream holds, tells the other ranks over the side channel, and
//! exits; the others print rank 0's verdict, or what they know when it does not come,
//! and exit. Every rank exits by itself with [`FAULT_EXIT_CODE`]: `MPI_Abort` cannot end
//! a job whose peer is unreachable (it waits for that peer's daemon), while a rank's
//! own exit is what a launcher acts on.

use super::interrupt::Interrupt;
use super::sidechannel::{SideChannel, Silent, Slow, Verdict};
use crate::results::{AbortInfo, Culprit};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Exit code of a rank that ended the job on a fault (a measurement stuck, a peer
/// silent), after writing what it knew.
pub const FAULT_EXIT_CODE: i32 = 4;
/// How long a rank other than 0 waits for rank 0's verdict once it is stuck itself.
const VERDICT_WAIT: Duration = Duration::from_secs(5);
/// As long, when the launcher is already ending the job (it sends SIGKILL a few
/// seconds after SIGTERM).
const VERDICT_WAIT_SIGNALLED: Duration = Duration::from_secs(2);
/// How long a rank that has said its last line stays for the launcher when a peer went
/// silent: within the 30 s that the job may take past `--timeout`.
pub const LINGER: Duration = Duration::from_secs(15);
/// How long rank 0 lets heartbeats come in before it names the silent ranks: a rank
/// that is alive has sent one by then.
const NOTES_WAIT: Duration = Duration::from_secs(1);

/// Why the watchdog ends the job.
#[derive(Debug, Clone)]
pub enum Cause {
    /// No progress for this long.
    Timeout(Duration),
    /// A library's own failure (NCCL's asynchronous errors).
    Failure(String),
    /// This signal came while the operation was stuck (the launcher ending the job).
    Signal(i32),
}

/// Where a rank was stuck and why it gives up.
#[derive(Debug, Clone)]
pub struct Stuck {
    /// The measurement (`allreduce 16 B float sum out-of-place`).
    pub what: String,
    /// The operation under way (1-based), 0 while the ranks were arriving.
    pub operation: u64,
    pub total: u64,
    pub cause: Cause,
}

impl Stuck {
    /// `allreduce 16 B float sum out-of-place, operation 22 of 311`.
    pub fn step(&self) -> String {
        if self.operation == 0 {
            format!("{}, before it started (ranks arriving)", self.what)
        } else {
            format!(
                "{}, operation {} of {}",
                self.what, self.operation, self.total
            )
        }
    }

    fn symptom(&self) -> String {
        match &self.cause {
            Cause::Timeout(t) => format!("made no progress for {:.0} s", t.as_secs_f64()),
            Cause::Failure(f) => format!("failed: {f}"),
            Cause::Signal(s) => format!(
                "was stuck when {} came (the launcher ending the job)",
                super::interrupt::signal_name(*s)
            ),
        }
    }
}

/// Prints this rank's last line and exits with [`FAULT_EXIT_CODE`]. Once per process:
/// the watchdog and the side channel's verdict may both get here, and a rank says one
/// thing. With `linger`, it first waits up to [`LINGER`] for a signal from the
/// launcher: a rank whose node the launcher cannot reach makes it wait on that node
/// once any rank exits, while a launcher that finds the node lost first ends the job
/// at once (Open MPI's `mpirun` with TCP keepalive, `harness/launch/mpirun.sh`).
pub fn last_words(line: &str, linger: Option<&Interrupt>) -> ! {
    static SAID: Mutex<()> = Mutex::new(());
    // Held until the process ends: a second caller waits here for the exit.
    let _said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    crate::errln!("{line}");
    if let Some(interrupt) = linger {
        linger_for_launcher(interrupt);
    }
    std::process::exit(FAULT_EXIT_CODE);
}

/// Waits up to [`LINGER`] for a signal (the launcher ending the job).
pub fn linger_for_launcher(interrupt: &Interrupt) {
    let start = std::time::Instant::now();
    while interrupt.local_signal().is_none() && start.elapsed() < LINGER {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a rank needs to end the job on a fault.
pub struct FaultEnding {
    pub rank: usize,
    /// The host of every rank, in rank order.
    pub hosts: Vec<String>,
    pub channel: Option<SideChannel>,
    /// Rank 0: the `.jsonl` stream to finish.
    pub stream: Option<PathBuf>,
    /// This process's SIGINT/SIGTERM: the launcher ending the job.
    pub interrupt: Interrupt,
}

impl FaultEnding {
    /// `rank 3 (node04)`.
    pub fn who(&self, rank: usize) -> String {
        match self.hosts.get(rank) {
            Some(h) => format!("rank {rank} ({h})"),
            None => format!("rank {rank}"),
        }
    }

    /// Ends this rank after saying, in one line, what it knows.
    pub fn end(&self, stuck: &Stuck) -> ! {
        let me = self.who(self.rank);
        if self.rank != 0 {
            // Under a signal the launcher's SIGKILL is near: say something before it.
            let wait = match stuck.cause {
                Cause::Signal(_) => VERDICT_WAIT_SIGNALLED,
                _ => VERDICT_WAIT,
            };
            let verdict = self.channel.as_ref().and_then(|c| c.wait_verdict(wait));
            let linger = verdict.as_ref().is_none_or(|v| v.linger);
            let line = match verdict {
                Some(v) => format!("clusterbench: {me}: ending: {}", v.text),
                None => format!(
                    "clusterbench: watchdog: {me}: {} {}; rank 0 sent no verdict within {:.0} s (unreachable from here, or stuck itself); ending",
                    stuck.step(),
                    stuck.symptom(),
                    wait.as_secs_f64()
                ),
            };
            last_words(&line, linger.then_some(&self.interrupt));
        }
        let silent = match &self.channel {
            Some(c) => {
                // Under a signal the launcher's SIGKILL is near; heartbeats are fresh.
                if !matches!(stuck.cause, Cause::Signal(_)) {
                    std::thread::sleep(NOTES_WAIT);
                }
                c.silent()
            }
            None => Vec::new(),
        };
        let linger = silent.iter().any(|s| !s.closed) && self.interrupt.local_signal().is_none();
        let slow = match (&self.channel, silent.is_empty()) {
            (Some(c), true) => c.slow(),
            _ => None,
        };
        let abort = self.verdict(stuck, &silent, slow.as_ref());
        let written = self.stream.as_ref().map(|stream| {
            let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            crate::results::files::finish_aborted_stream(stream, at, abort.clone())
        });
        if let Some(c) = &self.channel {
            c.send_verdict(&Verdict {
                text: abort.reason.clone(),
                linger,
            });
        }
        let outcome = match written {
            Some(Ok(path)) => format!("results written to {}", path.display()),
            Some(Err(e)) => format!("the results document could not be written: {e:#}"),
            None => "no results document on this rank".into(),
        };
        last_words(
            &format!(
                "clusterbench: watchdog: {me}: {}; {outcome}; ending the job",
                abort.reason
            ),
            linger.then_some(&self.interrupt),
        );
    }

    /// Rank 0's verdict: the reason, with the silent ranks as culprits.
    pub fn verdict(&self, stuck: &Stuck, silent: &[Silent], slow: Option<&Slow>) -> AbortInfo {
        let mut named: Vec<String> = silent
            .iter()
            .map(|s| {
                if s.closed {
                    format!("{} ended (its process is gone)", self.who(s.rank))
                } else {
                    format!(
                        "{} went silent (not heard for {:.0} s)",
                        self.who(s.rank),
                        s.for_s
                    )
                }
            })
            .collect();
        let mut culprits: Vec<usize> = silent.iter().map(|s| s.rank).collect();
        // Rank 0 hearing from none of several others: its own node is the one cut off.
        let others = self.hosts.len().saturating_sub(1);
        if others >= 2 && silent.iter().filter(|s| !s.closed).count() == others {
            named = vec![format!(
                "{} hears from no other rank: its own node or link is the likely fault",
                self.who(0)
            )];
            culprits = vec![0];
        }
        if let Some(slow) = slow {
            named.push(format!(
                "{} answers slowly (round trip {:.1} s, the others within {:.3} s)",
                self.who(slow.rank),
                slow.round_trip_s,
                slow.others_s
            ));
            culprits.push(slow.rank);
        }
        let why = if named.is_empty() {
            match (&self.channel, &stuck.cause) {
                (_, Cause::Failure(_)) => String::new(),
                (Some(_), _) => "; every rank still answers on the side channel, so a link or a rank is too slow or stuck, and which cannot be told".into(),
                (None, _) => "; which rank is at fault is not known (no side channel)".into(),
            }
        } else {
            format!("; {}", named.join(", "))
        };
        AbortInfo {
            reason: format!("{} {}{why}", stuck.step(), stuck.symptom()),
            culprits: culprits
                .into_iter()
                .map(|rank| Culprit {
                    rank,
                    host: self.hosts.get(rank).cloned(),
                })
                .collect(),
            step: Some(stuck.step()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_names_the_silent_rank_and_its_host_and_the_step() {
        let ending = FaultEnding {
            rank: 0,
            hosts: vec!["n1".into(), "n2".into(), "n3".into()],
            channel: None,
            stream: None,
            interrupt: Interrupt::default(),
        };
        let stuck = Stuck {
            what: "allreduce 16 B float sum out-of-place".into(),
            operation: 22,
            total: 311,
            cause: Cause::Timeout(Duration::from_secs(20)),
        };
        let silent = [Silent {
            rank: 2,
            for_s: 23.4,
            closed: false,
        }];
        let abort = ending.verdict(&stuck, &silent, None);
        assert_eq!(
            abort.reason,
            "allreduce 16 B float sum out-of-place, operation 22 of 311 made no progress for 20 s; rank 2 (n3) went silent (not heard for 23 s)"
        );
        assert_eq!(
            abort.culprits,
            [Culprit {
                rank: 2,
                host: Some("n3".into())
            }]
        );
        let everyone = [1, 2].map(|rank| Silent {
            rank,
            for_s: 30.0,
            closed: false,
        });
        let cut_off = ending.verdict(&stuck, &everyone, None);
        assert_eq!(cut_off.culprits.len(), 1);
        assert_eq!(cut_off.culprits[0].rank, 0);
        assert!(cut_off
            .reason
            .contains("rank 0 (n1) hears from no other rank"));
        let slow = Slow {
            rank: 1,
            round_trip_s: 2.54,
            others_s: 0.0021,
        };
        let crawling = ending.verdict(&stuck, &[], Some(&slow));
        assert!(
            crawling.reason.ends_with(
                "; rank 1 (n2) answers slowly (round trip 2.5 s, the others within 0.002 s)"
            ),
            "{}",
            crawling.reason
        );
        assert_eq!(crawling.culprits.len(), 1);
        let unknown = ending.verdict(&stuck, &[], None);
        assert!(unknown.culprits.is_empty());
        assert!(unknown.reason.contains("not known"), "{}", unknown.reason);
    }
}
