//! Error kinds whose exit codes are part of the interface.
//!
//! Exit codes: 0 success, 1 a measurement failed its correctness check (results
//! are still written) or a decision tool's verdict is negative, 2 bad input (command
//! line, suite file, datatype/op mismatch) or a backend that was asked for and is not
//! present, 3 a decision tool found nothing it could judge (`validate` measured no
//! claim), 4 a job ended on a fault (`runner::fault`: a measurement stuck, a silent
//! peer), 130 (SIGINT) or 143 (SIGTERM) a run interrupted with its results written.

use thiserror::Error;

/// Bad input from the user: printed as one line, exit code 2.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(msg: impl Into<String>) -> Self {
        UsageError(msg.into())
    }
}

/// Bad input that every rank of a job found alike, from values they agreed on: each
/// rank returns it and exits with code 2, none needs to end the others, and rank 0
/// alone prints it.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct AgreedUsageError(pub String);

/// At least one measurement failed its check; the results were written.
#[derive(Debug, Error)]
#[error(
    "{failed} of {total} measurements failed their correctness check (results written to {path})"
)]
pub struct CheckFailed {
    pub failed: usize,
    pub total: usize,
    pub path: String,
}

/// A signal stopped the run after a measurement every rank finished; what was
/// measured was written. Exit code 128 + the signal (130 for SIGINT, 143 for SIGTERM).
#[derive(Debug, Error)]
#[error("interrupted by {signal_name}: {records} measurements kept in {path}")]
pub struct RunInterrupted {
    pub signal: i32,
    pub signal_name: String,
    pub records: usize,
    pub path: String,
}

/// A decision tool's verdict is negative (a regression, a failed claim): exit code 1.
/// The report was already printed.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct VerdictFailed(pub String);

/// A decision tool read its input but found nothing to judge in it (no claim could be
/// measured): exit code 3, so that a CI step tells "nothing checked" from "passed"
/// (0), "failed" (1) and "bad input" (2). The report was already printed.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct NothingMeasured(pub String);

/// Exit code of [`NothingMeasured`].
pub const NOTHING_MEASURED_EXIT_CODE: i32 = 3;

/// Process exit code for an error chain.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if let Some(interrupted) = err.downcast_ref::<RunInterrupted>() {
        128 + interrupted.signal
    } else if err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<AgreedUsageError>().is_some()
        || err.downcast_ref::<clap::Error>().is_some()
    {
        2
    } else if err.downcast_ref::<NothingMeasured>().is_some() {
        NOTHING_MEASURED_EXIT_CODE
    } else {
        1
    }
}

/// Shorthand to build a usage error inside an `anyhow` chain.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        anyhow::Error::new($crate::error::UsageError(format!($($arg)*)))
    };
}
