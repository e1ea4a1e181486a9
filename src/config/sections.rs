//! The small sections of `newsletter.toml`: `[footer]`, `[unsubscribe]`,
//! `[colours]`, `[paths]` and `[schedule]`, each read field by field.

use std::path::PathBuf;

use crate::colour::{MIN_CONTRAST, Rgb};
use crate::fields::{Problems, Table, nearest};
use crate::schedule::{Schedule, parse_time, parse_weekday};

#[derive(Debug, Clone)]
pub struct Footer {
    /// Why the reader gets this email.
    pub reason: String,
    /// The sender's postal address (a legal requirement in many places).
    pub address: String,
}

pub(super) fn footer(mut t: Table<'_>, problems: &mut Problems) -> Option<Footer> {
    let reason = t.required_string("reason", problems);
    let address = t.required_string("address", problems);
    t.finish(&["reason", "address"], problems);
    Some(Footer {
        reason: reason?.into_inner(),
        address: address?.into_inner(),
    })
}

#[derive(Debug, Clone)]
pub struct Unsubscribe {
    /// A URL with `{email}` and/or `{id}` (and optionally `{issue}`) in it.
    pub url: String,
    /// An address for `List-Unsubscribe: <mailto:...>`.
    pub mailto: Option<lettre::Address>,
}

/// Placeholders an unsubscribe URL may hold.
pub const URL_PLACEHOLDERS: &[&str] = &["{email}", "{id}", "{issue}"];

pub(super) fn unsubscribe(mut t: Table<'_>, problems: &mut Problems) -> Option<Unsubscribe> {
    let url = t.required_string("url", problems);
    if let Some(url) = &url
        && let Err(problem) = unsubscribe_url_problem(url.get_ref())
    {
        problems.push(t.error(problem, url.span()));
    }
    let mailto = t.string("mailto", problems).and_then(|m| {
        let text = m.get_ref().trim_start_matches("mailto:");
        text.parse::<lettre::Address>()
            .map_err(|e| {
                problems.push(t.error(
                    format!("`{}` is not an email address: {e}", m.get_ref()),
                    m.span(),
                ));
            })
            .ok()
    });
    t.finish(&["url", "mailto"], problems);
    Some(Unsubscribe {
        url: url?.into_inner(),
        mailto,
    })
}

fn unsubscribe_url_problem(url: &str) -> Result<(), String> {
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}').map(|e| start + e + 1) else {
            return Err("the unsubscribe url has a `{` with no closing `}`".into());
        };
        let placeholder = &rest[start..end];
        if !URL_PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "unknown placeholder `{placeholder}` in the unsubscribe url (known: {})",
                URL_PLACEHOLDERS.join(", ")
            ));
        }
        rest = &rest[end..];
    }
    if !(url.contains("{email}") || url.contains("{id}")) {
        return Err(
            "unsubscribe url needs `{email}` or `{id}` so that each reader's link is their own"
                .into(),
        );
    }
    // The link rule, with the placeholders standing in for real values.
    let sample = URL_PLACEHOLDERS
        .iter()
        .fold(url.to_string(), |u, p| u.replace(p, "x"));
    crate::link::check(&sample).map(|_| ())
}

/// Colours as `#rrggbb`.
#[derive(Debug, Clone)]
pub struct Colours {
    /// The masthead background and link colour.
    pub brand: String,
    /// Body text.
    pub text: String,
    /// Bylines, dates and the footer.
    pub muted: String,
    /// Behind the email's column.
    pub background: String,
}

impl Default for Colours {
    fn default() -> Self {
        Colours {
            brand: "#0b4f6c".into(),
            text: "#1f2933".into(),
            muted: "#52606d".into(),
            background: "#eef1f4".into(),
        }
    }
}

