//! The load check of an action's paths: every move planned and checked against the cell
//! (zones, reach, joint limits, singularities, flips), chained from where the previous
//! move ends, for every allowed parameter value (or a bounded grid of them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nalgebra::Isometry3;

use super::check::Checker;
use super::{Linear, Param, ParamKind, StepDef};
use crate::cell::{Cell, Refusal};
use crate::robot::linear::{LinearLimits, RelativeMove};
use crate::robot::{Joints, Kinematics, Plan, RobotDefinition};

/// Most parameter combinations one action's paths are checked for; a larger space is
/// checked on a grid with each range's ends.
const MAX_COMBINATIONS: usize = 512;
/// Points checked of a number parameter: its ends and the points evenly between.
const NUMBER_POINTS: usize = 5;

/// What the paths are checked against: the cell, the straight-line caps and the speed cap.
#[derive(Debug, Clone)]
pub struct PathCheck {
    /// The cell's zones and bounds.
    pub cell: Cell,
    /// The caps a straight line runs under.
    pub limits: LinearLimits,
    /// The configured speed cap (fraction).
    pub cap: f64,
}

impl PathCheck {
    /// An open cell (no zones) under the default caps.
    pub fn open(robot: &RobotDefinition) -> Self {
        Self {
            cell: Cell::open(&robot.source),
            limits: LinearLimits::default(),
            cap: 1.0,
        }
    }

    /// Plans a straight line from `from` to `target` at `speed` and checks it: where it
    /// ends, or why it cannot be made.
    pub fn line(
        &self,
        kin: &Kinematics,
        robot: &RobotDefinition,
        from: &Joints,
        target: &Isometry3<f64>,
        speed: f64,
    ) -> Result<Joints, Refusal> {
        let (path, _) =
            self.cell
                .plan_linear(kin, &robot.joints, from, target, speed, &self.limits)?;
        Ok(path.samples.last().map_or(*from, |p| p.joints))
    }
}

/// Where the chain of moves stands: the joints and TCP pose the last move ends at.
#[derive(Clone, Copy)]
pub struct Tail {
    /// Joints.
    pub joints: Joints,
    /// The TCP pose (the line's own target after a line, else the joints' FK).
    pub pose: Isometry3<f64>,
}

/// The pose a relative step ends at from `start`.
pub fn relative_target(
    offset: &[Linear; 6],
    frame: crate::robot::linear::Frame,
    values: &BTreeMap<String, f64>,
    start: &Isometry3<f64>,
) -> Isometry3<f64> {
    let v: Vec<f64> = offset.iter().map(|e| e.eval(values)).collect();
    RelativeMove {
        dx: v[0],
        dy: v[1],
        dz: v[2],
        rx: v[3],
        ry: v[4],
        rz: v[5],
        frame,
    }
    .target(start)
}

/// A move that fails the check: where, which step, with which values, and why.
struct Failure {
    at: usize,
    step: usize,
    label: String,
    why: String,
}

/// A move already checked for another combination of values: its start, end and speed,
/// bit for bit.
type LegKey = Vec<u64>;

struct Walk<'a> {
    kin: Option<&'a Kinematics>,
    robot: &'a RobotDefinition,
    paths: &'a PathCheck,
    tail: Option<Tail>,
    step: usize,
    /// What each move checked so far came to: a repeat's moves recur in every count.
    seen: &'a mut HashMap<LegKey, Result<Joints, Refusal>>,
}

fn key(from: &Joints, to: &[f64], speed: f64) -> LegKey {
    from.iter()
        .chain(to)
        .chain([&speed])
        .map(|v| v.to_bits())
        .collect()
}

fn speed_of(speed: &Option<Linear>, values: &BTreeMap<String, f64>, cap: f64) -> f64 {
    speed.as_ref().map_or(cap, |s| s.eval(values)).min(cap)
}

/// `{name}` replaced by its value, for the error's label.
fn render(label: &str, values: &BTreeMap<String, f64>) -> String {
    let mut out = label.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), &crate::robot::number(*v));
    }
    out
}

