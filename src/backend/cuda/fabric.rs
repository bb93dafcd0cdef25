//! Each GPU's NVLink domain, from NVML's GPU fabric info.
//!
//! On multi-node NVLink systems (GB200/GB300 NVL72) the fabric manager registers every
//! GPU with a cluster UUID and a clique id: GPUs that share both reach each other over
//! NVLink, across instances too. NCCL reads the same (`nvmlDeviceGetGpuFabricInfoV`
//! with `nvmlGpuFabricInfo_v2`) to decide on multi-node NVLink. cudarc has no NVML
//! module, so `libnvidia-ml.so.1` (shipped with the driver) is opened here by name;
//! without it, or on GPUs with no fabric, nothing is recorded.

use crate::results::environment::{GpuInfo, NvlinkDomain};
use std::ffi::{c_char, c_int, c_uint, c_void, CString};

type NvmlReturn = c_int;
type NvmlDevice = *mut c_void;

const NVML_SUCCESS: NvmlReturn = 0;
/// `NVML_GPU_FABRIC_STATE_COMPLETED`: registration finished, the ids are valid.
const FABRIC_STATE_COMPLETED: u8 = 3;

/// `nvmlGpuFabricInfo_t` (nvmlDeviceGetGpuFabricInfo, drivers from R525).
#[repr(C)]
struct FabricInfoV1 {
    cluster_uuid: [u8; 16],
    status: NvmlReturn,
    clique_id: c_uint,
    state: u8,
}

/// `nvmlGpuFabricInfo_v2_t` (nvmlDeviceGetGpuFabricInfoV, drivers from R550).
#[repr(C)]
struct FabricInfoV2 {
    version: c_uint,
    cluster_uuid: [u8; 16],
    status: NvmlReturn,
    clique_id: c_uint,
    state: u8,
    health_mask: c_uint,
}

/// `nvmlGpuFabricInfo_v2`: NVML_STRUCT_VERSION(GpuFabricInfo, 2) = sizeof | 2 << 24.
const FABRIC_INFO_V2: c_uint = std::mem::size_of::<FabricInfoV2>() as c_uint | (2 << 24);

/// The NVML entry points used here, by the names libnvidia-ml exports.
pub(super) const SYMBOLS: [&str; 6] = [
    "nvmlInit_v2",
    "nvmlShutdown",
    "nvmlDeviceGetHandleByUUID",
    "nvmlDeviceGetHandleByPciBusId_v2",
    "nvmlDeviceGetGpuFabricInfoV",
    "nvmlDeviceGetGpuFabricInfo",
];

type InitFn = unsafe extern "C" fn() -> NvmlReturn;
type HandleFn = unsafe extern "C" fn(*const c_char, *mut NvmlDevice) -> NvmlReturn;
type InfoV2Fn = unsafe extern "C" fn(NvmlDevice, *mut FabricInfoV2) -> NvmlReturn;
type InfoV1Fn = unsafe extern "C" fn(NvmlDevice, *mut FabricInfoV1) -> NvmlReturn;

/// Fills in `nvlink_domain` for each GPU whose fabric NVML reports as registered.
pub(super) fn record_domains(gpus: &mut [GpuInfo]) {
    // SAFETY: loading NVML runs its initialisers only.
    let Ok(lib) = (unsafe { libloading::Library::new("libnvidia-ml.so.1") }) else {
        return;
    };
    // SAFETY: the signatures are those of nvml.h for these names.
    let (init, shutdown) = unsafe {
        match (
            lib.get::<InitFn>(SYMBOLS[0].as_bytes()),
            lib.get::<InitFn>(SYMBOLS[1].as_bytes()),
        ) {
            (Ok(i), Ok(s)) => (i, s),
            _ => return,
        }
    };
    // SAFETY: nvmlInit_v2 takes no arguments; NVML counts inits and shutdowns.
    if unsafe { init() } != NVML_SUCCESS {
        return;
    }
    for gpu in gpus.iter_mut() {
        gpu.nvlink_domain = domain_of(&lib, gpu);
    }
    // SAFETY: balances the successful nvmlInit_v2 above.
    unsafe { shutdown() };
}

