//! What an issue file says about itself, read cheaply (no seeds parsed, no
//! story resolved): its date and `send_at`, subject and story ids. Enough to
//! decide what is due, which issue is newest, and whether two files would
//! send one issue twice.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use toml::de::{DeTable, DeValue};

use super::IssueName;
use super::file::{plain_date, send_at};
use crate::config::read_source;
use crate::error::Error;
use crate::fs::{Action, FileError};
use crate::schedule::{Schedule, SendAt, send_moment};

/// An issue file, outlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outline {
    pub path: PathBuf,
    pub name: IssueName,
    pub date: NaiveDate,
    pub send_at: Option<SendAt>,
    pub subject: String,
    /// The picked story ids, in file order.
    pub stories: Vec<String>,
}

impl Outline {
    /// Reads an issue file's outline.
    ///
    /// # Errors
    /// The file is badly named or cannot be read, or its date, `send_at` or
    /// subject is missing or malformed; the message names the file and says
    /// to run `catchup check` on it.
    pub(crate) fn read(path: &Path) -> Result<Outline, Error> {
        let name = IssueName::from_path(path)?;
        let source = read_source(path)?;
        let bad = || {
            Error::config(format!(
                "cannot tell when `{}` goes out; run `catchup check {}` to see why",
                path.display(),
                path.display()
            ))
        };
        let table = DeTable::parse(&source.text)
            .map_err(|_| bad())?
            .into_inner();
        let field = |key: &str| table.get(key).map(|v| v.get_ref());
        let date = match field("date") {
            Some(DeValue::Datetime(d)) => plain_date(d).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        let send_at = match field("send_at") {
            Some(DeValue::Datetime(d)) => Some(send_at(d).map_err(|_| bad())?),
            Some(_) => return Err(bad()),
            None => None,
        };
        let subject = match field("subject") {
            Some(DeValue::String(s)) => s.trim().to_string(),
            _ => String::new(),
        };
        Ok(Outline {
            path: path.to_path_buf(),
            name,
            date,
            send_at,
            subject,
            stories: story_ids(field("sections")),
        })
    }

    /// When the issue goes out.
    pub(crate) fn moment(&self, schedule: Option<&Schedule>) -> DateTime<Utc> {
        send_moment(schedule, self.date, self.send_at)
    }
}

fn story_ids(sections: Option<&DeValue<'_>>) -> Vec<String> {
    let Some(DeValue::Array(sections)) = sections else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for section in sections.iter() {
        let Some(DeValue::Array(stories)) = section.get_ref().get("stories").map(|v| v.get_ref())
        else {
            continue;
        };
        for story in stories.iter() {
            let id = match story.get_ref() {
                DeValue::String(id) => Some(id.trim()),
                DeValue::Table(t) => t
                    .get("id")
                    .and_then(|v| v.get_ref().as_str())
                    .map(str::trim),
                _ => None,
            };
            ids.extend(id.map(str::to_string));
        }
    }
    ids
}

/// The `.toml` issue files in `dir`, in name order.
///
/// # Errors
/// The folder cannot be read.
pub(crate) fn files(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    let fail = |e| FileError::io(Action::Read, dir, e);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let path = entry.map_err(fail)?.path();
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
pub(crate) fn newest(dir: &Path) -> Result<PathBuf, Error> {
    let mut best: Option<(NaiveDate, PathBuf)> = None;
    for path in files(dir)? {
        let key = (Outline::read(&path)?.date, path);
        if best.as_ref().is_none_or(|b| key > *b) {
            best = Some(key);
        }
    }
    best.map(|(_, path)| path).ok_or_else(|| {
        Error::config(format!(
            "no issue files (*.toml) in `{}`; name one on the command line",
            dir.display()
        ))
    })
}
