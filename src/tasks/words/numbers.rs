//! Durations, fractions, counts and places in line, as a listener understands them.

/// How numbers are said.
pub trait Numbers {
    /// A duration for speech: "about 4 seconds". Always finite and rounded, however large.
    fn about(&self, seconds: f64) -> String {
        if seconds.is_nan() {
            "an unknown time".into()
        } else if seconds < 1.0 {
            "under a second".into()
        } else if seconds < 1.5 {
            "about 1 second".into()
        } else if seconds < 90.0 {
            format!("about {:.0} seconds", seconds)
        } else if seconds < 90.0 * 60.0 {
            format!("about {:.0} minutes", seconds / 60.0)
        } else if seconds < 48.0 * 3600.0 {
            format!("about {:.0} hours", seconds / 3600.0)
        } else if seconds < 1000.0 * 86400.0 {
            format!("about {:.0} days", seconds / 86400.0)
        } else {
            "more than 1000 days".into()
        }
    }

    /// A fraction as a percentage: "25 percent", "0.9 percent".
    fn percent(&self, fraction: f64) -> String {
        let p = fraction * 100.0;
        if !p.is_finite() {
            "an unknown share".into()
        } else if p > 0.0 && p < 0.05 {
            "under 0.1 percent".into()
        } else {
            format!("{} percent", self.rounded(p))
        }
    }

    /// A number rounded for the ear: whole, or one decimal below 10; "minus" for a sign,
    /// and words for what is too large or small to say.
    fn rounded(&self, x: f64) -> String {
        if x.is_nan() {
            return "not a number".into();
        }
        if x.is_infinite() {
            return if x > 0.0 {
                "infinity"
            } else {
                "minus infinity"
            }
            .into();
        }
        let a = x.abs();
        if a == 0.0 {
            return "0".into();
        }
        if a < 0.05 {
            return "almost 0".into();
        }
        if a >= 1e9 {
            return if x > 0.0 {
                "more than a billion"
            } else {
                "minus more than a billion"
            }
            .into();
        }
        let body = if a >= 10.0 {
            format!("{:.0}", a)
        } else {
            let s = format!("{:.1}", a);
            s.trim_end_matches(".0").to_owned()
        };
        if x < 0.0 {
            format!("minus {body}")
        } else {
            body
        }
    }

    /// An angle (rad) in whole degrees: "90 degrees".
    fn degrees(&self, rad: f64) -> String {
        let d = rad.to_degrees();
        if d.is_finite() && d.abs() < 1e9 {
            let d = d.round();
            let n = self.rounded(d);
            if d.abs() == 1.0 {
                format!("{n} degree")
            } else {
                format!("{n} degrees")
            }
        } else {
            format!("{} degrees", self.rounded(d))
        }
    }

    /// "1 step", "10 steps".
    fn count_steps(&self, n: usize) -> String {
        if n == 1 {
            "1 step".into()
        } else {
            format!("{n} steps")
        }
    }

    /// "1 variable", "3 variables".
    fn count_variables(&self, n: usize) -> String {
        if n == 1 {
            "1 variable".into()
        } else {
            format!("{n} variables")
        }
    }

    /// "second", "third", … for a place in line (2 = next after the running task).
    fn ordinal(&self, place: usize) -> String {
        const WORDS: [&str; 11] = [
            "first", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth",
        ];
        WORDS
            .get(place)
            .map_or_else(|| format!("number {place}"), |w| (*w).to_owned())
    }

    /// "Picking slot 3." from "Picking slot 3".
    fn sentence(&self, s: &str) -> String {
        let s = s.trim_end();
        if s.ends_with(['.', '!', '?']) {
            s.to_owned()
        } else {
            format!("{s}.")
        }
    }
}
