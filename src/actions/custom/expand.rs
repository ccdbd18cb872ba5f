//! A call's arguments bound to an action's parameters, and its steps made concrete.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::actions::Refusal;
use nalgebra::Isometry3;

use crate::config::action_file::{
    accepts, check_value, relative_target, CustomAction, Linear, OpDef, ParamKind, PathCheck,
    StepDef, Tail, MAX_STEPS,
};
use crate::robot::io::Channel;
use crate::robot::{check_target, number, Joints, RobotDefinition, TcpPose};
use crate::tasks::{Step, StepKind, VarOp};
use crate::vars::VarValue;

/// The values of one call: numbers for expressions, words for labels.
#[derive(Debug, Clone, Default)]
pub(super) struct Bound {
    numbers: BTreeMap<String, f64>,
    words: BTreeMap<String, String>,
    /// Every parameter's value, defaults filled in: what the task records.
    params: Map<String, Value>,
}

/// Binds the call's `args` to `action`'s parameters, with defaults; refuses unknown,
/// missing, mistyped and out-of-range values.
pub(super) fn bind(action: &CustomAction, args: &Map<String, Value>) -> Result<Bound, Refusal> {
    // Unknown names are refused as a built-in tool refuses them.
    let takes: Vec<&str> = action.params.iter().map(|p| p.name.as_str()).collect();
    crate::actions::params::Args::new(&action.name, args, &takes)?;
    let mut bound = Bound::default();
    for p in &action.params {
        let value = match args.get(&p.name).filter(|v| !v.is_null()) {
            Some(v) => v,
            None => p.default.as_ref().ok_or_else(|| {
                Refusal::new(
                    "missing_parameter",
                    format!(
                        "{} is required: {}.",
                        crate::actions::params::said_name(&p.name),
                        accepts(&p.kind)
                    ),
                )
            })?,
        };
        check_value(&p.name, &p.kind, value).map_err(|why| {
            let code = match (&p.kind, value) {
                (ParamKind::Integer { .. } | ParamKind::Number { .. }, Value::Number(_))
                | (ParamKind::Choice(_), Value::String(_)) => "out_of_range",
                _ => "invalid_type",
            };
            // A sentence on its own: "Slot must be …".
            Refusal::new(code, crate::tasks::words::capitalised(&why))
        })?;
        let word = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
            other => other.to_string(),
        };
        if let Some(n) = value.as_f64() {
            bound.numbers.insert(p.name.clone(), n);
        }
        bound.words.insert(p.name.clone(), word);
        bound.params.insert(p.name.clone(), value.clone());
    }
    Ok(bound)
}

