//! NCCL on GPU buffers (feature `cuda`): one NCCL rank per GPU, the NCCL unique id made
//! on rank 0 and handed to the others over the job's communicator (MPI). A process
//! drives one GPU, or N with `-g N` (one communicator per device, made in one group;
//! every collective is then one group over the N devices).
//!
//! The communicator is made through NCCL's C API (`cudarc::nccl::result`) rather than
//! `cudarc`'s safe `Comm`, which keeps its handle private: the handle is what
//! `ncclCommGetAsyncError` polls while a rank waits and what `ncclCommAbort` ends when
//! the watchdog fires, so that no rank hangs on a peer that failed.
//!
//! Communicators are non-blocking (`ncclCommInitRankConfig` with `blocking = 0`, NCCL
//! 2.14 and later), as NCCL documents for abortable use: no NCCL call waits inside the
//! library for a peer, so the lock serialising the calls is never held by a stuck call
//! and the watchdog's `ncclCommAbort` always gets through. A call that returns
//! `ncclInProgress` is finished by polling `ncclCommGetAsyncError`, with the lock
//! taken only for each poll. An older NCCL gets blocking communicators (then a
//! stuck call can delay the abort), and says so in `cuda-check`.
//!
//! [`collective`]: the collectives, with the input data, expected results and bandwidth
//! factors of the same [`Collective`](crate::core::Collective) as on the
//! CPU path. [`p2p`]: the point-to-point moves of the shared schedule.

pub mod collective;
pub mod p2p;

use crate::backend::gpus;
use crate::core::Communicator;
use crate::core::DType;
use crate::core::Guard;
use anyhow::{anyhow, bail, Result};
use cudarc::driver::{CudaEvent, CudaSlice, CudaStream, DevicePtr};
use cudarc::nccl::{result, sys};
use std::ffi::c_int;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use collective::{supports_in_place, workload};

/// An NCCL communicator's handle.
struct RawComm(sys::ncclComm_t);

/// NCCL's configuration as of 2.14 (`ncclConfig_v21400`), the oldest layout with
/// `blocking`: NCCL reads the fields a caller supplied by the `version` given, so
/// this layout works with every later NCCL. `unset` fills the tail padding of the C
/// struct, which newer layouts use for `cgaClusterSize`, with "not set".
#[repr(C)]
struct ConfigV21400 {
    size: usize,
    magic: std::ffi::c_uint,
    version: std::ffi::c_uint,
    blocking: c_int,
    unset: c_int,
}

impl ConfigV21400 {
    fn non_blocking() -> Self {
        ConfigV21400 {
            size: std::mem::size_of::<Self>(),
            magic: 0xcafe_beef,
            version: 21400,
            blocking: 0,
            unset: c_int::MIN,
        }
    }
}

/// The first NCCL with non-blocking communicators (`ncclCommInitRankConfig`).
pub const NON_BLOCKING_SINCE: c_int = version_code(2, 14);

/// How long making a communicator may take before it is aborted.
const INIT_LIMIT: Duration = Duration::from_secs(600);

// SAFETY: NCCL communicators may be used from any thread; this program serialises
// every use through `NcclHandle::comms`' mutex.
unsafe impl Send for RawComm {}

/// The process's NCCL communicators, one per device it drives (`-g`), with the size
/// of the communicator, the NCCL rank of the first device and the library version.
pub struct NcclHandle {
    /// One per device, in device order; `None` once aborted.
    comms: Mutex<Option<Vec<RawComm>>>,
    /// The NCCL rank of the process's first device (device j has `rank + j`).
    pub rank: usize,
    /// GPUs in the communicator: processes x devices per process.
    pub size: usize,
    /// The loaded NCCL's version code (`ncclGetVersion`: 21903 for 2.19.3).
    pub version: c_int,
    /// Keep the CUDA contexts alive until the communicators are gone.
    streams: Vec<Arc<CudaStream>>,
}

impl NcclHandle {
    /// Runs `f` on the first device's live communicator; `what` names the call in errors.
    fn with(
        &self,
        what: &str,
        f: impl FnOnce(sys::ncclComm_t) -> Result<result::NcclStatus, result::NcclError>,
    ) -> Result<()> {
        self.with_device(0, what, f)
    }

