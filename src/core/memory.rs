//! The arithmetic of the memory guard: what a benchmark's cases hold, what a rank may
//! use, and, for a run that cannot fit, the largest setting that does. A run that asks
//! for more than the machine holds is refused before anything is allocated: the
//! kernel's OOM killer would otherwise end it without a word and without results.

use crate::units::format_bytes;

/// Bytes one rank holds at once: in host memory, and on each GPU it drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Need {
    pub host: u64,
    pub device: u64,
}

impl Need {
    pub fn host(bytes: u64) -> Self {
        Need {
            host: bytes,
            device: 0,
        }
    }
}

/// What a benchmark's footprint depends on besides its own settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Ranks of the job (processes).
    pub ranks: usize,
    /// Buffers live on GPUs (the CUDA backend).
    pub gpu: bool,
    /// GPUs each process drives (`-g`): collectives run over `ranks x this`.
    pub devices_per_rank: usize,
    /// The cache the memory benchmarks size their default arrays from.
    pub cache_bytes: Option<u64>,
    /// Messages in flight per point-to-point bandwidth iteration (`--window`).
    pub window: usize,
}

/// How a setting's values are written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A size with a binary suffix: `2G`.
    Bytes,
    /// A plain number (a matrix side).
    Count,
}

/// The values a suggested setting may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// One of the cases' own values (a sweep's sizes).
    Cases,
    /// A multiple of this step.
    Step(u64),
}

/// The setting that decides how much memory a benchmark holds, and what it holds at
/// each value the run will use.
pub struct Footprint<'a> {
    /// The benchmark.
    pub bench: &'static str,
    /// What the setting is, in words: "size", "array size", "square matrix size".
    pub what: &'static str,
    /// The flag that sets it, as typed: `-e`, `--array-size`, `--sizes`.
    pub flag: &'static str,
    pub unit: Unit,
    /// Each case of the run: the setting's value, the case in words, what it holds.
    pub cases: Vec<(u64, String, Need)>,
    /// What any value of the setting holds (more for a larger value).
    pub need_at: Box<dyn Fn(u64) -> Need + 'a>,
    pub grid: Grid,
}

impl Footprint<'static> {
    /// A sweep over message sizes, capped by `-e`: one case per size.
    pub fn of_sizes(
        bench: &'static str,
        sizes: Vec<u64>,
        need_at: impl Fn(u64) -> Need + Clone + 'static,
    ) -> Self {
        Footprint {
            bench,
            what: "size",
            flag: "-e",
            unit: Unit::Bytes,
            cases: sizes
                .into_iter()
                .map(|s| (s, format!("at {}", format_bytes(s)), need_at(s)))
                .collect(),
            need_at: Box::new(need_at),
            grid: Grid::Cases,
        }
    }
}

/// What one rank may hold: a share of what its node has available, less a margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Host bytes per rank; `None` when unknown (nothing is refused on it).
    pub host: Option<u64>,
    /// Bytes per GPU; `None` when unknown or no GPU.
    pub device: Option<u64>,
}

/// Host memory kept free: an eighth of what is available, and at least 256 MiB.
/// `MemAvailable` is the kernel's estimate, counting page cache it may not all give
/// back; MPI's own temporaries, shared-memory segments and the samples and records
/// are not in a benchmark's need; and a node driven to its last page stalls everything
/// else on it (the launcher's daemons, sshd), which is how jobs die without a message.
pub fn host_usable(available: u64) -> u64 {
    available.saturating_sub((available / 8).max(256 << 20))
}

/// GPU memory kept free: an eighth of what is free, and at least 1 GiB: cuBLAS's
/// workspace, NCCL's communicator buffers and the CUDA graph's memory come on top of
/// the benchmark's buffers and are not in its need.
pub fn device_usable(free: u64) -> u64 {
    free.saturating_sub((free / 8).max(1 << 30))
}