/// The GPU's device handle: by UUID (NVML ignores CUDA_VISIBLE_DEVICES, so indices
/// would not match), else by PCI bus id.
fn handle(lib: &libloading::Library, gpu: &GpuInfo) -> Option<NvmlDevice> {
    let tries = [
        (SYMBOLS[2], gpu.uuid.as_deref()),
        (SYMBOLS[3], gpu.pci_bus_id.as_deref()),
    ];
    for (name, key) in tries {
        let Some(key_c) = key.and_then(|k| CString::new(k).ok()) else {
            continue;
        };
        // SAFETY: both lookups take (const char*, nvmlDevice_t*).
        let Ok(f) = (unsafe { lib.get::<HandleFn>(name.as_bytes()) }) else {
            continue;
        };
        let mut dev: NvmlDevice = std::ptr::null_mut();
        // SAFETY: a NUL-terminated string and a place for one handle.
        if unsafe { f(key_c.as_ptr(), &mut dev) } == NVML_SUCCESS && !dev.is_null() {
            return Some(dev);
        }
    }
    None
}

fn domain_of(lib: &libloading::Library, gpu: &GpuInfo) -> Option<NvlinkDomain> {
    let dev = handle(lib, gpu)?;
    // SAFETY: nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t, nvmlGpuFabricInfoV_t*).
    if let Ok(f) = unsafe { lib.get::<InfoV2Fn>(SYMBOLS[4].as_bytes()) } {
        let mut info = FabricInfoV2 {
            version: FABRIC_INFO_V2,
            cluster_uuid: [0; 16],
            status: -1,
            clique_id: 0,
            state: 0,
            health_mask: 0,
        };
        // SAFETY: a valid handle and a v2 struct carrying its version.
        if unsafe { f(dev, &mut info) } == NVML_SUCCESS {
            return registered(info.state, info.status, &info.cluster_uuid, info.clique_id);
        }
    }
    // SAFETY: nvmlDeviceGetGpuFabricInfo(nvmlDevice_t, nvmlGpuFabricInfo_t*).
    let f = unsafe { lib.get::<InfoV1Fn>(SYMBOLS[5].as_bytes()) }.ok()?;
    let mut info = FabricInfoV1 {
        cluster_uuid: [0; 16],
        status: -1,
        clique_id: 0,
        state: 0,
    };
    // SAFETY: a valid handle and a v1 struct.
    (unsafe { f(dev, &mut info) } == NVML_SUCCESS).then_some(())?;
    registered(info.state, info.status, &info.cluster_uuid, info.clique_id)
}

/// The domain, when the GPU's registration completed without error and names a
/// cluster (an all-zero UUID means none).
fn registered(
    state: u8,
    status: NvmlReturn,
    uuid: &[u8; 16],
    clique_id: c_uint,
) -> Option<NvlinkDomain> {
    (state == FABRIC_STATE_COMPLETED && status == NVML_SUCCESS && uuid.iter().any(|&b| b != 0))
        .then(|| NvlinkDomain {
            cluster_uuid: uuid_text(uuid),
            clique_id,
            source: "nvml".into(),
        })
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex =
        |r: std::ops::Range<usize>| -> String { b[r].iter().map(|x| format!("{x:02x}")).collect() };
    format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric_structs_have_nvml_layout_and_version() {
        // nvml.h: v1 is 16 + 4 + 4 + 1 bytes padded to 28; v2 adds the version in
        // front and healthMask behind, 36 bytes.
        assert_eq!(std::mem::size_of::<FabricInfoV1>(), 28);
        assert_eq!(std::mem::size_of::<FabricInfoV2>(), 36);
        assert_eq!(std::mem::offset_of!(FabricInfoV2, cluster_uuid), 4);
        assert_eq!(std::mem::offset_of!(FabricInfoV2, clique_id), 24);
        assert_eq!(std::mem::offset_of!(FabricInfoV2, health_mask), 32);
        assert_eq!(FABRIC_INFO_V2, 0x0200_0024);
    }

    #[test]
    fn only_completed_registrations_name_a_domain() {
        let uuid = [
            0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88, 0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2,
            0xf1, 0x00,
        ];
        let d = registered(FABRIC_STATE_COMPLETED, NVML_SUCCESS, &uuid, 32766).unwrap();
        assert_eq!(d.cluster_uuid, "1f2e3d4c-5b6a-7988-97a6-b5c4d3e2f100");
        assert_eq!(d.clique_id, 32766);
        assert!(registered(2, NVML_SUCCESS, &uuid, 1).is_none());
        assert!(registered(FABRIC_STATE_COMPLETED, 999, &uuid, 1).is_none());
        assert!(registered(FABRIC_STATE_COMPLETED, NVML_SUCCESS, &[0; 16], 1).is_none());
    }
}
