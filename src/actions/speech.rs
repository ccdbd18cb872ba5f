//! Short sentences an assistant can speak.

/// A duration for speech: "about 4 seconds".
pub fn about(seconds: f64) -> String {
    if seconds < 1.0 {
        "under a second".into()
    } else if seconds < 1.5 {
        "about 1 second".into()
    } else if seconds < 90.0 {
        format!("about {:.0} seconds", seconds)
    } else {
        format!("about {:.0} minutes", seconds / 60.0)
    }
}

/// A speed fraction as a percentage: "25 %".
pub fn percent(fraction: f64) -> String {
    format!("{:.0} %", fraction * 100.0)
}
