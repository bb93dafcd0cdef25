//! Integration tests: they drive the built `clusterbench` binary, alone and under
//! `mpirun` with several ranks.

mod accept;
mod architecture;
mod bad_input;
mod bundle;
mod charts;
mod common;
mod compare_partial;
mod compare_props;
mod cpu_gemm;
mod cuda;
mod decisions;
#[cfg(feature = "mpi")]
mod decisions_mpi;
mod export;
#[cfg(feature = "mpi")]
mod faults;
mod fidelity_table;
mod golden;
mod gpu_validate;
mod interrupt;
mod memory_guard;
mod model_regimes;
#[cfg(feature = "mpi")]
mod mpi;
mod multigpu;
mod nccl_logs;
mod no_gpu;
mod nvlink_domains;
mod one_rank;
mod osu_import;
mod osu_p2p;
mod p2p_links;
mod parser_props;
mod pipes;
#[cfg(feature = "mpi")]
mod predict_calibration;
mod progress;
mod relative_claims;
mod report;
mod schema;
mod search;
#[cfg(feature = "mpi")]
mod simcluster;
#[cfg(feature = "mpi")]
mod simcluster_accept;
#[cfg(feature = "mpi")]
mod simcluster_fault;
#[cfg(feature = "mpi")]
mod simcluster_links;
#[cfg(feature = "mpi")]
mod simcluster_teardown;
mod single;
mod streaming_stores;
mod stub_driver;
mod trend;
mod validate_network;
mod validate_published;
