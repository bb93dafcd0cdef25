//! Finds the CUDA driver and libraries where users have them, and makes `cudarc`'s
//! loader see them.
//!
//! `cudarc` (feature `dynamic-loading`) opens each library on first use with
//! `dlopen(name)` over a fixed list of bare file names (`get_lib_name_candidates`:
//! `libnccl.so`, `libnccl.so.13`, `libnccl.so.12`, ..., never `libnccl.so.2`, the name
//! NCCL ships under), and panics when none opens. A bare name is searched by the
//! dynamic loader in LD_LIBRARY_PATH *as it was when the process started* (glibc reads
//! it once), the executable's RUNPATH, ld.so.cache and the system directories. So
//! neither setting LD_LIBRARY_PATH from inside the process nor preloading the file by
//! its full path helps (glibc matches an already loaded library by its SONAME,
//! `libnccl.so.2`, which is not one of the names asked for).
//!
//! What works in every case: before anything else happens (before MPI starts), when a
//! library was found only outside the loader's reach, create a directory in the user's
//! cache holding symbolic links with the names `cudarc` asks for (`libnccl.so` ->
//! `.../site-packages/nvidia/nccl/lib/libnccl.so.2`), put it and the libraries' own
//! directories in front of LD_LIBRARY_PATH, and re-execute the program once
//! (`CLUSTERBENCH_CUDA_REEXEC` stops a second round). The new process image keeps its
//! pid, arguments and the launcher's environment, so this is transparent under
//! mpirun and srun.

use crate::results::environment::LibraryLocation;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Set in the environment of the re-executed process.
const REEXEC_GUARD: &str = "CLUSTERBENCH_CUDA_REEXEC";

/// A library the CUDA backend loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CudaLib {
    /// The name `cudarc` gives it (`lib{name}.so...`).
    pub name: &'static str,
    /// What it is, for messages.
    pub what: &'static str,
    /// Where it usually comes from, for messages.
    pub install_hint: &'static str,
}

pub const DRIVER: CudaLib = CudaLib {
    name: "cuda",
    what: "CUDA driver",
    install_hint: "install the NVIDIA driver",
};
pub const NVRTC: CudaLib = CudaLib {
    name: "nvrtc",
    what: "NVRTC (run-time CUDA compiler)",
    install_hint: "pip install nvidia-cuda-nvrtc, or a CUDA toolkit",
};
pub const CUBLAS: CudaLib = CudaLib {
    name: "cublas",
    what: "cuBLAS",
    install_hint: "pip install nvidia-cublas, or a CUDA toolkit",
};
pub const CUBLASLT: CudaLib = CudaLib {
    name: "cublasLt",
    what: "cuBLASLt",
    install_hint: "pip install nvidia-cublas, or a CUDA toolkit",
};
pub const NCCL: CudaLib = CudaLib {
    name: "nccl",
    what: "NCCL",
    install_hint: "pip install nvidia-nccl-cu13, or conda/apt's nccl",
};

/// Every library, the driver first.
pub const ALL_LIBS: [CudaLib; 5] = [DRIVER, NVRTC, CUBLASLT, CUBLAS, NCCL];

/// How a library was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// `dlopen` of one of `cudarc`'s names succeeds as the process is.
    Loader(String),
    /// A file outside the loader's reach, and the place searched that held it.
    File { path: PathBuf, place: String },
    /// Not found; the places searched.
    Missing { searched: Vec<String> },
}

