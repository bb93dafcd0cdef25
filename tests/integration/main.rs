//! Integration tests: they drive the built `clusterbench` binary, alone and under
//! `mpirun` with several ranks.

mod architecture;
mod bad_input;
mod bundle;
mod common;
mod cuda;
mod decisions;
#[cfg(feature = "mpi")]
mod decisions_mpi;
#[cfg(feature = "mpi")]
mod faults;
mod golden;
mod gpu_validate;
mod interrupt;
mod model_regimes;
#[cfg(feature = "mpi")]
mod mpi;
mod multigpu;
mod nccl_logs;
mod one_rank;
mod osu_import;
mod osu_p2p;
mod parser_props;
mod progress;
mod report;
mod schema;
mod search;
#[cfg(feature = "mpi")]
mod simcluster;
mod single;
mod stub_driver;