impl Bound {
    /// Every parameter's value, defaults filled in.
    pub(super) fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// `template` with each `{name}` replaced by its value.
    pub(super) fn render(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            match rest[open..].find('}') {
                Some(close) => {
                    let name = &rest[open + 1..open + close];
                    match self.words.get(name) {
                        Some(v) => out.push_str(v),
                        None => out.push_str(&rest[open..open + close + 1]),
                    }
                    rest = &rest[open + close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn with_index(&self, name: &str, i: usize) -> Self {
        let mut b = self.clone();
        b.numbers.insert(name.to_owned(), i as f64);
        b.words.insert(name.to_owned(), i.to_string());
        b
    }
}

/// The concrete steps of `action` for `bound`; moves are checked against `robot` and the
/// cell, and their speed capped. Straight lines are planned here, chained from the move
/// before, so each gets an absolute target (and the joints it ends at) once.
pub(super) fn expand(
    action: &CustomAction,
    bound: &Bound,
    robot: &RobotDefinition,
    paths: &PathCheck,
) -> Result<Vec<Step>, Refusal> {
    let mut out = vec![];
    let mut walk = Walk {
        robot,
        paths,
        tail: None,
        out: &mut out,
    };
    walk.steps(&action.steps, bound)?;
    Ok(out)
}

struct Walk<'a> {
    robot: &'a RobotDefinition,
    paths: &'a PathCheck,
    tail: Option<Tail>,
    out: &'a mut Vec<Step>,
}

impl Walk<'_> {
    fn steps(&mut self, defs: &[StepDef], b: &Bound) -> Result<(), Refusal> {
        let cap = self.paths.cap;
        for def in defs {
            if self.out.len() >= MAX_STEPS {
                return Err(Refusal::new(
                    "too_many_steps",
                    format!("This call would run more than {MAX_STEPS} steps"),
                ));
            }
            let speed_of =
                |s: &Option<Linear>| s.as_ref().map_or(cap, |s| s.eval(&b.numbers)).min(cap);
            let step = match def {
                StepDef::Move {
                    label,
                    joints,
                    speed,
                    ..
                } => {
                    let target: Vec<f64> = joints.iter().map(|j| j.eval(&b.numbers)).collect();
                    // Checked at load for every allowed value; checked again on what will move.
                    check_target(self.robot, &target).map_err(|e| {
                        Refusal::new(
                            "out_of_range",
                            crate::tasks::words::limit(&e, &self.robot.joints),
                        )
                    })?;
                    if let (Some(kin), Some(j)) =
                        (&self.robot.kinematics, Joints::from_slice(&target))
                    {
                        self.tail = Some(Tail {
                            joints: j,
                            pose: kin.tcp_transform(&j),
                        });
                    }
                    Step {
                        label: b.render(label),
                        kind: StepKind::Move {
                            target,
                            speed: speed_of(speed),
                        },
                    }
                }
                StepDef::Line {
                    label, pose, speed, ..
                } => {
                    let target = pose.eval(&b.numbers);
                    target.check().map_err(|e| {
                        Refusal::new("out_of_range", crate::cell::words::pose_error(&e))
                    })?;
                    self.line(b.render(label), target.to_isometry(), speed_of(speed))?
                }
                StepDef::Relative {
                    label,
                    offset,
                    frame,
                    speed,
                    ..
                } => {
                    let label = b.render(label);
                    let start = self.tail.ok_or_else(|| no_start(&label))?;
                    let target = relative_target(offset, *frame, &b.numbers, &start.pose);
                    self.line(label, target, speed_of(speed))?
                }
                StepDef::Gripper { label, close } => {
                    let g = self.robot.io.gripper.as_ref().ok_or_else(|| {
                        Refusal::new("no_gripper", "This robot has no gripper configured")
                    })?;
                    Step {
                        label: b.render(label),
                        kind: StepKind::Gripper {
                            close: *close,
                            stroke_s: g.stroke_s,
                        },
                    }
                }
                StepDef::SetOutput { label, name, value } => {
                    let c = channel(&self.robot.io.outputs, name, "output")?;
                    Step {
                        label: b.render(label),
                        kind: StepKind::SetOutput {
                            name: name.clone(),
                            channel: c.channel,
                            value: *value,
                        },
                    }
                }
                StepDef::WaitInput {
                    label,
                    name,
                    value,
                    timeout,
                } => {
                    let c = channel(&self.robot.io.inputs, name, "input")?;
                    Step {
                        label: b.render(label),
                        kind: StepKind::WaitInput {
                            name: name.clone(),
                            said: c.label.clone(),
                            channel: c.channel,
                            value: *value,
                            timeout_s: timeout.eval(&b.numbers).max(0.0),
                        },
                    }
                }
                StepDef::Wait { label, seconds } => Step {
                    label: b.render(label),
                    kind: StepKind::Wait {
                        seconds: seconds.eval(&b.numbers).max(0.0),
                    },
                },
                StepDef::SetVariable { label, name, op } => Step {
                    label: b.render(label),
                    kind: StepKind::SetVariable {
                        name: name.clone(),
                        op: match op {
                            OpDef::Set(VarValue::String(s)) => {
                                VarOp::Set(VarValue::String(b.render(s)))
                            }
                            OpDef::Set(v) => VarOp::Set(v.clone()),
                            OpDef::Add(e) => VarOp::Add(e.eval(&b.numbers)),
                        },
                    },
                },
                StepDef::Repeat {
                    count,
                    index,
                    steps,
                } => {
                    let n = count.eval(&b.numbers);
                    if n.fract() != 0.0 || n < 0.0 {
                        return Err(Refusal::new(
                            "out_of_range",
                            format!(
                                "The repeat count comes to {}; it must be a whole number of 0 or more",
                                crate::tasks::words::rounded(n)
                            ),
                        ));
                    }
                    for i in 0..n as usize {
                        let inner = match index {
                            Some(name) => b.with_index(name, i),
                            None => b.clone(),
                        };
                        self.steps(steps, &inner)?;
                    }
                    continue;
                }
            };
            self.out.push(step);
        }
        Ok(())
    }

    /// A straight line to `target` from where the previous move ends, planned and checked.
    fn line(&mut self, label: String, target: Isometry3<f64>, speed: f64) -> Result<Step, Refusal> {
        let start = self.tail.ok_or_else(|| no_start(&label))?;
        let kin = self.robot.kinematics.as_ref().ok_or_else(|| {
            Refusal::new(
                "no_kinematics",
                "This robot file gives no kinematics, so it cannot move in a straight line",
            )
        })?;
        let end = self
            .paths
            .line(kin, self.robot, &start.joints, &target, speed)
            .map_err(|r| {
                Refusal::new(
                    r.code(),
                    format!("Step {}, {label}: {r}", self.out.len() + 1),
                )
            })?;
        self.tail = Some(Tail {
            joints: end,
            pose: target,
        });
        Ok(Step {
            label,
            kind: StepKind::Line {
                pose: TcpPose::from_isometry(&target).to_array(),
                end: end.to_vec(),
                speed,
            },
        })
    }
}

fn no_start(label: &str) -> Refusal {
    // The load check refuses such a file; this keeps a panic out if it did not.
    Refusal::new(
        "invalid_step",
        format!("The step {label} is a straight line with no known start"),
    )
}

/// The declared channel `name`, or a refusal naming it.
fn channel<'c>(list: &'c [Channel], name: &str, what: &str) -> Result<&'c Channel, Refusal> {
    list.iter().find(|c| c.name == name).ok_or_else(|| {
        Refusal::new(
            "unknown_channel",
            format!(
                "This robot has no {what} named {}",
                crate::tasks::words::spoken_name(name)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::custom::{parse, EXAMPLE_CELL};
    use crate::robot::BUILTIN_UR5E;
    use serde_json::json;

    fn cell() -> (RobotDefinition, Vec<CustomAction>) {
        let robot = RobotDefinition::parse(BUILTIN_UR5E, "builtin:ur5e").unwrap();
        let actions = parse(EXAMPLE_CELL, "cell", &robot, &[]).unwrap();
        (robot, actions)
    }

    fn capped(robot: &RobotDefinition, cap: f64) -> PathCheck {
        PathCheck {
            cap,
            ..PathCheck::open(robot)
        }
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_call_becomes_concrete_steps_with_defaults_and_the_speed_cap() {
        let (robot, actions) = cell();
        let pick = &actions[0];
        let b = bind(pick, &args(json!({"slot": 2}))).unwrap();
        assert_eq!(b.params(), &args(json!({"slot": 2, "speed": 0.25})));
        assert_eq!(
            b.render("slot {slot} at {speed}, {nothing}"),
            "slot 2 at 0.25, {nothing}"
        );
        let steps = expand(pick, &b, &robot, &capped(&robot, 0.1)).unwrap();
        assert_eq!(steps.len(), 10);
        assert_eq!(steps[2].label, "reaching into slot 2");
        let kin = robot.kinematics.clone().unwrap();
        let above = kin.forward(&robot.positions["tray_above"]);
        match &steps[2].kind {
            StepKind::Line { pose, end, speed } => {
                // Slot 2 is 8 cm along x; the tool points down, so 10 cm along it is down.
                assert!((pose[0] - (above.x + 0.08)).abs() < 1e-3, "{pose:?}");
                assert!((pose[2] - (above.z - 0.1)).abs() < 1e-3, "{pose:?}");
                let reached = kin.forward(end);
                assert!((reached.z - pose[2]).abs() < 1e-6, "{reached:?}");
                // speed / 2 = 0.125, capped at 0.1.
                assert_eq!(*speed, 0.1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            steps[8].kind,
            StepKind::SetVariable {
                name: "parts_placed".into(),
                op: VarOp::Add(1.0)
            }
        );
    }

    #[test]
    fn a_repeat_runs_its_block_count_times_with_its_index() {
        let (robot, actions) = cell();
        let inspect = &actions[2];
        let b = bind(inspect, &args(json!({"count": 3}))).unwrap();
        let steps = expand(inspect, &b, &robot, &capped(&robot, 0.25)).unwrap();
        let labels: Vec<&str> = steps.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "moving above the tray",
                "moving above slot 0",
                "looking into slot 0",
                "moving above slot 1",
                "looking into slot 1",
                "moving above slot 2",
                "looking into slot 2"
            ]
        );
    }

    #[test]
    fn bad_arguments_are_refused_with_the_rule() {
        let (_, actions) = cell();
        let pick = &actions[0];
        let cases = [
            (
                json!({"slot": 9}),
                "out_of_range",
                "Slot must be a whole number from 0 to 5, not 9.",
            ),
            (
                json!({"slot": true}),
                "invalid_type",
                "Slot must be a whole number from 0 to 5, not true.",
            ),
            (
                json!({"slot": null}),
                "missing_parameter",
                "Slot is required",
            ),
            (
                json!({"slot": 1, "x": 1}),
                "unknown_parameter",
                "Pick and place has no setting called x",
            ),
        ];
        for (a, code, says) in cases {
            let r = bind(pick, &args(a.clone())).unwrap_err();
            assert_eq!(r.code, code, "{a}");
            assert!(r.message.starts_with(says), "{a}: {}", r.message);
        }
    }
}