impl Budget {
    /// A rank's share: `host_available` (the node's, before the margin) divided among
    /// the `ranks_on_node`; `device_free` of its GPU (the least free of them with `-g`).
    pub fn share(
        host_available: Option<u64>,
        ranks_on_node: usize,
        device_free: Option<u64>,
    ) -> Self {
        Budget {
            host: host_available.map(|a| host_usable(a) / ranks_on_node.max(1) as u64),
            device: device_free.map(device_usable),
        }
    }

    /// The memory `need` runs short of, if any: "host" or "GPU", the need and the budget.
    fn shortfall(&self, need: Need) -> Option<(&'static str, u64, u64)> {
        match (self.host, self.device) {
            (Some(h), _) if need.host > h => Some(("host", need.host, h)),
            (_, Some(d)) if need.device > d => Some(("GPU", need.device, d)),
            _ => None,
        }
    }

    pub fn admits(&self, need: Need) -> bool {
        self.shortfall(need).is_none()
    }
}

/// A setting as typed: `2G`, `1536M`, `16384`.
pub fn flag_value(value: u64, unit: Unit) -> String {
    if unit == Unit::Count || value == 0 {
        return value.to_string();
    }
    let (suffix, shift) = [("T", 40), ("G", 30), ("M", 20), ("K", 10), ("", 0)]
        .into_iter()
        .find(|(_, shift)| value % (1u64 << shift) == 0)
        .unwrap_or(("", 0));
    format!("{}{suffix}", value >> shift)
}

/// The largest value of the setting whose case fits, if even the smallest does.
pub fn largest_fitting(footprint: &Footprint, budget: &Budget) -> Option<u64> {
    let fits = |v: u64| budget.admits((footprint.need_at)(v));
    match footprint.grid {
        Grid::Cases => footprint
            .cases
            .iter()
            .map(|(v, _, _)| *v)
            .filter(|&v| fits(v))
            .max(),
        Grid::Step(step) => {
            let top = footprint.cases.iter().map(|(v, _, _)| *v).max()? / step;
            // Binary search for the last multiple that fits: the need grows with it.
            let (mut lo, mut hi) = (0u64, top);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if fits(mid * step) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            (lo > 0).then_some(lo * step)
        }
    }
}

