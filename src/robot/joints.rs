//! A fixed-capacity joint vector, so the real-time cycle never allocates.

use std::ops::{Deref, DerefMut};

/// The most joints a robot may have.
pub const MAX_JOINTS: usize = 8;

/// Up to [`MAX_JOINTS`] values, one per joint; `Copy`, no heap.
#[derive(Clone, Copy, PartialEq)]
pub struct Joints {
    len: u8,
    values: [f64; MAX_JOINTS],
}

impl Joints {
    /// `n` zeros (`n` is capped at [`MAX_JOINTS`]).
    pub fn zeros(n: usize) -> Self {
        Self {
            len: n.min(MAX_JOINTS) as u8,
            values: [0.0; MAX_JOINTS],
        }
    }

    /// A copy of `values`, or `None` if there are more than [`MAX_JOINTS`].
    pub fn from_slice(values: &[f64]) -> Option<Self> {
        if values.len() > MAX_JOINTS {
            return None;
        }
        let mut j = Self::zeros(values.len());
        j.values[..values.len()].copy_from_slice(values);
        Some(j)
    }

    /// Largest absolute value.
    pub fn max_abs(&self) -> f64 {
        self.iter().fold(0.0, |m, v| m.max(v.abs()))
    }
}

impl Deref for Joints {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        &self.values[..self.len as usize]
    }
}

impl DerefMut for Joints {
    fn deref_mut(&mut self) -> &mut [f64] {
        &mut self.values[..self.len as usize]
    }
}

impl std::fmt::Debug for Joints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
