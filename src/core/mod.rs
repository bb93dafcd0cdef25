//! The shared vocabulary: the types and traits every layer above speaks in. Nothing
//! here measures, probes or prints; it only says what a workload, a collective, a
//! backend and a communicator are.

pub mod backend;
pub mod collective;
pub mod comm;
pub mod config;
pub mod memory;
pub mod p2p;
pub mod timing;
pub mod types;
pub mod workload;

pub use backend::{
    Backend, BackendChoice, CopyKind, CopyWorkload, Guard, PeerPath, PeerRoute, StreamKernel,
    StreamStores, StreamWorkload,
};
pub use collective::{Collective, CollectiveCase, CollectiveKind, ExactInputs};
pub use comm::{list_ranks, Communicator, Missing};
pub use config::BenchConfig;
pub use p2p::{P2pCase, P2pMode};
pub use types::{DType, MatmulShape, ReduceOp};
pub use workload::{iterate_each, Iterations, LocalCheck, Timing, Workload};
