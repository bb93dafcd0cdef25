//! Stand-in for the CUDA backend when built without the `cuda` feature.

use super::Backend;

/// Always fails: this binary has no CUDA support.
pub fn open() -> Result<Box<dyn Backend>, String> {
    Err(
        "this clusterbench was built without the `cuda` feature (rebuild with default features)"
            .into(),
    )
}
