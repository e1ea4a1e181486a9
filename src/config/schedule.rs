//! `[schedule]` in `newsletter.toml`: the weekday, local time and IANA time
//! zone the newsletter goes out at, and how late it may still go.

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Source};
use crate::schedule::{Schedule, parse_time, parse_weekday};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduleFile {
    weekday: Spanned<String>,
    time: Spanned<String>,
    timezone: Spanned<String>,
    #[serde(default = "default_grace")]
    grace_hours: u32,
}

fn default_grace() -> u32 {
    24
}

impl ScheduleFile {
    pub(super) fn validate(
        self,
        source: &Source,
        problems: &mut Vec<Diagnostic>,
    ) -> Option<Schedule> {
        let weekday = parse_weekday(self.weekday.get_ref());
        if weekday.is_none() {
            problems.push(
                Diagnostic::error(format!("unknown weekday `{}`", self.weekday.get_ref()))
                    .at(source, self.weekday.span())
                    .help("write one of Mon, Tue, Wed, Thu, Fri, Sat, Sun"),
            );
        }
        let time = parse_time(self.time.get_ref());
        if time.is_none() {
            problems.push(
                Diagnostic::error(format!("`{}` is not a time", self.time.get_ref()))
                    .at(source, self.time.span())
                    .help("write a 24-hour local time, e.g. time = \"07:00\""),
            );
        }
        let zone = self.timezone.get_ref().trim().parse::<chrono_tz::Tz>().ok();
        if zone.is_none() {
            let typed = self.timezone.get_ref();
            let mut d = Diagnostic::error(format!("unknown time zone `{typed}`"))
                .at(source, self.timezone.span());
            d = match nearest_zone(typed) {
                Some(near) => d.help(format!(
                    "did you mean `{near}`? (an IANA name, e.g. Europe/London)"
                )),
                None => d.help("use an IANA time zone name, e.g. Europe/London"),
            };
            problems.push(d);
        }
        Some(Schedule {
            weekday: weekday?,
            time: time?,
            zone: zone?,
            grace: chrono::Duration::hours(i64::from(self.grace_hours)),
        })
    }
}

fn nearest_zone(typed: &str) -> Option<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .map(|name| {
            (
                strsim::damerau_levenshtein(&typed.to_lowercase(), &name.to_lowercase()),
                name,
            )
        })
        .filter(|(distance, name)| *distance <= name.len() / 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}
