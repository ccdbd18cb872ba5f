//! The checks of one action: its name, parameters, words, expressions and ranges. The steps'
//! own checks are in `steps.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::expr::{Extent, Linear};
use super::raw::{ExprSrc, RawAction, RawParam, RawScope, RawType};
use super::steps::moving_step;
use super::{CustomAction, DefinitionError, Param, ParamKind, Scope};
use crate::robot::RobotDefinition;

/// The names usable in one step's expressions and labels.
#[derive(Clone, Default)]
pub(super) struct Names {
    /// Numeric parameters and repeat indices, with their ranges.
    pub(super) numbers: BTreeMap<String, (f64, f64)>,
    /// Every name a label may mention.
    pub(super) words: BTreeSet<String>,
}

/// Collects every problem of one file, each placed at its line and column.
pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a str,
    pub(super) robot: &'a RobotDefinition,
    pub(super) paths: &'a super::PathCheck,
    pub(super) errors: Vec<DefinitionError>,
}

/// A name of lowercase letters, digits and `_`, starting with a letter, at most `max` long.
pub(super) fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn show(values: &BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    parts.join(", ")
}

impl Checker<'_> {
    /// 1-based line and column of byte `offset`.
    pub(super) fn place(&self, offset: usize) -> (usize, usize) {
        crate::config::place(self.text, offset)
    }

    pub(super) fn error(&mut self, offset: usize, message: String) {
        let (line, column) = self.place(offset);
        self.errors.push(DefinitionError {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }

    pub(super) fn action(&mut self, a: RawAction, span: Range<usize>) -> Option<CustomAction> {
        let before = self.errors.len();
        let name = a.name.get_ref().clone();
        if !valid_name(&name, 48) {
            self.error(a.name.span().start, format!("action name \"{name}\" must be 1 to 48 lowercase letters, digits or _, starting with a letter"));
        }
        if a.description.get_ref().trim().is_empty() {
            self.error(
                a.description.span().start,
                format!("action \"{name}\" needs a description for the assistant"),
            );
        }
        let params = self.params(a.params);
        let mut scope = Names::default();
        for p in &params {
            scope.words.insert(p.name.clone());
            match p.kind {
                ParamKind::Integer { min, max } => {
                    scope
                        .numbers
                        .insert(p.name.clone(), (min as f64, max as f64));
                }
                ParamKind::Number { min, max } => {
                    scope.numbers.insert(p.name.clone(), (min, max));
                }
                _ => {}
            }
        }
        self.template(&a.ack, &scope);
        self.template(&a.done, &scope);
        if a.steps.is_empty() {
            self.error(span.start, format!("action \"{name}\" has no steps"));
        }
        let steps = self.steps(&a.steps, &scope);
        let scope_kind = match a.scope {
            Some(RawScope::Background) => {
                if let Some(at) = a.steps.iter().find_map(moving_step) {
                    self.error(at, format!("action \"{name}\" is background-scoped, so it may only set variables: moves and waits need a foreground action"));
                }
                Scope::Background
            }
            _ => Scope::Foreground,
        };
        if self.errors.len() == before {
            self.check_paths(&name, &params, &steps);
        }
        (self.errors.len() == before).then(|| CustomAction {
            title: a.title.unwrap_or_else(|| name.replace('_', " ")),
            name,
            description: a.description.into_inner(),
            scope: scope_kind,
            ack: a.ack.into_inner(),
            done: a.done.into_inner(),
            confirm: a.confirm,
            params,
            steps,
        })
    }

    fn params(&mut self, table: BTreeMap<String, Spanned<RawParam>>) -> Vec<Param> {
        let mut out = vec![];
        for (name, raw) in table {
            let at = raw.span().start;
            if !valid_name(&name, 32) {
                self.error(at, format!("parameter name \"{name}\" must be 1 to 32 lowercase letters, digits or _, starting with a letter"));
                continue;
            }
            if let Some(p) = self.param(&name, raw.into_inner(), at) {
                out.push(p);
            }
        }
        out
    }

    fn param(&mut self, name: &str, raw: RawParam, at: usize) -> Option<Param> {
        let numeric = matches!(raw.kind, RawType::Integer | RawType::Number);
        let kind = if numeric {
            let (Some(min), Some(max)) = (&raw.min, &raw.max) else {
                self.error(at, format!("parameter \"{name}\" needs min and max: they bound every value computed from it"));
                return None;
            };
            let (lo, hi) = (*min.get_ref(), *max.get_ref());
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                self.error(
                    min.span().start,
                    format!("parameter \"{name}\": min {lo} must be finite and not above max {hi}"),
                );
                return None;
            }
            if raw.kind == RawType::Integer {
                if lo.fract() != 0.0 || hi.fract() != 0.0 {
                    self.error(
                        min.span().start,
                        format!("parameter \"{name}\" is an integer: min {lo} and max {hi} must be whole numbers"),
                    );
                    return None;
                }
                ParamKind::Integer {
                    min: lo as i64,
                    max: hi as i64,
                }
            } else {
                ParamKind::Number { min: lo, max: hi }
            }
        } else if raw.kind == RawType::String {
            match raw.choices.as_deref() {
                Some(c) if !c.is_empty() => ParamKind::Choice(c.to_vec()),
                _ => {
                    self.error(at, format!("parameter \"{name}\" is a string: list its allowed values in enum = [...]"));
                    return None;
                }
            }
        } else {
            ParamKind::Bool
        };
        if !numeric && (raw.min.is_some() || raw.max.is_some()) {
            self.error(
                at,
                format!("parameter \"{name}\": min and max apply to numbers only"),
            );
        }
        let default = match &raw.default {
            None => None,
            Some(d) => {
                let value = serde_json::to_value(d.get_ref()).unwrap_or(serde_json::Value::Null);
                if let Err(why) = super::check_value(name, &kind, &value) {
                    self.error(d.span().start, format!("default of {why}"));
                    return None;
                }
                Some(value)
            }
        };
        Some(Param {
            name: name.to_owned(),
            description: raw.description.unwrap_or_default(),
            kind,
            default,
        })
    }

    /// Checks that every `{name}` in a text names something in `scope`.
    pub(super) fn template(&mut self, text: &Spanned<String>, scope: &Names) {
        let s = text.get_ref();
        let mut rest = s.as_str();
        let mut base = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            if !scope.words.contains(name) {
                let known: Vec<&str> = scope.words.iter().map(String::as_str).collect();
                self.error(
                    text.span().start + 1 + base + open,
                    format!(
                        "\"{{{name}}}\" names no parameter (known: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            base += open + close + 1;
            rest = &rest[open + close + 1..];
        }
    }

    /// Reads a number or expression and checks the names it uses.
    pub(super) fn expr(&mut self, src: &Spanned<ExprSrc>, scope: &Names) -> Option<Linear> {
        let text = match src.get_ref() {
            ExprSrc::Number(n) => return Some(Linear::constant(*n)),
            ExprSrc::Text(t) => t,
        };
        // The span starts at the opening quote.
        let start = src.span().start + 1;
        let e = match Linear::parse(text) {
            Ok(e) => e,
            Err(err) => {
                self.error(start + err.offset, err.message);
                return None;
            }
        };
        for name in e.terms.keys() {
            if !scope.numbers.contains_key(name) {
                let known: Vec<&str> = scope.numbers.keys().map(String::as_str).collect();
                let offset = text.find(name.as_str()).unwrap_or(0);
                self.error(
                    start + offset,
                    format!(
                        "\"{name}\" is not a number parameter here (known: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                return None;
            }
        }
        Some(e)
    }

    /// Checks that `e` stays in `[lo, hi]` for every allowed parameter value.
    pub(super) fn within(
        &mut self,
        at: usize,
        e: &Linear,
        scope: &Names,
        (lo, hi): (f64, f64),
        what: &str,
    ) -> Option<Extent> {
        let x = e.extent(&scope.numbers);
        if !(x.min.is_finite() && x.max.is_finite()) {
            self.error(
                at,
                format!("{what} must be a finite number, from {lo} to {hi}; it is not"),
            );
            return None;
        }
        let (value, values, limit) = if x.min < lo {
            (x.min, &x.at_min, lo)
        } else if x.max > hi {
            (x.max, &x.at_max, hi)
        } else {
            return Some(x);
        };
        let when = if values.is_empty() {
            String::new()
        } else {
            format!(" (with {})", show(values))
        };
        self.error(
            at,
            format!("{what} can be {value:.4}{when}, beyond its limit {limit:.4}"),
        );
        None
    }
}
