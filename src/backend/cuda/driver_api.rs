//! The driver API level: the CUDA version the loaded driver reports
//! (`cuDriverGetVersion`), and the variant of each driver function the code calls at
//! that level.
//!
//! `cudarc`'s bindings are generated for one CUDA version (`cuda-13000`) and call that
//! version's symbols. A few of those exist only in newer drivers than people have:
//! `CudaEvent::elapsed_ms` calls `cuEventElapsedTime_v2`, which drivers export from
//! CUDA 12.8 (R570) on, so on an R535 or R550 driver it would panic at the first timed
//! benchmark. Such calls go through here instead, choosing by the driver's version, so
//! no function the loaded driver lacks is ever called. [`super::symbols`] lists the
//! variants per level; `cuda-check` resolves exactly the ones of the driver's level.

use super::discovery::{self, Found};
use super::symbols;
use anyhow::{anyhow, bail, Context, Result};
use cudarc::driver::{sys, CudaEvent};
use std::fmt;
use std::sync::OnceLock;

/// A CUDA version as the driver API numbers it: 1000 x major + 10 x minor (12020 is
/// CUDA 12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CudaVersion(pub i32);

impl CudaVersion {
    pub fn major(self) -> u32 {
        (self.0 / 1000).max(0) as u32
    }

    pub fn minor(self) -> u32 {
        ((self.0 % 1000) / 10).max(0) as u32
    }
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major(), self.minor())
    }
}

/// How the time between two events is read at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElapsedTime {
    /// `cuEventElapsedTime`, every driver (removed from CUDA 13's header, not from drivers).
    V1,
    /// `cuEventElapsedTime_v2`, drivers of CUDA 12.8 and newer.
    V2,
}

impl ElapsedTime {
    /// The driver symbol called.
    pub fn symbol(self) -> &'static str {
        match self {
            ElapsedTime::V1 => "cuEventElapsedTime",
            ElapsedTime::V2 => "cuEventElapsedTime_v2",
        }
    }

    fn short(self) -> &'static str {
        match self {
            ElapsedTime::V1 => "v1",
            ElapsedTime::V2 => "v2",
        }
    }
}

/// The driver API level the code runs at: the driver's own CUDA version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLevel {
    pub driver: CudaVersion,
}

impl ApiLevel {
    pub fn new(driver: CudaVersion) -> Self {
        ApiLevel { driver }
    }

    /// The event timing variant of this level (from [`symbols::ELAPSED_TIME`]).
    pub fn elapsed_time(self) -> ElapsedTime {
        match symbols::ELAPSED_TIME.at(self.driver) {
            Some("cuEventElapsedTime_v2") => ElapsedTime::V2,
            _ => ElapsedTime::V1,
        }
    }

    /// One line for `cuda-check`: the level and the variants it calls.
    pub fn describe(self) -> String {
        let elapsed = self.elapsed_time();
        format!(
            "API level {}: {} elapsed time ({})",
            self.driver,
            elapsed.short(),
            elapsed.symbol()
        )
    }
}

/// The CUDA version the loaded driver reports, read once; `None` without a driver the
/// loader can open (`cuDriverGetVersion` needs no `cuInit` and exists in every driver).
pub fn driver_version() -> Option<CudaVersion> {
    static VERSION: OnceLock<Option<CudaVersion>> = OnceLock::new();
    *VERSION.get_or_init(|| {
        // Opened from where it was found, not through cudarc (whose loader panics on a
        // missing library, and sees only the loader's path before the re-execution).
        let path = match discovery::find(&discovery::DRIVER) {
            Found::Loader { name, path } => path.unwrap_or_else(|| name.into()),
            Found::File { path, .. } => path,
            Found::Missing { .. } | Found::TooNew { .. } => return None,
        };
        type GetVersion = unsafe extern "C" fn(*mut std::ffi::c_int) -> sys::CUresult;
        // SAFETY: loading the driver runs its initialisers only.
        let driver = unsafe { libloading::Library::new(&path) }.ok()?;
        // SAFETY: cuda.h's `CUresult cuDriverGetVersion(int*)`.
        let get_version = unsafe { driver.get::<GetVersion>(b"cuDriverGetVersion") }.ok()?;
        let mut v: std::ffi::c_int = 0;
        // SAFETY: writes one int.
        let rc = unsafe { get_version(&mut v) };
        (rc == sys::CUresult::CUDA_SUCCESS && v > 0).then_some(CudaVersion(v))
    })
}

