//! The joint dynamics of the simulated arm.

use crate::faults::FaultPlan;

/// Limits of one joint, in SI units (rad, rad/s, rad/s²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointLimit {
    /// Lowest allowed position.
    pub min: f64,
    /// Highest allowed position.
    pub max: f64,
    /// Largest speed the drive reaches.
    pub max_velocity: f64,
    /// Largest acceleration the drive reaches.
    pub max_acceleration: f64,
}

/// The arm's operating mode, as a controller would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimMode {
    /// Powered and following commands.
    Running,
    /// Braked after a protective stop; ignores commands until reset.
    ProtectiveStop,
}

/// What the arm reports about itself.
#[derive(Debug, Clone, Copy)]
pub struct ModelState<'a> {
    /// Model time at which this state was sampled, in seconds.
    pub sampled_at_s: f64,
    /// Joint positions (rad).
    pub positions: &'a [f64],
    /// Joint velocities (rad/s).
    pub velocities: &'a [f64],
    /// Operating mode.
    pub mode: SimMode,
    /// Whether a joint is stalled (reported as a drive fault).
    pub stalled_joint: Option<usize>,
}

/// Proportional gain of the servo that pulls a joint onto its setpoint, in 1/s.
const TRACKING_GAIN: f64 = 40.0;

/// A simulated arm. All buffers are allocated in [`ArmModel::new`]; stepping allocates nothing.
#[derive(Debug, Clone)]
pub struct ArmModel {
    limits: Vec<JointLimit>,
    positions: Vec<f64>,
    velocities: Vec<f64>,
    setpoint: Vec<f64>,
    feed_forward: Vec<f64>,
    /// Per-joint fraction of the limits in force (synchronized moves slow the shorter joints).
    scale: Vec<f64>,
    braking: bool,
    time_s: f64,
    mode: SimMode,
    faults: FaultPlan,
    frozen: Option<(f64, Vec<f64>, Vec<f64>)>,
}

impl ArmModel {
    /// A model at rest at `initial`, one entry per joint in `limits`.
    ///
    /// Positions outside the limits are clamped into them.
    pub fn new(limits: Vec<JointLimit>, initial: &[f64], faults: FaultPlan) -> Self {
        let n = limits.len();
        let positions: Vec<f64> = (0..n)
            .map(|i| {
                initial
                    .get(i)
                    .copied()
                    .unwrap_or(0.0)
                    .clamp(limits[i].min, limits[i].max)
            })
            .collect();
        Self {
            setpoint: positions.clone(),
            feed_forward: vec![0.0; n],
            scale: vec![1.0; n],
            braking: false,
            velocities: vec![0.0; n],
            positions,
            limits,
            time_s: 0.0,
            mode: SimMode::Running,
            faults,
            frozen: None,
        }
    }

    /// Number of joints.
    pub fn joint_count(&self) -> usize {
        self.limits.len()
    }

    /// Model time in seconds since start.
    pub fn time_s(&self) -> f64 {
        self.time_s
    }

    /// Commands a position setpoint with a velocity feed-forward, both one per joint.
    ///
    /// Extra entries are ignored and missing ones keep their previous value, so a short
    /// slice can never make a joint jump.
    pub fn command(&mut self, positions: &[f64], velocities: &[f64]) {
        self.scale.iter_mut().for_each(|s| *s = 1.0);
        self.braking = false;
        for (i, limit) in self.limits.iter().enumerate() {
            if let Some(p) = positions.get(i).filter(|p| p.is_finite()) {
                self.setpoint[i] = p.clamp(limit.min, limit.max);
            }
            if let Some(v) = velocities.get(i).filter(|v| v.is_finite()) {
                self.feed_forward[i] = v.clamp(-limit.max_velocity, limit.max_velocity);
            }
        }
    }

    /// A joint move the way a controller's `movej` does it: to `target` at `speed` (a
    /// fraction of the limits), every joint scaled so that all arrive together.
    pub fn move_to(&mut self, target: &[f64], speed: f64) {
        let speed = if speed.is_finite() {
            speed.clamp(0.001, 1.0)
        } else {
            0.001
        };
        self.command(target, &[]);
        self.feed_forward.iter_mut().for_each(|v| *v = 0.0);
        let time =
            |i: usize| (self.setpoint[i] - self.positions[i]).abs() / self.limits[i].max_velocity;
        let lead = (0..self.limits.len()).map(time).fold(0.0, f64::max);
        for i in 0..self.limits.len() {
            self.scale[i] = if lead > 0.0 {
                speed * time(i) / lead
            } else {
                speed
            };
        }
    }

