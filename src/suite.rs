//! Suite files: the benchmarks of a run and their settings, built in (harness/suites/)
//! or given by path.

use crate::error::UsageError;
use serde::Deserialize;
use std::path::Path;

type Result<T> = std::result::Result<T, UsageError>;

/// One `[[bench]]` table of a suite file. Every field is optional and overrides the
/// benchmark's default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchOverrides {
    pub name: String,
    pub minbytes: Option<String>,
    pub maxbytes: Option<String>,
    pub stepfactor: Option<u64>,
    pub iters: Option<u32>,
    pub warmup_iters: Option<u32>,
    pub check: Option<bool>,
    pub datatypes: Option<Vec<String>>,
    pub ops: Option<Vec<String>>,
    /// Square matmul sizes.
    pub sizes: Option<Vec<String>>,
    /// Named matmul shapes, `label:MxNxK`.
    pub shapes: Option<Vec<String>>,
    pub array_size: Option<String>,
    /// matmul: search near each square size for the fastest shape.
    pub search: Option<bool>,
}

/// A suite file (harness/suites/*.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    pub description: String,
    #[serde(rename = "bench")]
    pub benches: Vec<BenchOverrides>,
}

/// Suites compiled into the binary, so it runs from any directory.
pub const BUILTIN_SUITES: [(&str, &str); 2] = [
    ("quick", include_str!("../harness/suites/quick.toml")),
    ("standard", include_str!("../harness/suites/standard.toml")),
];

/// The suite that runs when neither --suite nor --bench is given.
pub const DEFAULT_SUITE: &str = "standard";

/// Loads a built-in suite by name or a suite file by path.
pub fn load_suite(name_or_path: &str) -> Result<(String, SuiteFile)> {
    let (name, text) = if let Some((name, text)) =
        BUILTIN_SUITES.iter().find(|(n, _)| *n == name_or_path)
    {
        (name.to_string(), text.to_string())
    } else if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read suite file '{}': {e}", path.display()))
        })?;
        (name_or_path.to_string(), text)
    } else {
        let known: Vec<&str> = BUILTIN_SUITES.iter().map(|(n, _)| *n).collect();
        return Err(UsageError::new(format!(
            "unknown suite '{name_or_path}': built-in suites are {}; a suite file is given by its path (ending in .toml)",
            known.join(", ")
        )));
    };
    let suite: SuiteFile = toml::from_str(&text).map_err(|e| {
        let msg = e.message().replace('\n', " ");
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].lines().count().max(1);
                format!(" at line {line}")
            })
            .unwrap_or_default();
        UsageError::new(format!("invalid suite '{name}'{at}: {msg}"))
    })?;
    if suite.benches.is_empty() {
        return Err(UsageError::new(format!(
            "invalid suite '{name}': it has no [[bench]] entries"
        )));
    }
    Ok((name, suite))
}
