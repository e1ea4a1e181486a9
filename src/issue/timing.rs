//! When an issue goes out, read cheaply (no stories resolved): for deciding
//! what is due, and which issue is the newest.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::diagnostic::read_source;
use crate::schedule::SendAt;

/// When an issue goes out, read without resolving its stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub date: NaiveDate,
    pub send_at: Option<SendAt>,
}

/// Reads just `date` and `send_at` from an issue file: cheap, for deciding
/// what is due and which issue is newest.
///
/// # Errors
/// The file cannot be read, or either field is missing or malformed; the
/// message names the file and says to run `catchup check` on it.
pub fn read_timing(path: &Path) -> anyhow::Result<Timing> {
    #[derive(Deserialize)]
    struct TimingOnly {
        date: toml::value::Datetime,
        send_at: Option<toml::value::Datetime>,
    }
    let source = read_source(path)?;
    let bad = || {
        anyhow::anyhow!(
            "cannot tell when `{}` goes out; run `catchup check {}` to see why",
            path.display(),
            path.display()
        )
    };
    let timing: TimingOnly = toml::from_str(&source.text).map_err(|_| bad())?;
    Ok(Timing {
        date: plain_date(&timing.date).ok_or_else(bad)?,
        send_at: timing
            .send_at
            .as_ref()
            .map(send_at)
            .transpose()
            .map_err(|_| bad())?,
    })
}

pub(super) fn plain_date(value: &toml::value::Datetime) -> Option<NaiveDate> {
    match value {
        toml::value::Datetime {
            date: Some(d),
            time: None,
            offset: None,
        } => NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day)),
        _ => None,
    }
}

/// `send_at` as an instant (with an offset) or a local time (without).
pub(super) fn send_at(value: &toml::value::Datetime) -> Result<SendAt, String> {
    let text = value.to_string();
    let problem = || {
        format!(
            "`send_at` is `{text}`; write a date and time, e.g. 2018-07-30T07:00:00 (local) or 2018-07-30T06:00:00Z"
        )
    };
    match (value.date, value.time, value.offset) {
        (Some(_), Some(_), Some(_)) => chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| SendAt::Instant(t.with_timezone(&chrono::Utc)))
            .map_err(|_| problem()),
        (Some(_), Some(_), None) => {
            chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                .map(SendAt::Local)
                .map_err(|_| problem())
        }
        _ => Err(problem()),
    }
}

/// The `.toml` issue files in `dir`, in name order.
///
/// # Errors
/// The folder cannot be read.
pub fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the issues folder `{}`", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the issues folder `{}`", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The issue file in `dir` with the latest `date` (ties: the last name).
///
/// # Errors
/// The folder cannot be read, holds no `.toml` files, or a file's `date`
/// cannot be read (so "newest" would be a guess).
pub fn newest(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut best: Option<(NaiveDate, PathBuf)> = None;
    for path in files(dir)? {
        let key = (read_timing(&path)?.date, path);
        if best.as_ref().is_none_or(|b| key > *b) {
            best = Some(key);
        }
    }
    best.map(|(_, path)| path).ok_or_else(|| {
        anyhow::anyhow!(
            "no issue files (*.toml) in `{}`; name one on the command line",
            dir.display()
        )
    })
}
