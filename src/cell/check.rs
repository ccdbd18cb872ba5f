//! The path checker: every sample of a planned path against the cell's zones, the joints'
//! ranges, singularities and (for a straight line) the arm's configuration. A refusal is
//! the sentence the operator hears; nothing has moved when it is given.

use nalgebra::Isometry3;

use super::words::{
    along, degrees, distance, joint_label, name, plan_error, pose_error, relative_error,
};
use super::Cell;
use crate::robot::linear::{plan_linear, LinearLimits, LinearPath, PlanError, RelativeError};
use crate::robot::{IkError, JointSpec, Joints, Kinematics, Plan, PoseError};

/// A joint move is checked at least this often along its largest joint (rad).
const JOINT_STEP: f64 = 0.002;

/// What kind of path is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A straight TCP line: it must keep one arm configuration.
    Linear,
    /// A joint-space move: the configuration may change.
    Joint,
}

/// What a path that passed looks like, for logs and status.
#[derive(Debug, Clone, PartialEq)]
pub struct PathReport {
    /// Samples checked.
    pub samples: usize,
    /// The nearest the tool came to a zone: its name and the clearance (m).
    pub min_clearance: Option<(String, f64)>,
    /// The least manipulability along a straight line (not computed for a joint move).
    pub min_manipulability: Option<f64>,
}

/// Why a motion is refused before it starts: the sentence says what broke, where along
/// the path, and by how much. Nothing has moved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The tool would enter a plane or keep-out zone.
    #[error("That would take the tool {} into the {}, {}. Nothing moved.", distance(*depth), name(zone), along(*fraction))]
    IntoZone {
        /// The zone's name.
        zone: String,
        /// The deepest the tool would go (m).
        depth: f64,
        /// Where it first touches, 0 to 1.
        fraction: f64,
    },
    /// The tool would leave the workspace box.
    #[error("That would take the tool {} past the workspace's {side}, {}. Nothing moved.", distance(*beyond), along(*fraction))]
    OutOfWorkspace {
        /// The face: "top", "bottom", "plus x side", …
        side: &'static str,
        /// How far past it (m).
        beyond: f64,
        /// Where it first leaves, 0 to 1.
        fraction: f64,
    },
    /// The pose is farther than the arm reaches.
    #[error("That is out of reach {}, {} further than the arm reaches. Nothing moved.", along(*fraction), distance(distance_m - reach))]
    OutOfReach {
        /// Distance from the shoulder to the flange point needed (m).
        distance_m: f64,
        /// The arm's reach (m).
        reach: f64,
        /// Where along the path, 0 to 1.
        fraction: f64,
    },
    /// Within reach, but no joint angles give that pose.
    #[error("The arm cannot hold the tool in that pose {}, though it is within reach. Nothing moved.", along(*fraction))]
    CannotHold {
        /// Distance from the shoulder to the flange point needed (m).
        distance_m: f64,
        /// Where along the path, 0 to 1.
        fraction: f64,
    },
    /// A joint would leave its range.
    #[error("That would take the {} {} past its limit of {}, {}. Nothing moved.", joint_label(joint), amount(past(*value, *min, *max), *revolute), amount(nearest(*value, *min, *max), *revolute), along(*fraction))]
    JointLimit {
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        joint: String,
        /// The value needed (rad or m).
        value: f64,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed.
        max: f64,
        /// Whether the joint turns (degrees) or slides (metres).
        revolute: bool,
        /// Where along the path, 0 to 1.
        fraction: f64,
    },
    /// The path passes too near a singularity.
    #[error("That path nears {} {}, where the joints would spin. Nothing moved.", singular(*kind), along(*fraction))]
    Singularity {
        /// "shoulder", "elbow" or "wrist" on a UR arm.
        kind: Option<&'static str>,
        /// The least manipulability on the way.
        manipulability: f64,
        /// The cell's bound.
        bound: f64,
        /// Where it first drops below the bound, 0 to 1.
        fraction: f64,
    },
    /// A straight line that would need the arm to change configuration.
    #[error("That line would flip the arm's {} {}. A joint move can get there. Nothing moved.", what.unwrap_or("configuration"), along(*fraction))]
    Flip {
        /// "shoulder", "elbow" or "wrist" on a UR arm.
        what: Option<&'static str>,
        /// Where, 0 to 1.
        fraction: f64,
    },
    /// The request itself is wrong (a pose, an offset, a speed, no kinematics).
    #[error("{message}. Nothing moved.")]
    Request {
        /// What is wrong, with the value and the limit.
        message: String,
    },
}