/// `Err` with one line when a case of `footprint` does not fit in `budget`: the case,
/// what it needs against what a rank may use, and the largest setting that fits.
pub fn refusal(footprint: &Footprint, budget: &Budget) -> Option<String> {
    // The largest case that does not fit: the one the user asked for.
    let (_, words, need) = footprint
        .cases
        .iter()
        .filter(|(_, _, need)| !budget.admits(*need))
        .max_by_key(|(_, _, need)| (need.host, need.device))?;
    let (memory, needed, allowed) = budget.shortfall(*need)?;
    let share = if memory == "host" {
        "what its node has available less an eighth, shared by the node's ranks"
    } else {
        "its GPU's free memory less an eighth"
    };
    let advice = match largest_fitting(footprint, budget) {
        Some(v) => format!(
            "the largest {} that fits is {}: {} {}",
            footprint.what,
            match footprint.unit {
                Unit::Bytes => format_bytes(v),
                Unit::Count => v.to_string(),
            },
            footprint.flag,
            flag_value(v, footprint.unit)
        ),
        None => format!("not even the smallest {} fits", footprint.what),
    };
    Some(format!(
        "{} {words} needs {} of {memory} memory per rank, and a rank can use {} ({share}); {advice}",
        footprint.bench,
        format_bytes(needed),
        format_bytes(allowed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// A sweep whose case of `s` bytes holds two buffers of `s`.
    fn sweep(sizes: &[u64]) -> Footprint<'static> {
        Footprint {
            bench: "allreduce",
            what: "size",
            flag: "-e",
            unit: Unit::Bytes,
            cases: sizes
                .iter()
                .map(|&s| (s, format!("at {}", format_bytes(s)), Need::host(2 * s)))
                .collect(),
            need_at: Box::new(|s| Need::host(2 * s)),
            grid: Grid::Cases,
        }
    }

    #[test]
    fn the_margin_is_an_eighth_and_at_least_a_floor() {
        assert_eq!(host_usable(16 * GIB), 14 * GIB);
        assert_eq!(host_usable(GIB), GIB - (256 << 20));
        assert_eq!(host_usable(100), 0);
        assert_eq!(device_usable(80 * GIB), 70 * GIB);
        assert_eq!(device_usable(4 * GIB), 3 * GIB);
    }

    #[test]
    fn a_node_is_shared_by_its_ranks() {
        let b = Budget::share(Some(16 * GIB), 7, None);
        assert_eq!(b.host, Some(2 * GIB));
        assert!(b.admits(Need::host(2 * GIB)));
        assert!(!b.admits(Need::host(2 * GIB + 1)));
        assert!(Budget::share(None, 1, None).admits(Need::host(u64::MAX)));
    }

    #[test]
    fn a_sweep_that_cannot_fit_names_its_largest_size_that_does() {
        // 8 B .. 1 TiB by 2; 9 GiB available on one rank: 7.875 GiB usable, so 3 GiB
        // buffers (two of them) do not fit and 2 GiB ones do.
        let sizes: Vec<u64> = (3..=40).map(|p| 1u64 << p).collect();
        let fp = sweep(&sizes);
        let budget = Budget::share(Some(9 * GIB), 1, None);
        assert_eq!(largest_fitting(&fp, &budget), Some(2 * GIB));
        assert_eq!(
            refusal(&fp, &budget).unwrap(),
            "allreduce at 1 TiB needs 2 TiB of host memory per rank, and a rank can use \
             7.88 GiB (what its node has available less an eighth, shared by the node's \
             ranks); the largest size that fits is 2 GiB: -e 2G"
        );
        assert_eq!(refusal(&sweep(&sizes[..29]), &budget), None);
    }

    #[test]
    fn a_step_grid_gives_the_largest_multiple_that_fits() {
        let fp = Footprint {
            bench: "membw",
            what: "array size",
            flag: "--array-size",
            unit: Unit::Bytes,
            cases: vec![(1 << 40, "arrays of 1 TiB".into(), Need::host(3 << 40))],
            need_at: Box::new(|a| Need::host(3 * a)),
            grid: Grid::Step(1 << 20),
        };
        let budget = Budget {
            host: Some(10 * GIB),
            device: None,
        };
        // 10 GiB / 3 = 3413.33 MiB: 3413 MiB.
        assert_eq!(largest_fitting(&fp, &budget), Some(3413 << 20));
        assert!(refusal(&fp, &budget)
            .unwrap()
            .ends_with("the largest array size that fits is 3.33 GiB: --array-size 3413M"));
        let tiny = Budget {
            host: Some(1 << 20),
            device: None,
        };
        assert!(refusal(&fp, &tiny)
            .unwrap()
            .ends_with("not even the smallest array size fits"));
    }

    #[test]
    fn gpu_memory_is_checked_per_device() {
        let budget = Budget::share(None, 1, Some(9 * GIB));
        let need = Need {
            host: 0,
            device: 8 * GIB,
        };
        assert!(!budget.admits(need));
        assert_eq!(
            budget.shortfall(need),
            Some(("GPU", 8 * GIB, 9 * GIB - 9 * GIB / 8))
        );
    }

    #[test]
    fn settings_are_written_as_they_are_typed() {
        assert_eq!(flag_value(2 << 30, Unit::Bytes), "2G");
        assert_eq!(flag_value(1536 << 20, Unit::Bytes), "1536M");
        assert_eq!(flag_value(1 << 40, Unit::Bytes), "1T");
        assert_eq!(flag_value(1000, Unit::Bytes), "1000");
        assert_eq!(flag_value(16384, Unit::Count), "16384");
    }
}
