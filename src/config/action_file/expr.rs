//! Step values written as expressions of the action's parameters: `0.12 * slot - 0.3`.
//!
//! Only linear expressions are accepted. That keeps them readable, and it makes the check
//! at load exact: a linear value is extreme at the ends of its parameters' ranges.

use std::collections::BTreeMap;

/// `constant + Σ coefficient × name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// The constant part.
    pub constant: f64,
    /// Each parameter's coefficient (no zeros, no repeats).
    pub terms: BTreeMap<String, f64>,
}

/// An expression that could not be read; `offset` is the byte where the problem starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Byte offset in the expression's text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// The range a linear value takes over a box of parameter ranges, and where its ends are.
#[derive(Debug, Clone, PartialEq)]
pub struct Extent {
    /// Smallest value.
    pub min: f64,
    /// The parameter values giving it.
    pub at_min: BTreeMap<String, f64>,
    /// Largest value.
    pub max: f64,
    /// The parameter values giving it.
    pub at_max: BTreeMap<String, f64>,
}

impl Linear {
    /// A constant.
    pub fn constant(value: f64) -> Self {
        Self {
            constant: value,
            terms: BTreeMap::new(),
        }
    }

    /// Reads `text`.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        let mut p = Parser {
            tokens: tokenize(text)?,
            at: 0,
            len: text.len(),
        };
        let e = p.sum()?;
        match p.tokens.get(p.at) {
            None => Ok(e),
            Some((offset, t)) => Err(ExprError {
                offset: *offset,
                message: format!("unexpected {t} in expression \"{text}\""),
            }),
        }
    }

    /// The value for `values` (a name missing there counts as 0; validation prevents it).
    pub fn eval(&self, values: &BTreeMap<String, f64>) -> f64 {
        self.terms.iter().fold(self.constant, |acc, (name, c)| {
            acc + c * values.get(name).copied().unwrap_or(0.0)
        })
    }

    /// Its range when each parameter lies within `ranges` (names not there count as 0).
    pub fn extent(&self, ranges: &BTreeMap<String, (f64, f64)>) -> Extent {
        let mut e = Extent {
            min: self.constant,
            at_min: BTreeMap::new(),
            max: self.constant,
            at_max: BTreeMap::new(),
        };
        for (name, &c) in &self.terms {
            let (lo, hi) = ranges.get(name).copied().unwrap_or((0.0, 0.0));
            let (small, large) = if c >= 0.0 { (lo, hi) } else { (hi, lo) };
            e.min += c * small;
            e.max += c * large;
            e.at_min.insert(name.clone(), small);
            e.at_max.insert(name.clone(), large);
        }
        e
    }

    /// The sum of two expressions.
    pub fn plus(self, other: Linear) -> Self {
        self.add(other, 1.0)
    }

    fn add(mut self, other: Linear, sign: f64) -> Self {
        self.constant += sign * other.constant;
        for (name, c) in other.terms {
            *self.terms.entry(name).or_insert(0.0) += sign * c;
        }
        self.terms.retain(|_, c| *c != 0.0);
        self
    }

    fn scale(mut self, k: f64) -> Self {
        self.constant *= k;
        for c in self.terms.values_mut() {
            *c *= k;
        }
        self.terms.retain(|_, c| *c != 0.0);
        self
    }

    fn is_constant(&self) -> bool {
        self.terms.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Op(char),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Number(n) => write!(f, "number {n}"),
            Token::Name(n) => write!(f, "name \"{n}\""),
            Token::Op(c) => write!(f, "\"{c}\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ExprError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if "+-*/()".contains(c) {
            out.push((i, Token::Op(c)));
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < bytes.len() {
                let d = bytes[i] as char;
                let exponent_sign =
                    (d == '+' || d == '-') && matches!(bytes[i - 1], b'e' | b'E') && i > start;
                if d.is_ascii_digit() || d == '.' || d == 'e' || d == 'E' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            let s = &text[start..i];
            let n: f64 = s.parse().map_err(|_| ExprError {
                offset: start,
                message: format!("\"{s}\" is not a number"),
            })?;
            out.push((start, Token::Number(n)));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, Token::Name(text[start..i].to_owned())));
        } else {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(ExprError {
                offset: i,
                message: format!("\"{ch}\" cannot appear in an expression (use numbers, parameter names, + - * / and parentheses)"),
            });
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    len: usize,
}