pub(super) fn colours(mut t: Table<'_>, problems: &mut Problems) -> Colours {
    let mut colours = Colours::default();
    let slots: [(&str, &mut String, bool); 4] = [
        ("brand", &mut colours.brand, true),
        ("text", &mut colours.text, true),
        ("muted", &mut colours.muted, true),
        ("background", &mut colours.background, false),
    ];
    for (name, slot, is_text) in slots {
        let Some(value) = t.string(name, problems) else {
            continue;
        };
        let Some(rgb) = Rgb::parse(value.get_ref()) else {
            problems.push(t.error(
                format!(
                    "colour `{name}` is `{}`, not a #rrggbb colour",
                    value.get_ref()
                ),
                value.span(),
            ));
            continue;
        };
        let ratio = rgb.contrast(Rgb::WHITE);
        if is_text && ratio < MIN_CONTRAST {
            problems.push(t.warning(
                format!(
                    "colour `{name}` has a contrast of {ratio:.1}:1 against white; low-vision readers need at least {MIN_CONTRAST}:1"
                ),
                value.span(),
            ));
        }
        *slot = rgb.to_string();
    }
    t.finish(&["brand", "text", "muted", "background"], problems);
    colours
}

/// Folders and files, relative to the folder catchup runs in.
#[derive(Debug, Clone)]
pub struct Paths {
    pub seeds: PathBuf,
    pub issues: PathBuf,
    pub previews: PathBuf,
    pub state: PathBuf,
    pub subscribers: PathBuf,
    pub suppressed: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            seeds: "seeds".into(),
            issues: "config/issues".into(),
            previews: "previews".into(),
            state: "state".into(),
            subscribers: "config/subscribers.csv".into(),
            suppressed: "config/suppressed.csv".into(),
        }
    }
}

pub(super) fn paths(mut t: Table<'_>, problems: &mut Problems) -> Paths {
    let mut paths = Paths::default();
    let slots: [(&str, &mut PathBuf); 6] = [
        ("seeds", &mut paths.seeds),
        ("issues", &mut paths.issues),
        ("previews", &mut paths.previews),
        ("state", &mut paths.state),
        ("subscribers", &mut paths.subscribers),
        ("suppressed", &mut paths.suppressed),
    ];
    let known: Vec<&str> = slots.iter().map(|(k, _)| *k).collect();
    for (key, slot) in slots {
        if let Some(value) = t.string(key, problems) {
            if value.get_ref().trim().is_empty() {
                problems.push(t.error(format!("`{key}` is empty"), value.span()));
            } else {
                *slot = PathBuf::from(value.into_inner());
            }
        }
    }
    t.finish(&known, problems);
    paths
}

pub(super) fn schedule(mut t: Table<'_>, problems: &mut Problems) -> Option<Schedule> {
    let weekday = t.required_string("weekday", problems).and_then(|w| {
        let day = parse_weekday(w.get_ref());
        if day.is_none() {
            problems.push(
                t.error(format!("unknown weekday `{}`", w.get_ref()), w.span())
                    .help("write one of Mon, Tue, Wed, Thu, Fri, Sat, Sun"),
            );
        }
        day
    });
    let time = t.required_string("time", problems).and_then(|s| {
        let time = parse_time(s.get_ref());
        if time.is_none() {
            problems.push(
                t.error(format!("`{}` is not a time", s.get_ref()), s.span())
                    .help("write a 24-hour local time, e.g. time = \"07:00\""),
            );
        }
        time
    });
    let zone = t.required_string("timezone", problems).and_then(|z| {
        let zone = z.get_ref().trim().parse::<chrono_tz::Tz>().ok();
        if zone.is_none() {
            let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
            let help = match nearest(z.get_ref(), &names) {
                Some(near) => format!("did you mean `{near}`? (an IANA name, e.g. Europe/London)"),
                None => "use an IANA time zone name, e.g. Europe/London".into(),
            };
            problems.push(
                t.error(format!("unknown time zone `{}`", z.get_ref()), z.span())
                    .help(help),
            );
        }
        zone
    });
    let grace = t.integer("grace_hours", 0..=24 * 14, problems);
    t.finish(&["weekday", "time", "timezone", "grace_hours"], problems);
    Some(Schedule {
        weekday: weekday?,
        time: time?,
        zone: zone?,
        grace: chrono::Duration::hours(grace.map_or(24, |g| *g.get_ref())),
    })
}
