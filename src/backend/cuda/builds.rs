//! Which CUDA major version a library file was built for, and which build of a library
//! to use with the loaded driver.
//!
//! CUDA 12 and CUDA 13 builds of NVRTC, cuBLAS and NCCL install side by side (pip's
//! `-cu12` and CUDA 13 wheels, toolkits under `/usr/local/cuda-12.x`). A library of a
//! newer major than the driver supports does not work with it (CUDA 13 libraries need a
//! CUDA 13 driver, R580 or newer), while one of an older major does (backward
//! compatibility) and one of the same major but a newer minor does too (minor version
//! compatibility). So with a driver present, the build of the driver's own major comes
//! first, then older majors, and newer majors never.

use super::discovery::CudaLib;
use super::driver_api::CudaVersion;
use std::path::{Path, PathBuf};

/// The CUDA major `path` (a file of `lib`) was built for, when it can be told: from its
/// versioned file name or the one it links to (`libcublas.so.12`, `libnvrtc.so.13.0.88`);
/// for NCCL, whose file name carries NCCL's own major (`libnccl.so.2`), from the wheel
/// that installed it (`nvidia_nccl_cu12-*.dist-info`) or the version string it embeds
/// (`NCCL version 2.28.9+cuda13.0`); else from a directory named for it (`cuda-12.4`,
/// pip's `nvidia/cu13`).
pub fn cuda_major(lib: &CudaLib, path: &Path) -> Option<u32> {
    if lib.name == "cuda" {
        return None;
    }
    let real = std::fs::canonicalize(path).ok();
    let from_name = || {
        [Some(path), real.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|p| soname_major(lib.name, p))
    };
    let from_nccl = || nccl_wheel_major(path).or_else(|| nccl_embedded_major(path));
    let named = if lib.name == "nccl" {
        from_nccl()
    } else {
        from_name()
    };
    named.or_else(|| directory_major(path))
}

/// `libcublas.so.12...` -> 12 (the SONAME major of the CUDA math libraries and NVRTC is
/// the CUDA major).
fn soname_major(lib: &str, path: &Path) -> Option<u32> {
    let file = path.file_name()?.to_str()?;
    let rest = file.strip_prefix(&format!("lib{lib}.so."))?;
    rest.split('.').next()?.parse().ok()
}

/// `.../cuda-12.4/...` or pip's `.../nvidia/cu13/lib` -> the major.
fn directory_major(path: &Path) -> Option<u32> {
    path.ancestors().skip(1).find_map(|dir| {
        let name = dir.file_name()?.to_str()?;
        let digits = name
            .strip_prefix("cuda-")
            .map(|v| v.split('.').next().unwrap_or(v))
            .or_else(|| name.strip_prefix("cu"))?;
        digits.parse().ok().filter(|m| (10..100).contains(m))
    })
}

/// pip's NCCL: `site-packages/nvidia/nccl/lib/libnccl.so.2` beside exactly one
/// `nvidia_nccl_cuXY-*.dist-info`.
fn nccl_wheel_major(path: &Path) -> Option<u32> {
    let nvidia = path.ancestors().nth(3)?;
    if nvidia.file_name()? != "nvidia" {
        return None;
    }
    let site = nvidia.parent()?;
    let mut majors: Vec<u32> = std::fs::read_dir(site)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let rest = name.strip_prefix("nvidia_nccl_cu")?;
            name.ends_with(".dist-info").then_some(())?;
            rest.split('-').next()?.parse().ok()
        })
        .collect();
    majors.sort_unstable();
    majors.dedup();
    (majors.len() == 1).then(|| majors[0])
}

/// The CUDA major in NCCL's embedded version string, read from the file's `.rodata`.
fn nccl_embedded_major(path: &Path) -> Option<u32> {
    let rodata = elf_section(path, ".rodata")?;
    let marker = b"NCCL version ";
    let at = rodata.windows(marker.len()).position(|w| w == marker)?;
    let text = &rodata[at..(at + 64).min(rodata.len())];
    let plus = text.windows(5).position(|w| w == b"+cuda")?;
    let digits: String = text[plus + 5..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| b as char)
        .collect();
    digits.parse().ok()
}

