//! Host memory this process can still take: the kernel's `MemAvailable`, and the
//! headroom under the memory limit of its cgroup and of every cgroup above it (v2,
//! else v1), whichever is smaller. A job in a container or a Slurm step is killed at
//! its cgroup's limit long before the host runs out.

use std::path::{Path, PathBuf};

/// Memory available to this process, in bytes, and what limits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMemory {
    pub available: u64,
    /// `MemAvailable` or the cgroup whose limit is the tighter.
    pub limited_by: String,
}

/// What this process can allocate on the host, if /proc tells.
pub fn host_memory() -> Option<HostMemory> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let mut best = HostMemory {
        available: mem_available(&meminfo)?,
        limited_by: "MemAvailable".into(),
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    for (dir, headroom) in cgroup_headrooms(&own, Path::new("/sys/fs/cgroup")) {
        if headroom < best.available {
            best = HostMemory {
                available: headroom,
                limited_by: format!("the memory limit of cgroup {}", dir.display()),
            };
        }
    }
    Some(best)
}

/// `MemAvailable` of /proc/meminfo, in bytes.
pub fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Limits of v1 at or above this are "no limit" (the kernel writes the largest page
/// multiple of i64::MAX).
const V1_UNLIMITED: u64 = 1 << 62;

/// The headroom (limit less usage, counting inactive page cache as free, as the
/// kernel reclaims it before it kills) under every limited cgroup from this process's
/// up to the root, as (directory, bytes). `own`: /proc/self/cgroup.
pub fn cgroup_headrooms(own: &str, root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (base, v2) = match controllers {
            "" => (root.to_path_buf(), true),
            c if c.split(',').any(|c| c == "memory") => (root.join("memory"), false),
            _ => continue,
        };
        let mut dir = base.join(path.trim_start_matches('/'));
        // In a cgroup namespace the path may not exist under this mount: the mount's
        // root is then the process's own cgroup.
        if !dir.is_dir() {
            dir = base.clone();
        }
        loop {
            if let Some(headroom) = headroom_in(&dir, v2) {
                out.push((dir.clone(), headroom));
            }
            if dir == base || !dir.pop() {
                break;
            }
        }
    }
    out
}

fn headroom_in(dir: &Path, v2: bool) -> Option<u64> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let number = |text: Option<String>| text.and_then(|t| t.trim().parse::<u64>().ok());
    let (limit, usage, stat) = if v2 {
        (
            number(read("memory.max"))?,
            number(read("memory.current"))?,
            read("memory.stat"),
        )
    } else {
        let limit = number(read("memory.limit_in_bytes")).filter(|&l| l < V1_UNLIMITED)?;
        (
            limit,
            number(read("memory.usage_in_bytes"))?,
            read("memory.stat"),
        )
    };
    let reclaimable = stat
        .as_deref()
        .and_then(|s| stat_value(s, "inactive_file"))
        .unwrap_or(0);
    Some(limit.saturating_sub(usage.saturating_sub(reclaimable)))
}

/// A value of a memory.stat file.
fn stat_value(stat: &str, key: &str) -> Option<u64> {
    stat.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes() {
        let meminfo =
            "MemTotal:       32000000 kB\nMemFree:  1000 kB\nMemAvailable:   23478656 kB\n";
        assert_eq!(mem_available(meminfo), Some(23478656 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn every_limited_cgroup_up_to_the_root_counts_v2() {
        let root = tempfile::tempdir().unwrap();
        let job = root.path().join("slurm/job_7");
        let step = job.join("step_0");
        // The job is limited to 8 GiB, of which 6 GiB are used, 1 GiB of it cache
        // the kernel can drop; its step has no limit of its own.
        write(&job, "memory.max", "8589934592\n");
        write(&job, "memory.current", "6442450944\n");
        write(
            &job,
            "memory.stat",
            "anon 5368709120\ninactive_file 1073741824\n",
        );
        write(&step, "memory.max", "max\n");
        write(&step, "memory.current", "100\n");
        let found = cgroup_headrooms("0::/slurm/job_7/step_0\n", root.path());
        assert_eq!(found, vec![(job, 3 << 30)]);
    }

    #[test]
    fn v1_limits_count_and_its_no_limit_value_does_not() {
        let root = tempfile::tempdir().unwrap();
        let own = root.path().join("memory/docker/abc");
        write(&own, "memory.limit_in_bytes", "2147483648\n");
        write(&own, "memory.usage_in_bytes", "1073741824\n");
        let top = root.path().join("memory");
        write(&top, "memory.limit_in_bytes", "9223372036854771712\n");
        write(&top, "memory.usage_in_bytes", "21672787968\n");
        let found = cgroup_headrooms("4:memory:/docker/abc\n3:cpuset:/\n", root.path());
        assert_eq!(found, vec![(own, 1 << 30)]);
    }

    #[test]
    fn a_path_outside_the_mount_falls_back_to_the_mount_root() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "memory.max", "4294967296\n");
        write(root.path(), "memory.current", "1073741824\n");
        let found = cgroup_headrooms("0::/elsewhere/in/the/host\n", root.path());
        assert_eq!(found, vec![(root.path().to_path_buf(), 3 << 30)]);
    }
}
