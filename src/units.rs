//! Sizes ("8", "64K", "1G"), byte and time formatting.
//!
//! Size suffixes are binary, as in nccl-tests: `K` = 1024, `M` = 1024², `G` = 1024³,
//! `T` = 1024⁴ (`KB`, `KiB` and lower case are accepted too).

use crate::error::UsageError;

/// Parses a byte count such as `8`, `64K`, `1MiB`, `2G`.
pub fn parse_size(text: &str) -> Result<u64, UsageError> {
    let t = text.trim();
    let bad = || {
        UsageError::new(format!(
            "invalid size '{text}': expected a number with an optional K, M, G or T suffix (binary: 1K = 1024 bytes), e.g. 8, 64K, 1M"
        ))
    };
    if t.is_empty() {
        return Err(bad());
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let number: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad()),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| UsageError::new(format!("size '{text}' is too large")))
}

/// Formats a byte count in binary units as nccl-tests users expect: `8 B`, `64 KiB`, `1.5 MiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{} {}", value as u64, UNITS[unit])
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// A number with at most three significant digits and no trailing zeros.
pub fn format_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Seconds in the unit that suits them: `850 ns`, `12.5 µs`, `3 ms`, `1.2 s`.
pub fn format_seconds(s: f64) -> String {
    let (v, unit) = if s < 1e-6 {
        (s * 1e9, "ns")
    } else if s < 1e-3 {
        (s * 1e6, "µs")
    } else if s < 1.0 {
        (s * 1e3, "ms")
    } else {
        (s, "s")
    };
    // Round first: 999.9 µs would otherwise print as "1000 µs".
    let rounded: f64 = format_number(v).parse().unwrap_or(v);
    if rounded >= 1000.0 && unit != "s" {
        return format_seconds(rounded * unit_seconds(unit));
    }
    format!("{} {unit}", format_number(v))
}

fn unit_seconds(unit: &str) -> f64 {
    match unit {
        "ns" => 1e-9,
        "µs" => 1e-6,
        "ms" => 1e-3,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_suffixed_sizes() {
        assert_eq!(parse_size("8").unwrap(), 8);
        assert_eq!(parse_size("64K").unwrap(), 65536);
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("1M").unwrap(), 1 << 20);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1T").unwrap(), 1 << 40);
        assert_eq!(parse_size(" 16 ").unwrap(), 16);
    }

    #[test]
    fn rejects_malformed_sizes() {
        for bad in [
            "",
            "12Q",
            "K",
            "1.5M",
            "-8",
            "1MM",
            "0x10",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_size("16777216T").unwrap_err().0.contains("too large"));
    }

    #[test]
    fn formats_binary_units() {
        assert_eq!(format_bytes(8), "8 B");
        assert_eq!(format_bytes(1024), "1 KiB");
        assert_eq!(format_bytes(1536), "1.50 KiB");
        assert_eq!(format_bytes(1 << 30), "1 GiB");
    }

    #[test]
    fn time_labels_pick_a_unit() {
        assert_eq!(format_seconds(1e-6), "1 µs");
        assert_eq!(format_seconds(2.5e-5), "25 µs");
        assert_eq!(format_seconds(0.0123), "12.3 ms");
        assert_eq!(format_seconds(0.9999), "1 s");
        assert_eq!(format_number(1234.6), "1235");
        assert_eq!(format_number(0.01234), "0.0123");
    }
}
