fn main() {
    std::process::exit(clusterbench::app::main());
}

/// `hypotf` for the chart code (plotters' dashed lines): build.rs links the binary with
/// `--wrap=hypotf`, so that its calls land here instead of on glibc's
/// `hypotf@GLIBC_2.35`, the one symbol that would raise the relocatable bundle's
/// glibc requirement from 2.34 (RHEL 9, Amazon Linux 2023) to 2.35. The wrapped name
/// is the binary's own, so no library loaded beside it can bind to it. Squares of f32
/// values are exact in f64, so this is as accurate as libm's.
#[no_mangle]
pub extern "C" fn __wrap_hypotf(x: f32, y: f32) -> f32 {
    if x.is_infinite() || y.is_infinite() {
        return f32::INFINITY;
    }
    let (x, y) = (f64::from(x), f64::from(y));
    (x * x + y * y).sqrt() as f32
}
