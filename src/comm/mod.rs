//! Communicators: how ranks talk to each other.
//!
//! [`local::LocalComm`] is a single process; [`mpi`] runs over MPI (feature `mpi`).
//! The NCCL communicator of the CUDA backend will sit beside them.

pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;

use crate::core::Communicator;
use anyhow::Result;

/// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun).
pub fn launched_by_mpi() -> bool {
    const VARS: [&str; 5] = [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_RANK",
        "PMI_RANK",
        "MPI_LOCALNRANKS",
    ];
    VARS.iter().any(|v| std::env::var_os(v).is_some())
        || std::env::var_os("SLURM_STEP_ID").is_some() && std::env::var_os("SLURM_PROCID").is_some()
}

/// This process's rank as the launcher announced it, before any communicator exists
/// (used to print start-up errors once, from rank 0).
pub fn launcher_rank() -> usize {
    [
        "OMPI_COMM_WORLD_RANK",
        "PMIX_RANK",
        "PMI_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.parse().ok())
    .unwrap_or(0)
}

/// Opens the communicator for this process: MPI when started by a launcher and built
/// with MPI, otherwise a single local rank.
pub fn open() -> Result<Box<dyn Communicator>> {
    if launched_by_mpi() {
        #[cfg(feature = "mpi")]
        {
            return Ok(Box::new(mpi::MpiComm::init()?));
        }
        #[cfg(not(feature = "mpi"))]
        {
            let size: usize = std::env::var("OMPI_COMM_WORLD_SIZE")
                .or_else(|_| std::env::var("PMI_SIZE"))
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            if size > 1 {
                anyhow::bail!(crate::error::UsageError::new(
                    "started by an MPI launcher with several ranks, but this clusterbench was built without the `mpi` feature"
                ));
            }
        }
    }
    Ok(Box::new(local::LocalComm))
}
