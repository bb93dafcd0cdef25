//! The resolved settings of one benchmark in a run.

use super::types::{DType, MatmulShape, ReduceOp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Fully resolved settings of one benchmark in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BenchConfig {
    pub name: String,
    pub minbytes: u64,
    pub maxbytes: u64,
    pub stepfactor: u64,
    pub iters: u32,
    pub warmup_iters: u32,
    pub check: bool,
    pub datatypes: Vec<DType>,
    pub ops: Vec<ReduceOp>,
    /// Matmul problems (square sweep and named shapes).
    pub shapes: Vec<MatmulShape>,
    /// Bytes per membw array; `None` = sized from the last-level cache.
    pub array_bytes: Option<u64>,
    /// matmul: search near each square size for the fastest shape.
    #[serde(default)]
    pub search: bool,
}

impl BenchConfig {
    /// The message sizes of the sweep: minbytes, minbytes*f, ... up to maxbytes.
    pub fn sizes(&self) -> Vec<u64> {
        let mut out = Vec::new();
        let mut s = self.minbytes;
        while s <= self.maxbytes {
            out.push(s);
            match s.checked_mul(self.stepfactor) {
                Some(next) if next > s => s = next,
                _ => break,
            }
        }
        out
    }
}
