//! The types an installation variable can hold.

use serde::{Deserialize, Serialize};

/// A variable's value: a number, a string, a bool or a list of numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum VarValue {
    /// true / false.
    Bool(bool),
    /// A number.
    Number(f64),
    /// Text.
    String(String),
    /// A list of numbers (e.g. joint positions).
    List(Vec<f64>),
}

impl std::fmt::Display for VarValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarValue::Bool(b) => write!(f, "{b}"),
            VarValue::Number(n) => write!(f, "{n}"),
            VarValue::String(s) => write!(f, "{s}"),
            VarValue::List(l) => {
                let items: Vec<String> = l.iter().map(f64::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

impl From<f64> for VarValue {
    fn from(v: f64) -> Self {
        VarValue::Number(v)
    }
}

impl From<&str> for VarValue {
    fn from(v: &str) -> Self {
        VarValue::String(v.to_owned())
    }
}

impl From<String> for VarValue {
    fn from(v: String) -> Self {
        VarValue::String(v)
    }
}

impl From<Vec<f64>> for VarValue {
    fn from(v: Vec<f64>) -> Self {
        VarValue::List(v)
    }
}
