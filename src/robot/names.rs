//! Names as people say them: speech-to-text gives "Over the box" or "Fixture-Above" where
//! the files say `over_the_box` and `fixture_above`. One normal form matches them, and one
//! ranking offers the names that sound nearest when none matches.

use strsim::{jaro_winkler, levenshtein};

/// The longest name a caller may give or save, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// At most this many "did you mean" suggestions.
const MAX_SUGGESTIONS: usize = 3;

/// The canonical form of a name: lower case, words of letters and digits joined by `_`.
/// "Over The Box", "over-the-box" and "over_the_box" all give `over_the_box`.
pub fn canonical(name: &str) -> String {
    words(name).join("_")
}

/// A name as it is said: "fixture above" for `fixture_above`.
pub fn spoken(name: &str) -> String {
    words(name).join(" ")
}

/// A sentence's first letter up: "green lamp" → "Green lamp". The one place it is done.
pub fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The words of a name, lower case; everything else separates them.
fn words(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A whole number as said or written: "12", "twelve", "twenty-one", "one hundred and five".
/// Up to 999 999 in words; digits as long as they fit.
pub fn number_said(text: &str) -> Option<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let (mut total, mut group, mut any) = (0u64, 0u64, false);
    for word in words(text) {
        if let Some(n) = ONES.iter().position(|w| *w == word) {
            group += n as u64;
        } else if let Some(n) = TENS.iter().position(|w| *w == word) {
            group += 20 + 10 * n as u64;
        } else if word == "hundred" {
            group = group.max(1) * 100;
        } else if word == "thousand" && total == 0 {
            total = group.max(1) * 1000;
            group = 0;
        } else if word == "and" {
            continue;
        } else {
            return None;
        }
        any = true;
    }
    any.then_some(total + group)
}

/// Why a name cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but spaces or symbols.
    #[error("a name needs at least one letter or digit")]
    Empty,
    /// Longer than [`MAX_NAME_CHARS`].
    #[error("a name has at most {limit} characters; this one has {chars}")]
    TooLong {
        /// Its length in characters.
        chars: usize,
        /// The limit.
        limit: usize,
    },
}

/// The canonical form of a name to save, or why it cannot be one.
pub fn to_save(name: &str) -> Result<String, NameError> {
    let chars = name.trim().chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong {
            chars,
            limit: MAX_NAME_CHARS,
        });
    }
    let canon = canonical(name);
    if canon.is_empty() {
        return Err(NameError::Empty);
    }
    Ok(canon)
}

/// The one of `names` that `asked` names: the same string, else the same canonical form.
pub fn find<'a>(asked: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let canon = canonical(asked);
    let mut same = None;
    for name in names {
        if name == asked {
            return Some(name);
        }
        if same.is_none() && !canon.is_empty() && canonical(name) == canon {
            same = Some(name);
        }
    }
    same
}

/// Up to three of `names` that sound like `asked`, nearest first: the "did you mean" of a
/// refusal. Compared as spoken words (case, spaces and separators ignored): a name that
/// shares a word with what was asked, or is at most two letters off, or is close by
/// Jaro-Winkler (which weighs a common beginning, as a listener does), is offered.
pub fn similar<'a>(asked: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let said = spoken(asked);
    let said_words = words(asked);
    let mut scored: Vec<(f64, &str)> = names
        .into_iter()
        .filter_map(|name| {
            let theirs = spoken(name);
            let close = jaro_winkler(&said, &theirs);
            let typo = levenshtein(&said, &theirs) <= 2;
            let shares = words(name).iter().any(|w| {
                said_words
                    .iter()
                    .any(|s| s.len() > 2 && w.len() > 2 && (w.starts_with(s) || s.starts_with(w)))
            });
            (typo || shares || close >= 0.85).then(|| {
                let score = close + if typo { 0.3 } else { 0.0 } + if shares { 0.2 } else { 0.0 };
                (score, name)
            })
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, n)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSITIONS: [&str; 5] = [
        "fixture_above",
        "home",
        "maintenance",
        "ready",
        "tray_above",
    ];

    #[test]
    fn spoken_forms_find_their_canonical_name() {
        for asked in [
            "Fixture above",
            "fixture above",
            "Fixture-Above",
            " FIXTURE_ABOVE ",
        ] {
            assert_eq!(find(asked, POSITIONS), Some("fixture_above"), "{asked}");
        }
        assert_eq!(canonical("Over The Box"), "over_the_box");
        assert_eq!(spoken("over_the_box"), "over the box");
        assert_eq!(find("fixture", POSITIONS), None);
    }

    #[test]
    fn a_part_of_a_name_suggests_it_first() {
        assert_eq!(similar("fixture", POSITIONS)[0], "fixture_above");
        assert_eq!(similar("tray", POSITIONS), vec!["tray_above"]);
        assert_eq!(similar("redy", POSITIONS)[0], "ready");
        assert!(similar("conveyor", POSITIONS).is_empty());
        assert!(similar("above", POSITIONS).len() <= 3);
    }

    #[test]
    fn numbers_are_read_as_said() {
        for (said, n) in [
            ("12", 12),
            ("twelve", 12),
            ("Twenty-one", 21),
            ("one hundred and five", 105),
            ("two thousand three hundred", 2300),
        ] {
            assert_eq!(number_said(said), Some(n), "{said}");
        }
        for not in ["", "twelve apples", "12a", "and"] {
            assert_eq!(number_said(not), None, "{not}");
        }
    }

    #[test]
    fn names_to_save_are_canonical_or_refused_with_the_limit() {
        assert_eq!(to_save("Over The Box").unwrap(), "over_the_box");
        assert_eq!(to_save("  !!  ").unwrap_err(), NameError::Empty);
        let long = "a".repeat(65);
        assert_eq!(
            to_save(&long).unwrap_err().to_string(),
            "a name has at most 64 characters; this one has 65"
        );
    }
}
