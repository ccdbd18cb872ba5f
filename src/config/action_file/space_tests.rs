//! The steps that move in space and drive the I/O: how they load, and the load check of
//! their paths for every allowed parameter value.

use super::*;
use crate::cell::Cell;
use crate::robot::BUILTIN_UR5E;

fn robot() -> RobotDefinition {
    RobotDefinition::parse(BUILTIN_UR5E, "builtin:ur5e").unwrap()
}

/// A keep-out box where slot 5's bottom would be (x 0.11 m), clear of slot 4 (x 0.07 m).
const BOX_AT_SLOT_5: &str = r#"
[cell]
name = "tray"
[[cell.keep_out]]
name = "clamp"
min = [0.09, -0.65, 0.20]
max = [0.13, -0.55, 0.28]
"#;

/// Picks from tray slot N: above the slot, 10 cm down the tool's axis, close, back up.
pub(crate) const PICK: &str = r#"
[[action]]
name = "pick_slot"
description = "Pick the part from tray slot N."
ack = "Picking from slot {slot}"
done = "Holding the part from slot {slot}."

[action.params.slot]
type = "integer"
min = 0
max = 5

[[action.steps]]
label = "moving above the tray"
move_to = "tray_above"

[[action.steps]]
label = "moving above slot {slot}"
move_linear = { from = "tray_above", dx = "0.04 * slot" }

[[action.steps]]
label = "reaching into slot {slot}"
move_relative = { dz = 0.1, frame = "tool" }

[[action.steps]]
label = "closing the gripper"
gripper = "close"

[[action.steps]]
label = "lifting the part"
move_relative = { dz = -0.1, frame = "tool" }
speed = 0.1
"#;

fn in_cell(
    text: &str,
    cell: Option<&str>,
    robot: &RobotDefinition,
) -> Result<Vec<CustomAction>, Vec<String>> {
    let mut paths = PathCheck::open(robot);
    if let Some(c) = cell {
        paths.cell = Cell::parse(c, "cell.toml").unwrap().unwrap();
    }
    parse_in(text, "a.toml", robot, &paths, &["home"]).map_err(|e| match e {
        ActionsError::Invalid(e) => e.iter().map(|e| e.to_string()).collect(),
        other => vec![other.to_string()],
    })
}

#[test]
fn the_new_step_kinds_load() {
    let actions = in_cell(PICK, None, &robot()).unwrap();
    let steps = &actions[0].steps;
    assert!(matches!(
        &steps[1],
        StepDef::Line {
            pose: PoseDef::From { .. },
            ..
        }
    ));
    match &steps[2] {
        StepDef::Relative { offset, frame, .. } => {
            assert_eq!(*frame, Frame::Tool);
            assert_eq!(offset[2], Linear::constant(0.1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        steps[3],
        StepDef::Gripper {
            label: "closing the gripper".into(),
            close: true
        }
    );
}

#[test]
fn a_slot_whose_path_enters_a_keep_out_box_is_refused_naming_zone_slot_and_step() {
    let got = in_cell(PICK, Some(BOX_AT_SLOT_5), &robot()).unwrap_err();
    assert_eq!(got.len(), 1, "{got:#?}");
    // Line 23 is the reaching step; the error names the action, step, slot and zone.
    assert!(
        got[0].starts_with("a.toml:23:17: action \"pick_slot\", step 3 (reaching into slot 5) with slot = 5: That would take the tool "),
        "{got:#?}"
    );
    assert!(got[0].contains("into the clamp, "), "{got:#?}");
    assert!(got[0].contains(" percent along."), "{got:#?}");
    // Without the box every slot passes.
    assert!(in_cell(
        PICK,
        Some(&BOX_AT_SLOT_5.replace("0.09", "0.5").replace("0.13", "0.6")),
        &robot()
    )
    .is_ok());
}

#[test]
fn bad_values_are_refused_at_load_with_the_value_and_the_limit() {
    let head = "[[action]]\nname = \"job\"\ndescription = \"d\"\nack = \"a\"\ndone = \"d\"\n[[action.steps]]\nmove_to = \"ready\"\n[[action.steps]]\n";
    let cases = [
        ("move_linear = { x = nan, y = 0, z = 0.4, rx = 0, ry = 3.14, rz = 0 }", "a.toml:9:21: x (m) must be a finite number"),
        ("move_linear = { from = \"redy\", dz = 0.1 }", "a.toml:9:24: unknown position \"redy\""),
        ("move_linear = { x = 0.4, y = 0, z = 0.4, rx = 0, ry = 180, rz = 0 }", "a.toml:9:55: ry (rad) can be 180.0000, beyond its limit 6.2832"),
        ("move_linear = { x = 0.4, y = 0, z = 0.4 }", "a.toml:9:15: move_linear needs an orientation"),
        ("move_relative = { dz = 0.1, frame = \"world\" }", "a.toml:9:37: there is no frame named world; the frames are base and tool"),
        ("move_relative = { dz = 5.0 }", "a.toml:9:24: dz (m) can be 5.0000, beyond its limit"),
        ("set_output = \"lamp\"\nvalue = true", "a.toml:9:14: unknown output \"lamp\": the robot file builtin:ur5e declares gripper_close, green_lamp, conveyor"),
        ("wait_input = \"part_present\"\nvalue = true", "a.toml:9:14: wait_input \"part_present\" needs timeout"),
        ("wait_input = \"door\"\nvalue = true\ntimeout = 2", "a.toml:9:14: unknown input \"door\""),
        ("gripper = \"squeeze\"", "a.toml:9:11: gripper = \"squeeze\": must be \"open\" or \"close\""),
        ("wait = 1\ntimeout = 3", "a.toml:10:11: \"timeout\" does not apply to a wait step"),
    ];
    let mut wrong = vec![];
    for (body, expected) in cases {
        let got = in_cell(&format!("{head}{body}\n"), None, &robot()).unwrap_err();
        if !got.iter().any(|e| e.starts_with(expected)) {
            wrong.push(format!("expected {expected}\n got {got:#?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A straight line needs a known start.
    let first = "[[action]]\nname = \"job\"\ndescription = \"d\"\nack = \"a\"\ndone = \"d\"\n[[action.steps]]\nlabel = \"lifting\"\nmove_relative = { dz = 0.1 }\n";
    let got = in_cell(first, None, &robot()).unwrap_err();
    assert!(
        got[0].contains("step 1 (lifting): a straight-line step needs a known start"),
        "{got:#?}"
    );
    // No gripper configured.
    let mut bare = robot();
    bare.io.gripper = None;
    let got = in_cell(&format!("{head}gripper = \"close\"\n"), None, &bare).unwrap_err();
    assert!(got[0].starts_with("a.toml:9:11: a gripper step needs a gripper: the robot file builtin:ur5e declares no [gripper]"), "{got:#?}");
}

#[test]
fn the_example_cell_passes_the_load_check_in_the_pedestal_cell() {
    let cell = Cell::parse(
        include_str!("../../../config/cell-pedestal.toml"),
        "pedestal",
    )
    .unwrap();
    let t = std::time::Instant::now();
    let text = EXAMPLE_CELL;
    let r = robot();
    let mut paths = PathCheck::open(&r);
    paths.cell = cell.unwrap();
    paths.cap = 0.25;
    let got = parse_in(text, "cell", &r, &paths, &[]);
    assert!(got.is_ok(), "{:?}", got.err().map(|e| e.to_string()));
    println!("load check of the example cell: {:?}", t.elapsed());
}
