//! clusterbench: what GPU clusters really do, measured and checked.
//!
//! The binary is a thin shell over [`app::main`]; everything else lives here so the
//! integration tests and benches can reach it. The result schema is in [`results`].

// Printing goes through `out!`/`outln!`/`errln!` (`console`), which a closed pipe
// does not turn into a panic.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod accept;
pub mod analysis;
pub mod app;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod comm;
pub mod console;
pub mod core;
pub mod error;
pub mod import;
pub mod options;
pub mod probe;
pub mod render;
pub mod results;
pub mod runner;
pub mod session;
pub mod stats;
pub mod suite;
pub mod tools;
pub mod units;
