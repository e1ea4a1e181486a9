//! Where returned mail is read from: a Maildir (`new/` and `cur/`), an mbox
//! file, one message file, or a folder of `.eml` files. Messages are handed
//! out one at a time, so a large mailbox is never all in memory, and none
//! past [`MESSAGE_LIMIT`] is held; a file that cannot be read is reported by
//! name and the rest are still read.

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::fs;

/// A returned message is rarely more than a copy of the original; anything
/// past this is not one.
pub(crate) const MESSAGE_LIMIT: u64 = 50 * 1024 * 1024;

/// One message and where it came from.
#[derive(Debug)]
pub(crate) struct Item {
    /// `path`, or `path, message 3` inside an mbox.
    pub origin: String,
    pub bytes: Vec<u8>,
}

/// Something wrong with a source, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// An error (something could not be read) rather than a warning.
    pub error: bool,
    pub text: String,
}

impl Problem {
    fn error(text: String) -> Problem {
        Problem { error: true, text }
    }

    fn warning(text: String) -> Problem {
        Problem { error: false, text }
    }
}

/// Hands every message under `paths` to `visit`, in a stable order (file
/// names sorted), and returns what was wrong along the way.
pub(crate) fn each(paths: &[PathBuf], mut visit: impl FnMut(Item)) -> Vec<Problem> {
    let mut problems = Vec::new();
    for path in paths {
        read_path(path, &mut visit, &mut problems);
    }
    problems
}

fn read_path(path: &Path, visit: &mut impl FnMut(Item), problems: &mut Vec<Problem>) {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let is_maildir = ["cur", "new", "tmp"].iter().any(|d| path.join(d).is_dir());
            if is_maildir {
                read_maildir(path, visit, problems);
            } else {
                read_folder(path, visit, problems);
            }
        }
        Ok(_) => read_file(path, visit, problems),
        Err(e) => problems.push(Problem::error(
            fs::FileError::io(fs::Action::Read, path, e).to_string(),
        )),
    }
}

/// `new/` then `cur/`; `tmp/` holds messages still being delivered.
fn read_maildir(dir: &Path, visit: &mut impl FnMut(Item), problems: &mut Vec<Problem>) {
    for sub in ["new", "cur"] {
        let folder = dir.join(sub);
        // A link where a Maildir's folder belongs is someone else's folder.
        if std::fs::symlink_metadata(&folder).is_ok_and(|m| m.file_type().is_symlink()) {
            problems.push(Problem::error(format!(
                "`{}` is a symbolic link; skipped (a Maildir holds its own folders)",
                folder.display()
            )));
            continue;
        }
        if !folder.is_dir() {
            if sub == "new" {
                problems.push(Problem::warning(format!(
                    "`{}` is a Maildir without `new/`, where new mail is delivered; read `cur/` only",
                    dir.display()
                )));
            }
            continue;
        }
        for path in entries(&folder, problems, |_| true) {
            match fs::open_input(&path) {
                Ok(file) => read_message(&path, file, visit, problems),
                Err(e) => problems.push(Problem::error(e.to_string())),
            }
        }
    }
}

/// A plain folder: its `.eml` files.
fn read_folder(dir: &Path, visit: &mut impl FnMut(Item), problems: &mut Vec<Problem>) {
    let found = entries(dir, problems, |name| {
        Path::new(name)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
    });
    if found.is_empty() {
        let inside_maildir = ["cur", "new"]
            .iter()
            .any(|d| dir.file_name().is_some_and(|n| n == *d))
            && dir
                .parent()
                .is_some_and(|p| p.join("cur").is_dir() || p.join("new").is_dir());
        let hint = if inside_maildir {
            format!(
                "; it looks like part of a Maildir: give `{}`",
                fs::folder_of(dir).display()
            )
        } else {
            String::new()
        };
        problems.push(Problem::error(format!(
            "`{}` holds no `.eml` files and is not a Maildir (no `new/` or `cur/`){hint}",
            dir.display()
        )));
    }
    for path in found {
        read_file(&path, visit, problems);
    }
}

/// The files in `dir` whose names pass `keep`, sorted; hidden files
/// skipped, and links too (a link planted in a mailbox could make a run as
/// root read any file).
fn entries(dir: &Path, problems: &mut Vec<Problem>, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) => {
            problems.push(Problem::error(format!(
                "cannot list `{}`: {}",
                dir.display(),
                fs::describe(&e)
            )));
            return Vec::new();
        }
    };
    let mut paths = Vec::new();
    for entry in listing.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !keep(&name) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            problems.push(Problem::error(format!(
                "`{}` is a symbolic link; skipped (a mailbox holds files)",
                entry.path().display()
            )));
            continue;
        }
        paths.push(entry.path());
    }
    paths.sort();
    paths
}

