//! Which records are the same measurement in two runs, and how a record is named.

use crate::error::UsageError;
use crate::results::{Metric, Params, Record, RunDocument};
use crate::units::format_bytes;
use serde::Serialize;
use serde_json::Value;

/// A reference record, named `BENCHMARK` or `BENCHMARK:VALUE` (a parameter value such
/// as a STREAM kernel name or a matmul label).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub benchmark: String,
    pub value: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, UsageError> {
        let (b, v) = match text.split_once(':') {
            Some((b, v)) => (b.trim(), Some(v.trim().to_string())),
            None => (text.trim(), None),
        };
        if b.is_empty() || v.as_deref() == Some("") {
            return Err(UsageError::new(format!(
                "bad --normalize '{text}': expected BENCHMARK or BENCHMARK:VALUE, e.g. membw:copy"
            )));
        }
        Ok(Reference {
            benchmark: b.to_string(),
            value: v,
        })
    }

    pub(super) fn matches(&self, r: &Record) -> bool {
        r.benchmark == self.benchmark
            && self.value.as_ref().is_none_or(|v| {
                params_value(r)
                    .as_object()
                    .is_some_and(|o| o.values().any(|x| x.as_str() == Some(v.as_str())))
            })
    }

    /// The reference of a run: the one matching record with the most samples.
    pub(super) fn find<'a>(
        &self,
        doc: &'a RunDocument,
        side: &str,
    ) -> Result<&'a Record, UsageError> {
        let found: Vec<&Record> = doc.records.iter().filter(|r| self.matches(r)).collect();
        match found.iter().max_by_key(|r| r.samples_s.len()) {
            Some(r) if found.len() == 1 || self.value.is_some() => Ok(r),
            Some(_) => Err(UsageError::new(format!(
                "--normalize {}: {} records of the {side} match; name one, e.g. {}:copy",
                self.benchmark,
                found.len(),
                self.benchmark
            ))),
            None => Err(UsageError::new(format!(
                "--normalize {}{}: the {side} has no such record",
                self.benchmark,
                self.value
                    .as_ref()
                    .map(|v| format!(":{v}"))
                    .unwrap_or_default()
            ))),
        }
    }
}

fn params_value(r: &Record) -> Value {
    serde_json::to_value(&r.params).unwrap_or(Value::Null)
}

pub use crate::results::describe::match_key;

/// A short human label of a record: benchmark, then its parameters.
pub fn label(r: &Record) -> String {
    let mut parts = vec![r.benchmark.clone()];
    if let Value::Object(map) = params_value(r) {
        // Familiar fields first, in the order people say them; then any others.
        const ORDER: [&str; 9] = [
            "kernel",
            "dtype",
            "op",
            "label",
            "m",
            "n",
            "k",
            "bytes",
            "array_bytes",
        ];
        let mut fields: Vec<(&String, &Value)> = map.iter().collect();
        fields.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
        for (k, v) in fields {
            if k == "kind" || k == "count" || k == "elements" || k == "bytes_moved" {
                continue;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(b) => {
                    if *b {
                        k.clone()
                    } else {
                        continue;
                    }
                }
                Value::Number(n) if k.contains("bytes") => {
                    format_bytes(n.as_u64().unwrap_or_default())
                }
                Value::Number(n) => format!("{k}={n}"),
                Value::Null => continue,
                other => other.to_string(),
            };
            parts.push(text);
        }
    }
    parts.push(format!("{}r/{}n", r.ranks, r.nodes));
    parts.join(" ")
}

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// A bandwidth or a throughput.
    Higher,
    /// A time.
    Lower,
}

/// The figure a record is judged by in words: its name, unit, value and direction.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Headline {
    pub name: String,
    pub unit: String,
    pub value: f64,
    pub better: Better,
}

fn is_time_unit(unit: &str) -> bool {
    matches!(unit, "s" | "ms" | "us" | "\u{b5}s" | "\u{3bc}s" | "ns")
}

/// Whether a record measures a latency: it carries a time metric (the figure an OSU
/// latency test prints), it is a ping-pong, or it has no bandwidth or throughput to
/// speak of (a barrier moves no bytes).
pub(super) fn is_latency(r: &Record) -> bool {
    r.metrics.iter().any(|m| is_time_unit(&m.unit))
        || matches!(&r.params, Params::PointToPoint { mode, .. } if mode == "latency")
        || throughput(r).is_none()
}

fn throughput(r: &Record) -> Option<&Metric> {
    let positive = |m: &&Metric| m.value > 0.0 && !is_time_unit(&m.unit);
    ["busbw", "bandwidth", "tflops", "algbw"]
        .iter()
        .find_map(|name| r.metric(name).filter(positive))
        .or_else(|| r.metrics.iter().find(positive))
}

/// The figure shown for a record: a latency record's time (its own time metric, else
/// its median time in microseconds), otherwise its first bandwidth or throughput.
pub(super) fn headline(r: &Record) -> Option<Headline> {
    if is_latency(r) {
        if let Some(m) = r.metrics.iter().find(|m| is_time_unit(&m.unit)) {
            return Some(Headline {
                name: m.name.clone(),
                unit: m.unit.clone(),
                value: m.value,
                better: Better::Lower,
            });
        }
        return r.time_s.median.is_finite().then(|| Headline {
            name: "latency".into(),
            unit: "us".into(),
            value: r.time_s.median * 1e6,
            better: Better::Lower,
        });
    }
    throughput(r).map(|m| Headline {
        name: m.name.clone(),
        unit: m.unit.clone(),
        value: m.value,
        better: Better::Higher,
    })
}