    /// Decelerates every joint to a standstill at its acceleration limit, then holds.
    pub fn brake(&mut self) {
        self.braking = true;
        self.scale.iter_mut().for_each(|s| *s = 1.0);
    }

    /// Whether every joint is at its setpoint and still (within `tolerance` rad).
    pub fn settled(&self, tolerance: f64) -> bool {
        (0..self.limits.len()).all(|i| {
            (self.positions[i] - self.setpoint[i]).abs() <= tolerance
                && self.velocities[i].abs() < 1e-3
        })
    }

    /// Whether the arm is in protective stop.
    pub fn protective_stopped(&self) -> bool {
        self.mode == SimMode::ProtectiveStop
    }

    /// Enters protective stop now (as a collision would).
    pub fn protective_stop(&mut self) {
        self.mode = SimMode::ProtectiveStop;
    }

    /// Holds every joint where it is now (velocity feed-forward cleared).
    pub fn hold(&mut self) {
        self.setpoint.copy_from_slice(&self.positions);
        self.feed_forward.iter_mut().for_each(|v| *v = 0.0);
    }

    /// Clears a protective stop, as an operator would on the teach pendant.
    pub fn reset_protective_stop(&mut self) {
        self.mode = SimMode::Running;
        self.faults.protective_stop_at_s = None;
        self.hold();
    }

    /// Advances the model by `dt` seconds.
    pub fn step(&mut self, dt: f64) {
        if !(dt.is_finite() && dt > 0.0) {
            return;
        }
        self.time_s += dt;
        if self.mode == SimMode::Running
            && FaultPlan::fired(self.faults.protective_stop_at_s, self.time_s)
        {
            self.mode = SimMode::ProtectiveStop;
        }
        let stalled = self.stalled_joint();
        if self.braking && self.velocities.iter().all(|v| *v == 0.0) {
            self.braking = false;
            self.hold();
        }
        for i in 0..self.limits.len() {
            let limit = JointLimit {
                max_velocity: self.limits[i].max_velocity * self.scale[i].max(1e-6),
                max_acceleration: self.limits[i].max_acceleration * self.scale[i].max(1e-6),
                ..self.limits[i]
            };
            let v_now = self.velocities[i];
            let v_wanted = match self.mode {
                _ if stalled == Some(i) => {
                    self.velocities[i] = 0.0;
                    continue;
                }
                SimMode::ProtectiveStop => 0.0,
                SimMode::Running if self.braking => 0.0,
                SimMode::Running => {
                    // Never faster than a speed from which the joint can still brake in time.
                    let error = self.setpoint[i] - self.positions[i];
                    let braking = (2.0 * limit.max_acceleration * error.abs()).sqrt();
                    self.feed_forward[i]
                        + error.signum() * (TRACKING_GAIN * error.abs()).min(braking)
                }
            };
            let dv_max = limit.max_acceleration * dt;
            let v = v_wanted
                .clamp(-limit.max_velocity, limit.max_velocity)
                .clamp(v_now - dv_max, v_now + dv_max);
            let p = self.positions[i] + 0.5 * (v_now + v) * dt;
            // A hard stop at the mechanical range, as the real joint has.
            if p <= limit.min || p >= limit.max {
                self.positions[i] = p.clamp(limit.min, limit.max);
                self.velocities[i] = 0.0;
            } else {
                self.positions[i] = p;
                self.velocities[i] = v;
            }
        }
        if self.frozen.is_none() && FaultPlan::fired(self.faults.freeze_state_at_s, self.time_s) {
            // Allocates once, when the fault fires; never in the steady state.
            self.frozen = Some((self.time_s, self.positions.clone(), self.velocities.clone()));
        }
    }

    fn stalled_joint(&self) -> Option<usize> {
        self.faults
            .stall
            .filter(|s| s.joint < self.limits.len() && self.time_s >= s.at_s)
            .map(|s| s.joint)
    }

