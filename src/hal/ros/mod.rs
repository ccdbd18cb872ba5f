//! The ROS backend (rosrust, ROS 1).

pub mod msgs;
