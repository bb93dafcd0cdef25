//! The hardware a workload runs on: the trait every backend implements, the STREAM
//! kernels and GPU copies it offers, and how a peer copy travelled.

use super::collective::{Collective, CollectiveCase};
use super::comm::Communicator;
use super::config::BenchConfig;
use super::p2p::P2pCase;
use super::types::{DType, MatmulShape};
use super::workload::Workload;
use crate::error::UsageError;
use anyhow::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which hardware runs the benchmarks (`--backend`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The best backend present: CUDA when a driver and a device are found, else CPU.
    Auto,
    /// Host memory and host MPI.
    Cpu,
    /// NVIDIA GPUs through CUDA, cuBLAS and NCCL.
    Cuda,
}

/// The STREAM kernels, with the bytes STREAM counts per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKernel {
    /// c = a
    Copy,
    /// b = q c
    Scale,
    /// c = a + b
    Add,
    /// a = b + q c
    Triad,
    /// sum a b (read only)
    Dot,
}

impl StreamKernel {
    pub const ALL: [StreamKernel; 5] = [
        StreamKernel::Copy,
        StreamKernel::Scale,
        StreamKernel::Add,
        StreamKernel::Triad,
        StreamKernel::Dot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StreamKernel::Copy => "copy",
            StreamKernel::Scale => "scale",
            StreamKernel::Add => "add",
            StreamKernel::Triad => "triad",
            StreamKernel::Dot => "dot",
        }
    }

    /// The values every element of a, b and c holds after this kernel ran on arrays
    /// holding `(a, b, c)`, with STREAM's scalar `q`.
    pub fn expected_after(self, (a, b, c): (f64, f64, f64), q: f64) -> (f64, f64, f64) {
        match self {
            StreamKernel::Copy => (a, b, a),
            StreamKernel::Scale => (a, q * c, c),
            StreamKernel::Add => (a, b, a + b),
            StreamKernel::Triad => (b + q * c, b, c),
            StreamKernel::Dot => (a, b, c),
        }
    }

    /// Whether the kernel writes an array (every kernel but `Dot`), so that it has a
    /// streaming-store variant where the backend offers one.
    pub fn writes(self) -> bool {
        self != StreamKernel::Dot
    }

    /// The kernel's name in records: `triad`, or `triad_nt` with streaming stores.
    pub fn record_name(self, stores: StreamStores) -> String {
        match stores {
            StreamStores::Regular => self.name().to_string(),
            StreamStores::Streaming => format!("{}_nt", self.name()),
        }
    }

    /// The kernel and stores a record's name says: the inverse of [`Self::record_name`].
    pub fn of_record_name(name: &str) -> Option<(StreamKernel, StreamStores)> {
        let (base, stores) = match name.strip_suffix("_nt") {
            Some(base) => (base, StreamStores::Streaming),
            None => (name, StreamStores::Regular),
        };
        let kernel = StreamKernel::ALL.into_iter().find(|k| k.name() == base)?;
        Some((kernel, stores))
    }

    /// Arrays touched per element, as STREAM counts bytes (no write-allocate traffic).
    pub fn arrays_touched(self) -> u64 {
        match self {
            StreamKernel::Copy | StreamKernel::Scale | StreamKernel::Dot => 2,
            StreamKernel::Add | StreamKernel::Triad => 3,
        }
    }
}

/// How a STREAM kernel writes its destination array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStores {
    /// Ordinary stores: each destination line is read into the cache, then written.
    Regular,
    /// Non-temporal stores that bypass the cache, as STREAM built with streaming
    /// stores (and glibc's `memcpy` for large copies) writes.
    Streaming,
}

/// A set of STREAM arrays on which each kernel can be selected and run.
pub trait StreamWorkload: Workload {
    /// Selects the kernel the next iterations run, with regular stores unless
    /// [`StreamWorkload::select_stores`] says otherwise afterwards.
    fn select(&mut self, kernel: StreamKernel);
    fn threads(&self) -> usize;

    /// Sets how the selected kernel stores; `Streaming` only where
    /// [`Backend::offers_streaming_stores`]. Returns whether it was applied.
    fn select_stores(&mut self, stores: StreamStores) -> bool {
        stores == StreamStores::Regular
    }
}

/// A GPU copy measured by the `gpumem` benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    /// Host to device, from pinned (page-locked) or pageable host memory.
    HostToDevice { pinned: bool },
    /// Device to host, into pinned or pageable host memory.
    DeviceToHost { pinned: bool },
    /// Host to device and device to host at once (pinned), on two streams.
    Bidirectional,
    /// Device to device on one GPU: the copy engine, or a kernel on the SMs.
    DeviceToDevice { sm: bool },
    /// GPU `src` to GPU `dst`; with `bidirectional`, `dst` to `src` at the same time.
    Peer {
        src: usize,
        dst: usize,
        bidirectional: bool,
    },
}

impl CopyKind {
    /// The name recorded in the results.
    pub fn name(self) -> &'static str {
        match self {
            CopyKind::HostToDevice { pinned: true } => "h2d_pinned",
            CopyKind::HostToDevice { pinned: false } => "h2d_pageable",
            CopyKind::DeviceToHost { pinned: true } => "d2h_pinned",
            CopyKind::DeviceToHost { pinned: false } => "d2h_pageable",
            CopyKind::Bidirectional => "h2d_d2h_bidir",
            CopyKind::DeviceToDevice { sm: false } => "d2d_copy_engine",
            CopyKind::DeviceToDevice { sm: true } => "d2d_sm_copy",
            CopyKind::Peer {
                bidirectional: false,
                ..
            } => "p2p",
            CopyKind::Peer {
                bidirectional: true,
                ..
            } => "p2p_bidir",
        }
    }

    /// How many times the copy size crosses a link per iteration (2 for both ways).
    pub fn directions(self) -> u64 {
        match self {
            CopyKind::Bidirectional
            | CopyKind::Peer {
                bidirectional: true,
                ..
            } => 2,
            _ => 1,
        }
    }
}

