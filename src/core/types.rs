//! Element types, reductions and matmul shapes: the words every layer measures in.

use crate::error::UsageError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

type Result<T> = std::result::Result<T, UsageError>;

/// Element types. Names follow nccl-tests (`float`, `double`, `int32`, `int64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float,
    Double,
    Int32,
    Int64,
    /// bfloat16 (GPU matmul).
    Bf16,
    /// IEEE half precision (GPU matmul).
    Fp16,
    /// f32 data multiplied on tensor cores with 10-bit mantissas (GPU matmul).
    Tf32,
    /// 8-bit float, 4 exponent and 3 mantissa bits (GPU matmul, Hopper and later).
    Fp8E4m3,
    /// 8-bit float, 5 exponent and 2 mantissa bits (NCCL collectives, NCCL 2.24 and later).
    Fp8E5m2,
}

impl DType {
    pub const ALL: [DType; 4] = [DType::Float, DType::Double, DType::Int32, DType::Int64];

    /// The GPU-only types, which `all` leaves out.
    pub const GPU: [DType; 4] = [DType::Tf32, DType::Bf16, DType::Fp16, DType::Fp8E4m3];

    /// What the collectives take: every type on NCCL, the first four on the CPU.
    pub const COLLECTIVE: [DType; 8] = [
        DType::Float,
        DType::Double,
        DType::Int32,
        DType::Int64,
        DType::Bf16,
        DType::Fp16,
        DType::Fp8E4m3,
        DType::Fp8E5m2,
    ];

    pub fn size(self) -> usize {
        match self {
            DType::Float | DType::Int32 | DType::Tf32 => 4,
            DType::Double | DType::Int64 => 8,
            DType::Bf16 | DType::Fp16 => 2,
            DType::Fp8E4m3 | DType::Fp8E5m2 => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Float => "float",
            DType::Double => "double",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Bf16 => "bf16",
            DType::Fp16 => "fp16",
            DType::Tf32 => "tf32",
            DType::Fp8E4m3 => "fp8e4m3",
            DType::Fp8E5m2 => "fp8e5m2",
        }
    }

    /// Whether the CPU GEMM has this type.
    pub fn is_cpu_matmul(self) -> bool {
        matches!(self, DType::Float | DType::Double)
    }

    pub fn is_float(self) -> bool {
        !matches!(self, DType::Int32 | DType::Int64)
    }

    pub fn parse(text: &str) -> Result<DType> {
        match text.trim().to_ascii_lowercase().as_str() {
            "float" | "f32" | "float32" | "fp32" => Ok(DType::Float),
            "double" | "f64" | "float64" | "fp64" => Ok(DType::Double),
            "int32" | "i32" | "int" => Ok(DType::Int32),
            "int64" | "i64" => Ok(DType::Int64),
            "bf16" | "bfloat16" => Ok(DType::Bf16),
            "fp16" | "f16" | "float16" => Ok(DType::Fp16),
            "tf32" => Ok(DType::Tf32),
            "fp8" | "fp8e4m3" | "e4m3" => Ok(DType::Fp8E4m3),
            "fp8e5m2" | "e5m2" => Ok(DType::Fp8E5m2),
            _ => Err(UsageError::new(format!(
                "unknown datatype '{text}': expected one of float, double, int32, int64 (or f32, f64, i32, i64, all), or on GPUs bf16, fp16, fp8e4m3 (matmul and NCCL collectives), tf32 (matmul), fp8e5m2 (NCCL collectives)"
            ))),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reduction operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReduceOp {
    Sum,
    Prod,
    Min,
    Max,
    /// Bitwise and (integer types only).
    Band,
    /// Bitwise or (integer types only).
    Bor,
    /// Bitwise exclusive or (integer types only).
    Bxor,
}

impl ReduceOp {
    /// What `-o all` means, as in nccl-tests.
    pub const ALL: [ReduceOp; 4] = [ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Min, ReduceOp::Max];

    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
            ReduceOp::Band => "band",
            ReduceOp::Bor => "bor",
            ReduceOp::Bxor => "bxor",
        }
    }

    pub fn supports(self, dtype: DType) -> bool {
        match self {
            ReduceOp::Band | ReduceOp::Bor | ReduceOp::Bxor => !dtype.is_float(),
            _ => true,
        }
    }

    pub fn parse(text: &str) -> Result<ReduceOp> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sum" => Ok(ReduceOp::Sum),
            "prod" => Ok(ReduceOp::Prod),
            "min" => Ok(ReduceOp::Min),
            "max" => Ok(ReduceOp::Max),
            "band" => Ok(ReduceOp::Band),
            "bor" => Ok(ReduceOp::Bor),
            "bxor" => Ok(ReduceOp::Bxor),
            _ => Err(UsageError::new(format!(
                "unknown op '{text}': expected one of sum, prod, min, max, band, bor, bxor, all"
            ))),
        }
    }
}

impl fmt::Display for ReduceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A matmul problem C[m x n] = A[m x k] * B[k x n].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MatmulShape {
    /// `square` for the size sweep, or a name such as `mlp_up`.
    pub label: String,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl MatmulShape {
    pub fn square(size: usize) -> Self {
        MatmulShape {
            label: "square".into(),
            m: size,
            n: size,
            k: size,
        }
    }

    /// Parses `MxNxK` or `label:MxNxK`.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            UsageError::new(format!(
                "invalid matmul shape '{text}': expected MxNxK or label:MxNxK, e.g. mlp_up:1024x4096x1024"
            ))
        };
        let (label, dims) = match text.split_once(':') {
            Some((l, d)) if !l.trim().is_empty() => (l.trim().to_string(), d),
            Some(_) => return Err(bad()),
            None => ("custom".to_string(), text),
        };
        let parts: Vec<usize> = dims
            .split(['x', 'X'])
            .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        match parts[..] {
            [m, n, k] if m > 0 && n > 0 && k > 0 => Ok(MatmulShape { label, m, n, k }),
            _ => Err(bad()),
        }
    }
}
