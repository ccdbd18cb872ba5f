//! The speech contract, checked mechanically (docs/voice.md): one breath, no identifiers,
//! no symbols, no long decimals, units in words. The lint (tests.rs) and `armature
//! speech-check` (over an interop run's texts) both use it; nothing on the motion path does.

use std::sync::LazyLock;

use regex::Regex;

/// The most words in one breath: espeak-ng says about 20 in 7 seconds at its default rate.
pub const MAX_WORDS: usize = 22;

/// The longest text in characters, a second bound on one breath.
pub const MAX_CHARS: usize = 150;

/// One way a text breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// Too many words for one breath.
    #[error("{words} words, more than {MAX_WORDS}")]
    TooManyWords {
        /// Its word count.
        words: usize,
    },
    /// Too many characters for one breath.
    #[error("{chars} characters, more than {MAX_CHARS}")]
    TooLong {
        /// Its length.
        chars: usize,
    },
    /// An identifier a speech engine spells out.
    #[error("identifier {0:?}")]
    Identifier(String),
    /// A symbol a speech engine reads as a word, or not at all.
    #[error("symbol {0:?}")]
    Symbol(String),
    /// A number with more than one decimal place.
    #[error("long decimal {0:?}")]
    LongDecimal(String),
    /// A unit as a symbol or an abbreviation.
    #[error("unit not in words {0:?}")]
    Unit(String),
}

struct Patterns {
    identifier: Regex,
    symbol: Regex,
    decimal: Regex,
    unit: Regex,
}

// Constant patterns that compile (the lint runs them), so the expects cannot fire.
static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    // snake_case, dotted.keys, camelCase, UUIDs and long hex ids.
    identifier: Regex::new(
        r"(?x)
        \b[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+\b
      | \b[a-z]+(?:\.[a-z_]+)+\b
      | \b[a-z]+[A-Z][a-z]+[A-Za-z]*\b
      | \b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-
      | \b(?:[0-9]+[a-f]|[a-f]+[0-9])[0-9a-f]{4,}\b",
    )
    .expect("a constant pattern"),
    // An apostrophe is speech ("the robot's"); single quotes around a word are not.
    symbol: Regex::new(r#"[%=()\[\]{}"`<>|\\/#&*^~@$µ±°²—–_]|(?:^|\s)'\S"#)
        .expect("a constant pattern"),
    decimal: Regex::new(r"\d+\.\d{2,}|\d[eE][+-]?\d").expect("a constant pattern"),
    unit: Regex::new(r"\b\d+(?:\.\d)?\s?(?:rad|ms|us|s|m|mm|cm|Hz|deg|rad/s|m/s)\b")
        .expect("a constant pattern"),
});

/// Every way `text` breaks the speech contract; empty when it keeps it.
pub fn breaches(text: &str) -> Vec<Breach> {
    let p = &*PATTERNS;
    let mut out = Vec::new();
    let words = text.split_whitespace().count();
    if words > MAX_WORDS {
        out.push(Breach::TooManyWords { words });
    }
    let chars = text.chars().count();
    if chars > MAX_CHARS {
        out.push(Breach::TooLong { chars });
    }
    out.extend(
        p.identifier
            .find_iter(text)
            .map(|m| Breach::Identifier(m.as_str().into())),
    );
    out.extend(
        p.symbol
            .find_iter(text)
            .map(|m| Breach::Symbol(m.as_str().into())),
    );
    out.extend(
        p.decimal
            .find_iter(text)
            .map(|m| Breach::LongDecimal(m.as_str().into())),
    );
    out.extend(
        p.unit
            .find_iter(text)
            .map(|m| Breach::Unit(m.as_str().into())),
    );
    out
}
