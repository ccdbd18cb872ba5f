use nalgebra::Isometry3;

use super::*;
use crate::robot::linear::{Frame, LinearLimits, RelativeMove};
use crate::robot::{Joints, Kinematics, Plan, RobotDefinition, BUILTIN_UR5E};

const CELL: &str = r#"
[cell]
name = "bench"
min_manipulability = 0.005

[cell.tool]
shape = "capsule"
radius = 0.03
length = 0.12

[[cell.planes]]
name = "table"
z = -0.05

[cell.workspace]
min = [-1.0, -1.0, -0.1]
max = [1.0, 1.0, 1.2]

[[cell.keep_out]]
name = "fixture"
min = [-0.9, -0.3, -0.1]
max = [-0.7, 0.1, 0.3]
"#;

fn ur5e() -> RobotDefinition {
    RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap()
}

fn ready(r: &RobotDefinition) -> Joints {
    Joints::from_slice(&r.positions["ready"]).unwrap()
}

/// A cell with one plane `gap` metres below the TCP at `ready`, and a point tool.
fn table_below(r: &RobotDefinition, gap: f64) -> Cell {
    let z = r.kinematics.as_ref().unwrap().forward(&ready(r)).z - gap;
    let text = format!("[cell]\n[[cell.planes]]\nname = \"table\"\nz = {z}\n");
    Cell::parse(&text, "cell.toml").unwrap().unwrap()
}

fn line(
    cell: &Cell,
    r: &RobotDefinition,
    start: &Joints,
    m: RelativeMove,
) -> Result<PathReport, Refusal> {
    let kin = r.kinematics.as_ref().unwrap();
    let target = m.target(&kin.tcp_transform(start));
    line_to(cell, kin, r, start, &target)
}

fn line_to(
    cell: &Cell,
    kin: &Kinematics,
    r: &RobotDefinition,
    start: &Joints,
    target: &Isometry3<f64>,
) -> Result<PathReport, Refusal> {
    cell.plan_linear(kin, &r.joints, start, target, 0.5, &LinearLimits::default())
        .map(|(_, report)| report)
}

fn down(dz: f64) -> RelativeMove {
    RelativeMove::translation(0.0, 0.0, -dz, Frame::Base)
}

#[test]
fn a_cell_loads_from_its_own_file_or_the_robot_file() {
    let cell = Cell::parse(CELL, "cells/bench.toml").unwrap().unwrap();
    assert_eq!(cell.name.as_deref(), Some("bench"));
    assert_eq!(
        cell.tool,
        ToolShape::Capsule {
            radius: 0.03,
            length: 0.12
        }
    );
    assert_eq!(cell.planes[0].name, "table");
    assert_eq!(cell.keep_out[0].name, "fixture");
    let text = format!("{BUILTIN_UR5E}\n{CELL}");
    let robot = RobotDefinition::parse(&text, "robots/ur5e.toml").unwrap();
    let from_robot = Cell::of_robot(&robot).unwrap();
    assert_eq!(from_robot.planes, cell.planes);
    assert_eq!(from_robot.source, "robots/ur5e.toml");
    // No [cell]: an open cell, still checked for reach, limits, singularities and flips.
    assert!(Cell::of_robot(&ur5e()).unwrap().planes.is_empty());
}

