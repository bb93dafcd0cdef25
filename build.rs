//! Records the git commit, links the binary's own `hypotf` (src/main.rs), and with the
//! `mpi` feature compiles a two-line C shim that exports `MPI_IN_PLACE` (a preprocessor
//! constant whose value differs between MPI libraries, so the bindings cannot carry it).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/comm/mpi_shim.c");
    println!("cargo:rerun-if-env-changed=CLUSTERBENCH_GIT_COMMIT");
    let commit = std::env::var("CLUSTERBENCH_GIT_COMMIT").ok().or_else(|| {
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=CLUSTERBENCH_GIT_COMMIT={}",
        commit.unwrap_or_default()
    );
    // plotters' f32::hypot would bind to glibc 2.35's hypotf; src/main.rs has its own.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,--wrap=hypotf");
    }
    if std::path::Path::new(".git/HEAD").exists() {
        println!("cargo:rerun-if-changed=.git/HEAD");
    }

    if std::env::var_os("CARGO_FEATURE_MPI").is_some() {
        let lib = match build_probe_mpi::probe() {
            Ok(lib) => lib,
            Err(errs) => {
                for e in errs {
                    println!("cargo:warning=MPI probe: {e}");
                }
                panic!("no MPI library found: install Open MPI (Debian: libopenmpi-dev openmpi-bin) or build with --no-default-features");
            }
        };
        let mut build = cc::Build::new();
        build.file("src/comm/mpi_shim.c");
        if let Some(mpicc) = lib.mpicc {
            build.compiler(mpicc);
        } else {
            for inc in &lib.include_paths {
                build.include(inc);
            }
        }
        build.compile("clusterbench_mpi_shim");
    }
}