impl Parser {
    fn peek_op(&self) -> Option<char> {
        match self.tokens.get(self.at) {
            Some((_, Token::Op(c))) => Some(*c),
            _ => None,
        }
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.at).map(|t| t.0).unwrap_or(self.len)
    }

    fn sum(&mut self) -> Result<Linear, ExprError> {
        let mut e = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek_op() {
            self.at += 1;
            let rhs = self.product()?;
            e = e.add(rhs, if op == '+' { 1.0 } else { -1.0 });
        }
        Ok(e)
    }

    fn product(&mut self) -> Result<Linear, ExprError> {
        let mut e = self.factor()?;
        while let Some(op @ ('*' | '/')) = self.peek_op() {
            let offset = self.offset();
            self.at += 1;
            let rhs = self.factor()?;
            e = match op {
                '*' if rhs.is_constant() => e.scale(rhs.constant),
                '*' if e.is_constant() => rhs.scale(e.constant),
                '*' => {
                    return Err(ExprError {
                        offset,
                        message: "two parameters multiplied together: only linear expressions are allowed (a number times a parameter)".into(),
                    })
                }
                _ if !rhs.is_constant() => {
                    return Err(ExprError {
                        offset,
                        message: "division by a parameter: only division by a number is allowed"
                            .into(),
                    })
                }
                _ if rhs.constant == 0.0 => {
                    return Err(ExprError {
                        offset,
                        message: "division by zero".into(),
                    })
                }
                _ => e.scale(1.0 / rhs.constant),
            };
        }
        Ok(e)
    }

    fn factor(&mut self) -> Result<Linear, ExprError> {
        let offset = self.offset();
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return Err(ExprError {
                offset,
                message: "the expression ends where a number or parameter was expected".into(),
            });
        };
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Linear::constant(n)),
            Token::Name(name) => Ok(Linear {
                constant: 0.0,
                terms: BTreeMap::from([(name, 1.0)]),
            }),
            Token::Op('-') => Ok(self.factor()?.scale(-1.0)),
            Token::Op('+') => self.factor(),
            Token::Op('(') => {
                let e = self.sum()?;
                if self.peek_op() != Some(')') {
                    return Err(ExprError {
                        offset: self.offset(),
                        message: "a \"(\" is not closed".into(),
                    });
                }
                self.at += 1;
                Ok(e)
            }
            other => Err(ExprError {
                offset,
                message: format!("unexpected {other} where a number or parameter was expected"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn reads_linear_expressions() {
        let e = Linear::parse("0.12 * (slot + i) - 0.3 / 2").unwrap();
        assert_eq!(e.terms, vals(&[("slot", 0.12), ("i", 0.12)]));
        assert!((e.constant + 0.15).abs() < 1e-12);
        assert!((e.eval(&vals(&[("slot", 2.0), ("i", 1.0)])) - 0.21).abs() < 1e-12);
        assert_eq!(
            Linear::parse("-slot*2").unwrap().terms,
            vals(&[("slot", -2.0)])
        );
        assert_eq!(Linear::parse("1e-2").unwrap().constant, 0.01);
        assert!(Linear::parse("slot - slot").unwrap().terms.is_empty());
    }

    #[test]
    fn refuses_what_is_not_linear_or_not_an_expression() {
        let cases = [
            ("slot * slot", 5, "two parameters multiplied"),
            ("1 / slot", 2, "division by a parameter"),
            ("1 / 0", 2, "division by zero"),
            ("(slot + 1", 9, "not closed"),
            ("slot +", 6, "ends where"),
            ("slot ^ 2", 5, "cannot appear"),
            ("slot 2", 5, "unexpected number 2"),
        ];
        for (text, offset, says) in cases {
            let err = Linear::parse(text).unwrap_err();
            assert_eq!(err.offset, offset, "{text}: {err}");
            assert!(err.message.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_extent_is_reached_at_the_ends_of_the_ranges() {
        let e = Linear::parse("1 + 0.5 * a - 2 * b").unwrap();
        let ranges = BTreeMap::from([("a".to_string(), (0.0, 4.0)), ("b".to_string(), (1.0, 2.0))]);
        let x = e.extent(&ranges);
        assert_eq!((x.min, x.max), (-3.0, 1.0));
        assert_eq!(x.at_min, vals(&[("a", 0.0), ("b", 2.0)]));
        assert_eq!(x.at_max, vals(&[("a", 4.0), ("b", 1.0)]));
    }
}
