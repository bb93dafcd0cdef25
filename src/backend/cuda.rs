//! The CUDA backend (feature `cuda`): finds the driver and the devices through
//! `cudarc`, loading libraries at run time so the binary starts without CUDA.

use super::Backend;

/// Library names tried for the CUDA driver (cudarc's candidates for `cuda`).
fn driver_candidates() -> Vec<String> {
    let mut names = cudarc::get_lib_name_candidates("cuda");
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Number of CUDA devices, or why there are none usable. Never panics: cudarc's loader
/// panics on a missing library, so presence is tested first.
pub fn probe_devices() -> Result<usize, String> {
    // SAFETY: only tries to dlopen candidate names; no symbol is called.
    let present = unsafe { cudarc::driver::sys::is_culib_present() };
    if !present {
        return Err(format!(
            "no CUDA driver library found (tried {} on the loader path; install the NVIDIA driver or set LD_LIBRARY_PATH)",
            driver_candidates().join(", ")
        ));
    }
    match cudarc::driver::CudaContext::device_count() {
        Ok(0) => Err("the CUDA driver reports no devices".into()),
        Ok(n) => Ok(n as usize),
        Err(e) => Err(format!("the CUDA driver could not be initialised: {e}")),
    }
}

/// Opens the CUDA backend.
pub fn open() -> Result<Box<dyn Backend>, String> {
    let devices = probe_devices()?;
    Err(format!(
        "found {devices} CUDA device(s), but this version of clusterbench has no CUDA benchmarks yet"
    ))
}
