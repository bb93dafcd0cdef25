//! GPU timing without the host's launch cost: a spin kernel holds the stream while
//! a batch of calls is queued between CUDA events (the schedule is
//! [`crate::core::timing`]); the events then time the device alone.
//!
//! The spin kernel runs on the backend's first stream and polls a flag in mapped,
//! pinned host memory; every stream being timed waits on an event recorded after it
//! (a stream may wait on another device's event), so one hold serves several GPUs and
//! peer copies. The kernel gives up after [`HOLD_LIMIT_NS`] so that a host which could
//! not queue its batch in time never hangs the device; it then says so, and the
//! measurement fails rather than report times that include the launch cost.

use crate::core::timing::{run_held, HeldQueue, Schedule};
use crate::core::Timing;
use anyhow::{anyhow, bail, Context, Result};
use cudarc::driver::{
    sys::{self, CUevent_flags},
    CudaEvent, CudaFunction, CudaStream, LaunchConfig, PinnedHostSlice, PushKernelArg,
};
use std::sync::Arc;

/// How long the spin kernel holds a stream at most: queueing a batch of
/// [`MAX_BATCH`](crate::core::timing::MAX_BATCH) calls takes milliseconds.
const HOLD_LIMIT_NS: u64 = 5_000_000_000;

/// What the spin kernel writes into its outcome word.
const RELEASED: u32 = 1;
const GAVE_WAY: u32 = 2;

/// The spin kernel, its stream and the flag it polls.
pub struct StreamHold {
    stream: Arc<CudaStream>,
    function: CudaFunction,
    /// Word 0: the release flag (host writes); word 1: the outcome (kernel writes).
    /// Read and written only through `host` and `device`; held to keep them valid.
    _words: PinnedHostSlice<u32>,
    host: *mut u32,
    device: u64,
}

impl StreamHold {
    /// A hold on `stream` with `function`, the kernel `hold_stream` of
    /// [`super::kernels::SOURCE`] loaded in the stream's context.
    pub fn new(stream: Arc<CudaStream>, function: CudaFunction) -> Result<Self> {
        // Mapped into the device's address space, and portable to every context.
        let flags = sys::CU_MEMHOSTALLOC_DEVICEMAP | sys::CU_MEMHOSTALLOC_PORTABLE;
        // SAFETY: both words are written below before the kernel reads them.
        let mut words = unsafe { stream.context().alloc_pinned_with_flags::<u32>(2, flags) }
            .context("allocating the stream hold's flag in pinned host memory")?;
        let host = words.as_mut_ptr()?;
        let mut device: sys::CUdeviceptr = 0;
        // SAFETY: `host` is a live mapped allocation; writes one device pointer.
        unsafe { sys::cuMemHostGetDevicePointer_v2(&mut device, host.cast(), 0) }
            .result()
            .map_err(|e| anyhow!("mapping the stream hold's flag for the GPU: {e}"))?;
        let hold = StreamHold {
            stream,
            function,
            _words: words,
            host,
            device,
        };
        hold.set(0, 0);
        hold.set(1, 0);
        Ok(hold)
    }

    fn set(&self, word: usize, value: u32) {
        // SAFETY: `host` points at the two words of `self._words`, alive with `self`;
        // volatile, since the GPU reads them concurrently.
        unsafe { self.host.add(word).write_volatile(value) };
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }

    fn get(&self, word: usize) -> u32 {
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        // SAFETY: as in `set`.
        unsafe { self.host.add(word).read_volatile() }
    }

    /// Holds `streams`: nothing queued on them from now on starts before
    /// [`release`](Self::release).
    fn hold(&self, streams: &[Arc<CudaStream>]) -> Result<()> {
        self.set(0, 0);
        self.set(1, 0);
        let cfg = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1, 1, 1),
            shared_mem_bytes: 0,
        };
        let (release, outcome) = (self.device, self.device + 4);
        let mut l = self.stream.launch_builder(&self.function);
        l.arg(&release).arg(&outcome).arg(&HOLD_LIMIT_NS);
        // SAFETY: matches hold_stream(const volatile unsigned*, unsigned*, u64); both
        // addresses are the mapped words of `self._words`.
        unsafe { l.launch(cfg) }.context("launching the stream hold kernel")?;
        let held = self
            .stream
            .record_event(Some(CUevent_flags::CU_EVENT_DISABLE_TIMING))?;
        for s in streams {
            if s.cu_stream() != self.stream.cu_stream() {
                s.wait(&held)?;
            }
        }
        Ok(())
    }

    fn release(&self) {
        self.set(0, 1);
    }

    /// After the held work has run: whether the hold lasted until it was released.
    fn lasted(&self) -> Result<()> {
        self.stream.synchronize()?;
        match self.get(1) {
            RELEASED => Ok(()),
            GAVE_WAY => bail!(
                "the GPU stream hold gave way after {} s, before the host had queued its batch; the times would include the launch cost, so none are reported",
                HOLD_LIMIT_NS / 1_000_000_000
            ),
            other => bail!("the GPU stream hold kernel left outcome {other}"),
        }
    }
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        // Never leave a kernel spinning on memory about to be freed.
        self.set(0, 1);
        let _ = self.stream.synchronize();
    }
}

