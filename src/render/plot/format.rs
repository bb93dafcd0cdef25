//! Figures as chart labels and report cells: numbers to three significant digits,
//! times in the unit that suits them.

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
    fn time_labels_pick_a_unit() {
        assert_eq!(format_seconds(1e-6), "1 µs");
        assert_eq!(format_seconds(2.5e-5), "25 µs");
        assert_eq!(format_seconds(0.0123), "12.3 ms");
        assert_eq!(format_seconds(0.9999), "1 s");
        assert_eq!(format_number(1234.6), "1235");
        assert_eq!(format_number(0.01234), "0.0123");
    }
}
