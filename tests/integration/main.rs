//! Integration tests: they drive the built `clusterbench` binary, alone and under
//! `mpirun` with several ranks.

mod bad_input;
mod common;
#[cfg(feature = "mpi")]
mod faults;
#[cfg(feature = "mpi")]
mod mpi;
mod schema;
#[cfg(feature = "mpi")]
mod simcluster;
mod single;
