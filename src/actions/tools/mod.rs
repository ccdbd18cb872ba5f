//! The built-in tools, one item each, grouped by topic. [`TOOLS`] is the one list the
//! catalog, the dispatch and the set of motion tools come from.

mod cartesian;
mod gate;
mod gripper;
mod io;
mod motion;
mod positions;
mod robot;
mod spatial;
mod tasks;

use super::tool::ToolItem;

/// Every built-in tool, in the order an assistant lists them.
pub(super) static TOOLS: &[ToolItem] = &[
    motion::MOVE_JOINTS,
    motion::MOVE_TO,
    motion::HOME,
    cartesian::MOVE_LINEAR,
    cartesian::MOVE_POSE,
    cartesian::MOVE_RELATIVE,
    gripper::GRIPPER,
    tasks::TASK_STATUS,
    tasks::CANCEL_TASK,
    gate::CONFIRM_TASK,
    gate::REJECT_TASK,
    gate::APPROVE_TASK,
    gate::RESUME_TASK,
    tasks::STOP,
    tasks::LIST_TASKS,
    robot::ROBOT_STATE,
    io::SET_OUTPUT,
    positions::SAVE_POSITION,
    positions::LIST_POSITIONS,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::params::ToolArgs;

    fn properties<T: ToolArgs>() -> (Vec<String>, Vec<&'static str>) {
        let schema = crate::actions::tool::schema::<T>();
        let mut names: Vec<String> = schema["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        let mut declared = T::NAMES.to_vec();
        declared.sort();
        (names, declared)
    }

    #[test]
    fn each_tools_argument_names_are_its_schemas_properties() {
        use crate::actions::params::{NoArgs, TaskIdArgs};
        let pairs = [
            properties::<motion::MoveJointsArgs>(),
            properties::<motion::MoveToArgs>(),
            properties::<motion::HomeArgs>(),
            properties::<cartesian::PoseToolArgs>(),
            properties::<cartesian::RelativeArgs>(),
            properties::<tasks::StatusArgs>(),
            properties::<tasks::ListArgs>(),
            properties::<positions::SaveArgs>(),
            properties::<gripper::GripperArgs>(),
            properties::<io::SetOutputArgs>(),
            properties::<NoArgs>(),
            properties::<TaskIdArgs>(),
        ];
        for (schema, declared) in pairs {
            assert_eq!(schema, declared);
        }
    }

    #[test]
    fn tool_names_are_unique_and_schemas_are_closed_objects() {
        let config = crate::config::Config::builtin(&crate::actions::builtin_names()).unwrap();
        let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TOOLS.len());
        for t in TOOLS {
            let spec = t.spec(&config);
            assert_eq!(spec.input["type"], "object", "{}", t.name);
            assert_eq!(spec.input["additionalProperties"], false, "{}", t.name);
            assert_eq!(spec.output["type"], "object", "{}", t.name);
            assert!(spec.output.get("$defs").is_none(), "{}", t.name);
        }
        let status = tasks::TASK_STATUS.spec(&config).output;
        let states = &status["properties"]["state"]["enum"];
        assert_eq!(states[0], "awaiting_confirmation", "{status}");
        assert_eq!(states[6], "interrupted", "{status}");
    }
}
