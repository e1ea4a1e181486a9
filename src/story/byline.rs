//! Bylines: the line under a blog post's headline that says who and when.
//!
//! Shapes accepted, with any of `-`, `–` or `—` between who and when:
//! `By Mike Broad - 24th September 2014 2:31 pm`,
//! `The Guardian - 18th June 2014 10:59 am`,
//! `By Mike Broad - 11:51 am` (a time only: the same day as the post above),
//! and a bare `By Jane Smith`.

use chrono::{NaiveDate, NaiveTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Byline {
    pub author: String,
    pub role: Option<String>,
    pub when: When,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// No date or time given.
    Unknown,
    /// A full date, perhaps with a time.
    Date(NaiveDate),
    /// A time only: the date is that of the post above.
    TimeOnly(NaiveTime),
}

/// The most words a byline's "who" part may have; longer lines are prose.
const MAX_WHO_WORDS: usize = 16;

/// The most words a byline may have: a line with more is prose.
pub(crate) const MAX_WORDS: usize = MAX_WHO_WORDS + MAX_WHEN_WORDS + 2;

/// Reads `line` as a byline, or returns `None` if it is not one.
pub(crate) fn parse(line: &str) -> Option<Byline> {
    let line = line.trim();
    // Longer than any byline can be: prose, rejected without a scan.
    if line.split_whitespace().nth(MAX_WORDS).is_some() {
        return None;
    }
    for dash in [" - ", " – ", " — "] {
        if let Some((who, when)) = line.rsplit_once(dash)
            && let Some(when) = parse_when(when)
        {
            let who = strip_by(who).unwrap_or(who);
            return who_to_byline(who, when);
        }
    }
    // A bare "By Name" line: every word capitalised, as a name is.
    let who = strip_by(line)?;
    let looks_like_a_name = who.split_whitespace().count() <= 6
        && !who.ends_with(|c: char| ".!?:;,".contains(c))
        && who
            .split_whitespace()
            .all(|w| w.starts_with(char::is_uppercase) || NAME_PARTICLES.contains(&w));
    if looks_like_a_name {
        who_to_byline(who, When::Unknown)
    } else {
        None
    }
}

const NAME_PARTICLES: &[&str] = &[
    "de", "van", "von", "der", "la", "le", "du", "da", "al", "and",
];

fn strip_by(s: &str) -> Option<&str> {
    let rest = s.strip_prefix("By ").or_else(|| s.strip_prefix("by "))?;
    Some(rest.trim())
}

fn who_to_byline(who: &str, when: When) -> Option<Byline> {
    let who = who.trim();
    if who.is_empty() || who.split_whitespace().count() > MAX_WHO_WORDS {
        return None;
    }
    let (author, role) = match who.split_once(',') {
        Some((name, role)) if !role.trim().is_empty() => {
            (name.trim().to_string(), Some(role.trim().to_string()))
        }
        _ => (who.to_string(), None),
    };
    Some(Byline { author, role, when })
}

/// The longest "when" part: `24th September 2014 2:31 pm` is five words.
const MAX_WHEN_WORDS: usize = 6;

/// Parses the "when" part: a date with an optional time, or a time alone.
fn parse_when(s: &str) -> Option<When> {
    let tokens: Vec<&str> = s.split_whitespace().collect();
    if tokens.is_empty() || tokens.len() > MAX_WHEN_WORDS {
        return None;
    }
    if let Some(time) = parse_time(&tokens) {
        return Some(When::TimeOnly(time));
    }
    // Try the longest date prefix whose remainder is empty or a time.
    for split in (1..=tokens.len()).rev() {
        let (date, rest) = tokens.split_at(split);
        if let Some(date) = parse_date(&date.join(" "))
            && (rest.is_empty() || parse_time(rest).is_some())
        {
            return Some(When::Date(date));
        }
    }
    None
}

/// `2:31 pm`, `2:31pm`, `14:31`.
fn parse_time(tokens: &[&str]) -> Option<NaiveTime> {
    let joined = tokens.join(" ").to_ascii_lowercase();
    let joined = joined.trim();
    if joined.is_empty() {
        return None;
    }
    for format in ["%I:%M %p", "%I:%M%p", "%H:%M"] {
        if let Ok(t) = NaiveTime::parse_from_str(joined, format) {
            return Some(t);
        }
    }
    None
}

/// `24th September 2014`, `24 Sept 2014`, `September 24, 2014`, `2014-09-24`.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let cleaned: String = s
        .split_whitespace()
        .map(|w| strip_ordinal(w.trim_end_matches(',')))
        .collect::<Vec<_>>()
        .join(" ");
    let cleaned = cleaned.replace("Sept ", "Sep ");
    for format in ["%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(&cleaned, format) {
            return Some(d);
        }
    }
    None
}

/// `24th` → `24`; anything else unchanged.
fn strip_ordinal(word: &str) -> &str {
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(digits) = word.strip_suffix(suffix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            return digits;
        }
    }
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> When {
        When::Date(NaiveDate::from_ymd_opt(y, m, d).expect("valid date"))
    }

    #[test]
    fn author_and_full_date() {
        let b = parse("By Mike Broad - 24th September 2014 2:31 pm").expect("byline");
        assert_eq!(b.author, "Mike Broad");
        assert_eq!(b.role, None);
        assert_eq!(b.when, date(2014, 9, 24));
    }

    #[test]
    fn author_with_role() {
        let b = parse("By Johnny Marshall, director of policy, NHS Confederation - 11th November 2014 12:00 pm")
            .expect("byline");
        assert_eq!(b.author, "Johnny Marshall");
        assert_eq!(
            b.role.as_deref(),
            Some("director of policy, NHS Confederation")
        );
        assert_eq!(b.when, date(2014, 11, 11));
    }

    #[test]
    fn a_source_without_by() {
        let b = parse("The Guardian - 18th June 2014 10:59 am").expect("byline");
        assert_eq!(b.author, "The Guardian");
        assert_eq!(b.when, date(2014, 6, 18));
    }

    #[test]
    fn time_only() {
        let b = parse("By Mike Broad - 11:51 am").expect("byline");
        assert_eq!(
            b.when,
            When::TimeOnly(NaiveTime::from_hms_opt(11, 51, 0).expect("time"))
        );
    }

    #[test]
    fn other_date_shapes() {
        assert_eq!(
            parse("By A B – 1st Jan 2020").map(|b| b.when),
            Some(date(2020, 1, 1))
        );
        assert_eq!(
            parse("By A B — March 3, 2019 09:15").map(|b| b.when),
            Some(date(2019, 3, 3))
        );
        assert_eq!(
            parse("Reuters - 2019-03-03").map(|b| b.when),
            Some(date(2019, 3, 3))
        );
        assert_eq!(
            parse("By A B - 3rd Sept 2019").map(|b| b.when),
            Some(date(2019, 9, 3))
        );
    }

    #[test]
    fn bare_by_name() {
        let b = parse("By Jane van Dyke").expect("byline");
        assert_eq!(b.author, "Jane van Dyke");
        assert_eq!(b.when, When::Unknown);
    }

    #[test]
    fn prose_is_not_a_byline() {
        assert_eq!(parse("By 2025, some support should be provided"), None);
        assert_eq!(parse("By contrast the plan failed."), None);
        assert_eq!(
            parse("Patients will be given a nominal budget - at least £1,000 - which"),
            None
        );
        assert_eq!(parse("Balancing the budget"), None);
        assert_eq!(parse("By Mike Broad - sometime soon"), None);
        assert_eq!(parse("The cost - 31st February 2014"), None);
    }
}
