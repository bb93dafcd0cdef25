//! What results mean: regression verdicts between runs (`compare`), measured
//! against claimed figures (`validate`), and latency/bandwidth models fitted to sweeps
//! that predict larger clusters (`model`, `predict`), and figures followed over many
//! runs against the baseline's noise (`trend`).

pub mod compare;
pub mod model;
pub mod trend;
pub mod validate;
