//! Measured against claimed: vendor claims files (harness/claims/*.toml) checked
//! against the measurements of a results file.
//!
//! Each claim names the quantity it speaks of; this module maps quantities to the
//! records that test them. A claim with no such record is reported "not measured",
//! never given a figure. Claims that share an id but come from different sources
//! are all kept and shown side by side.

mod check;
mod claims;
mod domain;
mod measure;
mod network;
mod relative;
mod select;

pub use check::{validate, ClaimResult, Outcome};
pub use claims::{
    toml_error, Claim, ClaimsFile, Quantity, RelativeClaim, Target, TargetKind, BUILTIN_CLAIMS,
};
pub(crate) use measure::{normalize_dtype, record_dtype};
pub use relative::validate_relative;
pub use select::{auto_select, detected_hardware};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_network;
