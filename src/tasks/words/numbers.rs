//! Durations, fractions, counts and places in line, as a listener understands them.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// A number in a message, with its unit if it has one ("52 ms", "0.101 rad", "7").
static FIGURE: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern that compiles (the lint runs it), so the expect cannot fire.
    Regex::new(r"\b(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?:\s?(ms|s|rad|mm|m)\b)?")
        .expect("a constant pattern")
});

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
        // The cell (a lower layer) says numbers too, so the English rule lives there.
        crate::cell::words::number(x)
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

    /// A message's figures in words, for a cause written for the record ("no fresh robot
    /// state for 52 ms"): units said ("52 milliseconds"), radians as degrees, every number
    /// rounded. The exact message stays in the record's `error`.
    fn figures(&self, text: &str) -> String {
        FIGURE
            .replace_all(text, |c: &Captures| {
                let Ok(x) = c[1].parse::<f64>() else {
                    return c[0].to_owned();
                };
                let n = self.rounded(x);
                let unit = |one: &str| {
                    if n == "1" {
                        format!("1 {one}")
                    } else {
                        format!("{n} {one}s")
                    }
                };
                match c.get(2).map(|m| m.as_str()) {
                    Some("ms") => unit("millisecond"),
                    Some("s") => unit("second"),
                    Some("rad") => self.degrees(x),
                    Some("mm") => crate::cell::words::distance(x / 1000.0),
                    Some("m") => crate::cell::words::distance(x),
                    _ => n,
                }
            })
            .into_owned()
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