    /// Runs `f` on device `device`'s live communicator.
    fn with_device(
        &self,
        device: usize,
        what: &str,
        f: impl FnOnce(sys::ncclComm_t) -> Result<result::NcclStatus, result::NcclError>,
    ) -> Result<()> {
        let guard = self.comms.lock().unwrap_or_else(|e| e.into_inner());
        let Some(comms) = guard.as_ref() else {
            bail!("NCCL {what}: the communicator was aborted after an earlier failure");
        };
        let comm = comms
            .get(device)
            .ok_or_else(|| anyhow!("NCCL {what}: this process has no device {device}"))?;
        let status = f(comm.0).map_err(|e| anyhow!("NCCL {what} failed: {}", describe(e.0)))?;
        drop(guard);
        match status {
            result::NcclStatus::InProgress => self.settle(what),
            _ => Ok(()),
        }
    }

    /// Waits until no call of the communicators is still in progress (a non-blocking
    /// communicator finishes a call, or a group, in the background), taking the lock
    /// only for each poll so that the watchdog can abort meanwhile.
    pub fn settle(&self, what: &str) -> Result<()> {
        self.settle_within(what, None)
    }

    /// [`settle`](Self::settle), aborting the communicators when they fail or are
    /// still busy after `limit`.
    fn settle_within(&self, what: &str, limit: Option<Duration>) -> Result<()> {
        let started = Instant::now();
        loop {
            let polled = {
                let guard = self.comms.lock().unwrap_or_else(|e| e.into_inner());
                let Some(comms) = guard.as_ref() else {
                    bail!("NCCL {what}: the communicator was aborted (after an earlier failure or by the watchdog)");
                };
                comms
                    .iter()
                    .try_fold(false, |busy, c| Ok(busy | comm_state(c.0)?))
            };
            let failure = match polled {
                Ok(false) => return Ok(()),
                Ok(true) => match limit {
                    Some(l) if started.elapsed() > l => format!(
                        "still in progress after {} s (a rank missing from the job leaves the others waiting)",
                        l.as_secs()
                    ),
                    _ => {
                        std::thread::yield_now();
                        continue;
                    }
                },
                Err(e) => e,
            };
            self.abort();
            bail!("NCCL {what} failed: {failure}; the communicator was aborted");
        }
    }

    /// Devices (communicators) of this process.
    fn devices(&self) -> usize {
        self.streams.len()
    }

    /// The first asynchronous error of the communicators, in words (naming the NCCL
    /// rank when the process drives several GPUs); `None` while all are healthy.
    /// `blocking == false` gives up (`None`) when another thread holds the handle.
    fn async_error(&self, blocking: bool) -> Option<String> {
        let guard = if blocking {
            self.comms.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            self.comms.try_lock().ok()?
        };
        let comms = guard.as_ref()?;
        comms.iter().enumerate().find_map(|(j, comm)| {
            let e = poll_async_error(comm)?;
            Some(if comms.len() > 1 {
                format!(
                    "NCCL rank {} (device {j} of this process): {e}",
                    self.rank + j
                )
            } else {
                e
            })
        })
    }

