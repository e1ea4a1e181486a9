//! The variables the settings name (the link secret, SMTP passwords, a DKIM
//! key, `CATCHUP_SMTP_URL`): read from the process environment, then from
//! the project's environment file (`[paths] env_file`,
//! `config/catchup.env` unless set).
//!
//! cron and systemd start a command with almost no environment, so the
//! secrets a send needs live in a file only the operator can read, and
//! every run reads it itself: the line `catchup cron` prints then works as
//! printed, and the same file serves an interactive run. The file is
//! `NAME=value` lines in the form systemd's `EnvironmentFile=` reads, so
//! one file can serve both. A variable set in the process environment wins
//! over the file, as it does for systemd's `Environment=`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fs::{self, FileError};

/// Where the environment file is unless `[paths] env_file` says otherwise.
pub(crate) const DEFAULT_ENV_FILE: &str = "config/catchup.env";

/// Where a run's variables come from.
#[derive(Clone, Default)]
pub struct Env {
    /// Consult the process environment first.
    process: bool,
    /// The environment file, whether or not it exists.
    path: Option<PathBuf>,
    /// The file's variables (none if it does not exist).
    vars: Arc<HashMap<String, String>>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the values are secrets.
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Env")
            .field("process", &self.process)
            .field("path", &self.path)
            .field("names", &names)
            .finish()
    }
}

/// Why the environment file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(transparent)]
    File(#[from] FileError),
    /// The line's text is never shown: it may hold a secret.
    #[error("{}:{line}: {why}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        why: String,
    },
}

impl Env {
    /// The process environment alone (settings parsed from text, in tests).
    pub fn process() -> Env {
        Env {
            process: true,
            ..Env::default()
        }
    }

    /// The process environment, then the file at `path` if there is one.
    ///
    /// # Errors
    /// The file exists but cannot be read, others can read it, or a line is
    /// not `NAME=value`.
    pub fn load(path: &Path) -> Result<Env, EnvError> {
        Ok(Env {
            process: true,
            ..Env::file_only(path)?
        })
    }

    /// What a run started by cron or systemd sees: the file alone.
    ///
    /// # Errors
    /// As [`Env::load`].
    pub fn file_only(path: &Path) -> Result<Env, EnvError> {
        Ok(Env {
            process: false,
            path: Some(path.to_path_buf()),
            vars: Arc::new(read_file(path)?.unwrap_or_default()),
        })
    }

    /// A variable's value; an empty value counts as not set.
    pub fn get(&self, name: &str) -> Option<String> {
        let from_process = self
            .process
            .then(|| std::env::var(name).ok())
            .flatten()
            .filter(|v| !v.is_empty());
        from_process.or_else(|| self.vars.get(name).filter(|v| !v.is_empty()).cloned())
    }

