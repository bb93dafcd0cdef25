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
//!
//! With a driver present, the build of each library is chosen by the CUDA version the
//! driver reports (see [`super::builds`]): a CUDA 12 driver gets CUDA 12 NVRTC, cuBLAS
//! and NCCL wherever they were found, even where the loader alone would open a CUDA 13
//! build first (`cudarc` asks for `libcublas.so.13` before `libcublas.so.12`); the link
//! directory then names the chosen file first.

use super::builds::{self, Candidate, Choice};
use super::driver_api::{self, CudaVersion};
use super::places::env_paths;
pub use super::places::{cache_venv, cache_venv_cu12, search_dirs};
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
    install_hint:
        "pip install nvidia-cuda-nvrtc (CUDA 13) or nvidia-cuda-nvrtc-cu12, or a CUDA toolkit",
};
pub const CUBLAS: CudaLib = CudaLib {
    name: "cublas",
    what: "cuBLAS",
    install_hint: "pip install nvidia-cublas (CUDA 13) or nvidia-cublas-cu12, or a CUDA toolkit",
};
pub const CUBLASLT: CudaLib = CudaLib {
    name: "cublasLt",
    what: "cuBLASLt",
    install_hint: "pip install nvidia-cublas (CUDA 13) or nvidia-cublas-cu12, or a CUDA toolkit",
};
pub const NCCL: CudaLib = CudaLib {
    name: "nccl",
    what: "NCCL",
    install_hint: "pip install nvidia-nccl-cu13 or nvidia-nccl-cu12, or conda/apt's nccl",
};

/// Every library, the driver first.
pub const ALL_LIBS: [CudaLib; 5] = [DRIVER, NVRTC, CUBLASLT, CUBLAS, NCCL];

/// How a library was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// `dlopen` of one of `cudarc`'s names succeeds as the process is and opens the build
    /// to use: the name, and the file it opened (when the loader tells).
    Loader { name: String, path: Option<PathBuf> },
    /// The file to use, outside the loader's reach (or not the one the loader would open
    /// first), and the place searched that held it.
    File { path: PathBuf, place: String },
    /// Not found; the places searched.
    Missing { searched: Vec<String> },
    /// Found only builds for a newer CUDA than the driver supports; the first of them.
    TooNew {
        path: PathBuf,
        major: u32,
        driver: CudaVersion,
    },
}