/// A prepared GPU copy, and for a peer copy the path its data takes.
pub struct CopyWorkload {
    pub workload: Box<dyn Workload>,
    pub peer_path: Option<crate::core::PeerPath>,
}

/// The hardware that runs the workloads.
pub trait Backend {
    /// `cpu` or `cuda`, as recorded in the results.
    fn name(&self) -> &'static str;
    /// Worker threads per rank (CPU) used by the compute benchmarks.
    fn threads(&self) -> usize;
    /// STREAM arrays of `elements` f64 each.
    fn stream(&self, elements: usize) -> Result<Box<dyn StreamWorkload>>;
    /// A GEMM of `shape` with random inputs (seeded by `seed`).
    fn matmul(&self, dtype: DType, shape: &MatmulShape, seed: u64) -> Result<Box<dyn Workload>>;
    /// The library, its version and the kernel it runs for a GEMM in `dtype`, as
    /// recorded with each matmul result (e.g. `gemm 0.19.0 (avx512f)`); `None` when
    /// the backend does not say.
    fn matmul_engine(&self, _dtype: DType) -> Option<String> {
        None
    }
    /// Bytes of the last cache level the memory benchmarks' arrays pass through (the
    /// host's last-level caches for the CPU, the GPU's L2 for CUDA), if known: default
    /// array sizes are a multiple of it, so the arrays cannot stay cached.
    fn cache_bytes(&self) -> Option<u64>;
    /// Whether its STREAM arrays offer streaming-store kernels (see
    /// [`StreamWorkload::offers_streaming_stores`]), known before any is allocated.
    fn offers_streaming_stores(&self) -> bool {
        false
    }
    /// A GPU copy of `bytes` (the `gpumem` benchmark); only GPU backends have them.
    fn copy(&self, kind: CopyKind, _bytes: usize) -> Result<CopyWorkload> {
        Err(UsageError::new(format!(
            "{} needs a GPU (--backend cuda); the {} backend has no device copies",
            kind.name(),
            self.name()
        ))
        .into())
    }
    /// Rejects, before anything runs, settings this backend cannot measure (a usage error).
    fn check_config(&self, _cfg: &BenchConfig) -> Result<()> {
        Ok(())
    }
    /// Devices this process drives in a collective (`-g`); each is one rank of the
    /// collective, so a collective has `processes x devices_per_rank` ranks.
    fn devices_per_rank(&self) -> usize {
        1
    }
    /// Free memory of the GPU this process drives (the least free of them with `-g`),
    /// for the memory guard; `None` on the host.
    fn device_free_bytes(&self) -> Option<u64> {
        None
    }
    /// GPUs this process can reach (for peer-to-peer copies).
    fn gpus_visible(&self) -> usize {
        0
    }
    /// Whether this backend measures `coll` in place; the sweep leaves out the in-place
    /// cases of those it does not.
    fn supports_in_place(&self, _coll: &dyn Collective) -> bool {
        true
    }
    /// What the watchdog polls for failures it cannot see otherwise and aborts on a
    /// timeout (the NCCL communicator of a GPU backend).
    fn guard(&self) -> Option<std::sync::Arc<dyn crate::core::Guard>> {
        None
    }
    /// One point of a collective sweep.
    fn collective<'a>(
        &'a self,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Result<Box<dyn Workload + 'a>>;
    /// This rank's part in a point-to-point case (idle when not one of the pair): on
    /// host buffers through `comm`, or device buffers (NCCL send/recv) on a GPU.
    fn point_to_point<'a>(
        &'a self,
        comm: &'a dyn Communicator,
        case: P2pCase,
    ) -> Result<Box<dyn Workload + 'a>>;
}

/// Work outside the waiting thread's sight that the watchdog can poll and end: an NCCL
/// communicator. Called from the watchdog thread.
pub trait Guard: Send + Sync {
    /// A failure the library reported on its own, in words; `None` while healthy.
    fn failure(&self) -> Option<String>;
    /// Ends the library's pending work, so that peers waiting on this rank fail rather
    /// than hang.
    fn abort(&self);
}

/// How a peer copy travelled between its two GPUs, as the CUDA driver describes the
/// pair when the copy is set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerPath {
    pub route: PeerRoute,
    /// Why the copy was staged; absent when it went direct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `cuDeviceGetP2PAttribute`'s performance rank of the link from source to
    /// destination (lower is faster); absent where the driver reports no peer access.
    pub performance_rank: Option<i32>,
    /// Whether atomics on the peer's memory are native over the link
    /// (`cuDeviceGetP2PAttribute`). NVLink reports them and PCIe usually does not:
    /// a hint at the link, not proof of it.
    pub native_atomics: Option<bool>,
}

/// The two ways a peer copy can travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerRoute {
    /// Peer access was enabled both ways, so the copy engines moved the data over the
    /// direct link between the GPUs: NVLink or PCIe peer-to-peer. The CUDA driver does
    /// not say which of the two; NVML's NVLink queries do.
    Direct,
    /// Peer access was not available (or could not be enabled) both ways, and a copy
    /// between GPUs without it is staged through host memory by the driver.
    Staged,
}

impl PeerRoute {
    pub fn name(self) -> &'static str {
        match self {
            PeerRoute::Direct => "direct",
            PeerRoute::Staged => "staged",
        }
    }
}
