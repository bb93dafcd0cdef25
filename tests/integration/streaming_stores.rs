//! STREAM with streaming (non-temporal) stores beside the regular kernels.

use crate::common::*;
use clusterbench::results::Params;

fn kernels(doc: &clusterbench::results::RunDocument) -> Vec<String> {
    doc.records
        .iter()
        .filter_map(|r| match &r.params {
            Params::Stream { kernel, .. } => Some(kernel.clone()),
            _ => None,
        })
        .collect()
}

/// On x86_64 every writing kernel is measured both ways, the streaming variant under
/// its own `_nt` name, with the same exact check; dot has no store and no variant.
#[cfg(target_arch = "x86_64")]
#[test]
fn membw_measures_and_checks_each_writing_kernel_with_streaming_stores_too() {
    let dir = tempdir();
    let out = dir.path().join("r");
    clusterbench(dir.path())
        .args(["run", "--bench", "membw", "--array-size", "2M"])
        .args(["-n", "2", "-w", "1", "-q", "--output"])
        .arg(&out)
        .assert()
        .success();
    let (path, doc) = only_document(&out);
    assert_matches_schema(&path);
    assert_all_checked_and_passed(&doc);
    assert_eq!(
        kernels(&doc),
        ["copy", "copy_nt", "scale", "scale_nt", "add", "add_nt", "triad", "triad_nt", "dot"]
    );
    for name in ["triad", "triad_nt"] {
        let r = doc
            .records
            .iter()
            .find(|r| matches!(&r.params, Params::Stream { kernel, .. } if kernel == name))
            .unwrap();
        assert!(r.check.performed && r.check.passed, "{name}: {:?}", r.check);
        assert!(r.check.checked > 0, "{name}: {:?}", r.check);
        let bw = r.metric("bandwidth").expect("a bandwidth metric");
        assert!(bw.value > 0.0 && bw.value.is_finite(), "{name}: {bw:?}");
        if let Params::Stream {
            elements,
            bytes_moved,
            ..
        } = r.params
        {
            // Same STREAM byte count as the regular triad: 3 arrays of 8-byte elements.
            assert_eq!(bytes_moved, 3 * 8 * elements, "{name}");
        }
    }
}

/// Elsewhere the variants are not offered: only the regular kernels are recorded.
#[cfg(not(target_arch = "x86_64"))]
#[test]
fn membw_records_only_the_regular_kernels_without_streaming_stores() {
    let dir = tempdir();
    let out = dir.path().join("r");
    clusterbench(dir.path())
        .args(["run", "--bench", "membw", "--array-size", "2M"])
        .args(["-n", "2", "-w", "1", "-q", "--output"])
        .arg(&out)
        .assert()
        .success();
    let (_, doc) = only_document(&out);
    assert_all_checked_and_passed(&doc);
    assert_eq!(kernels(&doc), ["copy", "scale", "add", "triad", "dot"]);
}
