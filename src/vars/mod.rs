//! Installation variables: a persistent, typed key → value store, like a robot
//! controller's, written durably on every change.

mod store;
mod value;

pub use store::{VarStore, VarsError, VARS_FILE};
pub use value::VarValue;
