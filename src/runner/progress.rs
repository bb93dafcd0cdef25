//! The progress line on rank 0's terminal: measurements done of the total, the one
//! under way, and the time left, estimated from the sizes still to measure.
//!
//! The time left is not the count left times the mean so far: in a size sweep the
//! last sizes take most of the time. Each benchmark's measurements so far give a
//! straight line, seconds against work (bytes of a message, flops of a product), and
//! the work of the measurements left, known from the plan, gives their time.

use super::interrupt::{signal_name, Interrupt};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Each benchmark's planned measurements, in run order: the work of each (any
/// quantity the time grows with in proportion), or `None` when not known beforehand.
pub type Plan = Vec<Option<Vec<f64>>>;

struct State {
    plan: Plan,
    /// The benchmark under way (index into `plan`), once one began.
    bench: Option<usize>,
    /// (work, seconds) of each measurement of the benchmark under way.
    done_here: Vec<(f64, f64)>,
    done: usize,
    current: String,
    since: Instant,
}

/// Progress of a run; draws nothing unless shown.
pub struct Progress {
    bar: ProgressBar,
    state: Mutex<State>,
}

impl Progress {
    /// A progress line for `plan`, drawn on stderr when `show` (rank 0, not quiet, and
    /// stderr a terminal). From the first tick after a signal it says that the run
    /// stops after the measurement under way.
    pub fn new(show: bool, plan: Plan, interrupt: &Interrupt) -> Progress {
        let bar = if show {
            let bar = ProgressBar::new_spinner();
            let interrupt = interrupt.clone();
            let stopping = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                if let Some(signal) = interrupt.local_signal() {
                    let _ = write!(
                        w,
                        " · {}: stopping after this measurement (again: at once)",
                        signal_name(signal)
                    );
                }
            };
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed}] {msg}{stopping}")
                    .map(|style| style.with_key("stopping", stopping))
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            state: Mutex::new(State {
                plan,
                bench: None,
                done_here: Vec::new(),
                done: 0,
                current: String::new(),
                since: Instant::now(),
            }),
        }
    }

    /// A progress line that draws nothing and knows no plan.
    pub fn hidden() -> Progress {
        Progress::new(false, Vec::new(), &Interrupt::default())
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut state);
        if !self.bar.is_hidden() {
            self.bar.set_message(status_line(&state));
        }
    }

    /// The next benchmark of the plan starts.
    pub fn begin_bench(&self) {
        self.update(|s| {
            s.bench = Some(s.bench.map_or(0, |b| b + 1));
            s.done_here.clear();
            s.since = Instant::now();
        });
    }

    /// `what` is being measured now.
    pub fn begin_case(&self, what: String) {
        self.update(|s| s.current = what);
    }

    /// A measurement ended; its time runs from the end of the one before.
    pub fn case_done(&self) {
        self.update(|s| {
            let now = Instant::now();
            let seconds = now.duration_since(s.since).as_secs_f64();
            s.since = now;
            let work = s
                .bench
                .and_then(|b| s.plan.get(b)?.as_ref()?.get(s.done_here.len()).copied());
            s.done_here.push((work.unwrap_or(f64::NAN), seconds));
            s.done += 1;
        });
    }

    /// Runs `f` with the line cleared (for output on the terminal).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// `14/62 measured · allreduce 64 KiB float sum out-of-place · ETA 35 s`.
fn status_line(s: &State) -> String {
    let known_total: Option<usize> = s
        .plan
        .iter()
        .map(|p| p.as_ref().map(Vec::len))
        .sum::<Option<usize>>();
    let mut parts = vec![match known_total {
        // A plan may undercount (a search's steps depend on what it finds).
        Some(total) => format!("{}/{} measured", s.done, total.max(s.done)),
        None => format!("{} measured", s.done),
    }];
    if !s.current.is_empty() {
        parts.push(s.current.clone());
    }
    let bench = s.bench.unwrap_or(0);
    let left_here = s
        .plan
        .get(bench)
        .and_then(|p| p.as_ref())
        .map(|p| p.get(s.done_here.len()..).unwrap_or_default());
    if let Some(seconds) = left_here.and_then(|left| seconds_left(&s.done_here, left)) {
        let later = s.plan.len() > bench + 1;
        parts.push(if later {
            format!("{} left in this benchmark", format_duration(seconds))
        } else {
            format!("ETA {}", format_duration(seconds))
        });
    }
    parts.join(" · ")
}