    fn is_aborted(&self) -> bool {
        self.comms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// Aborts every communicator (`ncclCommAbort`): pending NCCL work ends, and peers
    /// waiting on this process see an error. Later calls fail with a clear message.
    fn abort(&self) {
        let mut guard = self.comms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(comms) = guard.take() {
            for comm in comms {
                // SAFETY: a live communicator, never used again.
                let _ = unsafe { result::comm_abort(comm.0) };
            }
        }
    }

    /// Waits until `event` has completed, polling the communicator for asynchronous
    /// errors meanwhile (a blocking wait would hang forever on a dead peer). On an
    /// error the communicator is aborted and the error names `what`.
    pub fn wait(&self, event: &CudaEvent, what: &dyn Fn() -> String) -> Result<()> {
        const POLL: Duration = Duration::from_millis(1);
        let started = Instant::now();
        let mut polled = started;
        loop {
            if event.try_is_complete()? {
                return Ok(());
            }
            let now = Instant::now();
            if now.duration_since(polled) >= POLL {
                polled = now;
                if self.is_aborted() {
                    bail!(
                        "{}: the NCCL communicator was aborted (after an earlier failure or by the watchdog)",
                        what()
                    );
                }
                if let Some(e) = self.async_error(true) {
                    self.abort();
                    bail!(
                        "{}: NCCL reported an asynchronous error: {e}; the communicator was aborted (NCCL_DEBUG=WARN tells more)",
                        what()
                    );
                }
            }
            // Spin briefly (short operations), then yield the core to other ranks.
            if now.duration_since(started) < Duration::from_micros(200) {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

impl Drop for NcclHandle {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Decodes `ncclGetVersion`'s code: `major * 10000 + minor * 100 + patch` since 2.9,
/// `major * 1000 + minor * 100 + patch` before.
pub fn version_text(code: c_int) -> String {
    let (major, rest) = if code >= 10000 {
        (code / 10000, code % 10000)
    } else {
        (code / 1000, code % 1000)
    };
    format!("{major}.{}.{}", rest / 100, rest % 100)
}

/// The version code of `major.minor` (2.9 and later).
const fn version_code(major: c_int, minor: c_int) -> c_int {
    major * 10000 + minor * 100
}

/// `comm`'s asynchronous error, in words; `None` while it is healthy.
fn poll_async_error(comm: &RawComm) -> Option<String> {
    comm_state(comm.0).err()
}

/// Whether `comm` is still busy with a call (`Ok(true)`: `ncclInProgress`), or the
/// error it reports.
fn comm_state(comm: sys::ncclComm_t) -> Result<bool, String> {
    let mut state = sys::ncclResult_t::ncclSuccess;
    // SAFETY: a live communicator and a valid out-pointer.
    let polled = unsafe { sys::ncclCommGetAsyncError(comm, &mut state) };
    match (polled, state) {
        (sys::ncclResult_t::ncclSuccess, sys::ncclResult_t::ncclSuccess) => Ok(false),
        (sys::ncclResult_t::ncclSuccess, sys::ncclResult_t::ncclInProgress) => Ok(true),
        (sys::ncclResult_t::ncclSuccess, failed) => Err(describe(failed)),
        (failed, _) => Err(format!(
            "ncclCommGetAsyncError itself failed: {}",
            describe(failed)
        )),
    }
}

/// `ncclGetErrorString` of `result`, with its name.
fn describe(result: sys::ncclResult_t) -> String {
    // SAFETY: NCCL returns a static NUL-terminated string for every result code.
    let text = unsafe {
        let p = sys::ncclGetErrorString(result);
        if p.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    format!("{result:?} ({text})")
}

/// The loaded NCCL's version code.
pub fn loaded_version() -> Result<c_int> {
    result::get_nccl_version().map_err(|e| anyhow!("ncclGetVersion failed: {}", describe(e.0)))
}

/// NCCL's type for `dtype`, or a usage error naming what the loaded NCCL lacks.
pub fn nccl_type(dtype: DType, version: c_int) -> Result<sys::ncclDataType_t> {
    use sys::ncclDataType_t as T;
    let (ty, since) = match dtype {
        DType::Float => (T::ncclFloat32, 0),
        DType::Double => (T::ncclFloat64, 0),
        DType::Int32 => (T::ncclInt32, 0),
        DType::Int64 => (T::ncclInt64, 0),
        DType::Fp16 => (T::ncclFloat16, 0),
        DType::Bf16 => (T::ncclBfloat16, version_code(2, 10)),
        DType::Fp8E4m3 => (T::ncclFloat8e4m3, version_code(2, 24)),
        DType::Fp8E5m2 => (T::ncclFloat8e5m2, version_code(2, 24)),
        DType::Tf32 => {
            return Err(crate::usage!(
                "NCCL has no tf32 (a matmul mode); use float for the collectives"
            ))
        }
    };
    if version < since {
        return Err(crate::usage!(
            "the loaded NCCL is {}, which has no {dtype} collectives (they need NCCL {} or later); leave {dtype} out of -d or load a newer NCCL",
            version_text(version),
            version_text(since)
        ));
    }
    Ok(ty)
}

/// `v` as one element of `dtype`, little-endian, appended to `out`. The benchmarks'
/// values are small integers, exact in every type (see
/// [`ExactInputs`](crate::core::ExactInputs)).
pub fn encode(dtype: DType, v: i64, out: &mut Vec<u8>) {
    match dtype {
        DType::Float | DType::Tf32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
        DType::Double => out.extend_from_slice(&(v as f64).to_le_bytes()),
        DType::Int32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
        DType::Int64 => out.extend_from_slice(&v.to_le_bytes()),
        DType::Fp16 => {
            out.extend_from_slice(&half::f16::from_f64(v as f64).to_bits().to_le_bytes())
        }
        DType::Bf16 => {
            out.extend_from_slice(&half::bf16::from_f64(v as f64).to_bits().to_le_bytes())
        }
        DType::Fp8E4m3 => out.push(float8::F8E4M3::from_f64(v as f64).to_bits()),
        DType::Fp8E5m2 => out.push(float8::F8E5M2::from_f64(v as f64).to_bits()),
    }
}

/// `values` encoded as `dtype`.
pub fn encode_all(dtype: DType, values: impl Iterator<Item = i64>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode(dtype, v, &mut out);
    }
    out
}

/// Elements of `bytes` (encoded as `dtype`) that differ from `expected(i)`, compared
/// by their encodings: exact.
pub fn count_wrong(dtype: DType, bytes: &[u8], expected: impl Fn(usize) -> i64) -> u64 {
    let size = dtype.size();
    let mut want = Vec::with_capacity(size);
    bytes
        .chunks_exact(size)
        .enumerate()
        .filter(|(i, got)| {
            want.clear();
            encode(dtype, expected(*i), &mut want);
            *got != want.as_slice()
        })
        .count() as u64
}

/// Runs `f`'s NCCL calls as one group (`ncclGroupStart`/`ncclGroupEnd`), so that sends
/// and receives posted together progress together. The group always ends. On
/// non-blocking communicators the group may go on in the background: `nccl` (when
/// given) is then settled before this returns.
pub fn grouped(nccl: Option<&NcclHandle>, f: impl FnOnce() -> Result<()>) -> Result<()> {
    result::group_start().map_err(|e| anyhow!("ncclGroupStart failed: {}", describe(e.0)))?;
    let posted = f();
    let ended = result::group_end().map_err(|e| anyhow!("ncclGroupEnd failed: {}", describe(e.0)));
    posted?;
    match (ended?, nccl) {
        (result::NcclStatus::InProgress, Some(h)) => h.settle("group"),
        _ => Ok(()),
    }
}

/// The device address of byte `offset` of `slice`.
fn address(slice: &CudaSlice<u8>, stream: &CudaStream, offset: usize) -> *mut std::ffi::c_void {
    // Event tracking is off in this program's context, so the guard records nothing.
    let (ptr, _record) = slice.device_ptr(stream);
    (ptr + offset as u64) as *mut std::ffi::c_void
}

/// The process's NCCL communicator, made on first use and kept for the whole run
/// (creating one costs far more than any collective). The watchdog polls it.
#[derive(Default)]
pub struct NcclCache(Arc<CommSlot>);

#[derive(Default)]
struct CommSlot(OnceLock<Arc<NcclHandle>>);

impl Guard for CommSlot {
    fn failure(&self) -> Option<String> {
        let e = self.0.get()?.async_error(false)?;
        Some(format!("NCCL reported an asynchronous error: {e}"))
    }

    fn abort(&self) {
        if let Some(h) = self.0.get() {
            h.abort();
        }
    }
}

impl NcclCache {
    /// What the watchdog polls.
    pub fn guard(&self) -> Arc<dyn Guard> {
        self.0.clone()
    }
}

/// The communicator of `cache` on one device, made now (by every rank together) if it
/// is the first use.
pub fn handle(
    cache: &NcclCache,
    stream: &Arc<CudaStream>,
    comm: &dyn Communicator,
) -> Result<Arc<NcclHandle>> {
    handle_on(cache, std::slice::from_ref(stream), comm)
}

/// The communicators of `cache`, one per stream's device (`-g`), made now (by every
/// rank together) if it is the first use: NCCL rank `rank x N + j` for device j of N,
/// in a communicator of `size x N` GPUs, all of a process made in one NCCL group.
pub fn handle_on(
    cache: &NcclCache,
    streams: &[Arc<CudaStream>],
    comm: &dyn Communicator,
) -> Result<Arc<NcclHandle>> {
    if let Some(h) = cache.0 .0.get() {
        if h.devices() != streams.len() {
            bail!(
                "the NCCL communicators were made for {} devices per process, not {}",
                h.devices(),
                streams.len()
            );
        }
        return Ok(h.clone());
    }
    // Rank 0 makes the id; every rank must take part in the broadcast.
    let mine = if comm.rank() == 0 {
        let id = result::get_uniqueid()
            .map_err(|e| anyhow!("NCCL could not create a unique id: {}", describe(e.0)))?;
        id.internal.iter().map(|&c| c as u8).collect::<Vec<u8>>()
    } else {
        vec![0u8; 128]
    };
    let shared = comm.broadcast_bytes(&mine)?;
    let mut id = sys::ncclUniqueId {
        internal: [0 as std::ffi::c_char; 128],
    };
    if shared.len() != id.internal.len() {
        bail!(
            "NCCL unique id of {} bytes received, expected 128",
            shared.len()
        );
    }
    for (d, s) in id.internal.iter_mut().zip(&shared) {
        *d = *s as std::ffi::c_char;
    }
    let per_rank = streams.len();
    let (first, size) = gpus::nccl_rank(comm.rank(), comm.size(), per_rank, 0);
    let version = loaded_version()?;
    let non_blocking = version >= NON_BLOCKING_SINCE;
    let mut raws: Vec<sys::ncclComm_t> = vec![std::ptr::null_mut(); per_rank];
    let failed = |rank: usize, e: String| {
        anyhow!(
            "NCCL could not create a communicator of {size} ranks (rank {rank}): {e}; NCCL_DEBUG=WARN tells more"
        )
    };
    let mut init = |j: usize| -> Result<()> {
        let rank = first + j;
        // NCCL takes the device of the calling thread's current context.
        streams[j].context().bind_to_thread()?;
        let made = if non_blocking {
            let mut config = ConfigV21400::non_blocking();
            // SAFETY: a valid out-pointer and a config of the 2.14 layout, which NCCL
            // reads by its `version`; size and rank fit c_int for any real job.
            unsafe {
                sys::ncclCommInitRankConfig(
                    &mut raws[j],
                    size as c_int,
                    id,
                    rank as c_int,
                    (&mut config as *mut ConfigV21400).cast(),
                )
            }
            .result()
        } else {
            // SAFETY: as above.
            unsafe { result::comm_init_rank(&mut raws[j], size as c_int, id, rank as c_int) }
        };
        made.map(|_| ()).map_err(|e| failed(rank, describe(e.0)))
    };
    if per_rank == 1 {
        init(0)?;
    } else {
        // One thread initialising several ranks of a communicator must do it in a
        // group: each ncclCommInitRank alone would wait for the others.
        grouped(None, || (0..per_rank).try_for_each(&mut init))?;
    }
    let h = Arc::new(NcclHandle {
        comms: Mutex::new(Some(raws.into_iter().map(RawComm).collect())),
        rank: first,
        size,
        version,
        streams: streams.to_vec(),
    });
    if non_blocking {
        h.settle_within("communicator creation", Some(INIT_LIMIT))
            .map_err(|e| failed(first, format!("{e:#}")))?;
    }
    Ok(cache.0 .0.get_or_init(|| h).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decode_both_schemes() {
        assert_eq!(version_text(21903), "2.19.3");
        assert_eq!(version_text(2804), "2.8.4");
        assert_eq!(version_text(version_code(2, 24)), "2.24.0");
    }

    #[test]
    fn narrow_types_are_refused_by_old_nccl_with_the_version() {
        let e = nccl_type(DType::Fp8E5m2, 22304).unwrap_err().to_string();
        assert!(e.contains("2.23.4") && e.contains("2.24.0"), "{e}");
        assert!(nccl_type(DType::Fp8E4m3, 22400).is_ok());
        assert!(nccl_type(DType::Bf16, 20903).is_err());
        assert!(nccl_type(DType::Bf16, 21000).is_ok());
    }

    #[test]
    fn encodings_are_exact_for_small_integers_and_mismatches_are_counted() {
        for dtype in DType::COLLECTIVE {
            let bytes = encode_all(dtype, (0..8).map(|v| v - 3));
            assert_eq!(bytes.len(), 8 * dtype.size());
            assert_eq!(count_wrong(dtype, &bytes, |i| i as i64 - 3), 0, "{dtype}");
            assert_eq!(count_wrong(dtype, &bytes, |i| i as i64 - 2), 8, "{dtype}");
        }
        // Every integer up to the exact bound round-trips through the encoding.
        for dtype in DType::COLLECTIVE {
            let top = crate::core::collective::exact_integers(dtype).min(1 << 12);
            for v in -top..=top {
                let mut b = Vec::new();
                encode(dtype, v, &mut b);
                let back = match dtype {
                    DType::Bf16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f64(),
                    DType::Fp16 => half::f16::from_le_bytes([b[0], b[1]]).to_f64(),
                    DType::Fp8E4m3 => float8::F8E4M3::from_bits(b[0]).to_f64(),
                    DType::Fp8E5m2 => float8::F8E5M2::from_bits(b[0]).to_f64(),
                    _ => v as f64,
                };
                assert_eq!(back, v as f64, "{dtype} {v}");
            }
        }
    }
}