/// The file names `cudarc` tries for `lib`, without repeats.
pub fn cudarc_names(lib: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    cudarc::get_lib_name_candidates(lib)
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// `dladdr`'s answer (glibc's `Dl_info`).
#[repr(C)]
struct DlInfo {
    fname: *const std::ffi::c_char,
    fbase: *mut std::ffi::c_void,
    sname: *const std::ffi::c_char,
    saddr: *mut std::ffi::c_void,
}

extern "C" {
    // In glibc's libc (2.34 and newer) or libdl, which `libloading` links.
    fn dladdr(addr: *const std::ffi::c_void, info: *mut DlInfo) -> std::ffi::c_int;
}

/// The file `handle` was opened from (links resolved), through the address of one of
/// its functions.
fn opened_file(lib: &CudaLib, handle: &libloading::Library) -> Option<PathBuf> {
    let symbol = *super::symbols::used(lib, None).first()?;
    // SAFETY: only the address is taken; nothing is called.
    let address = unsafe { handle.get::<*const std::ffi::c_void>(symbol.as_bytes()) }.ok()?;
    let mut info = DlInfo {
        fname: std::ptr::null(),
        fbase: std::ptr::null_mut(),
        sname: std::ptr::null(),
        saddr: std::ptr::null_mut(),
    };
    // SAFETY: `info` is a valid Dl_info to fill; the address is inside a loaded object.
    if unsafe { dladdr(*address, &mut info) } == 0 || info.fname.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated path owned by the loader, valid while the object is loaded.
    let name = unsafe { std::ffi::CStr::from_ptr(info.fname) };
    let path = PathBuf::from(name.to_string_lossy().into_owned());
    std::fs::canonicalize(&path)
        .ok()
        .or(Some(path))
        .filter(|p| p.is_absolute())
}

/// `cudarc`'s names for `lib` that the dynamic loader opens as the process is, in the
/// order `cudarc` tries them, with the file each opens (the first only, unless `all`).
fn loader_opens(lib: &CudaLib, all: bool) -> Vec<(String, Option<PathBuf>)> {
    let mut out: Vec<(String, Option<PathBuf>)> = Vec::new();
    for name in cudarc_names(lib.name) {
        // SAFETY: loading a CUDA library runs its initialisers, which is what using it
        // does anyway; the handle is closed again at once.
        let Ok(handle) = (unsafe { libloading::Library::new(&name) }) else {
            continue;
        };
        let path = opened_file(lib, &handle);
        if path.is_none() || !out.iter().any(|(_, p)| *p == path) {
            out.push((name, path));
        }
        if !all {
            break;
        }
    }
    out
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

/// Finds `lib`: first as the loader sees it, then in [`search_dirs`]; with a driver,
/// the build for the driver's CUDA version (see [`super::builds`]). The answer is kept:
/// trying a name loads the whole library (hundreds of MB for cuBLAS), and nothing this
/// process does changes where libraries are.
pub fn find(lib: &CudaLib) -> Found {
    located(lib).0
}

/// Why [`find`] chose the build it did, when the driver's version decided it.
pub fn choice_note(lib: &CudaLib) -> Option<String> {
    located(lib).1
}

type Located = (Found, Option<String>);

fn located(lib: &CudaLib) -> Located {
    static FOUND: std::sync::Mutex<Vec<(&'static str, Located)>> =
        std::sync::Mutex::new(Vec::new());
    let cached = || {
        let cache = FOUND.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .iter()
            .find(|(name, _)| *name == lib.name)
            .map(|(_, l)| l.clone())
    };
    if let Some(l) = cached() {
        return l;
    }
    // Read without holding the lock: the driver's version needs the driver found first.
    let driver = (lib.name != DRIVER.name)
        .then(driver_api::driver_version)
        .flatten();
    let found = find_uncached(lib, driver);
    let mut cache = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, l)) = cache.iter().find(|(name, _)| *name == lib.name) {
        return l.clone();
    }
    cache.push((lib.name, found.clone()));
    found
}

fn find_uncached(lib: &CudaLib, driver: Option<CudaVersion>) -> Located {
    let dirs = search_dirs();
    // Without a driver nothing decides between builds: the first found is taken, and
    // the loader's other names need not be tried.
    let opened = loader_opens(lib, driver.is_some());
    let first_loader_name = opened.first().map(|(name, _)| name.clone());
    let mut candidates: Vec<Candidate> = opened
        .into_iter()
        .map(|(name, path)| Candidate {
            major: builds::cuda_major(lib, path.as_deref().unwrap_or(Path::new(&name))),
            path: path.unwrap_or_else(|| PathBuf::from(&name)),
            place: format!("loader, as {name}"),
            loader_name: Some(name),
        })
        .collect();
    let enough = driver.is_none() && !candidates.is_empty();
    for (place, dir) in dirs.iter().filter(|_| !enough) {
        if let Some(path) = lib_in_dir(lib.name, dir) {
            candidates.push(Candidate {
                major: builds::cuda_major(lib, &path),
                path,
                place: place.clone(),
                loader_name: None,
            });
            if driver.is_none() {
                break;
            }
        }
    }
    match builds::choose(candidates, driver) {
        Choice::Use { chosen, note } => {
            let found = match chosen.loader_name {
                // The loader opens this one first: cudarc will open it as it is.
                Some(name) if Some(&name) == first_loader_name.as_ref() => Found::Loader {
                    name,
                    path: Some(chosen.path).filter(|p| p.is_absolute()),
                },
                _ => Found::File {
                    path: chosen.path,
                    place: chosen.place,
                },
            };
            (found, note)
        }
        Choice::TooNew { newest, driver } => (
            Found::TooNew {
                path: newest.path,
                major: newest.major.unwrap_or_default(),
                driver,
            },
            None,
        ),
        Choice::None => {
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
            (Found::Missing { searched }, None)
        }
    }
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

/// A one-line message for a library found only in builds the driver cannot use.
pub fn too_new_message(lib: &CudaLib, path: &Path, major: u32, driver: CudaVersion) -> String {
    let own = driver.major();
    let wheel = builds::wheel_for(lib, own)
        .map(|w| format!("pip install {w}, or "))
        .unwrap_or_default();
    format!(
        "only a CUDA {major} build of {} was found ({}), and the CUDA driver here supports CUDA {driver}: CUDA {major} libraries need a CUDA {major} driver; install a CUDA {own} build ({wheel}a CUDA {own} toolkit) or a newer driver",
        lib.what,
        path.display(),
    )
}

/// The message for a library that was not found usable; `None` when it was found.
pub fn unusable_message(lib: &CudaLib, found: &Found) -> Option<String> {
    match found {
        Found::Missing { searched } => Some(missing_message(lib, searched)),
        Found::TooNew {
            path,
            major,
            driver,
        } => Some(too_new_message(lib, path, *major, *driver)),
        Found::Loader { .. } | Found::File { .. } => None,
    }
}

/// The library's location for the environment fingerprint.
pub fn location(lib: &CudaLib) -> LibraryLocation {
    let (path, found_by) = match find(lib) {
        Found::Loader { name, path } => (
            Some(path.map_or(name, |p| p.display().to_string())),
            Some("loader".to_string()),
        ),
        Found::File { path, place } => (Some(path.display().to_string()), Some(place)),
        Found::Missing { .. } | Found::TooNew { .. } => (None, None),
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
    if driver_required && !matches!(found[0].1, Found::Loader { .. } | Found::File { .. }) {
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
    crate::errln!(
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
    fn cudarc_asks_for_cuda_13_names_before_cuda_12_ones() {
        // Both are asked for, the CUDA 13 one first: on a CUDA 12 driver the link
        // directory must name the CUDA 12 build under cudarc's first name.
        for lib in ["nvrtc", "cublas", "cublasLt"] {
            let names = cudarc_names(lib);
            let at = |n: &str| names.iter().position(|x| *x == format!("lib{lib}.so.{n}"));
            assert!(
                at("12").is_some() && at("13") < at("12"),
                "{lib}: {names:?}"
            );
            assert_eq!(names[0], format!("lib{lib}.so"), "{lib}: {names:?}");
        }
    }

    #[test]
    fn cudarc_does_not_ask_for_the_name_nccl_ships_under() {
        // The reason for the link directory: if this ever changes, it can go.
        let names = cudarc_names("nccl");
        assert!(names.contains(&"libnccl.so".to_string()));
        assert!(!names.contains(&"libnccl.so.2".to_string()));
    }
}
