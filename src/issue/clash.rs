//! Two issue files that would send one issue twice: the same send moment
//! (last week's file copied and its date forgotten), or the same subject and
//! the same stories under another name. Either way every reader would get
//! two copies, so neither may go out until the editor fixes one.

use std::collections::BTreeSet;

use super::{Issue, Outline};
use crate::diagnostic::Diagnostic;
use crate::schedule::Schedule;

/// Why two issue files clash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Clash {
    /// Both go out at the same moment.
    SameMoment,
    /// The same subject and the same stories.
    SameContent,
}

/// How two outlines clash, if they do.
pub(crate) fn between(a: &Outline, b: &Outline, schedule: Option<&Schedule>) -> Option<Clash> {
    if a.moment(schedule) == b.moment(schedule) {
        Some(Clash::SameMoment)
    } else if same_content(&a.subject, &a.stories, &b.subject, &b.stories) {
        Some(Clash::SameContent)
    } else {
        None
    }
}

/// True for the same subject (ignoring case and spacing) and the same set
/// of stories.
pub(crate) fn same_content(
    subject_a: &str,
    stories_a: &[String],
    subject_b: &str,
    stories_b: &[String],
) -> bool {
    let fold = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let set = |ids: &[String]| ids.iter().cloned().collect::<BTreeSet<_>>();
    fold(subject_a) == fold(subject_b) && set(stories_a) == set(stories_b)
}

/// Every other issue file that clashes with `issue`, as errors pointing at
/// the field that clashes and naming the other file.
pub(crate) fn diagnostics(
    issue: &Issue,
    others: &[Outline],
    schedule: Option<&Schedule>,
) -> Vec<Diagnostic> {
    let this = Outline {
        path: issue.source.path.clone(),
        name: issue.name.clone(),
        date: issue.date,
        send_at: issue.send_at,
        subject: issue.subject.clone(),
        stories: issue.story_ids().iter().map(ToString::to_string).collect(),
    };
    let moment = this.moment(schedule);
    let when = schedule.map_or_else(|| moment.to_string(), |s| s.local(moment));
    others
        .iter()
        .filter(|other| other.name != issue.name)
        .filter_map(|other| {
            let (message, span) = match between(&this, other, schedule)? {
                Clash::SameMoment => (
                    format!(
                        "`{}` and `{}` both go out at {when}; every reader would get two issues",
                        this.path.display(),
                        other.path.display()
                    ),
                    issue.date_span.clone(),
                ),
                Clash::SameContent => (
                    format!(
                        "`{}` has the same subject and stories as `{}`; every reader would get the issue twice",
                        this.path.display(),
                        other.path.display()
                    ),
                    issue.subject_span.clone(),
                ),
            };
            Some(
                Diagnostic::error(message)
                    .at(&issue.source, span)
                    .help("change the date (or subject and stories) of one of them, or move the copy out of the issues folder"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(name: &str, date: &str, subject: &str, stories: &[&str]) -> Outline {
        Outline {
            path: format!("config/issues/{name}.toml").into(),
            name: super::super::IssueName::new(name).expect("name"),
            date: date.parse().expect("date"),
            send_at: None,
            subject: subject.into(),
            stories: stories.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_same_moment_or_the_same_content_clash() {
        let a = outline("a", "2018-07-27", "Bold ambition", &["002/x", "002/y"]);
        let copy = outline("b", "2018-07-27", "Something else", &["003/z"]);
        assert_eq!(between(&a, &copy, None), Some(Clash::SameMoment));
        let same = outline("c", "2018-08-03", "bold  AMBITION", &["002/y", "002/x"]);
        assert_eq!(between(&a, &same, None), Some(Clash::SameContent));
        let next = outline("d", "2018-08-03", "Bold ambition", &["002/x"]);
        assert_eq!(between(&a, &next, None), None, "one story differs");
    }
}