    /// What the arm reports; after a freeze fault, the last state before it.
    pub fn state(&self) -> ModelState<'_> {
        let (sampled_at_s, positions, velocities) = match &self.frozen {
            Some((t, p, v)) => (*t, p.as_slice(), v.as_slice()),
            None => (
                self.time_s,
                self.positions.as_slice(),
                self.velocities.as_slice(),
            ),
        };
        ModelState {
            sampled_at_s,
            positions,
            velocities,
            mode: self.mode,
            stalled_joint: self.stalled_joint(),
        }
    }

    /// The true joint positions, even while the reported state is frozen.
    pub fn true_positions(&self) -> &[f64] {
        &self.positions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StallFault;

    fn limits(n: usize) -> Vec<JointLimit> {
        vec![
            JointLimit {
                min: -6.0,
                max: 6.0,
                max_velocity: 1.0,
                max_acceleration: 2.0
            };
            n
        ]
    }

    fn run(model: &mut ArmModel, seconds: f64) -> (f64, f64) {
        let (mut peak_v, mut peak_a) = (0.0_f64, 0.0_f64);
        let dt = 0.002;
        for _ in 0..(seconds / dt) as usize {
            let before = model.state().velocities[0];
            model.step(dt);
            let after = model.state().velocities[0];
            peak_v = peak_v.max(after.abs());
            peak_a = peak_a.max(((after - before) / dt).abs());
        }
        (peak_v, peak_a)
    }

    #[test]
    fn a_step_command_is_tracked_within_limits() {
        let mut m = ArmModel::new(limits(2), &[0.0, 0.0], FaultPlan::default());
        m.command(&[2.0, -1.0], &[0.0, 0.0]);
        let (peak_v, peak_a) = run(&mut m, 5.0);
        assert!(peak_v <= 1.0 + 1e-9, "velocity {peak_v} over limit 1.0");
        assert!(peak_a <= 2.0 + 1e-6, "acceleration {peak_a} over limit 2.0");
        assert!((m.state().positions[0] - 2.0).abs() < 1e-3);
        assert!((m.state().positions[1] + 1.0).abs() < 1e-3);
    }

    #[test]
    fn move_to_synchronizes_the_joints_and_brake_stops_them() {
        let mut m = ArmModel::new(limits(2), &[0.0, 0.0], FaultPlan::default());
        m.move_to(&[2.0, 0.5], 1.0);
        let mut arrived = [None, None];
        for k in 0..3000 {
            m.step(0.002);
            for (j, slot) in arrived.iter_mut().enumerate() {
                let goal = [2.0, 0.5][j];
                if slot.is_none() && (m.state().positions[j] - goal).abs() < 1e-3 {
                    *slot = Some(k);
                }
            }
        }
        let (a, b) = (arrived[0].unwrap() as i64, arrived[1].unwrap() as i64);
        assert!(
            (a - b).abs() <= 25,
            "joint 1 arrived at step {a}, joint 2 at {b}"
        );
        m.move_to(&[-2.0, 0.5], 1.0);
        run(&mut m, 1.0);
        m.brake();
        run(&mut m, 1.0);
        assert!(m.settled(1e-9), "still moving after a brake");
        assert!(m.state().positions[0] > -2.0 + 0.1);
    }

    #[test]
    fn the_model_is_deterministic() {
        let mut a = ArmModel::new(limits(3), &[0.1, 0.2, 0.3], FaultPlan::default());
        let mut b = a.clone();
        for m in [&mut a, &mut b] {
            m.command(&[1.0, -1.0, 0.5], &[0.0; 3]);
            run(m, 1.3);
        }
        assert_eq!(a.state().positions, b.state().positions);
    }

    #[test]
    fn protective_stop_brakes_and_ignores_commands() {
        let faults = FaultPlan {
            protective_stop_at_s: Some(0.5),
            ..Default::default()
        };
        let mut m = ArmModel::new(limits(1), &[0.0], faults);
        m.command(&[5.0], &[0.0]);
        run(&mut m, 2.0);
        assert_eq!(m.state().mode, SimMode::ProtectiveStop);
        assert_eq!(m.state().velocities[0], 0.0);
        let p = m.state().positions[0];
        assert!(p > 0.0 && p < 5.0, "stopped part-way, at {p}");
    }

    #[test]
    fn frozen_state_keeps_its_sample_time() {
        let faults = FaultPlan {
            freeze_state_at_s: Some(0.2),
            ..Default::default()
        };
        let mut m = ArmModel::new(limits(1), &[0.0], faults);
        m.command(&[3.0], &[0.0]);
        run(&mut m, 1.0);
        let s = m.state();
        assert!((s.sampled_at_s - 0.2).abs() < 0.01);
        assert!(s.positions[0] < m.true_positions()[0]);
    }

    #[test]
    fn a_stalled_joint_does_not_move() {
        let faults = FaultPlan {
            stall: Some(StallFault {
                joint: 1,
                at_s: 0.0,
            }),
            ..Default::default()
        };
        let mut m = ArmModel::new(limits(2), &[0.0, 0.0], faults);
        m.command(&[1.0, 1.0], &[0.0, 0.0]);
        run(&mut m, 3.0);
        assert_eq!(m.state().positions[1], 0.0);
        assert_eq!(m.state().stalled_joint, Some(1));
        assert!((m.state().positions[0] - 1.0).abs() < 1e-3);
    }
}
