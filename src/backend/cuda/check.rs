//! `clusterbench cuda-check`: proves, with or without a GPU, that the CUDA libraries
//! found are the ones the code needs: the driver's API level (its CUDA version, which
//! picks the variant of each driver function called), every function the code calls at
//! that level resolving in the driver and in the real NVRTC, cuBLAS, cuBLASLt and NCCL
//! libraries, and every kernel compiling with NVRTC to a cubin for each target
//! architecture and to PTX (the fallback); with a GPU, how the kernels load on it.

use super::discovery::{self, Found, ALL_LIBS, DRIVER};
use super::driver_api::{self, ApiLevel};
use super::{kernels, symbols};
use anyhow::Result;

/// Runs the checks and prints one line per library and architecture. Errors: a usage
/// error (exit 2) when a library other than the driver is missing or only built for a
/// newer CUDA than the driver supports; a plain error (exit 1) when a symbol is missing
/// or a kernel does not compile or load.
pub fn run() -> Result<()> {
    let mut failures = Vec::new();
    let mut missing = Vec::new();
    let level = driver_level(&mut failures);
    for lib in ALL_LIBS {
        let found = discovery::find(&lib);
        let Some(path) = symbols::located_path(&lib) else {
            if lib == DRIVER {
                crate::outln!(
                    "{:<9} not found (no GPU driver on this machine; its functions are not checked)",
                    lib.name
                );
                // Where a run's one-line "no NVIDIA driver found" sends people.
                if let Found::Missing { searched } = &found {
                    crate::outln!("{:<9} searched:", "");
                    for place in searched {
                        crate::outln!("{:<9}   {place}", "");
                    }
                }
            } else {
                let why = discovery::unusable_message(&lib, &found).unwrap_or_default();
                crate::outln!("{:<9} not usable: {why}", lib.name);
                missing.push(why);
            }
            continue;
        };
        let chosen = discovery::choice_note(&lib)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let at_level = match (lib == DRIVER, level) {
            (true, Some(l)) => format!(" at API level {}", l.driver),
            _ => String::new(),
        };
        match symbols::missing_in(&lib, &path, level.map(|l| l.driver)) {
            Ok(absent) if absent.is_empty() => crate::outln!(
                "{:<9} {}{chosen}: all {} functions used{at_level} resolve",
                lib.name,
                path.display(),
                symbols::used(&lib, level.map(|l| l.driver)).len()
            ),
            Ok(absent) => {
                crate::outln!(
                    "{:<9} {}{chosen}: MISSING{at_level} {}",
                    lib.name,
                    path.display(),
                    absent.join(", ")
                );
                failures.push(format!("{} lacks {}", lib.name, absent.join(", ")));
            }
            Err(e) => {
                crate::outln!("{:<9} {e}", lib.name);
                failures.push(e);
            }
        }
        if let Found::File { place, .. } = found {
            crate::outln!("{:<9} (found in {place}, outside the loader's path)", "");
        }
    }
    if super::require(&discovery::NVRTC).is_ok() {
        check_kernels(&mut failures);
    }
    // The datatypes the loaded NCCL takes, through the same version gate as a run.
    if super::require(&discovery::NCCL).is_ok() {
        use crate::backend::cuda::nccl::{loaded_version, nccl_type, version_text};
        match loaded_version() {
            Ok(v) => {
                let types: Vec<&str> = crate::core::DType::COLLECTIVE
                    .iter()
                    .filter(|d| nccl_type(**d, v).is_ok())
                    .map(|d| d.name())
                    .collect();
                crate::outln!(
                    "nccl      version {}: collectives in {}",
                    version_text(v),
                    types.join(", ")
                );
            }
            Err(e) => {
                crate::outln!("nccl      {e:#}");
                failures.push(format!("{e:#}"));
            }
        }
    }
    if let Some(first) = missing.first() {
        return Err(crate::usage!("{first}"));
    }
    if !failures.is_empty() {
        anyhow::bail!("cuda-check failed: {}", failures.join("; "));
    }
    crate::outln!("cuda-check: passed");
    Ok(())
}

/// Prints the driver's CUDA version and the API level chosen by it.
fn driver_level(failures: &mut Vec<String>) -> Option<ApiLevel> {
    if symbols::located_path(&DRIVER).is_none() {
        crate::outln!(
            "driver    none: the API level is chosen at run time by the driver's CUDA version (v1 elapsed time below CUDA 12.8, v2 from it)"
        );
        return None;
    }
    match driver_api::api_level() {
        Ok(level) => {
            crate::outln!(
                "driver    CUDA {} (cuDriverGetVersion {}): {}",
                level.driver,
                level.driver.0,
                level.describe()
            );
            Some(level)
        }
        Err(e) => {
            crate::outln!("driver    {e:#}");
            failures.push(format!("{e:#}"));
            None
        }
    }
}

/// Compiles the kernels for every target architecture, to a cubin and to PTX, and,
/// where the driver shows a device, loads them into the first as a run would.
fn check_kernels(failures: &mut Vec<String>) {
    for capability in kernels::TARGET_CAPABILITIES {
        let sm = kernels::sm_arch(capability);
        match kernels::compile_cubin(&sm) {
            Ok(cubin) => match kernels::missing_in_cubin(&cubin) {
                absent if absent.is_empty() => crate::outln!(
                    "kernels   {sm}: all {} kernels compiled to a cubin ({} bytes, ELF)",
                    kernels::KERNELS.len(),
                    cubin.len()
                ),
                absent => {
                    crate::outln!("kernels   {sm}: cubin lacks {}", absent.join(", "));
                    failures.push(format!("cubin for {sm} lacks {}", absent.join(", ")));
                }
            },
            Err(e) => {
                crate::outln!("kernels   {sm}: {e:#}");
                failures.push(format!("{e:#}"));
            }
        }
        let compute = kernels::compute_arch(capability);
        match kernels::compile_ptx(&compute) {
            Ok(ptx) => match kernels::missing_in_ptx(&ptx.to_src()) {
                absent if absent.is_empty() => crate::outln!(
                    "kernels   {compute}: all {} kernels compiled to PTX ({} bytes; the fallback)",
                    kernels::KERNELS.len(),
                    ptx.to_src().len()
                ),
                absent => {
                    crate::outln!("kernels   {compute}: PTX lacks {}", absent.join(", "));
                    failures.push(format!("PTX for {compute} lacks {}", absent.join(", ")));
                }
            },
            Err(e) => {
                crate::outln!("kernels   {compute}: {e:#}");
                failures.push(format!("{e:#}"));
            }
        }
    }
    if super::require(&DRIVER).is_err() {
        return;
    }
    match cudarc::driver::CudaContext::device_count() {
        Ok(n) if n > 0 => {
            let loaded = cudarc::driver::CudaContext::new(0)
                .map_err(anyhow::Error::from)
                .and_then(|ctx| super::load_kernels_as(&ctx));
            match loaded {
                Ok((_, load)) => crate::outln!("kernels   device 0: {}", load.describe()),
                Err(e) => {
                    crate::outln!("kernels   device 0: not loaded: {e:#}");
                    failures.push(format!("kernels not loaded on device 0: {e:#}"));
                }
            }
        }
        Ok(_) => crate::outln!("kernels   no device: loading on a GPU not tried"),
        Err(e) => crate::outln!("kernels   no device usable ({e}): loading on a GPU not tried"),
    }
}
