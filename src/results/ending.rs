//! How a run ended when it did not reach its end, in words: `compare`, `validate` and
//! `report` name such a results file instead of reading it as if it were complete.

use crate::results::{RunDocument, RunStatus};
use serde::Serialize;
use std::path::Path;

/// Why a run's results are partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unfinished {
    /// The process died (killed, out of memory, a node lost): its stream has no footer
    /// and no final document was written.
    Died,
    /// Stopped by an error, which it recorded.
    Aborted,
    /// Stopped by SIGINT or SIGTERM.
    Interrupted,
}

impl Unfinished {
    /// `None` for a run that reached its end (with or without failed checks).
    pub fn of(doc: &RunDocument) -> Option<Unfinished> {
        match doc.run.status {
            RunStatus::Completed | RunStatus::CheckFailed => None,
            RunStatus::Interrupted => Some(Unfinished::Interrupted),
            RunStatus::Running => Some(Unfinished::Died),
            // A run that ends by an error still stamps its end; a stream read without
            // its footer is marked aborted with no end (see `files::read_stream`).
            RunStatus::Aborted if doc.run.finished_at.is_none() => Some(Unfinished::Died),
            RunStatus::Aborted => Some(Unfinished::Aborted),
        }
    }

    /// One word for tables and status cells.
    pub fn word(self) -> &'static str {
        match self {
            Unfinished::Died => "died",
            Unfinished::Aborted => "aborted",
            Unfinished::Interrupted => "interrupted",
        }
    }

    fn how(self) -> &'static str {
        match self {
            Unfinished::Died => "died before its end (its stream has no footer)",
            Unfinished::Aborted => "was aborted by an error",
            Unfinished::Interrupted => "was interrupted (SIGINT or SIGTERM)",
        }
    }
}

/// One line naming a results file of a run that did not reach its end; `None` for a
/// finished run.
pub fn note(path: &Path, doc: &RunDocument) -> Option<String> {
    let how = Unfinished::of(doc)?;
    let n = doc.records.len();
    Some(format!(
        "'{}' is from a run that {}: it holds only the {n} record{} measured before it stopped",
        path.display(),
        how.how(),
        if n == 1 { "" } else { "s" }
    ))
}