impl From<PoseError> for Refusal {
    fn from(e: PoseError) -> Self {
        Self::Request {
            message: pose_error(&e),
        }
    }
}

impl From<RelativeError> for Refusal {
    fn from(e: RelativeError) -> Self {
        Self::Request {
            message: relative_error(&e),
        }
    }
}

impl From<PlanError> for Refusal {
    /// A line that cannot be planned, where no check of the cell says more.
    fn from(e: PlanError) -> Self {
        Self::Request {
            message: plan_error(&e),
        }
    }
}

fn singular(kind: Option<&'static str>) -> String {
    match kind {
        Some(k) => format!("a {k} singularity"),
        None => "a singularity".into(),
    }
}

fn amount(v: f64, revolute: bool) -> String {
    if revolute {
        degrees(v)
    } else {
        distance(v)
    }
}

fn past(v: f64, min: f64, max: f64) -> f64 {
    if v > max {
        v - max
    } else {
        min - v
    }
}

fn nearest(v: f64, min: f64, max: f64) -> f64 {
    if v > max {
        max
    } else {
        min
    }
}

impl Refusal {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IntoZone { .. } => "into_zone",
            Self::OutOfWorkspace { .. } => "out_of_workspace",
            Self::OutOfReach { .. } => "out_of_reach",
            Self::CannotHold { .. } => "cannot_hold_pose",
            Self::JointLimit { .. } => "out_of_range",
            Self::Singularity { .. } => "singularity",
            Self::Flip { .. } => "configuration_flip",
            Self::Request { .. } => "invalid_request",
        }
    }

    /// Where along the path it breaks (0 to 1), if the refusal is about a place.
    pub fn fraction(&self) -> Option<f64> {
        match self {
            Self::IntoZone { fraction, .. }
            | Self::OutOfWorkspace { fraction, .. }
            | Self::OutOfReach { fraction, .. }
            | Self::CannotHold { fraction, .. }
            | Self::JointLimit { fraction, .. }
            | Self::Singularity { fraction, .. }
            | Self::Flip { fraction, .. } => Some(*fraction),
            Self::Request { .. } => None,
        }
    }

    /// The refusal of a solver's answer at `fraction`.
    pub fn of_ik(e: &IkError, kin: &Kinematics, fraction: f64) -> Self {
        match e {
            IkError::Unreachable { distance, reach } if distance > reach => Self::OutOfReach {
                distance_m: *distance,
                reach: *reach,
                fraction,
            },
            IkError::Unreachable { distance, .. } => Self::CannotHold {
                distance_m: *distance,
                fraction,
            },
            IkError::OutsideLimits {
                index,
                name,
                value,
                min,
                max,
            } => Self::JointLimit {
                index: *index,
                joint: name.clone(),
                value: *value,
                min: *min,
                max: *max,
                revolute: kin.is_revolute(index - 1),
                fraction,
            },
        }
    }
}

