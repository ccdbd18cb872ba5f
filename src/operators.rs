//! Operators: who may use the plugin over HTTP, with which role, proven by a bearer token.
//!
//! Config stores only a token's SHA-256; a plaintext token may come from an environment
//! variable. `armature token new NAME` makes a fresh token and the config lines for it.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May move the arm, read status, and stop.
    Operator,
    /// May only read status and stop.
    Observer,
}

/// An `[[operators]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// The operator's name, as tasks and the audit log show it.
    pub name: String,
    /// Role (default `operator`).
    #[serde(default = "default_role")]
    pub role: Role,
    /// SHA-256 of the token, hex.
    pub token_sha256: Option<String>,
    /// Or: the environment variable holding the plaintext token.
    pub token_env: Option<String>,
    /// When the token stops working (RFC 3339), if it should.
    pub expires: Option<String>,
}

fn default_role() -> Role {
    Role::Operator
}

/// Someone making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
}

impl Operator {
    /// The local operator: stdio, or HTTP on loopback with no operators configured.
    pub fn local() -> Self {
        Self {
            name: "local".into(),
            role: Role::Operator,
        }
    }
}

/// Why the operators could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// An entry gives neither or both token sources.
    #[error("operator {name}: give exactly one of token_sha256 or token_env")]
    TokenSource {
        /// The operator.
        name: String,
    },
    /// A hash that is not 64 hex digits.
    #[error("operator {name}: token_sha256 must be 64 hex digits, got {len} characters")]
    BadHash {
        /// The operator.
        name: String,
        /// Its length.
        len: usize,
    },
    /// The environment variable is not set.
    #[error("operator {name}: environment variable {var} (token_env) is not set")]
    MissingEnv {
        /// The operator.
        name: String,
        /// The variable.
        var: String,
    },
    /// Two operators share a name.
    #[error("operator {0} is listed twice")]
    Duplicate(String),
    /// `expires` is not an RFC 3339 time.
    #[error(
        "operator {name}: expires = \"{value}\" is not an RFC 3339 time like 2027-01-31T00:00:00Z"
    )]
    BadExpiry {
        /// The operator.
        name: String,
        /// The value given.
        value: String,
    },
}

/// Why a bearer token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// No operator has this token.
    Unknown,
    /// The token's operator, and when it expired.
    Expired(String, String),
}

/// The configured operators, by token hash.
#[derive(Debug, Clone, Default)]
pub struct Operators {
    by_hash: Vec<(String, Operator, Option<time::OffsetDateTime>)>,
}

/// SHA-256 of a token, lowercase hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh token: 244 random bits from the OS (two v4 UUIDs), prefixed for recognition.
pub fn new_token() -> String {
    format!(
        "arm_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Operators {
    /// Resolves the specs (reading `token_env` variables now).
    pub fn from_specs(specs: &[OperatorSpec]) -> Result<Self, OperatorError> {
        let mut by_hash = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            if specs[..i].iter().any(|o| o.name == s.name) {
                return Err(OperatorError::Duplicate(s.name.clone()));
            }
            let hash = match (&s.token_sha256, &s.token_env) {
                (Some(h), None) => {
                    if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                        return Err(OperatorError::BadHash {
                            name: s.name.clone(),
                            len: h.len(),
                        });
                    }
                    h.to_ascii_lowercase()
                }
                (None, Some(var)) => {
                    let token = std::env::var(var).map_err(|_| OperatorError::MissingEnv {
                        name: s.name.clone(),
                        var: var.clone(),
                    })?;
                    hash_token(&token)
                }
                _ => {
                    return Err(OperatorError::TokenSource {
                        name: s.name.clone(),
                    })
                }
            };
            let expires = s
                .expires
                .as_ref()
                .map(|v| {
                    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| OperatorError::BadExpiry {
                            name: s.name.clone(),
                            value: v.clone(),
                        })
                })
                .transpose()?;
            by_hash.push((
                hash,
                Operator {
                    name: s.name.clone(),
                    role: s.role,
                },
                expires,
            ));
        }
        Ok(Self { by_hash })
    }

    /// Whether any operator is configured.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The operator a bearer token belongs to.
    pub fn authenticate(&self, token: &str) -> Result<Operator, Rejected> {
        let hash = hash_token(token);
        let (_, op, expires) = self
            .by_hash
            .iter()
            .find(|(h, _, _)| *h == hash)
            .ok_or(Rejected::Unknown)?;
        match expires {
            Some(at) if time::OffsetDateTime::now_utc() >= *at => {
                let when = at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                Err(Rejected::Expired(op.name.clone(), when))
            }
            _ => Ok(op.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_authenticates_by_its_hash_only() {
        let token = new_token();
        assert!(token.starts_with("arm_") && token.len() == 68);
        let specs = [OperatorSpec {
            name: "alice".into(),
            role: Role::Observer,
            token_sha256: Some(hash_token(&token)),
            token_env: None,
            expires: None,
        }];
        let ops = Operators::from_specs(&specs).unwrap();
        assert_eq!(
            ops.authenticate(&token),
            Ok(Operator {
                name: "alice".into(),
                role: Role::Observer
            })
        );
        assert_eq!(ops.authenticate("arm_wrong"), Err(Rejected::Unknown));
        assert_ne!(new_token(), token);
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        let spec = |h: Option<&str>, e: Option<&str>| OperatorSpec {
            name: "bob".into(),
            role: Role::Operator,
            token_sha256: h.map(Into::into),
            token_env: e.map(Into::into),
            expires: None,
        };
        let err = Operators::from_specs(&[spec(Some("abc"), None)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "operator bob: token_sha256 must be 64 hex digits, got 3 characters"
        );
        let err = Operators::from_specs(&[spec(None, None)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "operator bob: give exactly one of token_sha256 or token_env"
        );
        let err = Operators::from_specs(&[spec(None, Some("ARMATURE_TEST_UNSET_VAR"))])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "operator bob: environment variable ARMATURE_TEST_UNSET_VAR (token_env) is not set"
        );
    }
}
