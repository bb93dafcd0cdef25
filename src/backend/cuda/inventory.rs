//! The GPU part of the environment fingerprint: devices and library versions.
//!
//! Reads device attributes through the driver without creating contexts (cheap, and
//! it allocates nothing on the GPUs), and only after the driver library was found, so
//! a machine without CUDA gets an empty list rather than a panic.

use super::discovery::{self, Found};
use crate::results::environment::{CudaStack, GpuInfo, RankGpu};
use cudarc::driver::{result, sys};
use std::ffi::c_int;

/// Whether the CUDA driver is loadable and initialises (asked once).
fn driver_ready() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| {
        matches!(discovery::find(&discovery::DRIVER), Found::Loader { .. })
            && result::init().is_ok()
    })
}

/// Runs `f` on `lib` opened from where it was found, if it was.
fn with_lib(
    lib: &discovery::CudaLib,
    f: impl FnOnce(&libloading::Library) -> Option<String>,
) -> Option<String> {
    let path = super::symbols::located_path(lib)?;
    // SAFETY: loading a CUDA library runs its initialisers only.
    let handle = unsafe { libloading::Library::new(path) }.ok()?;
    f(&handle)
}

fn attribute(dev: sys::CUdevice, attr: sys::CUdevice_attribute) -> Option<i32> {
    // SAFETY: `dev` is a valid device handle from cuDeviceGet.
    unsafe { result::device::get_attribute(dev, attr) }.ok()
}