/// The file names `cudarc` tries for `lib`, without repeats.
pub fn cudarc_names(lib: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    cudarc::get_lib_name_candidates(lib)
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// Whether the dynamic loader opens one of `cudarc`'s names for `lib`; returns it.
fn loader_finds(lib: &str) -> Option<String> {
    cudarc_names(lib).into_iter().find(|name| {
        // SAFETY: loading a CUDA library runs its initialisers, which is what using it
        // does anyway; the handle is closed again at once.
        unsafe { libloading::Library::new(name) }.is_ok()
    })
}

/// Whether `file` is a shared object of `lib` (`libnccl.so`, `libnccl.so.2`, ...).
fn is_lib_file(lib: &str, file: &str) -> bool {
    let stem = format!("lib{lib}.so");
    file == stem
        || file
            .strip_prefix(&stem)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The best file of `lib` in `dir`: the shortest versioned name (the SONAME, such as
/// `libcublas.so.13`) before the unversioned development link.
fn lib_in_dir(lib: &str, dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| is_lib_file(lib, f))
        .collect();
    files.sort_by_key(|f| (f.ends_with(".so"), f.len(), f.clone()));
    files.into_iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

fn env_paths(var: &str) -> Vec<PathBuf> {
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
    if let Some(venv) = cache_venv() {
        for site in prefix_site_packages(&venv) {
            for d in nvidia_lib_dirs(&site) {
                dirs.push(("clusterbench venv".into(), d));
            }
        }
    }
    for d in [
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
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

/// Finds `lib`: first as the loader sees it, then in [`search_dirs`]. The answer is
/// kept: trying a name loads the whole library (hundreds of MB for cuBLAS), and
/// nothing this process does changes where libraries are.
pub fn find(lib: &CudaLib) -> Found {
    static FOUND: std::sync::Mutex<Vec<(&'static str, Found)>> = std::sync::Mutex::new(Vec::new());
    let mut cache = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, f)) = cache.iter().find(|(name, _)| *name == lib.name) {
        return f.clone();
    }
    let found = find_uncached(lib);
    cache.push((lib.name, found.clone()));
    found
}

fn find_uncached(lib: &CudaLib) -> Found {
    if let Some(name) = loader_finds(lib.name) {
        return Found::Loader(name);
    }
    let dirs = search_dirs();
    for (place, dir) in &dirs {
        if let Some(path) = lib_in_dir(lib.name, dir) {
            return Found::File {
                path,
                place: place.clone(),
            };
        }
    }
    let mut searched = vec![format!(
        "the dynamic loader's path for {}",
        cudarc_names(lib.name)
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
            + ", ..."
    )];
    searched.extend(
        dirs.iter()
            .map(|(place, d)| format!("{} ({place})", d.display())),
    );
    Found::Missing { searched }
}

/// A one-line message for a library that is missing.
pub fn missing_message(lib: &CudaLib, searched: &[String]) -> String {
    format!(
        "no {} library (lib{}.so*) found; searched {}; {}, or point LD_LIBRARY_PATH, CUDA_HOME or CONDA_PREFIX at it",
        lib.what,
        lib.name,
        searched.join(", "),
        lib.install_hint
    )
}

/// The library's location for the environment fingerprint.
pub fn location(lib: &CudaLib) -> LibraryLocation {
    let (path, found_by) = match find(lib) {
        Found::Loader(name) => (Some(name), Some("loader".to_string())),
        Found::File { path, place } => (Some(path.display().to_string()), Some(place)),
        Found::Missing { .. } => (None, None),
    };
    LibraryLocation {
        name: lib.name.to_string(),
        path,
        found_by,
    }
}

/// Makes the libraries found only by searching visible to `cudarc`'s loader by
/// re-executing the program once (see the module's notes). Returns normally when
/// nothing needs doing, or when re-executing is impossible (then the libraries count
/// as missing later, with a clear message). `driver_required`: do nothing unless the
/// CUDA driver itself can be loaded (there is no GPU work to prepare without it).
pub fn expose_to_loader(driver_required: bool) {
    if std::env::var_os(REEXEC_GUARD).is_some() {
        return;
    }
    let found: Vec<(CudaLib, Found)> = ALL_LIBS.iter().map(|l| (*l, find(l))).collect();
    if driver_required && matches!(found[0].1, Found::Missing { .. }) {
        return;
    }
    let outside: Vec<(CudaLib, PathBuf)> = found
        .into_iter()
        .filter_map(|(l, f)| match f {
            Found::File { path, .. } => Some((l, path)),
            _ => None,
        })
        .collect();
    if outside.is_empty() {
        return;
    }
    let Some(link_dir) = link_dir(&outside) else {
        return;
    };
    let mut path: Vec<PathBuf> = vec![link_dir];
    for (_, file) in &outside {
        if let Some(dir) = file.parent() {
            if !path.iter().any(|p| p == dir) {
                path.push(dir.to_path_buf());
            }
        }
    }
    path.extend(env_paths("LD_LIBRARY_PATH"));
    let Ok(joined) = std::env::join_paths(&path) else {
        return;
    };
    reexec(joined);
}

/// A cache directory of links named as `cudarc` asks (`libnccl.so` -> the file found).
fn link_dir(libs: &[(CudaLib, PathBuf)]) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    libs.iter().for_each(|(_, p)| p.hash(&mut h));
    let base = cache_venv()?
        .parent()?
        .join("ld")
        .join(format!("{:016x}", h.finish()));
    std::fs::create_dir_all(&base).ok()?;
    for (lib, file) in libs {
        let target = std::fs::canonicalize(file).ok()?;
        for name in cudarc_names(lib.name).into_iter().take(1) {
            let link = base.join(&name);
            if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
                let _ = std::fs::remove_file(&link);
                // Another rank may have created it a moment ago: fine.
                if let Err(e) = std::os::unix::fs::symlink(&target, &link) {
                    if e.kind() != std::io::ErrorKind::AlreadyExists {
                        return None;
                    }
                }
            }
        }
    }
    Some(base)
}

fn reexec(ld_library_path: OsString) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    // Only returns on failure; the process then goes on and reports missing libraries.
    let err = std::process::Command::new(&exe)
        .arg0(argv0)
        .args(args)
        .env("LD_LIBRARY_PATH", ld_library_path)
        .env(REEXEC_GUARD, "1")
        .exec();
    eprintln!(
        "clusterbench: warning: could not re-execute {} to load CUDA libraries: {err}",
        exe.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_file_names() {
        assert!(is_lib_file("nccl", "libnccl.so.2"));
        assert!(is_lib_file("nccl", "libnccl.so"));
        assert!(is_lib_file("cublas", "libcublas.so.13.0.2.14"));
        assert!(!is_lib_file("cublas", "libcublasLt.so.13"));
        assert!(!is_lib_file("nccl", "libnccl.so.2.bak"));
        assert!(!is_lib_file("nccl", "libnccl-net.so"));
    }

    #[test]
    fn finds_the_soname_first_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "libcublas.so",
            "libcublas.so.13",
            "libcublas.so.13.0.2",
            "libcublasLt.so.13",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        assert_eq!(
            lib_in_dir("cublas", dir.path()),
            Some(dir.path().join("libcublas.so.13"))
        );
        assert_eq!(lib_in_dir("nccl", dir.path()), None);
    }

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
    fn cudarc_does_not_ask_for_the_name_nccl_ships_under() {
        // The reason for the link directory: if this ever changes, it can go.
        let names = cudarc_names("nccl");
        assert!(names.contains(&"libnccl.so".to_string()));
        assert!(!names.contains(&"libnccl.so.2".to_string()));
    }
}
