//! Distances, angles and fractions as a listener understands them.

/// A distance (m) in the unit a person would use: "4 millimetres", "3 centimetres",
/// "1.2 metres".
pub fn distance(m: f64) -> String {
    let m = m.abs();
    if m < 0.0005 {
        return "less than a millimetre".into();
    }
    if m < 0.0095 {
        return plural((m * 1000.0).round(), "millimetre");
    }
    if m < 0.995 {
        return plural((m * 100.0).round(), "centimetre");
    }
    let tenths = (m * 10.0).round() / 10.0;
    if tenths == tenths.trunc() {
        plural(tenths, "metre")
    } else {
        format!("{tenths:.1} metres")
    }
}

/// An angle (rad) in whole degrees: "90 degrees".
pub fn degrees(rad: f64) -> String {
    plural(rad.to_degrees().round(), "degree")
}

/// Where on a path: "40 percent along", or "at the start" and "at the end".
pub fn along(fraction: f64) -> String {
    let pct = (fraction * 100.0).round();
    if fraction <= 0.0 {
        "at the start".into()
    } else if fraction >= 1.0 {
        "at the end".into()
    } else {
        format!("{pct:.0} percent along")
    }
}

/// A name as it is said: underscores become spaces.
pub fn name(n: &str) -> String {
    n.replace('_', " ")
}

/// A joint as it is said: `shoulder_pan_joint` → "shoulder pan".
pub fn joint_label(n: &str) -> String {
    name(n.trim_end_matches("_joint"))
}

fn plural(n: f64, unit: &str) -> String {
    if n == 1.0 {
        format!("1 {unit}")
    } else {
        format!("{n:.0} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_in_the_unit_a_person_uses() {
        assert_eq!(distance(0.0002), "less than a millimetre");
        assert_eq!(distance(0.001), "1 millimetre");
        assert_eq!(distance(0.004), "4 millimetres");
        assert_eq!(distance(0.03), "3 centimetres");
        assert_eq!(distance(0.1), "10 centimetres");
        assert_eq!(distance(0.996), "1 metre");
        assert_eq!(distance(1.24), "1.2 metres");
        assert_eq!(distance(2.0), "2 metres");
        assert_eq!(degrees(std::f64::consts::FRAC_PI_2), "90 degrees");
        assert_eq!(along(0.4), "40 percent along");
        assert_eq!(along(1.0), "at the end");
    }
}