/// The time the measurements of work `left` will take, from the (work, seconds) of
/// those `done` in the same benchmark: a least-squares line `a + b x work`, with `a` and
/// `b` kept non-negative. `None` before two measurements, with nothing to go on.
pub fn seconds_left(done: &[(f64, f64)], left: &[f64]) -> Option<f64> {
    let done: Vec<(f64, f64)> = done
        .iter()
        .copied()
        .filter(|(w, t)| w.is_finite() && t.is_finite())
        .collect();
    if done.len() < 2 {
        return None;
    }
    let n = done.len() as f64;
    let mean_w = done.iter().map(|d| d.0).sum::<f64>() / n;
    let mean_t = done.iter().map(|d| d.1).sum::<f64>() / n;
    let spread: f64 = done.iter().map(|d| (d.0 - mean_w).powi(2)).sum();
    let covariance: f64 = done.iter().map(|d| (d.0 - mean_w) * (d.1 - mean_t)).sum();
    let slope = if spread > 0.0 {
        covariance / spread
    } else {
        0.0
    };
    let (a, b) = if slope <= 0.0 {
        // No growth with the work (all sizes alike, or time dominated by latency).
        (mean_t, 0.0)
    } else if mean_t - slope * mean_w < 0.0 {
        // Through the origin instead.
        let b = done.iter().map(|d| d.0 * d.1).sum::<f64>()
            / done.iter().map(|d| d.0 * d.0).sum::<f64>();
        (0.0, b)
    } else {
        (mean_t - slope * mean_w, slope)
    };
    Some(left.iter().map(|w| a + b * w).sum())
}

/// `<1 s`, `35 s`, `2 min 10 s`, `1 h 05 min`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0 => "<1 s".into(),
        1..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_follows_the_sizes_left_not_the_count() {
        // 1 ms per call plus 1 ms per MiB: a sweep's last sizes dominate.
        let mib = 1048576.0;
        let time = |w: f64| 1e-3 + 1e-3 * w / mib;
        let done: Vec<(f64, f64)> = [1.0, 2.0, 4.0, 8.0]
            .iter()
            .map(|m| (m * mib, time(m * mib)))
            .collect();
        let left = [16.0 * mib, 32.0 * mib, 64.0 * mib];
        let expected: f64 = left.iter().map(|&w| time(w)).sum();
        let got = seconds_left(&done, &left).unwrap();
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        // The count alone (3 more at the mean so far) would say a fifth of that.
        let by_count = 3.0 * done.iter().map(|d| d.1).sum::<f64>() / 4.0;
        assert!(got > 4.0 * by_count);
    }

    #[test]
    fn latency_bound_and_equal_sizes_take_the_mean_and_one_point_is_not_enough() {
        // Noise that falls with size: no negative time per byte.
        let done = [(8.0, 0.012), (64.0, 0.011), (512.0, 0.010)];
        let got = seconds_left(&done, &[4096.0, 32768.0]).unwrap();
        assert!((got - 2.0 * 0.011).abs() < 1e-12, "{got}");
        let equal = [(100.0, 1.0), (100.0, 3.0)];
        assert_eq!(seconds_left(&equal, &[100.0; 3]), Some(6.0));
        assert_eq!(seconds_left(&[(8.0, 1.0)], &[16.0]), None);
        assert_eq!(seconds_left(&[], &[16.0]), None);
        // Nothing left: no time left.
        assert_eq!(seconds_left(&done, &[]), Some(0.0));
    }

    #[test]
    fn the_line_counts_of_the_total_and_names_what_runs() {
        let state = |plan: Plan, bench, done_here: Vec<(f64, f64)>| State {
            done: done_here.len(),
            plan,
            bench: Some(bench),
            done_here,
            current: "allreduce 8 KiB float sum out-of-place".into(),
            since: Instant::now(),
        };
        let sweep = Some(vec![1.0, 2.0, 3.0, 4.0]);
        let line = status_line(&state(vec![sweep.clone()], 0, vec![(1.0, 1.0), (2.0, 2.0)]));
        assert_eq!(
            line,
            "2/4 measured · allreduce 8 KiB float sum out-of-place · ETA 7 s"
        );
        let line = status_line(&state(
            vec![sweep.clone(), Some(vec![5.0])],
            0,
            vec![(1.0, 1.0), (2.0, 2.0)],
        ));
        assert!(line.starts_with("2/5 measured · "), "{line}");
        assert!(line.ends_with(" · 7 s left in this benchmark"), "{line}");
        // A benchmark with no plan: no total.
        let line = status_line(&state(vec![sweep, None], 1, vec![(f64::NAN, 1.0)]));
        assert!(line.starts_with("1 measured · allreduce"), "{line}");
        assert_eq!(format_duration(0.3), "<1 s");
        assert_eq!(format_duration(130.0), "2 min 10 s");
        assert_eq!(format_duration(3900.0), "1 h 05 min");
    }
}