#[test]
fn cell_errors_name_the_file_the_field_and_its_line() {
    let bad = CELL.replace("max = [-0.7, 0.1, 0.3]", "max = [-0.95, 0.1, 0.3]");
    assert_eq!(
        Cell::parse(&bad, "cells/bench.toml")
            .unwrap_err()
            .to_string(),
        "cell cells/bench.toml: cell.keep_out[0].min (line 21): x min -0.9 m must be below max -0.95 m"
    );
    let bad = CELL.replace("shape = \"capsule\"", "shape = \"cone\"");
    assert_eq!(
        Cell::parse(&bad, "c.toml").unwrap_err().to_string(),
        "cell c.toml: cell.tool.shape (line 7): \"cone\" is not a shape; use point, sphere or capsule"
    );
    let bad = CELL.replace("name = \"fixture\"", "name = \"table\"");
    assert_eq!(
        Cell::parse(&bad, "c.toml").unwrap_err().to_string(),
        "cell c.toml: cell.keep_out[0].name (line 20): \"table\" is used twice"
    );
    let bad = CELL.replace("radius = 0.03", "radius = 30");
    assert_eq!(
        Cell::parse(&bad, "c.toml").unwrap_err().to_string(),
        "cell c.toml: cell.tool.radius (line 8): 30 m is outside (0, 5] m"
    );
    let bad = CELL.replace("z = -0.05", "normal = [0.0, 0.0, 1.0]");
    assert_eq!(
        Cell::parse(&bad, "c.toml").unwrap_err().to_string(),
        "cell c.toml: cell.planes[0].z (line 12): give either z (a height) or point"
    );
    let err = Cell::parse("[cell]\nwalls = 3\n", "c.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cell c.toml: TOML parse error at line 2"),
        "{err}"
    );
}

#[test]
fn into_the_table_names_the_zone_the_depth_and_where() {
    let r = ur5e();
    // The table 2 cm under the TCP and a 5 cm move down: it touches 40 % of the way and
    // would end 3 cm in.
    let e = line(&table_below(&r, 0.02), &r, &ready(&r), down(0.05)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "That would take the tool 3 centimetres into the table, 40 percent along. Nothing moved."
    );
    // Stopping short of it passes, and says how close it came.
    let ok = line(&table_below(&r, 0.02), &r, &ready(&r), down(0.015)).unwrap();
    let (zone, clearance) = ok.min_clearance.unwrap();
    assert_eq!(zone, "table");
    assert!((clearance - 0.005).abs() < 1e-6, "{clearance}");
}

#[test]
fn the_tools_volume_counts() {
    let r = ur5e();
    let mut cell = table_below(&r, 0.05);
    assert!(line(&cell, &r, &ready(&r), down(0.03)).is_ok());
    cell.tool = ToolShape::Sphere { radius: 0.04 };
    let e = line(&cell, &r, &ready(&r), down(0.03)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "That would take the tool 2 centimetres into the table, 33 percent along. Nothing moved."
    );
}

#[test]
fn into_a_keep_out_box() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let at = kin.forward(&ready(&r));
    // A fixture 10 to 30 cm along +y from the TCP, straddling its height.
    let text = format!(
        "[cell]\n[[cell.keep_out]]\nname = \"fixture_a\"\nmin = [{}, {}, {}]\nmax = [{}, {}, {}]\n",
        at.x - 0.1,
        at.y + 0.1,
        at.z - 0.1,
        at.x + 0.1,
        at.y + 0.3,
        at.z + 0.1
    );
    let cell = Cell::parse(&text, "c.toml").unwrap().unwrap();
    let e = line(
        &cell,
        &r,
        &ready(&r),
        RelativeMove::translation(0.0, 0.2, 0.0, Frame::Base),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "That would take the tool 10 centimetres into the fixture a, 50 percent along. Nothing moved."
    );
}

#[test]
fn out_of_the_workspace() {
    let r = ur5e();
    let cell = Cell::parse(&CELL.replace("1.2]", "0.7]"), "c.toml")
        .unwrap()
        .unwrap();
    // At `ready` the TCP is 0.488 m up with the tool pointing down: the capsule reaches
    // 0.12 + 0.03 m above it, 0.062 m under the 0.7 m top. 20 cm up leaves by 13.8 cm.
    let e = line(&cell, &r, &ready(&r), down(-0.2)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "That would take the tool 14 centimetres past the workspace's top, 31 percent along. Nothing moved."
    );
}

#[test]
fn out_of_reach_says_by_how_much() {
    let r = ur5e();
    let e = line(
        &Cell::open("c"),
        &r,
        &ready(&r),
        RelativeMove::translation(-0.5, 0.0, 0.0, Frame::Base),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "That is out of reach at the end, 8 centimetres further than the arm reaches. Nothing moved."
    );
}

