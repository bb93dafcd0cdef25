//! Host buffers that can be viewed as any element type of the benchmarks.

use crate::core::DType;

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

/// Alignment of every host buffer: one page.
///
/// Buffers start on a page boundary, as OSU's and nccl-tests' do, so that a send and a
/// receive buffer always sit at the same offset within a 4 KiB page. Where the heap
/// leaves them a few bytes apart instead (malloc placed them 16 bytes apart modulo
/// 4 KiB here), the reduction's loads keep colliding with its own recent stores
/// (4K aliasing): a plain C MPI_Allreduce loop on 2 ranks took 2-3x as long at
/// 16-64 KiB with such heap buffers as with page-aligned ones, so a figure would
/// depend on what happened to be allocated before.
pub const HOST_BUFFER_ALIGN: usize = 4096;

/// A zeroed, page-aligned host buffer.
pub struct HostBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

// The buffer owns its memory exclusively, like a Vec<u8>.
unsafe impl Send for HostBuffer {}
unsafe impl Sync for HostBuffer {}

impl HostBuffer {
    pub fn new(bytes: usize) -> Self {
        let ptr = if bytes == 0 {
            // A dangling but aligned pointer: valid for empty slices.
            NonNull::new(HOST_BUFFER_ALIGN as *mut u8).expect("nonzero")
        } else {
            let layout = Self::layout(bytes);
            // SAFETY: the layout has a nonzero size.
            let p = unsafe { alloc_zeroed(layout) };
            NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
        };
        HostBuffer { ptr, len: bytes }
    }

    fn layout(bytes: usize) -> Layout {
        Layout::from_size_align(bytes, HOST_BUFFER_ALIGN).expect("buffer size overflows")
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised (zeroed) bytes, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Writes `value(i)` into element `i`, for every element of `dtype`.
    pub fn fill(&mut self, dtype: DType, value: impl Fn(usize) -> i64) {
        fn go<T: bytemuck::Pod>(
            bytes: &mut [u8],
            value: impl Fn(usize) -> i64,
            conv: impl Fn(i64) -> T,
        ) {
            for (i, x) in bytemuck::cast_slice_mut::<u8, T>(bytes)
                .iter_mut()
                .enumerate()
            {
                *x = conv(value(i));
            }
        }
        let b = self.bytes_mut();
        match dtype {
            DType::Float => go(b, value, |v| v as f32),
            DType::Double => go(b, value, |v| v as f64),
            DType::Int32 => go(b, value, |v| v as i32),
            DType::Int64 => go(b, value, |v| v),
            other => unreachable!("{other} never reaches host collectives (options reject it)"),
        }
    }

    /// Counts elements that differ from `expected(i)` exactly.
    pub fn count_wrong(&self, dtype: DType, expected: impl Fn(usize) -> i64) -> u64 {
        self.count_wrong_in(dtype, self.len / dtype.size(), expected)
    }

    /// Counts, among the first `elements`, those that differ from `expected(i)` exactly.
    pub fn count_wrong_in(
        &self,
        dtype: DType,
        elements: usize,
        expected: impl Fn(usize) -> i64,
    ) -> u64 {
        fn go<T: bytemuck::Pod + PartialEq>(
            bytes: &[u8],
            expected: impl Fn(usize) -> i64,
            conv: impl Fn(i64) -> T,
        ) -> u64 {
            bytemuck::cast_slice::<u8, T>(bytes)
                .iter()
                .enumerate()
                .filter(|(i, x)| **x != conv(expected(*i)))
                .count() as u64
        }
        let b = &self.bytes()[..elements * dtype.size()];
        match dtype {
            DType::Float => go(b, expected, |v| v as f32),
            DType::Double => go(b, expected, |v| v as f64),
            DType::Int32 => go(b, expected, |v| v as i32),
            DType::Int64 => go(b, expected, |v| v),
            other => unreachable!("{other} never reaches host collectives (options reject it)"),
        }
    }
}

impl Drop for HostBuffer {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: allocated in `new` with this same layout.
            unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_page_aligned_and_zeroed() {
        for bytes in [0, 1, 8, 4095, 4096, 100_000] {
            let b = HostBuffer::new(bytes);
            assert_eq!(b.bytes().as_ptr() as usize % HOST_BUFFER_ALIGN, 0);
            assert_eq!(b.bytes().len(), bytes);
            assert!(b.bytes().iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn fill_and_count_round_trip_every_dtype() {
        for dtype in DType::ALL {
            let mut b = HostBuffer::new(10 * dtype.size());
            b.fill(dtype, |i| i as i64 - 3);
            assert_eq!(b.count_wrong(dtype, |i| i as i64 - 3), 0);
            assert_eq!(
                b.count_wrong(dtype, |i| if i == 4 { 99 } else { i as i64 - 3 }),
                1
            );
        }
    }
}