/// An mbox if it starts with a `From ` line, otherwise one message.
fn read_file(path: &Path, visit: &mut impl FnMut(Item), problems: &mut Vec<Problem>) {
    let mut file = match fs::open_input(path) {
        Ok(file) => file,
        Err(e) => return problems.push(Problem::error(e.to_string())),
    };
    // One open: the first bytes say which, and the rest is read from there.
    let mut start = [0u8; 5];
    let n = file.read(&mut start).unwrap_or(0);
    let whole = LineEndings::new(std::io::Cursor::new(start[..n].to_vec()).chain(file));
    if &start[..n] == b"From " {
        read_mbox(path, whole, problems, visit);
    } else {
        read_message(path, whole, visit, problems);
    }
}

/// A reader that turns every line ending (CRLF, and CR alone, as old Mac
/// mail systems wrote) into LF, so that a message and an mbox split into
/// lines whoever wrote them.
struct LineEndings<R> {
    inner: R,
    /// The last byte given out was a CR, turned into LF: an LF that
    /// follows it is dropped.
    after_cr: bool,
}

impl<R> LineEndings<R> {
    fn new(inner: R) -> LineEndings<R> {
        LineEndings {
            inner,
            after_cr: false,
        }
    }
}

impl<R: Read> Read for LineEndings<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            let mut out = 0;
            for i in 0..n {
                let b = buf[i];
                if b == b'\n' && self.after_cr {
                    self.after_cr = false;
                    continue;
                }
                self.after_cr = b == b'\r';
                buf[out] = if self.after_cr { b'\n' } else { b };
                out += 1;
            }
            // A buffer of one dropped LF is not the end of the file.
            if out > 0 || n == 0 {
                return Ok(out);
            }
        }
    }
}

fn read_message(
    path: &Path,
    file: impl std::io::Read,
    visit: &mut impl FnMut(Item),
    problems: &mut Vec<Problem>,
) {
    let mut bytes = Vec::new();
    match file.take(MESSAGE_LIMIT + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > MESSAGE_LIMIT => problems.push(Problem::error(
            fs::FileError {
                action: fs::Action::Read,
                path: path.to_path_buf(),
                problem: fs::Problem::TooLarge {
                    limit: MESSAGE_LIMIT,
                },
            }
            .to_string(),
        )),
        Ok(_) => visit(Item {
            origin: path.display().to_string(),
            bytes,
        }),
        Err(e) => problems.push(Problem::error(
            fs::FileError::io(fs::Action::Read, path, e).to_string(),
        )),
    }
}

/// Each message of an mbox (mboxrd): a message starts at a line that
/// begins `From `, and a line of `>`s before `From ` loses one `>`. The file
/// is read a line at a time, and a message past [`MESSAGE_LIMIT`] is
/// skipped as it is read, never held whole.
fn read_mbox(
    path: &Path,
    file: impl std::io::Read,
    problems: &mut Vec<Problem>,
    visit: &mut impl FnMut(Item),
) {
    let mut reader = BufReader::new(file);
    let mut mbox = Mbox {
        path,
        count: 0,
        message: None,
        too_big: false,
    };
    let mut line = Vec::new();
    let mut at_line_start = true;
    loop {
        line.clear();
        // A line is read in pieces of at most the limit, so that one
        // endless line cannot fill memory either.
        match (&mut reader)
            .take(MESSAGE_LIMIT)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                problems.push(Problem::error(format!(
                    "cannot read `{}` past message {}: {}",
                    path.display(),
                    mbox.count,
                    fs::describe(&e)
                )));
                return;
            }
        }
        if at_line_start && line.starts_with(b"From ") {
            mbox.finish(visit, problems);
            mbox.start();
        } else {
            let unquoted = at_line_start && is_quoted_from(&line);
            mbox.push(if unquoted { &line[1..] } else { &line });
        }
        at_line_start = line.ends_with(b"\n");
    }
    mbox.finish(visit, problems);
    if !at_line_start {
        problems.push(Problem::warning(format!(
            "`{}` ends in the middle of a line: the mbox looks cut short, and its last message was read as it is",
            path.display()
        )));
    }
}

/// `>From `, `>>From `…: a quoted `From ` line.
fn is_quoted_from(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    quotes > 0 && line[quotes..].starts_with(b"From ")
}

/// The message of an mbox being read.
struct Mbox<'p> {
    path: &'p Path,
    count: usize,
    message: Option<Vec<u8>>,
    too_big: bool,
}

