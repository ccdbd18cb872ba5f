//! Armature: lets an AI assistant command a robot arm safely.
//!
//! Motion tools answer at once with a task id; the motion runs on a real-time thread
//! (`motion`), its progress goes to durable tasks (`tasks`) and installation variables
//! (`vars`), and background tools answer while the arm moves. See `docs/design.md`.

#![warn(unreachable_pub)]

pub mod actions;
pub mod app;
pub mod audit;
pub mod call;
pub mod cell;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod doctor;
pub mod durable;
pub mod fleet;
pub mod hal;
pub mod mcp;
pub mod motion;
pub mod operators;
pub mod robot;
pub mod service;
pub mod tasks;
pub mod vars;