/// The contents of section `name` of a 64-bit little-endian ELF file (what Linux x86-64
/// and aarch64 libraries are); `None` for anything else.
fn elf_section(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header).ok()?;
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |b: &[u8], o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |b: &[u8], o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
    let table_at = u64_at(&header, 0x28)?;
    let entry_size = u16_at(&header, 0x3a)? as usize;
    let count = u16_at(&header, 0x3c)? as usize;
    let names_index = u16_at(&header, 0x3e)? as usize;
    if entry_size < 64 || count == 0 || names_index >= count {
        return None;
    }
    let mut table = vec![0u8; entry_size * count];
    file.seek(SeekFrom::Start(table_at)).ok()?;
    file.read_exact(&mut table).ok()?;
    let section = |i: usize| {
        let e = &table[i * entry_size..(i + 1) * entry_size];
        Some((u32_at(e, 0)? as usize, u64_at(e, 24)?, u64_at(e, 32)?))
    };
    let mut read = |offset: u64, size: u64| -> Option<Vec<u8>> {
        // A section table that claims more than a library holds is not one to trust.
        if size > 1 << 30 {
            return None;
        }
        let mut bytes = vec![0u8; size as usize];
        file.seek(SeekFrom::Start(offset)).ok()?;
        file.read_exact(&mut bytes).ok()?;
        Some(bytes)
    };
    let (_, names_at, names_size) = section(names_index)?;
    let names = read(names_at, names_size)?;
    let wanted = (0..count).find(|&i| {
        section(i).is_some_and(|(at, _, _)| {
            names
                .get(at..)
                .is_some_and(|rest| rest.split(|&b| b == 0).next() == Some(name.as_bytes()))
        })
    })?;
    let (_, offset, size) = section(wanted)?;
    read(offset, size)
}

/// A file of a library that could be used, and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    /// The place searched that held it (`loader`, `LD_LIBRARY_PATH`, ...).
    pub place: String,
    /// Set when the dynamic loader opens it by this name of cudarc's, as the process is.
    pub loader_name: Option<String>,
    pub major: Option<u32>,
}

/// Which candidate to use with a driver of CUDA `driver`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Use this one; `note` says why, when a driver decided it.
    Use {
        chosen: Candidate,
        note: Option<String>,
    },
    /// Every candidate is built for a newer CUDA than the driver supports; the first.
    TooNew {
        newest: Candidate,
        driver: CudaVersion,
    },
    /// No candidate at all.
    None,
}

/// Picks among `candidates` (in the order searched). Without a driver the first wins;
/// with one, the build of the driver's major, then an unknown build, then older majors
/// from the newest down; never a newer major. Ties keep the search order.
pub fn choose(candidates: Vec<Candidate>, driver: Option<CudaVersion>) -> Choice {
    let Some(driver) = driver else {
        return match candidates.into_iter().next() {
            Some(chosen) => Choice::Use { chosen, note: None },
            None => Choice::None,
        };
    };
    let own = driver.major();
    let (usable, too_new): (Vec<Candidate>, Vec<Candidate>) = candidates
        .into_iter()
        .partition(|c| c.major.is_none_or(|m| m <= own));
    let rank = |c: &Candidate| match c.major {
        Some(m) if m == own => 0,
        None => 1,
        Some(m) => 2 + own - m,
    };
    let Some(chosen) = usable.iter().min_by_key(|c| rank(c)).cloned() else {
        return match too_new.into_iter().next() {
            Some(newest) => Choice::TooNew { newest, driver },
            None => Choice::None,
        };
    };
    let build = match chosen.major {
        Some(m) => format!("a CUDA {m} build"),
        None => "a build of unknown CUDA version".to_string(),
    };
    let mut note = format!("{build}, for the driver's CUDA {driver}");
    if let Some(skipped) = too_new.first() {
        note += &format!(
            "; passed over {} (CUDA {}, needs a newer driver)",
            skipped.path.display(),
            skipped.major.unwrap_or_default()
        );
    }
    Choice::Use {
        chosen,
        note: Some(note),
    }
}

/// The pip wheel with `lib` built for CUDA `major` (`nvidia-cublas-cu12`).
pub fn wheel_for(lib: &CudaLib, major: u32) -> Option<String> {
    let stem = match lib.name {
        "nvrtc" => "nvidia-cuda-nvrtc",
        "cublas" | "cublasLt" => "nvidia-cublas",
        "nccl" => "nvidia-nccl",
        _ => return None,
    };
    Some(format!("{stem}-cu{major}"))
}

#[cfg(test)]
mod tests {
    use super::super::discovery::{CUBLAS, CUBLASLT, NCCL, NVRTC};
    use super::*;

    fn candidate(path: &str, major: Option<u32>) -> Candidate {
        Candidate {
            path: PathBuf::from(path),
            place: "test".into(),
            loader_name: None,
            major,
        }
    }

