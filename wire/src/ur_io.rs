//! UR's Modbus server: the digital I/O registers (from UR's published server map), and how
//! a gripper's finger gap is published in a general-purpose register.
//!
//! Register 0 holds the inputs and register 1 the outputs, one bit per channel: bits 0–7
//! are the control box's standard digital channels, bits 8–9 the tool's. Writing register 2
//! sets the output bits given in its mask, writing register 3 clears them, so one output
//! changes without reading and writing back the others.

/// Input bits (read only).
pub const INPUT_BITS: u16 = 0;
/// Output bits (read; a write sets all of them).
pub const OUTPUT_BITS: u16 = 1;
/// Writing a mask here switches those outputs on.
pub const SET_OUTPUTS: u16 = 2;
/// Writing a mask here switches those outputs off.
pub const CLEAR_OUTPUTS: u16 = 3;
/// Channels the two bit registers hold: 8 standard and 2 tool channels.
pub const CHANNELS: u16 = 10;

/// A finger gap (m) as the register holds it: tenths of a millimetre, 0 to 6.5535 m.
pub fn encode_width(m: f64) -> u16 {
    (m * 10_000.0).round().clamp(0.0, f64::from(u16::MAX)) as u16
}

/// A register's finger gap (tenths of a millimetre) in metres.
pub fn decode_width(register: u16) -> f64 {
    f64::from(register) / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_width_goes_through_a_register_to_a_tenth_of_a_millimetre() {
        assert_eq!(encode_width(0.085), 850);
        assert_eq!(decode_width(encode_width(0.03)), 0.03);
        assert_eq!(encode_width(-1.0), 0);
        assert_eq!(encode_width(f64::NAN), 0);
    }
}