impl Walk<'_> {
    fn fail(&self, at: usize, label: &str, values: &BTreeMap<String, f64>, why: String) -> Failure {
        Failure {
            at,
            step: self.step,
            label: render(label, values),
            why,
        }
    }

    fn steps(
        &mut self,
        defs: &[StepDef],
        values: &mut BTreeMap<String, f64>,
    ) -> Result<(), Failure> {
        for def in defs {
            if let StepDef::Repeat {
                count,
                index,
                steps,
            } = def
            {
                let n = count.eval(values).max(0.0) as usize;
                for i in 0..n {
                    if let Some(name) = index {
                        values.insert(name.clone(), i as f64);
                    }
                    self.steps(steps, values)?;
                }
                if let Some(name) = index {
                    values.remove(name);
                }
                continue;
            }
            self.step += 1;
            self.one(def, values)?;
        }
        Ok(())
    }

    fn one(&mut self, def: &StepDef, values: &BTreeMap<String, f64>) -> Result<(), Failure> {
        let cap = self.paths.cap;
        let refused = |w: &Self, at: usize, label: &str, r: Refusal| {
            let said = r.to_string();
            let said = said.trim_end_matches(" Nothing moved.").to_owned();
            w.fail(at, label, values, said)
        };
        match def {
            StepDef::Move {
                label, at, joints, ..
            } => {
                let target: Vec<f64> = joints.iter().map(|j| j.eval(values)).collect();
                let Some(target) = Joints::from_slice(&target) else {
                    return Ok(());
                };
                let Some(kin) = self.kin else {
                    return Ok(());
                };
                // The first move's start is wherever the arm is: only its end is known.
                let from = self.tail.map_or(target, |t| t.joints);
                let k = key(&from, &target, 0.0);
                let checked = match self.seen.get(&k) {
                    Some(r) => r.clone(),
                    None => {
                        let plan = Plan::new(&self.robot.joints, from, target, 1.0);
                        let r = self
                            .paths
                            .cell
                            .check_joint_plan(kin, &self.robot.joints, &plan)
                            .map(|_| target);
                        self.seen.insert(k, r.clone());
                        r
                    }
                };
                checked.map_err(|r| refused(self, *at, label, r))?;
                self.tail = Some(Tail {
                    joints: target,
                    pose: kin.tcp_transform(&target),
                });
            }
            StepDef::Line {
                label,
                at,
                pose,
                speed,
            } => {
                let target = pose.eval(values);
                if let Err(e) = target.check() {
                    return Err(self.fail(*at, label, values, e.to_string()));
                }
                self.line(
                    *at,
                    label,
                    values,
                    target.to_isometry(),
                    speed_of(speed, values, cap),
                )?;
            }
            StepDef::Relative {
                label,
                at,
                offset,
                frame,
                speed,
            } => {
                let Some(tail) = self.tail else {
                    return Err(self.no_start(*at, label, values));
                };
                let target = relative_target(offset, *frame, values, &tail.pose);
                self.line(*at, label, values, target, speed_of(speed, values, cap))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn no_start(&self, at: usize, label: &str, values: &BTreeMap<String, f64>) -> Failure {
        self.fail(
            at,
            label,
            values,
            "a straight-line step needs a known start: put a move_to or move_joints step before it"
                .into(),
        )
    }

    fn line(
        &mut self,
        at: usize,
        label: &str,
        values: &BTreeMap<String, f64>,
        target: Isometry3<f64>,
        speed: f64,
    ) -> Result<(), Failure> {
        let Some(tail) = self.tail else {
            return Err(self.no_start(at, label, values));
        };
        let Some(kin) = self.kin else {
            let why = format!(
                "a straight-line step needs the robot's kinematics; the robot file {} gives none",
                self.robot.source
            );
            return Err(self.fail(at, label, values, why));
        };
        let (t, q) = (target.translation.vector, target.rotation.coords);
        let k = key(&tail.joints, &[t.x, t.y, t.z, q.x, q.y, q.z, q.w], speed);
        let planned = match self.seen.get(&k) {
            Some(r) => r.clone(),
            None => {
                let r = self
                    .paths
                    .line(kin, self.robot, &tail.joints, &target, speed);
                self.seen.insert(k, r.clone());
                r
            }
        };
        let end = planned.map_err(|r| {
            let said = r.to_string();
            self.fail(
                at,
                label,
                values,
                said.trim_end_matches(" Nothing moved.").into(),
            )
        })?;
        self.tail = Some(Tail {
            joints: end,
            pose: target,
        });
        Ok(())
    }
}

/// The names that change where a step goes (or how many steps there are).
fn geometric(defs: &[StepDef], out: &mut BTreeSet<String>) {
    for def in defs {
        let exprs: Vec<&Linear> = match def {
            StepDef::Move { joints, .. } => joints.iter().collect(),
            StepDef::Line { pose, .. } => match pose {
                super::PoseDef::Vector(e) | super::PoseDef::Rpy(e) => e.iter().collect(),
                super::PoseDef::From { offset, .. } => offset.iter().collect(),
            },
            StepDef::Relative { offset, .. } => offset.iter().collect(),
            StepDef::Repeat { count, steps, .. } => {
                geometric(steps, out);
                vec![count]
            }
            _ => vec![],
        };
        for e in exprs {
            out.extend(e.terms.keys().cloned());
        }
    }
}

/// The values of one parameter the check goes through, at most `n` (ends always in).
fn points(kind: &ParamKind, n: usize) -> Vec<f64> {
    let (lo, hi, whole) = match kind {
        ParamKind::Integer { min, max } => (*min as f64, *max as f64, true),
        ParamKind::Number { min, max } => (*min, *max, false),
        _ => return vec![0.0],
    };
    let span = hi - lo;
    let n = if whole {
        n.min(span as usize + 1)
    } else {
        n.min(NUMBER_POINTS)
    };
    if n <= 1 || span == 0.0 {
        return vec![lo];
    }
    let mut v: Vec<f64> = (0..n)
        .map(|k| {
            let x = lo + span * k as f64 / (n - 1) as f64;
            if whole {
                x.round()
            } else {
                x
            }
        })
        .collect();
    v.dedup();
    v
}

impl Checker<'_> {
    /// Checks every move of `steps` for every allowed value of the parameters that change
    /// where it goes; one error per action, at the step that fails first.
    pub(super) fn check_paths(&mut self, action: &str, params: &[Param], steps: &[StepDef]) {
        let mut names = BTreeSet::new();
        geometric(steps, &mut names);
        // Parameters that move nothing are held at their default (or least) value.
        let base: BTreeMap<String, f64> = params
            .iter()
            .filter_map(|p| {
                let held = p.default.as_ref().and_then(|d| d.as_f64());
                match p.kind {
                    ParamKind::Integer { min, .. } => {
                        Some((p.name.clone(), held.unwrap_or(min as f64)))
                    }
                    ParamKind::Number { min, .. } => Some((p.name.clone(), held.unwrap_or(min))),
                    _ => None,
                }
            })
            .collect();
        let varying: Vec<&Param> = params.iter().filter(|p| names.contains(&p.name)).collect();
        // The per-parameter count shrinks until the grid is small enough.
        let mut per = 64usize;
        let grids = loop {
            let grids: Vec<Vec<f64>> = varying.iter().map(|p| points(&p.kind, per)).collect();
            let total: usize = grids.iter().map(Vec::len).product();
            if total <= MAX_COMBINATIONS || per <= 2 {
                break grids;
            }
            per -= 1;
        };
        let mut index = vec![0usize; grids.len()];
        let mut seen = HashMap::new();
        loop {
            let mut values = base.clone();
            for ((p, g), k) in varying.iter().zip(&grids).zip(&index) {
                values.insert(p.name.clone(), g[*k]);
            }
            let shown: Vec<String> = varying
                .iter()
                .filter_map(|p| values.get(&p.name).map(|v| (p, *v)))
                .map(|(p, v)| format!("{} = {}", p.name, crate::robot::number(v)))
                .collect();
            let mut walk = Walk {
                kin: self.robot.kinematics.as_ref(),
                robot: self.robot,
                paths: self.paths,
                tail: None,
                step: 0,
                seen: &mut seen,
            };
            if let Err(f) = walk.steps(steps, &mut values) {
                let with = if shown.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", shown.join(", "))
                };
                self.error(
                    f.at,
                    format!(
                        "action \"{action}\", step {} ({}){with}: {}",
                        f.step, f.label, f.why
                    ),
                );
                return;
            }
            // The next combination, like an odometer.
            let mut k = 0;
            loop {
                if k == index.len() {
                    return;
                }
                index[k] += 1;
                if index[k] < grids[k].len() {
                    break;
                }
                index[k] = 0;
                k += 1;
            }
        }
    }
}