impl Mbox<'_> {
    fn start(&mut self) {
        self.count += 1;
        self.message = Some(Vec::new());
        self.too_big = false;
    }

    fn push(&mut self, bytes: &[u8]) {
        let Some(message) = &mut self.message else {
            return; // before the first `From ` line
        };
        if self.too_big {
            return;
        }
        message.extend_from_slice(bytes);
        if message.len() as u64 > MESSAGE_LIMIT {
            self.too_big = true;
            *message = Vec::new();
        }
    }

    fn finish(&mut self, visit: &mut impl FnMut(Item), problems: &mut Vec<Problem>) {
        let Some(bytes) = self.message.take() else {
            return;
        };
        let origin = format!("{}, message {}", self.path.display(), self.count);
        if self.too_big {
            problems.push(Problem::error(format!(
                "{origin} is larger than {} MB and was skipped: it is not a returned message",
                MESSAGE_LIMIT / 1024 / 1024
            )));
        } else {
            visit(Item { origin, bytes });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_ending_reads_as_lf() {
        for (input, expected) in [
            (&b"a\r\nb\r\n\r\nc"[..], &b"a\nb\n\nc"[..]),
            (b"a\rb\r\rc\r", b"a\nb\n\nc\n"),
            (b"a\nb\n", b"a\nb\n"),
            (b"\r\n\r\n", b"\n\n"),
        ] {
            // One byte at a time, so that a CR and its LF come in two reads.
            let mut read = Vec::new();
            let mut reader = LineEndings::new(std::io::Cursor::new(input.to_vec()));
            let mut byte = [0u8; 1];
            while reader.read(&mut byte).expect("read") == 1 {
                read.push(byte[0]);
            }
            assert_eq!(read, expected, "{:?}", String::from_utf8_lossy(input));
        }
    }

    fn read(paths: &[PathBuf]) -> (Vec<String>, Vec<Problem>) {
        let mut seen = Vec::new();
        let problems = each(paths, |item| seen.push(item.origin));
        (seen, problems)
    }

    #[test]
    fn maildirs_mboxes_and_folders_are_all_read_and_problems_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("Maildir");
        std::fs::create_dir_all(maildir.join("cur")).expect("cur");
        std::fs::write(maildir.join("cur/2.host:2,S"), "Subject: b\n\nb\n").expect("write");
        std::fs::write(maildir.join("cur/.hidden"), "x").expect("write");
        let mbox = dir.path().join("bounces.mbox");
        std::fs::write(
            &mbox,
            "From a@b Thu Nov 19 10:00:00 2026\nSubject: one\n\n>From here\n>>From there\n\nFrom c@d Thu Nov 19 11:00:00 2026\nSubject: two\n\ncut sh",
        )
        .expect("write");
        let (seen, problems) = read(&[maildir.clone(), mbox.clone(), dir.path().join("missing")]);
        assert_eq!(
            seen,
            vec![
                format!("{}", maildir.join("cur/2.host:2,S").display()),
                format!("{}, message 1", mbox.display()),
                format!("{}, message 2", mbox.display()),
            ]
        );
        let texts: Vec<&str> = problems.iter().map(|p| p.text.as_str()).collect();
        assert!(
            texts[0].contains("without `new/`") && !problems[0].error,
            "{texts:?}"
        );
        assert!(
            texts[1].contains("cut short") && !problems[1].error,
            "{texts:?}"
        );
        assert!(
            texts[2].contains("missing") && problems[2].error,
            "{texts:?}"
        );
    }

    #[test]
    fn an_mbox_is_unquoted_and_a_huge_message_is_skipped_as_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mbox = dir.path().join("big.mbox");
        let mut text = b"From a@b Thu Nov 19 10:00:00 2026\nSubject: big\n\n".to_vec();
        let line = [b'x'; 1023];
        for _ in 0..(MESSAGE_LIMIT / 1024 + 2) {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        text.extend_from_slice(
            b"From c@d Thu Nov 19 11:00:00 2026\nSubject: small\n\n>From here\n>>From there\n",
        );
        std::fs::write(&mbox, text).expect("write");
        let mut read = Vec::new();
        let problems = each(std::slice::from_ref(&mbox), |item| read.push(item));
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].origin, format!("{}, message 2", mbox.display()));
        assert!(
            read[0].bytes.ends_with(b"\nFrom here\n>From there\n"),
            "{:?}",
            String::from_utf8_lossy(&read[0].bytes)
        );
        assert!(
            problems[0].error && problems[0].text.contains("message 1 is larger than 50 MB"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe.eml");
        crate::fs::mkfifo(&fifo);
        let (seen, problems) = read(&[dir.path().to_path_buf()]);
        assert!(seen.is_empty());
        assert!(
            problems[0].error && problems[0].text.contains("pipe.eml"),
            "{problems:?}"
        );
    }
}
