//! The shapes of the cell and of the tool, and how deep one goes into another.

use nalgebra::{Isometry3, Unit, Vector3};

/// A half-space boundary: the tool must stay on the side its normal points to.
#[derive(Debug, Clone, PartialEq)]
pub struct Plane {
    /// The zone's name, e.g. "table".
    pub name: String,
    /// A point on the plane (base frame, m).
    pub point: Vector3<f64>,
    /// The side the tool must stay on.
    pub normal: Unit<Vector3<f64>>,
}

/// An axis-aligned box in the base frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Aabb {
    /// The lowest corner (m).
    pub min: Vector3<f64>,
    /// The highest corner (m).
    pub max: Vector3<f64>,
}

/// A keep-out box: a fixture, a column, a conveyor.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepOut {
    /// The zone's name.
    pub name: String,
    /// Its extent.
    pub zone: Aabb,
}

/// The tool's volume around the TCP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToolShape {
    /// Just the TCP.
    Point,
    /// A ball of this radius (m) centred on the TCP.
    Sphere {
        /// Radius (m).
        radius: f64,
    },
    /// A capsule from the TCP back along the tool's −z by `length`, of this radius.
    Capsule {
        /// Radius (m).
        radius: f64,
        /// Length of its axis (m).
        length: f64,
    },
}

/// The tool placed in the cell: its axis segment and radius.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    pub(crate) a: Vector3<f64>,
    pub(crate) b: Vector3<f64>,
    pub(crate) radius: f64,
}

impl ToolShape {
    /// The shape at the TCP pose `tcp`.
    pub(crate) fn place(&self, tcp: &Isometry3<f64>) -> Placed {
        let a = tcp.translation.vector;
        match *self {
            Self::Point => Placed {
                a,
                b: a,
                radius: 0.0,
            },
            Self::Sphere { radius } => Placed { a, b: a, radius },
            Self::Capsule { radius, length } => Placed {
                a,
                b: a - tcp.rotation * Vector3::z() * length,
                radius,
            },
        }
    }
}

impl Plane {
    /// How far the tool reaches past the plane (m); ≤ 0 when it is clear.
    pub(crate) fn depth(&self, t: &Placed) -> f64 {
        let h = |p: &Vector3<f64>| self.normal.dot(&(p - self.point));
        t.radius - h(&t.a).min(h(&t.b))
    }
}

impl Aabb {
    /// Signed distance from `p` to the box: negative inside (m).
    fn signed_distance(&self, p: &Vector3<f64>) -> f64 {
        let d = (self.min - p).sup(&(p - self.max));
        let outside = d.map(|v| v.max(0.0)).norm();
        let inside = d.max().min(0.0);
        outside + inside
    }

    /// How far the tool reaches into the box (m); ≤ 0 when it is clear.
    pub(crate) fn depth(&self, t: &Placed) -> f64 {
        // The signed distance of a convex set is convex, and so is it along a segment:
        // a golden-section search finds its minimum.
        let f = |u: f64| self.signed_distance(&(t.a + (t.b - t.a) * u));
        let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
        if (t.b - t.a).norm_squared() > 0.0 {
            let g = (5.0_f64.sqrt() - 1.0) / 2.0;
            for _ in 0..60 {
                let (m1, m2) = (hi - g * (hi - lo), lo + g * (hi - lo));
                if f(m1) <= f(m2) {
                    hi = m2;
                } else {
                    lo = m1;
                }
            }
        }
        let best = f(0.0).min(f(1.0)).min(f((lo + hi) / 2.0));
        t.radius - best
    }

    /// How far the tool reaches out of the box (m) and through which face: axis 0–2 and
    /// whether the high side; ≤ 0 when it is inside.
    pub(crate) fn beyond(&self, t: &Placed) -> (f64, usize, bool) {
        let mut worst = (f64::NEG_INFINITY, 0, false);
        for p in [t.a, t.b] {
            for axis in 0..3 {
                for (over, high) in [
                    (p[axis] + t.radius - self.max[axis], true),
                    (self.min[axis] - (p[axis] - t.radius), false),
                ] {
                    if over > worst.0 {
                        worst = (over, axis, high);
                    }
                }
            }
        }
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(a: [f64; 3], b: [f64; 3], radius: f64) -> Placed {
        Placed {
            a: Vector3::from(a),
            b: Vector3::from(b),
            radius,
        }
    }

    #[test]
    fn depths_into_a_plane_and_a_box() {
        let table = Plane {
            name: "table".into(),
            point: Vector3::zeros(),
            normal: Vector3::z_axis(),
        };
        assert!(
            (table.depth(&placed([0.0, 0.0, 0.01], [0.0, 0.0, 0.2], 0.04)) - 0.03).abs() < 1e-12
        );
        assert!(table.depth(&placed([0.0, 0.0, 0.05], [0.0, 0.0, 0.2], 0.04)) < 0.0);
        let b = Aabb {
            min: Vector3::new(0.0, 0.0, 0.0),
            max: Vector3::new(1.0, 1.0, 1.0),
        };
        // A capsule whose axis passes 5 cm beside an edge, radius 8 cm: 3 cm in.
        let d = b.depth(&placed([1.05, -1.0, 0.5], [1.05, 2.0, 0.5], 0.08));
        assert!((d - 0.03).abs() < 1e-9, "{d}");
        // A point 2 cm inside the nearest face.
        assert!((b.depth(&placed([0.5, 0.98, 0.5], [0.5, 0.98, 0.5], 0.0)) - 0.02).abs() < 1e-12);
        let (over, axis, high) = b.beyond(&placed([0.5, 0.5, 1.1], [0.5, 0.5, 0.9], 0.0));
        assert!((over - 0.1).abs() < 1e-12 && axis == 2 && high);
    }
}
