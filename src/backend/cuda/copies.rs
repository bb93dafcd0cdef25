//! GPU copy bandwidth: host to device and back (pinned and pageable host memory), both
//! at once, device to device through the copy engine and through the SMs, and between
//! GPUs (peer to peer). Timed with CUDA events between copies queued behind a stream
//! hold ([`timing`]); every copy's destination is checked word by word against the
//! pattern written into its source.

mod peer;

use super::timing::{self, StreamHold};
use super::CudaBackend;
use crate::core::{CopyKind, CopyWorkload};
use crate::core::{LocalCheck, Workload};
use anyhow::{anyhow, Context, Result};
use cudarc::driver::{
    sys::CUevent_flags, CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, LaunchConfig,
    PinnedHostSlice, PushKernelArg,
};
use peer::PeerMem;
use std::sync::Arc;

const BLOCK: u32 = 256;
/// Seed of the pattern each source holds (word i is i ^ SEED).
const SEED: u64 = 0x5a5a_1234_9876_abcd;

fn pattern(words: usize) -> Vec<u64> {
    (0..words as u64).map(|i| i ^ SEED).collect()
}

fn count_wrong_host(words: &[u64]) -> u64 {
    words
        .iter()
        .enumerate()
        .filter(|(i, w)| **w != (*i as u64 ^ SEED))
        .count() as u64
}

/// Host memory of either kind.
enum HostMem {
    Pinned(PinnedHostSlice<u64>),
    Pageable(Vec<u64>),
}

impl HostMem {
    fn new(ctx: &Arc<CudaContext>, words: usize, pinned: bool) -> Result<Self> {
        Ok(if pinned {
            // Plain page-locked memory (not write-combined), as cudaHostAlloc's default
            // and the frameworks use.
            // SAFETY: every word is written below before any read.
            let mut p = unsafe { ctx.alloc_pinned_with_flags::<u64>(words, 0) }
                .context("allocating pinned host memory")?;
            p.as_mut_slice()?.copy_from_slice(&pattern(words));
            HostMem::Pinned(p)
        } else {
            HostMem::Pageable(pattern(words))
        })
    }

    fn words(&self) -> Result<Vec<u64>> {
        Ok(match self {
            HostMem::Pinned(p) => p.as_slice()?.to_vec(),
            HostMem::Pageable(v) => v.clone(),
        })
    }

    fn clear(&mut self) -> Result<()> {
        match self {
            HostMem::Pinned(p) => p.as_mut_slice()?.fill(0),
            HostMem::Pageable(v) => v.fill(0),
        }
        Ok(())
    }
}

/// A device buffer with the kernels to fill and check it, on its own device.
struct DevMem {
    stream: Arc<CudaStream>,
    buf: CudaSlice<u64>,
    fill: CudaFunction,
    count: CudaFunction,
    grid: u32,
}

impl DevMem {
    fn new(backend: &CudaBackend, stream: Arc<CudaStream>, words: usize) -> Result<Self> {
        let buf = stream
            .alloc_zeros::<u64>(words)
            .context("allocating device memory")?;
        Ok(DevMem {
            stream,
            buf,
            fill: backend.kernel("fill_pattern")?,
            count: backend.kernel("count_pattern")?,
            grid: backend.sm_count()?.max(1) * 4,
        })
    }