    #[test]
    fn majors_from_file_and_directory_names() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("libcublas.so.12.9.1.4");
        std::fs::write(&real, b"").unwrap();
        let link = dir.path().join("libcublas.so");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(cuda_major(&CUBLAS, &link), Some(12), "through the link");
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(cuda_major(&NVRTC, &p("/x/libnvrtc.so.13")), Some(13));
        assert_eq!(cuda_major(&CUBLASLT, &p("/x/libcublasLt.so.12")), Some(12));
        assert_eq!(cuda_major(&CUBLAS, &p("/x/libcublasLt.so.12")), None);
        let toolkit = p("/usr/local/cuda-12.4/lib64/libnvrtc.so");
        assert_eq!(cuda_major(&NVRTC, &toolkit), Some(12));
        let wheel = p("/v/site-packages/nvidia/cu13/lib/libnvrtc.so");
        assert_eq!(cuda_major(&NVRTC, &wheel), Some(13));
    }

    #[test]
    fn nccl_major_from_its_wheel_or_its_version_string() {
        let site = tempfile::tempdir().unwrap();
        let lib = site.path().join("nvidia/nccl/lib");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("libnccl.so.2"), b"not an ELF file").unwrap();
        assert_eq!(cuda_major(&NCCL, &lib.join("libnccl.so.2")), None);
        std::fs::create_dir(site.path().join("nvidia_nccl_cu12-2.28.9.dist-info")).unwrap();
        assert_eq!(cuda_major(&NCCL, &lib.join("libnccl.so.2")), Some(12));
        std::fs::create_dir(site.path().join("nvidia_nccl_cu13-2.28.9.dist-info")).unwrap();
        assert_eq!(
            cuda_major(&NCCL, &lib.join("libnccl.so.2")),
            None,
            "ambiguous"
        );
    }

    /// A real shared object with NCCL's version string in its `.rodata`.
    #[test]
    fn nccl_major_from_an_elf_rodata_section() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("v.c");
        std::fs::write(
            &src,
            "const char *nccl_version(void) { return \"NCCL version 2.21.5+cuda12.4\"; }\n",
        )
        .unwrap();
        let so = dir.path().join("libnccl.so.2");
        let status = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&src)
            .status()
            .expect("a C compiler (cc)");
        assert!(status.success());
        assert_eq!(cuda_major(&NCCL, &so), Some(12));
        assert!(elf_section(&so, ".no-such-section").is_none());
        assert!(elf_section(&src, ".rodata").is_none(), "not ELF");
    }

    #[test]
    fn the_driver_major_comes_first_and_newer_majors_never() {
        let cands = vec![
            candidate("/a/libcublas.so.13", Some(13)),
            candidate("/b/libcublas.so.11", Some(11)),
            candidate("/c/libcublas.so.12", Some(12)),
        ];
        let Choice::Use { chosen, note } = choose(cands.clone(), Some(CudaVersion(12020))) else {
            panic!("a CUDA 12 build is there")
        };
        assert_eq!(chosen.path, PathBuf::from("/c/libcublas.so.12"));
        let note = note.unwrap();
        assert!(
            note.starts_with("a CUDA 12 build, for the driver's CUDA 12.2"),
            "{note}"
        );
        assert!(
            note.contains("passed over /a/libcublas.so.13 (CUDA 13"),
            "{note}"
        );

        let Choice::Use { chosen, .. } = choose(cands.clone(), Some(CudaVersion(13000))) else {
            panic!()
        };
        assert_eq!(chosen.path, PathBuf::from("/a/libcublas.so.13"));

        // Older majors only when nothing of the driver's own is there.
        let older = vec![cands[1].clone(), cands[0].clone()];
        let Choice::Use { chosen, .. } = choose(older, Some(CudaVersion(12080))) else {
            panic!()
        };
        assert_eq!(chosen.major, Some(11));

        assert_eq!(
            choose(vec![cands[0].clone()], Some(CudaVersion(12020))),
            Choice::TooNew {
                newest: cands[0].clone(),
                driver: CudaVersion(12020)
            }
        );
        // Without a driver, the search order decides.
        let Choice::Use { chosen, note } = choose(cands.clone(), None) else {
            panic!()
        };
        assert_eq!((chosen, note), (cands[0].clone(), None));
        assert_eq!(choose(Vec::new(), Some(CudaVersion(12020))), Choice::None);
    }

    #[test]
    fn unknown_builds_come_after_the_drivers_own_and_before_older() {
        let cands = vec![
            candidate("/old/libnccl.so.2", Some(11)),
            candidate("/conda/libnccl.so", None),
            candidate("/wheel/libnccl.so.2", Some(12)),
        ];
        let pick = |c: Vec<Candidate>| match choose(c, Some(CudaVersion(12020))) {
            Choice::Use { chosen, .. } => chosen.path,
            other => panic!("{other:?}"),
        };
        assert_eq!(pick(cands.clone()), PathBuf::from("/wheel/libnccl.so.2"));
        assert_eq!(
            pick(cands[..2].to_vec()),
            PathBuf::from("/conda/libnccl.so")
        );
    }

    #[test]
    fn wheels_per_major() {
        assert_eq!(
            wheel_for(&CUBLASLT, 12).as_deref(),
            Some("nvidia-cublas-cu12")
        );
        assert_eq!(
            wheel_for(&NVRTC, 12).as_deref(),
            Some("nvidia-cuda-nvrtc-cu12")
        );
        assert_eq!(wheel_for(&NCCL, 12).as_deref(), Some("nvidia-nccl-cu12"));
    }
}
