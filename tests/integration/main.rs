//! Integration tests: they drive the built `clusterbench` binary, alone and under
//! `mpirun` with several ranks.

mod bad_input;
mod common;
mod cuda;
#[cfg(feature = "mpi")]
mod mpi;
mod report;
mod schema;
mod search;
mod single;