    /// Variables set both in the environment and in the file, to different
    /// values: this run uses the environment's, a run from cron or systemd
    /// the file's, so links one makes the other would not accept.
    pub fn conflicts(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .vars
            .iter()
            .filter(|(name, value)| {
                self.process && std::env::var(name).is_ok_and(|v| !v.is_empty() && v != **value)
            })
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// Where the file is, if there is one.
    pub fn file(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What to do about a missing variable, for messages: add it to the
    /// environment file, or (with none) export it.
    pub fn where_to_set(&self, name: &str) -> String {
        match &self.path {
            Some(path) => format!("add `{name}=...` to `{}` (mode 600)", path.display()),
            None => format!("export {name}"),
        }
    }
}

/// The variables in the file at `path`; `None` if there is no file.
fn read_file(path: &Path) -> Result<Option<HashMap<String, String>>, EnvError> {
    let bytes = match fs::read_secret(path, fs::CONFIG_LIMIT, 0o077) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == Some(std::io::ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let text = String::from_utf8(bytes).map_err(|e| EnvError::Syntax {
        path: path.to_path_buf(),
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        why: "the line is not valid UTF-8".into(),
    })?;
    let vars = parse(&text).map_err(|(line, why)| EnvError::Syntax {
        path: path.to_path_buf(),
        line,
        why,
    })?;
    Ok(Some(vars))
}

/// `NAME=value` lines: blank lines and `#` comments skipped, an optional
/// `export `, a value bare (trimmed), in single quotes (as written) or in
/// double quotes (`\"`, `\\`, `\n` and `\$` escaped; it may run over
/// several lines, as a PEM key does). A later line wins over an earlier.
///
/// # Errors
/// The first line that is not one of those: (1-based line, why).
pub(crate) fn parse(text: &str) -> Result<HashMap<String, String>, (usize, String)> {
    let mut vars = HashMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            return Err((index + 1, "expected NAME=value".into()));
        };
        let name = name.trim_end();
        if !is_name(name) {
            return Err((
                index + 1,
                "a variable's name is letters, digits and `_`, not starting with a digit".into(),
            ));
        }
        let value = value.trim_start();
        let value = match value.chars().next() {
            Some('\'') => single_quoted(&value[1..]),
            Some('"') => double_quoted(&value[1..], &mut lines),
            _ => Ok(value.trim_end().to_string()),
        }
        .map_err(|why| (index + 1, why))?;
        vars.insert(name.to_string(), value);
    }
    Ok(vars)
}

fn unclosed(quote: char) -> String {
    format!("the value's opening {quote} is never closed")
}

/// After a quoted value: nothing, or a comment.
fn after_value(value: String, rest: &str) -> Result<String, String> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(value)
    } else {
        Err("there is more after the value's closing quote; quote the whole value".into())
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn single_quoted(rest: &str) -> Result<String, String> {
    let (value, after) = rest.split_once('\'').ok_or_else(|| unclosed('\''))?;
    after_value(value.to_string(), after)
}

/// A double-quoted value from just after its opening quote, reading more
/// lines until the closing quote.
fn double_quoted<'a>(
    first: &'a str,
    more: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Result<String, String> {
    let mut value = String::new();
    let mut line = first;
    loop {
        let mut chars = line.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return after_value(value, &line[i + 1..]),
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('"' | '\\' | '$' | '`'))) => value.push(c),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => {}
                },
                c => value.push(c),
            }
        }
        let (_, next) = more.next().ok_or_else(|| unclosed('"'))?;
        value.push('\n');
        line = next;
    }
}

impl From<EnvError> for crate::error::Error {
    fn from(error: EnvError) -> crate::error::Error {
        crate::error::Error::new(crate::error::Kind::Config, error)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn vars(text: &str) -> Vec<(String, String)> {
        let mut vars: Vec<_> = parse(text).expect("parses").into_iter().collect();
        vars.sort();
        vars
    }

    #[test]
    fn the_forms_systemd_and_a_shell_share_are_read() {
        let text = "# secrets for cron\n\nCATCHUP_SECRET=0123 abc  \nexport A='it is'\nB = \"x \\\"y\\\" \\$HOME\" # note\nKEY=\"-----BEGIN-----\nMII\n-----END-----\"\nA=later\n";
        assert_eq!(
            vars(text),
            [
                ("A".to_string(), "later".to_string()),
                ("B".to_string(), "x \"y\" $HOME".to_string()),
                ("CATCHUP_SECRET".to_string(), "0123 abc".to_string()),
                (
                    "KEY".to_string(),
                    "-----BEGIN-----\nMII\n-----END-----".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_bad_line_is_named_without_its_text() {
        assert_eq!(
            parse("A=1\nsecret-value\n"),
            Err((2, "expected NAME=value".to_string()))
        );
        assert_eq!(
            parse("A=1\n1X=2\n").map(|_| ()),
            Err((
                2,
                "a variable's name is letters, digits and `_`, not starting with a digit"
                    .to_string()
            ))
        );
        assert_eq!(
            parse("K=\"open\nnever closed\n"),
            Err((1, "the value's opening \" is never closed".to_string()))
        );
        assert_eq!(
            parse("K='a' trailing\n"),
            Err((
                1,
                "there is more after the value's closing quote; quote the whole value".to_string()
            ))
        );
    }

    #[test]
    fn a_file_others_can_read_is_refused_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("catchup.env");
        let missing = Env::file_only(&path).expect("missing is fine");
        assert_eq!(missing.get("PATH"), None, "the file alone, not the process");
        std::fs::write(&path, "CATCHUP_TEST_ENV_ONLY=from-file\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = Env::load(&path).expect_err("readable by others");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot read `{}`: it holds a secret, but others can read it (mode 644); run chmod 600 on it",
                path.display()
            )
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let env = Env::load(&path).expect("private");
        assert_eq!(
            env.get("CATCHUP_TEST_ENV_ONLY").as_deref(),
            Some("from-file")
        );
        assert!(env.get("PATH").is_some(), "the process environment first");
        assert!(!format!("{env:?}").contains("from-file"), "{env:?}");
    }
}