/// The loaded driver's API level.
pub fn api_level() -> Result<ApiLevel> {
    driver_version()
        .map(ApiLevel::new)
        .ok_or_else(|| anyhow!("cannot read the CUDA driver's version (cuDriverGetVersion)"))
}

type ElapsedFn = unsafe extern "C" fn(*mut f32, sys::CUevent, sys::CUevent) -> sys::CUresult;

/// `cuEventElapsedTime` (v1) from the driver library cudarc loaded. Looked up by name:
/// cudarc's `cuda-13000` bindings do not declare it.
fn elapsed_v1() -> Result<ElapsedFn> {
    static V1: OnceLock<Result<ElapsedFn, String>> = OnceLock::new();
    V1.get_or_init(|| {
        // SAFETY: only called once events exist, so the driver library is loaded; the
        // symbol's signature is cuda.h's `CUresult cuEventElapsedTime(float*, CUevent,
        // CUevent)`.
        unsafe {
            sys::culib()
                .get::<ElapsedFn>(ElapsedTime::V1.symbol().as_bytes())
                .map(|f| *f)
                .map_err(|e| format!("the CUDA driver lacks cuEventElapsedTime: {e}"))
        }
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Milliseconds between two recorded events of one device, read with the variant the
/// driver's level calls; both events are synchronised first.
pub fn elapsed_ms(start: &CudaEvent, end: &CudaEvent) -> Result<f32> {
    if start.context() != end.context() {
        bail!("cannot time events of two different devices against each other");
    }
    start.context().bind_to_thread()?;
    start.synchronize()?;
    end.synchronize()?;
    let mut ms = 0f32;
    let rc = match api_level()?.elapsed_time() {
        // SAFETY: two valid, recorded and completed events of the current context.
        ElapsedTime::V2 => unsafe {
            sys::cuEventElapsedTime_v2(&mut ms, start.cu_event(), end.cu_event())
        },
        // SAFETY: as above, through the same function's v1 entry point.
        ElapsedTime::V1 => unsafe { elapsed_v1()?(&mut ms, start.cu_event(), end.cu_event()) },
    };
    rc.result()
        .context("reading the time between two CUDA events")?;
    Ok(ms)
}

/// Seconds between two recorded events of one device (see [`elapsed_ms`]).
pub fn elapsed_seconds(start: &CudaEvent, end: &CudaEvent) -> Result<f64> {
    Ok(f64::from(elapsed_ms(start, end)?) / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_is_v1_below_12_8_and_v2_from_it() {
        for (driver, want) in [
            (12000, ElapsedTime::V1),
            (12020, ElapsedTime::V1),
            (12040, ElapsedTime::V1),
            (12060, ElapsedTime::V1),
            (12070, ElapsedTime::V1),
            (12080, ElapsedTime::V2),
            (12090, ElapsedTime::V2),
            (13000, ElapsedTime::V2),
            (13020, ElapsedTime::V2),
        ] {
            let level = ApiLevel::new(CudaVersion(driver));
            assert_eq!(level.elapsed_time(), want, "driver {driver}");
        }
    }

    #[test]
    fn levels_describe_themselves() {
        assert_eq!(CudaVersion(12020).to_string(), "12.2");
        assert_eq!(CudaVersion(13000).to_string(), "13.0");
        assert_eq!(
            ApiLevel::new(CudaVersion(12020)).describe(),
            "API level 12.2: v1 elapsed time (cuEventElapsedTime)"
        );
        assert_eq!(
            ApiLevel::new(CudaVersion(12080)).describe(),
            "API level 12.8: v2 elapsed time (cuEventElapsedTime_v2)"
        );
    }

    /// cudarc's `CudaEvent::elapsed_ms` calls `cuEventElapsedTime_v2` whatever the
    /// driver; every event timing must come through [`elapsed_ms`] instead.
    #[test]
    fn no_code_calls_cudarc_elapsed_ms() {
        fn visit(dir: &std::path::Path, hits: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    visit(&path, hits);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("backend/cuda/driver_api.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, line) in text.lines().enumerate() {
                        if line.contains(".elapsed_ms(") {
                            hits.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                        }
                    }
                }
            }
        }
        let mut hits = Vec::new();
        visit(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut hits,
        );
        assert!(
            hits.is_empty(),
            "use driver_api::elapsed_seconds or elapsed_ms:\n{}",
            hits.join("\n")
        );
    }
}