fn pci_bus_id(dev: sys::CUdevice) -> Option<String> {
    let mut buf = [0 as std::ffi::c_char; 32];
    // SAFETY: the buffer holds `len` bytes; the driver writes a NUL-terminated string.
    let rc = unsafe { sys::cuDeviceGetPCIBusId(buf.as_mut_ptr(), buf.len() as c_int, dev) };
    if rc != sys::CUresult::CUDA_SUCCESS {
        return None;
    }
    // SAFETY: NUL-terminated by the driver, within the buffer.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

fn sysfs_pci(bus_id: &str, file: &str) -> Option<String> {
    // sysfs names PCI devices in lower case with a 4-digit domain; the driver may
    // report an 8-digit domain.
    let id = bus_id.to_ascii_lowercase();
    let id = match id.split_once(':') {
        Some((domain, rest)) if domain.len() > 4 => {
            format!("{}:{rest}", &domain[domain.len() - 4..])
        }
        _ => id,
    };
    std::fs::read_to_string(format!("/sys/bus/pci/devices/{id}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn uuid_string(dev: sys::CUdevice) -> Option<String> {
    let u = result::device::get_uuid(dev).ok()?;
    let b: Vec<u8> = u.bytes.iter().map(|&c| c as u8).collect();
    Some(format!(
        "GPU-{}-{}-{}-{}-{}",
        hex(&b[0..4]),
        hex(&b[4..6]),
        hex(&b[6..8]),
        hex(&b[8..10]),
        hex(&b[10..16])
    ))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every GPU the driver shows this process (empty without a driver).
pub fn gpu_inventory() -> Vec<GpuInfo> {
    if !driver_ready() {
        return Vec::new();
    }
    let count = result::device::get_count().unwrap_or(0).max(0);
    let mut out = Vec::new();
    for index in 0..count {
        let Ok(dev) = result::device::get(index) else {
            continue;
        };
        use sys::CUdevice_attribute as A;
        let attr = |a| attribute(dev, a);
        let mhz = |a| attr(a).filter(|&k| k > 0).map(|k| (k / 1000) as u32);
        let pci = pci_bus_id(dev);
        out.push(GpuInfo {
            index: index as u32,
            name: result::device::get_name(dev).unwrap_or_else(|_| "unknown".into()),
            uuid: uuid_string(dev),
            compute_capability: format!(
                "{}.{}",
                attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR).unwrap_or(0),
                attr(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR).unwrap_or(0)
            ),
            sm_count: attr(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT).unwrap_or(0) as u32,
            // SAFETY: `dev` is valid.
            memory_bytes: unsafe { result::device::total_mem(dev) }.unwrap_or(0) as u64,
            sm_clock_mhz: mhz(A::CU_DEVICE_ATTRIBUTE_CLOCK_RATE),
            memory_clock_mhz: mhz(A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE),
            memory_bus_width_bits: attr(A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)
                .filter(|&w| w > 0)
                .map(|w| w as u32),
            l2_cache_bytes: attr(A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
                .filter(|&w| w > 0)
                .map(|w| w as u64),
            numa_node: pci
                .as_deref()
                .and_then(|p| sysfs_pci(p, "numa_node"))
                .and_then(|n| n.parse().ok()),
            cpu_affinity: pci.as_deref().and_then(|p| sysfs_pci(p, "local_cpulist")),
            ecc_enabled: attr(A::CU_DEVICE_ATTRIBUTE_ECC_ENABLED).map(|e| e != 0),
            pci_bus_id: pci,
            nvlink_domain: None,
        });
    }
    super::fabric::record_domains(&mut out);
    out
}

/// The driver and library versions (None when no CUDA library is found at all).
pub fn cuda_stack() -> Option<CudaStack> {
    let libraries: Vec<_> = discovery::ALL_LIBS
        .iter()
        .map(discovery::location)
        .collect();
    if libraries.iter().all(|l| l.path.is_none()) {
        return None;
    }
    let cuda_driver_api = super::driver_api::driver_version().map(|v| v.to_string());
    // Versions straight from the files found (the driver is not needed for these).
    let cublas_version = with_lib(&discovery::CUBLASLT, |l| {
        // SAFETY: cublasLtGetVersion takes no arguments and returns size_t.
        let f = unsafe { l.get::<unsafe extern "C" fn() -> usize>(b"cublasLtGetVersion") }.ok()?;
        // SAFETY: as declared by cuBLASLt.
        let v = unsafe { f() };
        Some(format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100))
    });
    let nccl_version = with_lib(&discovery::NCCL, |l| {
        // SAFETY: ncclGetVersion(int*) writes one int.
        let f = unsafe { l.get::<unsafe extern "C" fn(*mut c_int) -> c_int>(b"ncclGetVersion") }
            .ok()?;
        let mut v: c_int = 0;
        // SAFETY: as declared by NCCL; 0 is ncclSuccess.
        (unsafe { f(&mut v) } == 0)
            .then(|| format!("{}.{}.{}", v / 10000, (v / 100) % 100, v % 100))
    });
    let nvrtc_version = with_lib(&discovery::NVRTC, |l| {
        // SAFETY: nvrtcVersion(int*, int*) writes two ints.
        let f = unsafe {
            l.get::<unsafe extern "C" fn(*mut c_int, *mut c_int) -> c_int>(b"nvrtcVersion")
        }
        .ok()?;
        let (mut major, mut minor): (c_int, c_int) = (0, 0);
        // SAFETY: as declared by NVRTC; 0 is NVRTC_SUCCESS.
        (unsafe { f(&mut major, &mut minor) } == 0).then(|| format!("{major}.{minor}"))
    });
    Some(CudaStack {
        driver_version: std::fs::read_to_string("/sys/module/nvidia/version")
            .ok()
            .map(|s| s.trim().to_string()),
        cuda_driver_api,
        cublas_version,
        nccl_version,
        nvrtc_version,
        libraries,
    })
}

/// The GPUs this rank would drive (see [`super::super::gpus::device_range`]), the
/// first first; empty without a driver or when the assignment fails.
pub fn rank_gpus(gpus_per_rank: usize) -> Vec<RankGpu> {
    if !driver_ready() {
        return Vec::new();
    }
    let count = result::device::get_count().unwrap_or(0).max(0) as usize;
    let local = crate::backend::gpus::launcher_local_rank();
    let Ok(range) = crate::backend::gpus::device_range(local, gpus_per_rank, count) else {
        return Vec::new();
    };
    range
        .map(|index| RankGpu {
            index: index as u32,
            pci_bus_id: result::device::get(index as c_int)
                .ok()
                .and_then(pci_bus_id),
        })
        .collect()
}
