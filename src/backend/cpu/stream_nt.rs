//! STREAM kernels with non-temporal (streaming) stores, as STREAM compiled with
//! streaming stores and glibc's `memcpy` for large copies write: the destination's
//! lines go to memory without being read into the cache first, so a kernel moves the
//! bytes STREAM counts and no write-allocate traffic on top.
//!
//! Offered on x86_64 only: SSE2 is part of its baseline, AVX is used when the CPU has
//! it. Elsewhere [`offered`] is false and the benchmark measures the regular kernels.

/// Whether this build offers the streaming-store kernels.
pub(super) fn offered() -> bool {
    cfg!(target_arch = "x86_64")
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::{add, copy, scale, triad};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::stream::STREAM_SCALAR;

    /// Elements before the first `align`-byte boundary of `dst`, at most `len`: they
    /// get plain stores, since a streaming store needs an aligned address.
    fn head_len(dst: *const f64, len: usize, align: usize) -> usize {
        let misaligned = dst as usize % align;
        if misaligned == 0 {
            0
        } else {
            ((align - misaligned) / std::mem::size_of::<f64>()).min(len)
        }
    }

    /// `dst[i] = scalar` over the unaligned head and the tail, `vector` streamed to the
    /// aligned body `lanes` elements at a time, then a fence, so that the stores are
    /// globally visible before the worker reports back. Expands inside each
    /// `#[target_feature]` function, so the intrinsics compile for its instruction set.
    macro_rules! streamed {
        ($dst:ident, $lanes:literal, $stream:ident, |$i:ident| $scalar:expr, $vector:expr) => {{
            let n = $dst.len();
            let head = head_len($dst.as_ptr(), n, $lanes * 8);
            let body_end = head + (n - head) / $lanes * $lanes;
            for $i in 0..head {
                $dst[$i] = $scalar;
            }
            let out = $dst.as_mut_ptr();
            let mut $i = head;
            while $i < body_end {
                // out + i is aligned (past the head), and i + lanes <= n.
                $stream(out.add($i), $vector);
                $i += $lanes;
            }
            for $i in body_end..n {
                $dst[$i] = $scalar;
            }
            _mm_sfence();
        }};
    }

    /// The four kernels for one instruction set. Each is `unsafe`: the CPU must have
    /// the feature, and every source must be at least as long as `dst` (the vector
    /// loads are unchecked).
    macro_rules! nt_kernels {
        ($isa:ident, $feature:literal, $lanes:literal,
         $loadu:ident, $stream:ident, $set1:ident, $add:ident, $mul:ident) => {
            pub(super) mod $isa {
                use super::{head_len, STREAM_SCALAR};
                use core::arch::x86_64::*;

                #[target_feature(enable = $feature)]
                pub(in super::super) unsafe fn copy(dst: &mut [f64], src: &[f64]) {
                    let s = src.as_ptr();
                    streamed!(dst, $lanes, $stream, |i| src[i], $loadu(s.add(i)));
                }

                #[target_feature(enable = $feature)]
                pub(in super::super) unsafe fn scale(dst: &mut [f64], src: &[f64]) {
                    let (s, q) = (src.as_ptr(), $set1(STREAM_SCALAR));
                    streamed!(
                        dst,
                        $lanes,
                        $stream,
                        |i| STREAM_SCALAR * src[i],
                        $mul(q, $loadu(s.add(i)))
                    );
                }

                #[target_feature(enable = $feature)]
                pub(in super::super) unsafe fn add(dst: &mut [f64], x: &[f64], y: &[f64]) {
                    let (px, py) = (x.as_ptr(), y.as_ptr());
                    streamed!(
                        dst,
                        $lanes,
                        $stream,
                        |i| x[i] + y[i],
                        $add($loadu(px.add(i)), $loadu(py.add(i)))
                    );
                }

                #[target_feature(enable = $feature)]
                pub(in super::super) unsafe fn triad(dst: &mut [f64], x: &[f64], y: &[f64]) {
                    let (px, py, q) = (x.as_ptr(), y.as_ptr(), $set1(STREAM_SCALAR));
                    streamed!(
                        dst,
                        $lanes,
                        $stream,
                        |i| x[i] + STREAM_SCALAR * y[i],
                        $add($loadu(px.add(i)), $mul(q, $loadu(py.add(i))))
                    );
                }
            }
        };
    }

    nt_kernels!(
        sse2,
        "sse2",
        2,
        _mm_loadu_pd,
        _mm_stream_pd,
        _mm_set1_pd,
        _mm_add_pd,
        _mm_mul_pd
    );
    nt_kernels!(
        avx,
        "avx",
        4,
        _mm256_loadu_pd,
        _mm256_stream_pd,
        _mm256_set1_pd,
        _mm256_add_pd,
        _mm256_mul_pd
    );

    fn has_avx() -> bool {
        std::arch::is_x86_feature_detected!("avx")
    }

    /// `dst = src`.
    pub(in super::super) fn copy(dst: &mut [f64], src: &[f64]) {
        assert!(
            src.len() >= dst.len(),
            "copy source shorter than its destination"
        );
        if has_avx() {
            // SAFETY: the CPU has AVX (checked at run time); the source is long enough.
            unsafe { avx::copy(dst, src) }
        } else {
            // SAFETY: SSE2 is part of x86_64's baseline; the source is long enough.
            unsafe { sse2::copy(dst, src) }
        }
    }

    /// `dst = q src`.
    pub(in super::super) fn scale(dst: &mut [f64], src: &[f64]) {
        assert!(
            src.len() >= dst.len(),
            "scale source shorter than its destination"
        );
        if has_avx() {
            // SAFETY: the CPU has AVX (checked at run time); the source is long enough.
            unsafe { avx::scale(dst, src) }
        } else {
            // SAFETY: SSE2 is part of x86_64's baseline; the source is long enough.
            unsafe { sse2::scale(dst, src) }
        }
    }

    /// `dst = x + y`.
    pub(in super::super) fn add(dst: &mut [f64], x: &[f64], y: &[f64]) {
        assert!(
            x.len() >= dst.len() && y.len() >= dst.len(),
            "add sources too short"
        );
        if has_avx() {
            // SAFETY: the CPU has AVX (checked at run time); the sources are long enough.
            unsafe { avx::add(dst, x, y) }
        } else {
            // SAFETY: SSE2 is part of x86_64's baseline; the sources are long enough.
            unsafe { sse2::add(dst, x, y) }
        }
    }

    /// `dst = x + q y`.
    pub(in super::super) fn triad(dst: &mut [f64], x: &[f64], y: &[f64]) {
        assert!(
            x.len() >= dst.len() && y.len() >= dst.len(),
            "triad sources too short"
        );
        if has_avx() {
            // SAFETY: the CPU has AVX (checked at run time); the sources are long enough.
            unsafe { avx::triad(dst, x, y) }
        } else {
            // SAFETY: SSE2 is part of x86_64's baseline; the sources are long enough.
            unsafe { sse2::triad(dst, x, y) }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::super::stream::STREAM_SCALAR;
    use super::x86;

    /// Inputs that tell every element apart, and make a wrong index or a lost store show.
    fn inputs(len: usize) -> (Vec<f64>, Vec<f64>) {
        let x = (0..len).map(|i| i as f64 + 0.5).collect();
        let y = (0..len).map(|i| 2.0 * i as f64 - 7.25).collect();
        (x, y)
    }

    type Kernel = fn(&mut [f64], &[f64], &[f64]);
    type Definition = fn(f64, f64) -> f64;

    /// The four kernels of one instruction set, called directly.
    macro_rules! isa_kernels {
        ($isa:ident) => {
            [
                // SAFETY (all four): the caller checked the CPU has the instruction set;
                // the test's sources are at least as long as the destination.
                (|d, x, _| unsafe { x86::$isa::copy(d, x) }) as Kernel,
                |d, x, _| unsafe { x86::$isa::scale(d, x) },
                |d, x, y| unsafe { x86::$isa::add(d, x, y) },
                |d, x, y| unsafe { x86::$isa::triad(d, x, y) },
            ]
        };
    }

    /// Each kernel against its scalar definition, exactly, over lengths around the
    /// vector widths and every start offset within a 32-byte line, with guard elements
    /// on both sides that must stay untouched: through the dispatch, and through each
    /// instruction set this CPU has.
    #[test]
    fn streaming_kernels_match_their_definitions_at_odd_lengths_and_unaligned_starts() {
        let mut sets: Vec<(&str, [Kernel; 4])> = vec![
            (
                "dispatch",
                [
                    |d, x, _| x86::copy(d, x),
                    |d, x, _| x86::scale(d, x),
                    x86::add,
                    x86::triad,
                ],
            ),
            ("sse2", isa_kernels!(sse2)),
        ];
        if std::arch::is_x86_feature_detected!("avx") {
            sets.push(("avx", isa_kernels!(avx)));
        }
        let definitions: [(&str, Definition); 4] = [
            ("copy", |x, _| x),
            ("scale", |x, _| STREAM_SCALAR * x),
            ("add", |x, y| x + y),
            ("triad", |x, y| x + STREAM_SCALAR * y),
        ];
        const GUARD: f64 = -1234.5;
        for (isa, kernels) in sets {
            for (kernel, (name, want)) in kernels.into_iter().zip(definitions) {
                for len in [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 17, 63, 1001] {
                    for offset in 0..4 {
                        let (x, y) = inputs(len + offset);
                        let mut buf = vec![GUARD; len + offset + 1];
                        // Sources start one element later than dst, so their alignment differs.
                        kernel(&mut buf[offset..offset + len], &x[1.min(offset)..], &y[..]);
                        for (i, v) in buf.iter().enumerate() {
                            let expected = if i >= offset && i < offset + len {
                                let j = i - offset;
                                want(x[j + 1.min(offset)], y[j])
                            } else {
                                GUARD
                            };
                            assert_eq!(
                                *v, expected,
                                "{isa} {name} len {len} offset {offset} index {i}"
                            );
                        }
                    }
                }
            }
        }
    }
}
