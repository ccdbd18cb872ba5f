//! The checks of the steps that move in space or drive the I/O: poses (UR's rotation
//! vector, roll/pitch/yaw, or a named position moved), relative offsets, and the named
//! outputs and inputs.

use toml::Spanned;

use super::check::{Checker, Names};
use super::expr::Linear;
use super::raw::{ExprSrc, RawPose, RawRelative};
use super::PoseDef;
use crate::robot::linear::Frame;
use crate::robot::MAX_POSE_DISTANCE;

impl Checker<'_> {
    /// A declared output or input `name`, and its `value` (true or false).
    pub(super) fn channel(
        &mut self,
        name: &Spanned<String>,
        known: &str,
        what: &str,
        value: Option<&Spanned<toml::Value>>,
    ) -> Option<(String, bool)> {
        let n = name.get_ref();
        let list = if what == "output" {
            &self.robot.io.outputs
        } else {
            &self.robot.io.inputs
        };
        if !list.iter().any(|c| &c.name == n) {
            let known = if known.is_empty() { "none" } else { known };
            self.error(
                name.span().start,
                format!(
                    "unknown {what} \"{n}\": the robot file {} declares {known}",
                    self.robot.source
                ),
            );
            return None;
        }
        match value.map(|v| (v.span().start, v.get_ref())) {
            Some((_, toml::Value::Boolean(b))) => Some((n.clone(), *b)),
            Some((at, other)) => {
                self.error(
                    at,
                    format!(
                        "value of {what} \"{n}\" must be true or false, not {}",
                        other.type_str()
                    ),
                );
                None
            }
            None => {
                self.error(
                    name.span().start,
                    format!("{what} \"{n}\" needs value = true or false"),
                );
                None
            }
        }
    }

    pub(super) fn pose(&mut self, p: &Spanned<RawPose>, scope: &Names) -> Option<PoseDef> {
        let r = p.get_ref();
        let at = p.span().start;
        // Reads one value and checks it stays in `range` for every allowed parameter value.
        let one = |this: &mut Self,
                   v: &Option<Spanned<ExprSrc>>,
                   key: &str,
                   range: (f64, f64),
                   need: bool|
         -> Option<Option<Linear>> {
            match v {
                Some(v) => {
                    let e = this.expr(v, scope)?;
                    this.within(v.span().start, &e, scope, range, key)?;
                    Some(Some(e))
                }
                None if need => {
                    this.error(at, format!("move_linear needs {key}"));
                    None
                }
                None => Some(None),
            }
        };
        let far = (-MAX_POSE_DISTANCE, MAX_POSE_DISTANCE);
        if let Some(from) = &r.from {
            if let Some(k) = [
                ("x", &r.x),
                ("y", &r.y),
                ("z", &r.z),
                ("rx", &r.rx),
                ("ry", &r.ry),
                ("rz", &r.rz),
                ("roll", &r.roll),
                ("pitch", &r.pitch),
                ("yaw", &r.yaw),
            ]
            .into_iter()
            .find_map(|(k, v)| v.as_ref().map(|v| (k, v.span().start)))
            {
                self.error(k.1, format!("\"{}\" does not go with from: a pose from a position is moved by dx, dy and dz", k.0));
                return None;
            }
            let joints = self.position(from)?;
            let Some(kin) = &self.robot.kinematics else {
                self.error(from.span().start, format!("a pose from a position needs the robot's kinematics; the robot file {} gives none", self.robot.source));
                return None;
            };
            let base = kin.forward(&joints);
            let dx = one(self, &r.dx, "dx (m)", far, false)?.unwrap_or(Linear::constant(0.0));
            let dy = one(self, &r.dy, "dy (m)", far, false)?.unwrap_or(Linear::constant(0.0));
            let dz = one(self, &r.dz, "dz (m)", far, false)?.unwrap_or(Linear::constant(0.0));
            return Some(PoseDef::From {
                base,
                offset: [dx, dy, dz],
            });
        }
        if let Some(k) = [("dx", &r.dx), ("dy", &r.dy), ("dz", &r.dz)]
            .into_iter()
            .find_map(|(k, v)| v.as_ref().map(|v| (k, v.span().start)))
        {
            self.error(
                k.1,
                format!(
                    "\"{}\" goes with from = \"<position>\"; a pose of its own gives x, y and z",
                    k.0
                ),
            );
            return None;
        }
        let x = one(self, &r.x, "x (m)", far, true)??;
        let y = one(self, &r.y, "y (m)", far, true)??;
        let z = one(self, &r.z, "z (m)", far, true)??;
        let vector = [&r.rx, &r.ry, &r.rz].iter().any(|v| v.is_some());
        let rpy = [&r.roll, &r.pitch, &r.yaw].iter().any(|v| v.is_some());
        match (vector, rpy) {
            (true, false) => {
                let mut rot = vec![];
                // A rotation vector beyond a full turn is degrees given as radians.
                let turn = (-std::f64::consts::TAU, std::f64::consts::TAU);
                for (k, v) in [
                    ("rx (rad)", &r.rx),
                    ("ry (rad)", &r.ry),
                    ("rz (rad)", &r.rz),
                ] {
                    rot.push(one(self, v, k, turn, true)??);
                }
                let [rx, ry, rz] = <[Linear; 3]>::try_from(rot).ok()?;
                Some(PoseDef::Vector([x, y, z, rx, ry, rz]))
            }
            (false, true) => {
                let mut rot = vec![];
                let turn = (-360.0, 360.0);
                for (k, v) in [
                    ("roll (degrees)", &r.roll),
                    ("pitch (degrees)", &r.pitch),
                    ("yaw (degrees)", &r.yaw),
                ] {
                    rot.push(one(self, v, k, turn, true)??);
                }
                let [roll, pitch, yaw] = <[Linear; 3]>::try_from(rot).ok()?;
                Some(PoseDef::Rpy([x, y, z, roll, pitch, yaw]))
            }
            (true, true) => {
                self.error(at, "move_linear takes either rx, ry, rz (a rotation vector, rad) or roll, pitch, yaw (degrees), not both".into());
                None
            }
            (false, false) => {
                self.error(at, "move_linear needs an orientation: rx, ry, rz (a rotation vector, rad) or roll, pitch, yaw (degrees)".into());
                None
            }
        }
    }

    pub(super) fn relative(
        &mut self,
        r: &Spanned<RawRelative>,
        scope: &Names,
    ) -> Option<([Linear; 6], Frame)> {
        let raw = r.get_ref();
        let frame = match &raw.frame {
            None => Frame::Base,
            Some(f) => match Frame::parse(f.get_ref()) {
                Ok(frame) => frame,
                Err(e) => {
                    self.error(f.span().start, e.to_string());
                    return None;
                }
            },
        };
        let reach = self
            .robot
            .kinematics
            .as_ref()
            .map_or(MAX_POSE_DISTANCE, |k| 2.0 * k.reach().1);
        let mut out = vec![];
        for (k, v, limit, unit) in [
            ("dx", &raw.dx, reach, "m"),
            ("dy", &raw.dy, reach, "m"),
            ("dz", &raw.dz, reach, "m"),
            ("rx", &raw.rx, 360.0, "degrees"),
            ("ry", &raw.ry, 360.0, "degrees"),
            ("rz", &raw.rz, 360.0, "degrees"),
        ] {
            let e = match v {
                None => Linear::constant(0.0),
                Some(v) => {
                    let e = self.expr(v, scope)?;
                    self.within(
                        v.span().start,
                        &e,
                        scope,
                        (-limit, limit),
                        &format!("{k} ({unit})"),
                    )?;
                    e
                }
            };
            out.push(e);
        }
        let offset = <[Linear; 6]>::try_from(out).ok()?;
        Some((offset, frame))
    }
}