/// The first place each kind of trouble shows, as the checker walks the path.
#[derive(Default)]
struct Findings {
    zones: Vec<Option<(f64, f64)>>,
    workspace: Option<(f64, f64, &'static str)>,
    limit: Option<Refusal>,
    singular: Option<(f64, Option<&'static str>)>,
    flip: Option<(f64, Option<&'static str>)>,
}

const SIDES: [[&str; 2]; 3] = [
    ["minus x side", "plus x side"],
    ["minus y side", "plus y side"],
    ["bottom", "top"],
];

impl Cell {
    /// Checks a sampled path: `(fraction, joints)` in order along it.
    pub fn check_samples<I>(
        &self,
        kin: &Kinematics,
        joints: &[JointSpec],
        samples: I,
        kind: PathKind,
    ) -> Result<PathReport, Refusal>
    where
        I: IntoIterator<Item = (f64, Joints)>,
    {
        let n_zones = self.planes.len() + self.keep_out.len();
        let mut f = Findings {
            zones: vec![None; n_zones],
            ..Findings::default()
        };
        let (mut count, mut min_w) = (0, f64::INFINITY);
        let mut clearance: Option<(usize, f64)> = None;
        let (mut first_config, mut first_sign) = (None, None);
        // The previous sample's fraction, zone depths and distance past the workspace.
        let mut prev: Option<(f64, Vec<f64>, f64)> = None;
        let mut depth_now = vec![0.0; n_zones];
        for (s, q) in samples {
            count += 1;
            if f.limit.is_none() {
                f.limit = self.limit(kin, joints, &q, s);
            }
            let tool = self.tool.place(&kin.tcp_transform(&q));
            let depths = self
                .planes
                .iter()
                .map(|p| p.depth(&tool))
                .chain(self.keep_out.iter().map(|k| k.zone.depth(&tool)));
            for (i, d) in depths.enumerate() {
                if clearance.is_none_or(|(_, c)| -d < c) {
                    clearance = Some((i, -d));
                }
                if d > 1e-9 {
                    let touch = crossing(prev.as_ref().map(|p| (p.0, p.1[i])), (s, d));
                    let e = f.zones[i].get_or_insert((touch, d));
                    e.1 = e.1.max(d);
                }
                depth_now[i] = d;
            }
            let mut beyond_now = f64::NEG_INFINITY;
            if let Some(w) = &self.workspace {
                let (beyond, axis, high) = w.beyond(&tool);
                beyond_now = beyond;
                if beyond > 1e-9 {
                    let side = SIDES[axis][usize::from(high)];
                    match &mut f.workspace {
                        Some(e) if beyond > e.1 => (e.1, e.2) = (beyond, side),
                        Some(_) => {}
                        None => {
                            let left = crossing(prev.as_ref().map(|p| (p.0, p.2)), (s, beyond));
                            f.workspace = Some((left, beyond, side));
                        }
                    }
                }
            }
            prev = Some((s, depth_now.clone(), beyond_now));
            if kind == PathKind::Joint {
                continue;
            }
            // Only a straight line must mind singularities and flips: a joint move sets the
            // joints' speeds itself, so passing a singularity there is harmless.
            let w = kin.manipulability(&q);
            min_w = min_w.min(w);
            if w < self.min_manipulability && f.singular.is_none() {
                f.singular = Some((s, kin.nearest_singularity(&q)));
            }
            if f.flip.is_none() {
                let config = kin.configuration(&q);
                let sign = kin
                    .jacobian_determinant(&q)
                    .filter(|d| d.abs() > 1e-9)
                    .map(f64::signum);
                let (c0, s0) = (
                    *first_config.get_or_insert(config),
                    *first_sign.get_or_insert(sign),
                );
                if let (Some(a), Some(b)) = (c0, config) {
                    if a != b {
                        f.flip = Some((s, a.first_difference(&b)));
                    }
                } else if let (Some(a), Some(b)) = (s0, sign) {
                    if a != b {
                        f.flip = Some((s, None));
                    }
                }
            }
        }
        if let Some(r) = self.earliest(f, min_w) {
            return Err(r);
        }
        Ok(PathReport {
            samples: count,
            min_clearance: clearance.map(|(i, c)| (self.zone_name(i).to_string(), c)),
            min_manipulability: (kind == PathKind::Linear).then_some(min_w),
        })
    }

    fn zone_name(&self, i: usize) -> &str {
        match self.planes.get(i) {
            Some(p) => &p.name,
            None => &self.keep_out[i - self.planes.len()].name,
        }
    }

    fn limit(&self, kin: &Kinematics, joints: &[JointSpec], q: &Joints, s: f64) -> Option<Refusal> {
        let (i, (v, spec)) = q
            .iter()
            .zip(joints)
            .enumerate()
            .find(|(_, (v, spec))| !v.is_finite() || **v < spec.min || **v > spec.max)?;
        Some(Refusal::JointLimit {
            index: i + 1,
            joint: spec.name.clone(),
            value: *v,
            min: spec.min,
            max: spec.max,
            revolute: kin.is_revolute(i),
            fraction: s,
        })
    }

    /// The refusal that shows first along the path. A flip beats the singularity it
    /// passes through: "use a joint move" is the answer that helps.
    fn earliest(&self, f: Findings, min_w: f64) -> Option<Refusal> {
        let mut all: Vec<Refusal> = Vec::new();
        all.extend(f.limit);
        for (i, z) in f.zones.iter().enumerate() {
            if let Some((s, depth)) = z {
                all.push(Refusal::IntoZone {
                    zone: self.zone_name(i).into(),
                    depth: *depth,
                    fraction: *s,
                });
            }
        }
        if let Some((s, beyond, side)) = f.workspace {
            all.push(Refusal::OutOfWorkspace {
                side,
                beyond,
                fraction: s,
            });
        }
        match (f.flip, f.singular) {
            (Some((s, what)), _) => all.push(Refusal::Flip { what, fraction: s }),
            (None, Some((s, kind))) => all.push(Refusal::Singularity {
                kind,
                manipulability: min_w,
                bound: self.min_manipulability,
                fraction: s,
            }),
            (None, None) => {}
        }
        all.into_iter().min_by(|a, b| {
            a.fraction()
                .unwrap_or(0.0)
                .total_cmp(&b.fraction().unwrap_or(0.0))
        })
    }

    /// Checks a planned straight line.
    pub fn check_linear(
        &self,
        kin: &Kinematics,
        joints: &[JointSpec],
        path: &LinearPath,
    ) -> Result<PathReport, Refusal> {
        self.check_samples(
            kin,
            joints,
            path.samples.iter().map(|p| (p.s, p.joints)),
            PathKind::Linear,
        )
    }

    /// Plans a straight line to `target` and checks it: the path to follow, or why not.
    pub fn plan_linear(
        &self,
        kin: &Kinematics,
        joints: &[JointSpec],
        start: &Joints,
        target: &Isometry3<f64>,
        speed: f64,
        limits: &LinearLimits,
    ) -> Result<(LinearPath, PathReport), Refusal> {
        // The end first: an unreachable target is said as such, not as where the line
        // first leaves the reach.
        if let Err(e) = kin.inverse(target, start, joints) {
            return Err(Refusal::of_ik(&e, kin, 1.0));
        }
        let path = plan_linear(kin, joints, start, target, speed, limits)
            .map_err(|e| self.of_plan(kin, e))?;
        let report = self.check_linear(kin, joints, &path)?;
        Ok((path, report))
    }

    fn of_plan(&self, kin: &Kinematics, e: PlanError) -> Refusal {
        match e {
            PlanError::Unreachable { fraction, source } => Refusal::of_ik(&source, kin, fraction),
            PlanError::Jump {
                fraction, before, ..
            } => {
                // A jump beside a singularity is the singularity; elsewhere, a flip.
                let w = kin.manipulability(&before);
                if w < self.min_manipulability {
                    Refusal::Singularity {
                        kind: kin.nearest_singularity(&before),
                        manipulability: w,
                        bound: self.min_manipulability,
                        fraction,
                    }
                } else {
                    Refusal::Flip {
                        what: None,
                        fraction,
                    }
                }
            }
            PlanError::Curvature { fraction, at, .. } => Refusal::Singularity {
                kind: kin.nearest_singularity(&at),
                manipulability: kin.manipulability(&at),
                bound: self.min_manipulability,
                fraction,
            },
            other => other.into(),
        }
    }

    /// Checks a joint-space move, sampled every [`JOINT_STEP`] of its largest joint.
    pub fn check_joint_plan(
        &self,
        kin: &Kinematics,
        joints: &[JointSpec],
        plan: &Plan,
    ) -> Result<PathReport, Refusal> {
        let span = plan
            .start
            .iter()
            .zip(plan.target.iter())
            .map(|(a, b)| (b - a).abs())
            .fold(0.0, f64::max);
        let n = ((span / JOINT_STEP).ceil() as usize).max(1);
        let samples = (0..=n).map(|k| {
            let s = k as f64 / n as f64;
            (s, plan.joints_at(s, 0.0).0)
        });
        self.check_samples(kin, joints, samples, PathKind::Joint)
    }
}

/// Where a depth crossed zero between the previous sample and this one (linearly), or
/// this sample's fraction if there is no previous one clear of the zone.
fn crossing(prev: Option<(f64, f64)>, now: (f64, f64)) -> f64 {
    match prev {
        Some((s0, d0)) if d0 <= 0.0 && now.1 > d0 => s0 + (now.0 - s0) * (-d0 / (now.1 - d0)),
        _ => now.0,
    }
}