#[test]
fn through_a_wrist_singularity() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    // Wrist 2 from +0.3 to -0.3 rad: the straight line between the two poses passes
    // where the wrist's axes align.
    let a = Joints::from_slice(&[0.0, -1.2, 1.5, -1.9, 0.3, 0.0]).unwrap();
    let b = kin.tcp_transform(&[0.0, -1.2, 1.5, -1.9, -0.3, 0.0]);
    let e = line_to(&Cell::open("c"), kin, &r, &a, &b).unwrap_err();
    assert!(
        matches!(
            e,
            Refusal::Singularity {
                kind: Some("wrist"),
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("That path nears a wrist singularity "),
        "{e}"
    );
}

#[test]
fn a_line_that_needs_a_flip() {
    let r = ur5e();
    // Half a metre along +x from `ready` takes the wrist across the base's axis: the
    // shoulder would have to swap sides.
    let e = line(
        &Cell::open("c"),
        &r,
        &ready(&r),
        RelativeMove::translation(0.5, 0.0, 0.0, Frame::Base),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            Refusal::Flip {
                what: Some("shoulder"),
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("That line would flip the arm's shoulder "),
        "{e}"
    );
}

#[test]
fn a_joint_limit_on_the_way() {
    let mut r = ur5e();
    // The shoulder pan may turn only ±0.3 rad: a line sweeping sideways needs more.
    r.joints[0].min = -0.3;
    r.joints[0].max = 0.3;
    let e = line(
        &Cell::open("c"),
        &r,
        &ready(&r),
        RelativeMove::translation(0.0, 0.5, 0.0, Frame::Base),
    )
    .unwrap_err();
    assert!(matches!(e, Refusal::JointLimit { index: 1, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "That would take the shoulder pan 32 degrees past its limit of minus 17 degrees, at the end. Nothing moved."
    );
}

#[test]
fn a_joint_move_is_checked_against_the_zones_too() {
    let r = ur5e();
    let cell = table_below(&r, 0.1);
    let start = ready(&r);
    let mut target = start;
    // Lifting the shoulder lowers the whole arm onto the table.
    target[1] += 0.4;
    let plan = Plan::new(&r.joints, start, target, 0.5);
    let e = cell
        .check_joint_plan(r.kinematics.as_ref().unwrap(), &r.joints, &plan)
        .unwrap_err();
    assert!(
        matches!(e, Refusal::IntoZone { ref zone, .. } if zone == "table"),
        "{e}"
    );
    // A joint move may start at a singularity (home is the stretched arm) and change
    // configuration: only a straight line may not.
    let home = Joints::from_slice(r.home()).unwrap();
    let plan = Plan::new(&r.joints, home, start, 0.5);
    let report = Cell::open("c")
        .check_joint_plan(r.kinematics.as_ref().unwrap(), &r.joints, &plan)
        .unwrap();
    assert!(report.samples > 100 && report.min_manipulability.is_none());
}

#[test]
fn bad_requests_are_refused_with_the_value_and_the_limit() {
    use crate::robot::TcpPose;
    let pose = TcpPose::from_array([0.3, 0.0, 0.2, 0.0, 90.0, 0.0]);
    let e: Refusal = pose.check().unwrap_err().into();
    assert_eq!(
        e.to_string(),
        "That rotation is 5157 degrees; rotations are in radians. Nothing moved."
    );
    let e: Refusal = crate::robot::linear::Frame::parse("flange")
        .unwrap_err()
        .into();
    assert_eq!(
        e.to_string(),
        "There is no frame named flange; the frames are base and tool. Nothing moved."
    );
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let target = kin.tcp_transform(&ready(&r));
    let e = Cell::open("c")
        .plan_linear(
            kin,
            &r.joints,
            &ready(&r),
            &target,
            2.0,
            &LinearLimits::default(),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "A speed of 2 is outside 0 to 1: give a share of the top speed. Nothing moved."
    );
}
