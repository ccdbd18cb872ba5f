//! The checks of an action's steps: one kind each, known positions, joints within limits
//! for every allowed parameter value, variables Armature does not own.

use toml::Spanned;

use super::check::{valid_name, Checker, Names};
use super::expr::Linear;
use super::raw::{RawJoints, RawStep};
use super::{OpDef, StepDef, MAX_STEPS, MAX_WAIT_S};
use crate::vars::VarValue;

impl Checker<'_> {
    pub(super) fn steps(&mut self, raw: &[Spanned<RawStep>], scope: &Names) -> Vec<StepDef> {
        raw.iter().filter_map(|s| self.step(s, scope)).collect()
    }

    fn step(&mut self, raw: &Spanned<RawStep>, scope: &Names) -> Option<StepDef> {
        let s = raw.get_ref();
        let mut kinds: Vec<(&str, usize)> = [
            ("move_to", s.move_to.as_ref().map(|v| v.span().start)),
            (
                "move_joints",
                s.move_joints.as_ref().map(|v| v.span().start),
            ),
            (
                "move_linear",
                s.move_linear.as_ref().map(|v| v.span().start),
            ),
            (
                "move_relative",
                s.move_relative.as_ref().map(|v| v.span().start),
            ),
            ("gripper", s.gripper.as_ref().map(|v| v.span().start)),
            ("set_output", s.set_output.as_ref().map(|v| v.span().start)),
            ("wait_input", s.wait_input.as_ref().map(|v| v.span().start)),
            ("wait", s.wait.as_ref().map(|v| v.span().start)),
            (
                "set_variable",
                s.set_variable.as_ref().map(|v| v.span().start),
            ),
            ("repeat", s.repeat.as_ref().map(|v| v.span().start)),
        ]
        .into_iter()
        .filter_map(|(k, at)| at.map(|at| (k, at)))
        .collect();
        // The error points at the second one in the file.
        kinds.sort_by_key(|k| k.1);
        let (kind, at) = match kinds.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    raw.span().start,
                    "a step needs one of move_to, move_joints, move_linear, move_relative, gripper, set_output, wait_input, wait, set_variable or repeat".into(),
                );
                return None;
            }
            [_, second, ..] => {
                self.error(
                    second.1,
                    format!(
                        "a step does one thing: it has both {} and {}",
                        kinds[0].0, second.0
                    ),
                );
                return None;
            }
        };
        // Keys that belong to another kind of step.
        let stray = [
            (
                "speed",
                s.speed.as_ref().map(|v| v.span().start),
                ["move_to", "move_joints", "move_linear", "move_relative"].as_slice(),
            ),
            (
                "value",
                s.value.as_ref().map(|v| v.span().start),
                ["set_variable", "set_output", "wait_input"].as_slice(),
            ),
            (
                "timeout",
                s.timeout.as_ref().map(|v| v.span().start),
                ["wait_input"].as_slice(),
            ),
            (
                "add",
                s.add.as_ref().map(|v| v.span().start),
                ["set_variable"].as_slice(),
            ),
            (
                "as",
                s.index.as_ref().map(|v| v.span().start),
                ["repeat"].as_slice(),
            ),
            (
                "steps",
                s.steps
                    .as_ref()
                    .and_then(|v| v.first())
                    .map(|v| v.span().start),
                ["repeat"].as_slice(),
            ),
        ];
        for (key, key_at, allowed) in stray {
            if let Some(key_at) = key_at.filter(|_| !allowed.contains(&kind)) {
                self.error(key_at, format!("\"{key}\" does not apply to a {kind} step"));
                return None;
            }
        }
        let label = |default: String| {
            s.label
                .as_ref()
                .map(|l| l.get_ref().clone())
                .unwrap_or(default)
        };
        if let Some(l) = &s.label {
            self.template(l, scope);
        }
        let speed = match &s.speed {
            None => None,
            Some(sp) => {
                let e = self.expr(sp, scope)?;
                self.within(sp.span().start, &e, scope, (1e-3, 1.0), "speed")?;
                Some(e)
            }
        };
        match kind {
            "move_to" => {
                let name = s.move_to.as_ref()?;
                let joints = self.position(name)?;
                Some(StepDef::Move {
                    label: label(format!("moving to {}", name.get_ref())),
                    at,
                    joints: joints.into_iter().map(Linear::constant).collect(),
                    speed,
                })
            }
            "move_joints" => {
                let mj = s.move_joints.as_ref()?;
                let joints = self.joints(mj, scope)?;
                let label = label(match &mj.get_ref().from {
                    Some(f) => format!("moving near {}", f.get_ref()),
                    None => "moving".to_owned(),
                });
                Some(StepDef::Move {
                    label,
                    at,
                    joints,
                    speed,
                })
            }
            "move_linear" => {
                let p = s.move_linear.as_ref()?;
                let pose = self.pose(p, scope)?;
                Some(StepDef::Line {
                    label: label("moving in a straight line".into()),
                    at,
                    pose,
                    speed,
                })
            }
            "move_relative" => {
                let r = s.move_relative.as_ref()?;
                let (offset, frame) = self.relative(r, scope)?;
                Some(StepDef::Relative {
                    label: label("moving by an offset".into()),
                    at,
                    offset,
                    frame,
                    speed,
                })
            }
            "gripper" => {
                let g = s.gripper.as_ref()?;
                let close = match g.get_ref().as_str() {
                    "close" => true,
                    "open" => false,
                    other => {
                        self.error(
                            g.span().start,
                            format!("gripper = \"{other}\": must be \"open\" or \"close\""),
                        );
                        return None;
                    }
                };
                if self.robot.io.gripper.is_none() {
                    self.error(g.span().start, format!("a gripper step needs a gripper: the robot file {} declares no [gripper]", self.robot.source));
                    return None;
                }
                let verb = if close { "closing" } else { "opening" };
                Some(StepDef::Gripper {
                    label: label(format!("{verb} the gripper")),
                    close,
                })
            }
            "set_output" => {
                let name = s.set_output.as_ref()?;
                let known: Vec<&str> = self
                    .robot
                    .io
                    .outputs
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                let known = known.join(", ");
                let (n, value) = self.channel(name, &known, "output", s.value.as_ref())?;
                let said = self.said(&self.robot.io.outputs, &n);
                let turn = if value { "on" } else { "off" };
                Some(StepDef::SetOutput {
                    label: label(format!("turning {said} {turn}")),
                    name: n,
                    value,
                })
            }
            "wait_input" => {
                let name = s.wait_input.as_ref()?;
                let known: Vec<&str> = self
                    .robot
                    .io
                    .inputs
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                let known = known.join(", ");
                let (n, value) = self.channel(name, &known, "input", s.value.as_ref())?;
                let Some(t) = s.timeout.as_ref() else {
                    self.error(at, format!("wait_input \"{n}\" needs timeout = <seconds>: how long to wait before the task fails"));
                    return None;
                };
                let timeout = self.expr(t, scope)?;
                self.within(
                    t.span().start,
                    &timeout,
                    scope,
                    (0.01, MAX_WAIT_S),
                    "timeout (s)",
                )?;
                let said = self.said(&self.robot.io.inputs, &n);
                Some(StepDef::WaitInput {
                    label: label(format!("waiting for {said}")),
                    name: n,
                    value,
                    timeout,
                })
            }
            "wait" => {
                let w = s.wait.as_ref()?;
                let seconds = self.expr(w, scope)?;
                self.within(
                    w.span().start,
                    &seconds,
                    scope,
                    (0.0, MAX_WAIT_S),
                    "wait (s)",
                )?;
                Some(StepDef::Wait {
                    label: label("waiting".into()),
                    seconds,
                })
            }
            "set_variable" => {
                let name = s.set_variable.as_ref()?;
                let n = name.get_ref();
                let ok_name = !n.is_empty()
                    && n.len() <= 64
                    && n.starts_with(|c: char| c.is_ascii_lowercase())
                    && n.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
                    });
                if !ok_name {
                    self.error(name.span().start, format!("variable name \"{n}\" must be 1 to 64 lowercase letters, digits, _ or ., starting with a letter"));
                    return None;
                }
                if n.starts_with("task_") || n.starts_with("position.") {
                    self.error(name.span().start, format!("variable \"{n}\" is written by Armature itself (task_* and position.* are reserved)"));
                    return None;
                }
                let op = match (&s.value, &s.add) {
                    (Some(v), None) => OpDef::Set(self.var_value(v, scope)?),
                    (None, Some(a)) => OpDef::Add(self.expr(a, scope)?),
                    _ => {
                        self.error(
                            at,
                            format!("set_variable \"{n}\" needs either value = ... or add = ..."),
                        );
                        return None;
                    }
                };
                Some(StepDef::SetVariable {
                    label: label(format!("setting {n}")),
                    name: n.clone(),
                    op,
                })
            }
            _ => {
                let count_src = s.repeat.as_ref()?;
                let count = self.expr(count_src, scope)?;
                let extent = self.within(
                    count_src.span().start,
                    &count,
                    scope,
                    (0.0, MAX_STEPS as f64),
                    "repeat count",
                )?;
                let mut inner = scope.clone();
                let index = match &s.index {
                    None => None,
                    Some(i) => {
                        let n = i.get_ref();
                        if !valid_name(n, 32) || scope.words.contains(n) {
                            self.error(i.span().start, format!("repeat index \"{n}\" must be a new name: lowercase letters, digits or _"));
                            return None;
                        }
                        inner
                            .numbers
                            .insert(n.clone(), (0.0, (extent.max.floor() - 1.0).max(0.0)));
                        inner.words.insert(n.clone());
                        Some(n.clone())
                    }
                };
                let Some(raw_steps) = s.steps.as_ref().filter(|v| !v.is_empty()) else {
                    self.error(
                        at,
                        "repeat needs steps = [...] (or [[...steps]] tables) to repeat".into(),
                    );
                    return None;
                };
                let steps = self.steps(raw_steps, &inner);
                (steps.len() == raw_steps.len()).then_some(StepDef::Repeat {
                    count,
                    index,
                    steps,
                })
            }
        }
    }

    /// How the declared channel `name` is said.
    fn said(&self, list: &[crate::robot::io::Channel], name: &str) -> String {
        list.iter()
            .find(|c| c.name == name)
            .map_or_else(|| name.replace('_', " "), |c| c.label.clone())
    }

    pub(super) fn position(&mut self, name: &Spanned<String>) -> Option<Vec<f64>> {
        let n = name.get_ref();
        match self.robot.positions.get(n) {
            Some(j) => Some(j.clone()),
            None => {
                let known: Vec<&str> = self.robot.positions.keys().map(String::as_str).collect();
                self.error(
                    name.span().start,
                    format!(
                        "unknown position \"{n}\": the robot file {} defines {}",
                        self.robot.source,
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn joints(&mut self, mj: &Spanned<RawJoints>, scope: &Names) -> Option<Vec<Linear>> {
        let raw = mj.get_ref();
        let specs = self.robot.joints.clone();
        let names: Vec<&str> = specs.iter().map(|j| j.name.as_str()).collect();
        let names = names.join(", ");
        let at = mj.span().start;
        let mut joints: Vec<(Linear, usize)> = match (&raw.from, &raw.joints) {
            (Some(from), None) => {
                let base = self.position(from)?;
                base.into_iter()
                    .map(|v| (Linear::constant(v), from.span().start))
                    .collect()
            }
            (None, Some(list)) => {
                if list.get_ref().len() != specs.len() {
                    self.error(
                        list.span().start,
                        format!(
                            "joints has {} values; the robot has {} joints ({names})",
                            list.get_ref().len(),
                            specs.len()
                        ),
                    );
                    return None;
                }
                let mut out = vec![];
                for v in list.get_ref() {
                    out.push((self.expr(v, scope)?, v.span().start));
                }
                out
            }
            _ => {
                self.error(at, "move_joints needs either from = \"<position>\" (with an optional offset) or joints = [...]".into());
                return None;
            }
        };
        for (name, off) in &raw.offset {
            let Some(i) = specs.iter().position(|j| &j.name == name) else {
                self.error(
                    off.span().start,
                    format!("offset names no joint \"{name}\" (joints: {names})"),
                );
                return None;
            };
            let e = self.expr(off, scope)?;
            let sum = joints[i].0.clone();
            joints[i] = (sum.plus(e), off.span().start);
        }
        let mut ok = true;
        for ((e, at), spec) in joints.iter().zip(&specs) {
            ok &= self
                .within(
                    *at,
                    e,
                    scope,
                    (spec.min, spec.max),
                    &format!("{} (rad)", spec.name),
                )
                .is_some();
        }
        ok.then(|| joints.into_iter().map(|j| j.0).collect())
    }

    fn var_value(&mut self, v: &Spanned<toml::Value>, scope: &Names) -> Option<VarValue> {
        let value = match v.get_ref() {
            toml::Value::Boolean(b) => VarValue::Bool(*b),
            toml::Value::Integer(i) => VarValue::Number(*i as f64),
            toml::Value::Float(f) => VarValue::Number(*f),
            toml::Value::String(s) => {
                self.template(&Spanned::new(v.span(), s.clone()), scope);
                VarValue::String(s.clone())
            }
            toml::Value::Array(items) => {
                let numbers: Option<Vec<f64>> = items
                    .iter()
                    .map(|i| i.as_float().or_else(|| i.as_integer().map(|n| n as f64)))
                    .collect();
                match numbers {
                    Some(n) => VarValue::List(n),
                    None => {
                        self.error(v.span().start, "a list value holds numbers only".into());
                        return None;
                    }
                }
            }
            other => {
                self.error(
                    v.span().start,
                    format!(
                        "value must be a number, a string, true/false or a list of numbers, not {}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        Some(value)
    }
}

/// Where a step (or a step inside a repeat) moves or waits.
pub(super) fn moving_step(s: &Spanned<RawStep>) -> Option<usize> {
    let r = s.get_ref();
    let moves = r.move_to.is_some() || r.move_joints.is_some() || r.move_linear.is_some();
    let acts = r.move_relative.is_some() || r.gripper.is_some() || r.wait_input.is_some();
    if moves || acts || r.wait.is_some() || r.set_output.is_some() {
        return Some(s.span().start);
    }
    r.steps.as_ref()?.iter().find_map(moving_step)
}
