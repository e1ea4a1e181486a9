//! Proofs: the files an editor opens to check an issue before it goes out,
//! `<issue>.html`, `<issue>.txt` and `<issue>.eml`, and the page
//! `index.html` listing every issue proofed so far.
//!
//! Every file is written whole or not at all (a temporary file, then a
//! rename), so a crash never leaves half a proof behind. Proofs are not
//! fsynced (running `preview` again makes them again); `archive.json`,
//! the list of every issue previewed, is. `archive.json` and `index.html`
//! are rewritten only when a preview changes them.

pub(crate) mod live;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use maud::{DOCTYPE, html};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fs::{FileError, create_folder, read_input, write_atomic, write_replaceable};

/// The archive's record of one previewed issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ArchiveEntry {
    pub name: String,
    pub date: NaiveDate,
    pub subject: String,
    pub preheader: String,
}

/// What `catchup preview` writes for one issue.
#[derive(Debug)]
pub(crate) struct Preview<'a> {
    pub entry: ArchiveEntry,
    pub html: &'a str,
    pub text: &'a str,
    pub eml: &'a [u8],
}

/// The archive's own record, kept beside the previews.
const ARCHIVE: &str = "archive.json";

/// Writes the preview files into `out` and refreshes the archive index.
/// Returns the paths written, in order: the three proofs always, the index
/// page when it changed.
///
/// # Errors
/// A file cannot be written; the message names it.
pub(crate) fn write(
    out: &Path,
    newsletter: &str,
    preview: &Preview<'_>,
) -> Result<Vec<PathBuf>, Error> {
    create_folder(out)?;
    let name = &preview.entry.name;
    let mut written = Vec::new();
    for (extension, bytes) in [
        ("html", preview.html.as_bytes()),
        ("txt", preview.text.as_bytes()),
        ("eml", preview.eml),
    ] {
        let path = out.join(format!("{name}.{extension}"));
        write_replaceable(&path, bytes)?;
        written.push(path);
    }

    let archive_path = out.join(ARCHIVE);
    let before = read_archive(&archive_path)?;
    let mut archive = before.clone();
    archive.retain(|e| &e.name != name);
    archive.push(preview.entry.clone());
    archive.sort_by(|a, b| (b.date, &b.name).cmp(&(a.date, &a.name)));
    // The list of every issue previewed is not made again by one rerun, so
    // it is fsynced; a rerun that changes none of it leaves it alone.
    if archive != before {
        let json = serde_json::to_vec_pretty(&archive).map_err(Error::failure)?;
        write_atomic(&archive_path, &json)?;
    }
    // The page is replaced (renamed over, whatever is there) unless it
    // already reads exactly as it should.
    let index = out.join("index.html");
    let page = index_page(newsletter, &archive);
    let unchanged = read_small(&index).is_ok_and(|now| now.as_deref() == Some(page.as_bytes()));
    if !unchanged {
        write_replaceable(&index, page.as_bytes())?;
        written.push(index);
    }
    Ok(written)
}

/// The archive index and page are small; anything larger is not ours.
const LIMIT: u64 = 16 * 1024 * 1024;

/// A file of ours as it is now, or `None` if there is none yet. A FIFO,
/// device or folder in its place is an error, never waited on; a link is
/// read through, never written through (files are replaced by rename).
fn read_small(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    match read_input(path, LIMIT) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_archive(path: &Path) -> Result<Vec<ArchiveEntry>, Error> {
    let Some(bytes) = read_small(path)? else {
        return Ok(Vec::new());
    };
    serde_json::from_slice(&bytes).map_err(|_| {
        Error::failure(format!(
            "`{}` is damaged; delete it and preview each issue again to rebuild the index",
            path.display()
        ))
    })
}

/// The archive page: every previewed issue, newest first.
fn index_page(newsletter: &str, archive: &[ArchiveEntry]) -> String {
    let title = format!("{newsletter}: archive");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(INDEX_CSS)) }
            }
            body {
                main {
                    h1 { (title) }
                    ol.issues reversed {
                        @for entry in archive {
                            li {
                                a href={ (entry.name) ".html" } { (entry.subject) }
                                " "
                                time datetime=(entry.date.to_string()) { (entry.date.format("%-d %B %Y")) }
                                p { (entry.preheader) }
                                small {
                                    a href={ (entry.name) ".txt" } { "text" }
                                    " · "
                                    a href={ (entry.name) ".eml" } { "message (.eml)" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

const INDEX_CSS: &str = "body{margin:0;background:#eef1f4;font:16px/1.5 Helvetica,Arial,sans-serif;color:#1f2933}main{max-width:640px;margin:0 auto;padding:24px 16px}h1{font-family:Georgia,serif}ol{padding-left:1.5em}li{margin:0 0 20px}time{color:#52606d;white-space:nowrap}p{margin:4px 0}a{color:#0b4f6c}";
