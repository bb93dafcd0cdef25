//! The CPU backend: host memory, one pinned worker thread per core, host MPI.

mod collective;
mod gemm;
mod openblas;
pub mod p2p;
mod stream;
mod stream_nt;

use crate::core::Communicator;
use crate::core::Workload;
use crate::core::{Backend, StreamWorkload};
use crate::core::{Collective, CollectiveCase};
use crate::core::{DType, MatmulShape};
use crate::probe::topology::Topology;
use anyhow::{anyhow, Result};
use collective::HostCollective;
use gemm::{CpuGemm, Engine};
use std::sync::Arc;
use stream::CpuStream;

pub struct CpuBackend {
    pool: Arc<rayon::ThreadPool>,
    threads: usize,
    /// The host's last-level caches, all of them together.
    llc_bytes: Option<u64>,
}

impl CpuBackend {
    pub fn new() -> Result<Self> {
        let topology = Topology::load()?;
        let threads = topology.bound_core_count();
        let pin = topology.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("clusterbench-worker-{i}"))
            .start_handler(move |i| {
                // Unpinned workers still measure correctly, only less steadily.
                if let Err(e) = pin.pin_current_thread(i) {
                    crate::errln!("clusterbench: warning: {e:#}");
                }
            })
            .build()
            .map_err(|e| anyhow!("cannot start {threads} worker threads: {e}"))?;
        Ok(CpuBackend {
            pool: Arc::new(pool),
            threads,
            llc_bytes: topology.host().llc_total_bytes,
        })
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn point_to_point<'a>(
        &'a self,
        comm: &'a dyn Communicator,
        case: crate::core::P2pCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        Ok(Box::new(p2p::host_point_to_point(comm, case)?))
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn cache_bytes(&self) -> Option<u64> {
        self.llc_bytes
    }

    fn offers_streaming_stores(&self) -> bool {
        stream_nt::offered()
    }

    fn stream(&self, elements: usize) -> Result<Box<dyn StreamWorkload>> {
        Ok(Box::new(CpuStream::new(
            self.pool.clone(),
            self.threads,
            elements,
        )))
    }

    fn matmul(&self, dtype: DType, shape: &MatmulShape, seed: u64) -> Result<Box<dyn Workload>> {
        let engine = Engine::chosen()?;
        let pool = self.pool.clone();
        let threads = self.threads;
        Ok(match dtype {
            DType::Float => Box::new(CpuGemm::<f32>::new(engine, pool, threads, shape, seed)),
            DType::Double => Box::new(CpuGemm::<f64>::new(engine, pool, threads, shape, seed)),
            other => return Err(crate::usage!("{}", cpu_matmul_rejects(other))),
        })
    }

    fn matmul_engine(&self, dtype: DType) -> Option<String> {
        dtype
            .is_cpu_matmul()
            .then(Engine::chosen)?
            .ok()
            .map(Engine::name)
    }

    fn check_config(&self, cfg: &crate::core::BenchConfig) -> Result<()> {
        if cfg.name == "matmul" {
            Engine::check_request()?;
            if let Some(d) = cfg.datatypes.iter().find(|d| !d.is_cpu_matmul()) {
                return Err(crate::usage!("{}", cpu_matmul_rejects(*d)));
            }
        } else if let Some(d) = cfg.datatypes.iter().find(|d| !DType::ALL.contains(d)) {
            // MPI has no bf16, fp16 or fp8 reductions; NCCL has them on GPUs.
            return Err(crate::usage!(
                "{} in {d} needs a GPU (--backend cuda, through NCCL); the CPU backend runs float, double, int32 and int64",
                cfg.name
            ));
        }
        Ok(())
    }

    fn collective<'a>(
        &'a self,
        coll: &'static dyn Collective,
        comm: &'a dyn Communicator,
        case: CollectiveCase,
    ) -> Result<Box<dyn Workload + 'a>> {
        Ok(Box::new(HostCollective::new(coll, comm, case)))
    }
}

fn cpu_matmul_rejects(dtype: DType) -> String {
    format!("matmul in {dtype} needs a GPU (--backend cuda); the CPU backend runs float and double")
}
