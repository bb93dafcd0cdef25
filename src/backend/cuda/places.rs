//! The places CUDA libraries are searched for, in order: the loader's path variable,
//! CUDA toolkits named by the environment, Python environments (pip's `nvidia/*/lib`
//! wheels, conda), clusterbench's own wheel environments, the CUDA toolkits under
//! `/usr/local` (the newest first) and the system's library directories.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub(super) fn env_paths(var: &str) -> Vec<PathBuf> {
    std::env::var_os(var)
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `nvidia/*/lib` (pip's CUDA wheels) under a site-packages directory.
fn nvidia_lib_dirs(site: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(site.join("nvidia")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path().join("lib")))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// site-packages directories of a Python prefix (a venv or conda environment).
fn prefix_site_packages(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        if let Ok(entries) = std::fs::read_dir(prefix.join(lib)) {
            for e in entries.flatten() {
                let name = e.file_name();
                if name.to_string_lossy().starts_with("python") {
                    out.push(e.path().join("site-packages"));
                }
            }
        }
    }
    out.sort();
    out
}

/// site-packages of the `python3` on PATH, when there is one (asked once).
fn python_site_packages() -> Vec<PathBuf> {
    static DIRS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    DIRS.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import site,sys\nfor p in site.getsitepackages()+[site.getusersitepackages()]: print(p)",
            ])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output();
        match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(PathBuf::from)
                .collect(),
            _ => Vec::new(),
        }
    })
    .clone()
}

/// clusterbench's own Python environment (scripts/setup.sh installs the wheels there).
pub fn cache_venv() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("clusterbench").join("venv"))
}

/// The Python environment with the CUDA 12 wheels (scripts/setup.sh, for CUDA 12
/// drivers), beside [`cache_venv`]: NCCL's CUDA 12 and 13 wheels install into the same
/// directory, so they cannot share one environment.
pub fn cache_venv_cu12() -> Option<PathBuf> {
    let venv = cache_venv()?;
    Some(venv.with_file_name("venv-cu12"))
}

/// CUDA toolkits installed side by side (`/usr/local/cuda-12.4`), the newest first.
fn versioned_toolkits(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut kits: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let version: Vec<u32> = name
                .strip_prefix("cuda-")?
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((version, e.path()))
        })
        .collect();
    kits.sort_by(|a, b| b.0.cmp(&a.0));
    kits.into_iter().map(|(_, p)| p).collect()
}

/// Every directory searched, in order, with the place it came from.
pub fn search_dirs() -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for d in env_paths("LD_LIBRARY_PATH") {
        dirs.push(("LD_LIBRARY_PATH".into(), d));
    }
    for var in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
        for root in env_paths(var) {
            for sub in [
                "lib64",
                "lib",
                "targets/x86_64-linux/lib",
                "targets/sbsa-linux/lib",
            ] {
                dirs.push((var.into(), root.join(sub)));
            }
        }
    }
    for var in ["CONDA_PREFIX", "VIRTUAL_ENV"] {
        for prefix in env_paths(var) {
            dirs.push((var.into(), prefix.join("lib")));
            for site in prefix_site_packages(&prefix) {
                for d in nvidia_lib_dirs(&site) {
                    dirs.push((format!("{var} site-packages"), d));
                }
            }
        }
    }
    for site in python_site_packages() {
        for d in nvidia_lib_dirs(&site) {
            dirs.push(("python3 site-packages".into(), d));
        }
    }
    for (place, venv) in [
        ("clusterbench venv", cache_venv()),
        ("clusterbench venv-cu12", cache_venv_cu12()),
    ] {
        for site in venv.iter().flat_map(|v| prefix_site_packages(v)) {
            for d in nvidia_lib_dirs(&site) {
                dirs.push((place.into(), d));
            }
        }
    }
    for d in [
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
    ] {
        dirs.push(("system".into(), PathBuf::from(d)));
    }
    for kit in versioned_toolkits(Path::new("/usr/local")) {
        for sub in [
            "lib64",
            "targets/x86_64-linux/lib",
            "targets/sbsa-linux/lib",
        ] {
            dirs.push(("CUDA toolkit".into(), kit.join(sub)));
        }
    }
    for d in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib/wsl/lib",
    ] {
        dirs.push(("system".into(), PathBuf::from(d)));
    }
    // The same directory reached twice (lib64 -> lib links, a venv inside a prefix).
    let mut seen = BTreeSet::new();
    dirs.retain(|(_, d)| seen.insert(std::fs::canonicalize(d).unwrap_or_else(|_| d.clone())));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_layout_is_searched_under_a_prefix() {
        let prefix = tempfile::tempdir().unwrap();
        let lib = prefix
            .path()
            .join("lib/python3.11/site-packages/nvidia/nccl/lib");
        std::fs::create_dir_all(&lib).unwrap();
        let sites = prefix_site_packages(prefix.path());
        assert_eq!(sites.len(), 1);
        assert_eq!(nvidia_lib_dirs(&sites[0]), vec![lib]);
    }

    #[test]
    fn versioned_toolkits_newest_first() {
        let root = tempfile::tempdir().unwrap();
        for d in [
            "cuda",
            "cuda-12.4",
            "cuda-13.0",
            "cuda-12.10",
            "cudnn-9",
            "cuda-x",
        ] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        let names: Vec<String> = versioned_toolkits(root.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["cuda-13.0", "cuda-12.10", "cuda-12.4"]);
    }
}
