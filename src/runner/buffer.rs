//! Host buffers that can be viewed as any element type of the benchmarks.

use crate::options::DType;

/// A zeroed, 8-byte-aligned host buffer.
pub struct HostBuffer {
    words: Vec<u64>,
    len: usize,
}

impl HostBuffer {
    pub fn new(bytes: usize) -> Self {
        HostBuffer {
            words: vec![0u64; bytes.div_ceil(8)],
            len: bytes,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
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
        }
    }

    /// Counts elements that differ from `expected(i)` exactly.
    pub fn count_wrong(&self, dtype: DType, expected: impl Fn(usize) -> i64) -> u64 {
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
        let b = self.bytes();
        match dtype {
            DType::Float => go(b, expected, |v| v as f32),
            DType::Double => go(b, expected, |v| v as f64),
            DType::Int32 => go(b, expected, |v| v as i32),
            DType::Int64 => go(b, expected, |v| v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