    fn cfg(&self) -> LaunchConfig {
        LaunchConfig {
            grid_dim: (self.grid, 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    fn fill_pattern(&mut self) -> Result<()> {
        let n = self.buf.len();
        let cfg = self.cfg();
        let mut l = self.stream.launch_builder(&self.fill);
        l.arg(&mut self.buf).arg(&SEED).arg(&n);
        // SAFETY: matches fill_pattern(u64*, u64, size_t); the buffer holds n words.
        unsafe { l.launch(cfg) }?;
        self.stream.synchronize()?;
        Ok(())
    }

    fn clear(&mut self) -> Result<()> {
        self.stream.memset_zeros(&mut self.buf)?;
        Ok(())
    }

    /// Words that differ from the pattern.
    fn count_wrong(&self) -> Result<u64> {
        let n = self.buf.len();
        let mut wrong = self.stream.alloc_zeros::<u64>(1)?;
        let cfg = self.cfg();
        let mut l = self.stream.launch_builder(&self.count);
        l.arg(&self.buf).arg(&SEED).arg(&n).arg(&mut wrong);
        // SAFETY: matches count_pattern(const u64*, u64, size_t, u64*).
        unsafe { l.launch(cfg) }?;
        Ok(self.stream.clone_dtoh(&wrong)?[0])
    }
}

fn open_gpu(ordinal: usize) -> Result<Arc<CudaContext>> {
    let ctx = CudaContext::new(ordinal).map_err(|e| anyhow!("cannot open GPU {ordinal}: {e}"))?;
    // SAFETY: as for the backend's own context: synchronised explicitly.
    unsafe { ctx.disable_event_tracking() };
    Ok(ctx)
}

/// A prepared copy of `bytes` (rounded down to whole 16-byte units).
pub fn new(backend: &CudaBackend, kind: CopyKind, bytes: usize) -> Result<CopyWorkload> {
    let words = (bytes / 16) * 2;
    if words == 0 {
        return Err(crate::usage!("copy size must be at least 16 bytes"));
    }
    let stream = backend.stream.clone();
    // A copy from or to pageable memory waits on the host for its stream (the driver
    // stages it through pinned memory), so it cannot be queued behind a hold: it is
    // timed as queued, which is what such a copy costs.
    let pageable = matches!(
        kind,
        CopyKind::HostToDevice { pinned: false } | CopyKind::DeviceToHost { pinned: false }
    );
    let hold = if pageable {
        None
    } else {
        backend.stream_hold()
    };
    let copy: Box<dyn GpuCopy> = match kind {
        CopyKind::HostToDevice { pinned } => Box::new(HostToDevice {
            host: HostMem::new(&backend.ctx, words, pinned)?,
            dev: DevMem::new(backend, stream, words)?,
        }),
        CopyKind::DeviceToHost { pinned } => {
            let mut host = HostMem::new(&backend.ctx, words, pinned)?;
            host.clear()?;
            let mut dev = DevMem::new(backend, stream, words)?;
            dev.fill_pattern()?;
            Box::new(DeviceToHost { host, dev })
        }
        CopyKind::Bidirectional => {
            let mut back = HostMem::new(&backend.ctx, words, true)?;
            back.clear()?;
            let other = backend.ctx.new_stream()?;
            let mut from = DevMem::new(backend, other, words)?;
            from.fill_pattern()?;
            Box::new(Bidirectional {
                up: HostToDevice {
                    host: HostMem::new(&backend.ctx, words, true)?,
                    dev: DevMem::new(backend, stream, words)?,
                },
                down: DeviceToHost {
                    host: back,
                    dev: from,
                },
            })
        }
        CopyKind::DeviceToDevice { sm } => {
            let mut src = DevMem::new(backend, stream.clone(), words)?;
            src.fill_pattern()?;
            Box::new(DeviceToDevice {
                src,
                dst: DevMem::new(backend, stream, words)?,
                sm_copy: sm.then(|| backend.kernel("sm_copy")).transpose()?,
                grid: backend.sm_count()?.max(1) * 8,
            })
        }
        CopyKind::Peer {
            src,
            dst,
            bidirectional,
        } => {
            let (copy, path) = Peer::new(backend, src, dst, bidirectional, words)?;
            return Ok(CopyWorkload {
                workload: Box::new(TimedCopy {
                    copy: Box::new(copy),
                    hold,
                }),
                peer_path: Some(path),
            });
        }
    };
    Ok(CopyWorkload {
        workload: Box::new(TimedCopy { copy, hold }),
        peer_path: None,
    })
}

/// A copy: queued as one call, checked afterwards.
trait GpuCopy {
    /// Queues one copy (with its fork and join when it spans two streams).
    fn launch(&mut self) -> Result<()>;
    /// The stream the copy starts and ends on: where the timing events go.
    fn stream(&self) -> Arc<CudaStream>;
    /// Clears the destination, copies once and compares with the source pattern.
    fn verify(&mut self) -> Result<LocalCheck>;
}

/// A copy timed by the held schedule.
struct TimedCopy {
    copy: Box<dyn GpuCopy>,
    hold: Option<Arc<StreamHold>>,
}

impl Workload for TimedCopy {
    fn iterate(&mut self) -> Result<f64> {
        crate::core::timing::timed_once(|record| self.run_timed(1, record))
    }

    fn run_timed(&mut self, iterations: u32, record: &mut dyn FnMut(f64)) -> Result<()> {
        let (stream, hold) = (self.copy.stream(), self.hold.clone());
        let call = || self.copy.launch();
        timing::run_on_stream(hold.as_deref(), &stream, iterations, call, record)
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.copy.verify()
    }

    fn timing(&self) -> crate::core::Timing {
        timing::method(self.hold.as_deref())
    }
}

/// Makes `other` start after what `main` has queued so far.
fn fork(main: &CudaStream, other: &CudaStream) -> Result<()> {
    let forked = main.record_event(Some(CUevent_flags::CU_EVENT_DISABLE_TIMING))?;
    Ok(other.wait(&forked)?)
}

/// Makes `main` wait for what `other` has queued so far.
fn join(main: &CudaStream, other: &CudaStream) -> Result<()> {
    let done = other.record_event(Some(CUevent_flags::CU_EVENT_DISABLE_TIMING))?;
    Ok(main.wait(&done)?)
}

struct HostToDevice {
    host: HostMem,
    dev: DevMem,
}

impl GpuCopy for HostToDevice {
    fn launch(&mut self) -> Result<()> {
        match &self.host {
            HostMem::Pinned(p) => self.dev.stream.memcpy_htod(p, &mut self.dev.buf)?,
            HostMem::Pageable(v) => self.dev.stream.memcpy_htod(v, &mut self.dev.buf)?,
        }
        Ok(())
    }

    fn stream(&self) -> Arc<CudaStream> {
        self.dev.stream.clone()
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.dev.clear()?;
        self.launch()?;
        Ok(words_check(self.dev.count_wrong()?, self.dev.buf.len()))
    }
}

struct DeviceToHost {
    host: HostMem,
    dev: DevMem,
}

impl GpuCopy for DeviceToHost {
    fn launch(&mut self) -> Result<()> {
        match &mut self.host {
            HostMem::Pinned(p) => self.dev.stream.memcpy_dtoh(&self.dev.buf, p)?,
            HostMem::Pageable(v) => self.dev.stream.memcpy_dtoh(&self.dev.buf, v)?,
        }
        Ok(())
    }

    fn stream(&self) -> Arc<CudaStream> {
        self.dev.stream.clone()
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.host.clear()?;
        self.launch()?;
        self.dev.stream.synchronize()?;
        let words = self.host.words()?;
        Ok(words_check(count_wrong_host(&words), words.len()))
    }
}

/// Host to device on one stream and device to host on another, at once.
struct Bidirectional {
    up: HostToDevice,
    down: DeviceToHost,
}

impl GpuCopy for Bidirectional {
    fn launch(&mut self) -> Result<()> {
        let (a, b) = (self.up.dev.stream.clone(), self.down.dev.stream.clone());
        fork(&a, &b)?;
        self.up.launch()?;
        self.down.launch()?;
        join(&a, &b)
    }

    fn stream(&self) -> Arc<CudaStream> {
        self.up.dev.stream.clone()
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        let up = self.up.verify()?;
        let down = self.down.verify()?;
        Ok(LocalCheck {
            checked: up.checked + down.checked,
            wrong: up.wrong + down.wrong,
            ..up
        })
    }
}

/// Device to device on one GPU: the copy engine (`cuMemcpyDtoDAsync`) or the SMs.
struct DeviceToDevice {
    src: DevMem,
    dst: DevMem,
    sm_copy: Option<CudaFunction>,
    grid: u32,
}

impl GpuCopy for DeviceToDevice {
    fn stream(&self) -> Arc<CudaStream> {
        self.src.stream.clone()
    }

    fn launch(&mut self) -> Result<()> {
        let stream = self.src.stream.clone();
        match &self.sm_copy {
            None => stream.memcpy_dtod(&self.src.buf, &mut self.dst.buf)?,
            Some(f) => {
                let n16 = self.src.buf.len() / 2;
                let cfg = LaunchConfig {
                    grid_dim: (self.grid, 1, 1),
                    block_dim: (BLOCK, 1, 1),
                    shared_mem_bytes: 0,
                };
                let mut l = stream.launch_builder(f);
                l.arg(&self.src.buf).arg(&mut self.dst.buf).arg(&n16);
                // SAFETY: matches sm_copy(const uint4*, uint4*, size_t); both buffers
                // hold 2 * n16 words (allocations are 256-byte aligned).
                unsafe { l.launch(cfg) }?;
            }
        }
        Ok(())
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.dst.clear()?;
        self.launch()?;
        Ok(words_check(self.dst.count_wrong()?, self.dst.buf.len()))
    }
}

/// GPU `src` to GPU `dst` (and back at once when bidirectional), between buffers that
/// peer access covers (see [`peer`]).
struct Peer {
    there: PeerMem,
    back: Option<(PeerMem, PeerMem)>,
    here: PeerMem,
}

impl Peer {
    fn new(
        backend: &CudaBackend,
        src: usize,
        dst: usize,
        bidirectional: bool,
        words: usize,
    ) -> Result<(Self, crate::core::PeerPath)> {
        let (cs, cd) = (open_gpu(src)?, open_gpu(dst)?);
        let path = peer::connect(&cs, &cd, src, dst);
        let (ms, md) = (super::load_kernels(&cs)?, super::load_kernels(&cd)?);
        let on = |ctx: &Arc<CudaContext>, module: &Arc<CudaModule>| -> Result<PeerMem> {
            PeerMem::new(
                ctx.new_stream()?,
                words,
                module.load_function("fill_pattern")?,
                module.load_function("count_pattern")?,
                backend.sm_count()?.max(1) * 4,
            )
        };
        let mut here = on(&cs, &ms)?;
        here.fill_pattern()?;
        let there = on(&cd, &md)?;
        let back = if bidirectional {
            let mut from = on(&cd, &md)?;
            from.fill_pattern()?;
            Some((from, on(&cs, &ms)?))
        } else {
            None
        };
        Ok((Peer { there, back, here }, path))
    }

    /// The copy without its fork and join (also what the check runs).
    fn copy_once(&mut self) -> Result<()> {
        // Issued on the destination's stream (cudarc's peer copy); the reverse copy on
        // the source GPU's stream runs at the same time. (Borrowed as DevMem first, so
        // its stream and buffer borrow apart.)
        let there: &mut DevMem = &mut self.there;
        there.stream.memcpy_dtod(&self.here.buf, &mut there.buf)?;
        if let Some((from, to)) = &mut self.back {
            let to: &mut DevMem = to;
            to.stream.memcpy_dtod(&from.buf, &mut to.buf)?;
        }
        Ok(())
    }
}

impl GpuCopy for Peer {
    fn launch(&mut self) -> Result<()> {
        let a = self.there.stream.clone();
        let back = self.back.as_ref().map(|(_, to)| to.stream.clone());
        if let Some(b) = &back {
            fork(&a, b)?;
        }
        self.copy_once()?;
        match &back {
            Some(b) => join(&a, b),
            None => Ok(()),
        }
    }

    fn stream(&self) -> Arc<CudaStream> {
        self.there.stream.clone()
    }

    fn verify(&mut self) -> Result<LocalCheck> {
        self.there.clear()?;
        if let Some((_, to)) = &mut self.back {
            to.clear()?;
        }
        self.launch()?;
        let mut wrong = self.there.count_wrong()?;
        let mut checked = self.there.buf.len() as u64;
        if let Some((_, to)) = &self.back {
            wrong += to.count_wrong()?;
            checked += to.buf.len() as u64;
        }
        Ok(LocalCheck {
            checked,
            wrong,
            max_error_ratio: None,
            method: "exact: every 8-byte word of the destination against the source pattern",
        })
    }
}

fn words_check(wrong: u64, words: usize) -> LocalCheck {
    LocalCheck {
        checked: words as u64,
        wrong,
        max_error_ratio: None,
        method: "exact: every 8-byte word of the destination against the source pattern",
    }
}
