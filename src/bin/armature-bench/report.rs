//! Summaries of samples, and the table the bench prints.

use serde::Serialize;

/// Percentiles of a set of samples.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Summary {
    /// How many.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

impl Summary {
    /// Of `samples` (any order).
    pub fn of(mut samples: Vec<f64>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let rank = ((samples.len() as f64) * q).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        Self {
            n: samples.len(),
            p50: at(0.5),
            p99: at(0.99),
            p999: at(0.999),
            max: at(1.0),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What is measured, with its unit.
    pub figure: String,
    /// Armature's figure; `None` when it could not be measured.
    pub armature: Option<String>,
    /// The reference measured in the same run.
    pub reference: String,
    /// Armature ÷ reference, where that means something.
    pub ratio: Option<f64>,
    /// The target.
    pub target: String,
    /// Whether the target was met (`None`: no target, or no figure).
    pub met: Option<bool>,
    /// Why there is no figure.
    pub error: Option<String>,
}

impl Row {
    /// A row that could not be measured, saying why.
    pub fn failed(figure: &str, target: &str, why: String) -> Self {
        Self {
            figure: figure.into(),
            armature: None,
            reference: String::new(),
            ratio: None,
            target: target.into(),
            met: None,
            error: Some(why),
        }
    }

    /// A figure beside its reference, with their ratio and whether the target was met.
    pub fn beside(
        figure: String,
        armature: Option<String>,
        reference: String,
        ratio: f64,
        target: &str,
        met: bool,
    ) -> Self {
        Self {
            figure,
            armature,
            reference,
            ratio: Some(ratio),
            target: target.into(),
            met: Some(met),
            error: None,
        }
    }

    /// A measured figure whose reference could not be had, saying why.
    pub fn unreferenced(
        figure: String,
        armature: Option<String>,
        target: &str,
        why: String,
    ) -> Self {
        Self {
            figure,
            armature,
            reference: String::new(),
            ratio: None,
            target: target.into(),
            met: None,
            error: Some(why),
        }
    }
}

/// The Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| figure | Armature | reference (same run) | ratio | target | met |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let armature = match (&r.armature, &r.error) {
            (Some(a), _) => a.clone(),
            (None, Some(e)) => format!("not measured: {e}"),
            (None, None) => "—".into(),
        };
        let ratio = r
            .ratio
            .map(|x| format!("{x:.2}"))
            .unwrap_or_else(|| "—".into());
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.figure,
            armature,
            if r.reference.is_empty() {
                "—"
            } else {
                &r.reference
            },
            ratio,
            r.target,
            met
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = Summary::of((1..=1000).map(f64::from).rev().collect());
        assert_eq!(
            (s.n, s.p50, s.p99, s.p999, s.max),
            (1000, 500.0, 990.0, 999.0, 1000.0)
        );
        assert_eq!(Summary::of(vec![]).n, 0);
    }
}