// SAFETY: the raw pointer is to `_words`, owned by the hold; the host only writes the
// release word and reads the outcome word, each with one volatile access.
unsafe impl Send for StreamHold {}
unsafe impl Sync for StreamHold {}

/// Timing moves over one or more streams: marks are an event on each, a call's time
/// is the slowest stream's. Without a hold (no NVRTC to build the spin kernel) each
/// call is timed as queued, launch cost included, and the record says so.
pub struct HeldStreams<'a, C, W> {
    pub hold: Option<&'a StreamHold>,
    pub streams: &'a [Arc<CudaStream>],
    /// Queues one call.
    pub call: C,
    /// Waits for an event (NCCL polls its communicator meanwhile).
    pub wait: W,
}

impl<C, W> HeldQueue for HeldStreams<'_, C, W>
where
    C: FnMut() -> Result<()>,
    W: FnMut(&CudaEvent) -> Result<()>,
{
    type Mark = Vec<CudaEvent>;

    fn hold(&mut self) -> Result<()> {
        match self.hold {
            Some(h) => h.hold(self.streams),
            None => Ok(()),
        }
    }

    fn enqueue(&mut self) -> Result<()> {
        (self.call)()
    }

    fn mark(&mut self) -> Result<Vec<CudaEvent>> {
        self.streams
            .iter()
            .map(|s| Ok(s.record_event(Some(CUevent_flags::CU_EVENT_DEFAULT))?))
            .collect()
    }

    fn release(&mut self) -> Result<()> {
        if let Some(h) = self.hold {
            h.release();
        }
        Ok(())
    }

    fn wait(&mut self, mark: &Vec<CudaEvent>) -> Result<()> {
        for e in mark {
            (self.wait)(e)?;
        }
        match self.hold {
            Some(h) => h.lasted(),
            None => Ok(()),
        }
    }

    fn seconds(&self, from: &Vec<CudaEvent>, to: &Vec<CudaEvent>) -> Result<f64> {
        let mut slowest = 0f64;
        for (a, b) in from.iter().zip(to) {
            slowest = slowest.max(super::driver_api::elapsed_seconds(a, b)?);
        }
        Ok(slowest)
    }
}

/// How calls timed with `hold` are recorded.
pub fn method(hold: Option<&StreamHold>) -> Timing {
    match hold {
        Some(_) => Timing::HeldStreamEvents,
        None => Timing::EventsPerCall,
    }
}

/// Times `iterations` calls of `call` on `streams` (the first is where the events
/// of single-stream work go) by the held schedule, or one at a time without a hold.
pub fn run_timed(
    hold: Option<&StreamHold>,
    streams: &[Arc<CudaStream>],
    iterations: u32,
    schedule: Schedule,
    call: impl FnMut() -> Result<()>,
    wait: impl FnMut(&CudaEvent) -> Result<()>,
    record: &mut dyn FnMut(f64),
) -> Result<()> {
    let schedule = if hold.is_some() {
        schedule
    } else {
        Schedule {
            batch: 1,
            absorb_skew: false,
            ..schedule
        }
    };
    let mut queue = HeldStreams {
        hold,
        streams,
        call,
        wait,
    };
    run_held(&mut queue, iterations, schedule, record)
}

/// [`run_timed`] of single-stream work on `stream`, waited for on the host.
pub fn run_on_stream(
    hold: Option<&StreamHold>,
    stream: &Arc<CudaStream>,
    iterations: u32,
    call: impl FnMut() -> Result<()>,
    record: &mut dyn FnMut(f64),
) -> Result<()> {
    let streams = std::slice::from_ref(stream);
    let schedule = Schedule::held(false);
    run_timed(
        hold,
        streams,
        iterations,
        schedule,
        call,
        synchronize,
        record,
    )
}

/// Waits for an event on the host.
pub fn synchronize(event: &CudaEvent) -> Result<()> {
    Ok(event.synchronize()?)
}
