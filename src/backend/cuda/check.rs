//! `clusterbench cuda-check`: proves, with or without a GPU, that the CUDA libraries
//! found are the ones the code needs: every kernel compiles to PTX with NVRTC for each
//! target architecture, and every function the code calls resolves in the real
//! NVRTC, cuBLAS, cuBLASLt and NCCL libraries (and the driver, where there is one).

use super::discovery::{self, ALL_LIBS, DRIVER};
use super::{kernels, symbols};
use anyhow::Result;

/// Runs the checks and prints one line per library and architecture. Errors: a usage
/// error (exit 2) when a library other than the driver is missing; a plain error
/// (exit 1) when a symbol is missing or a kernel does not compile.
pub fn run() -> Result<()> {
    let mut failures = Vec::new();
    let mut missing = Vec::new();
    for lib in ALL_LIBS {
        match symbols::located_path(&lib) {
            Ok(path) => match symbols::missing_in(&lib, &path) {
                Ok(absent) if absent.is_empty() => println!(
                    "{:<9} {}: all {} functions used resolve",
                    lib.name,
                    path.display(),
                    symbols::used(&lib).len()
                ),
                Ok(absent) => {
                    println!("{:<9} {}: MISSING {}", lib.name, path.display(), absent.join(", "));
                    failures.push(format!("{} lacks {}", lib.name, absent.join(", ")));
                }
                Err(e) => {
                    println!("{:<9} {e}", lib.name);
                    failures.push(e);
                }
            },
            Err(searched) if lib == DRIVER => println!(
                "{:<9} not found (no GPU driver on this machine; its functions are not checked); searched {} places",
                lib.name,
                searched.len()
            ),
            Err(searched) => {
                println!("{:<9} not found", lib.name);
                missing.push(discovery::missing_message(&lib, &searched));
            }
        }
    }
    if super::require(&discovery::NVRTC).is_ok() {
        for arch in kernels::TARGET_ARCHS {
            match kernels::compile(arch) {
                Ok(ptx) => {
                    let src = ptx.to_src();
                    let absent: Vec<&str> = kernels::KERNELS
                        .iter()
                        .copied()
                        .filter(|k| !src.contains(&format!(".entry {k}(")))
                        .collect();
                    if absent.is_empty() {
                        println!(
                            "kernels   {arch}: all {} kernels compiled to PTX ({} bytes)",
                            kernels::KERNELS.len(),
                            src.len()
                        );
                    } else {
                        println!("kernels   {arch}: PTX lacks {}", absent.join(", "));
                        failures.push(format!("PTX for {arch} lacks {}", absent.join(", ")));
                    }
                }
                Err(e) => {
                    println!("kernels   {arch}: {e:#}");
                    failures.push(format!("{e:#}"));
                }
            }
        }
    }
    // The datatypes the loaded NCCL takes, through the same version gate as a run.
    if super::require(&discovery::NCCL).is_ok() {
        use crate::comm::nccl::{loaded_version, nccl_type, version_text};
        match loaded_version() {
            Ok(v) => {
                let types: Vec<&str> = crate::options::DType::COLLECTIVE
                    .iter()
                    .filter(|d| nccl_type(**d, v).is_ok())
                    .map(|d| d.name())
                    .collect();
                println!(
                    "nccl      version {}: collectives in {}",
                    version_text(v),
                    types.join(", ")
                );
            }
            Err(e) => {
                println!("nccl      {e:#}");
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
    println!("cuda-check: passed");
    Ok(())
}
