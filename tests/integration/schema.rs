//! The published JSON Schema is the one generated from the types.

use crate::common::*;

#[test]
fn published_schema_is_current() {
    let dir = tempdir();
    let out = clusterbench(dir.path()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let generated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let published: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/harness/schema/results.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(
        generated == published,
        "harness/schema/results.schema.json is stale: regenerate it with `clusterbench schema > harness/schema/results.schema.json`"
    );
}

#[test]
fn schema_rejects_a_document_missing_its_records() {
    let schema = clusterbench::results::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(!validator.is_valid(&serde_json::json!({"schema_version": 1})));
}
