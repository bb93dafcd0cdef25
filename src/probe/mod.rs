//! What the run measures on: the environment fingerprint of each host and rank (the
//! hwloc topology, /proc, DMI). Everything here reads the machine; nothing measures.

pub mod host;
pub mod memory;
pub mod topology;

pub use topology::Topology;
