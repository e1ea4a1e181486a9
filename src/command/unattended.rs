//! What a run started by cron or systemd would lack. Such a run gets almost
//! no environment, so it finds its secrets in the environment file alone.
//! These checks load every secret the run needs the way that run will, and
//! say what to put where, before a line or unit is printed that would fail
//! at every tick.

use std::path::{Path, PathBuf};

use crate::config::{Env, KeySource, Newsletter, SecretSource};
use crate::error::{Error, Result};

/// What the unattended run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// `send --due`: the link secret, a relay and its password, the DKIM
    /// key, the subscriber list.
    Send,
    /// `serve`: the link secret; with `[subscribe]`, also a relay, its
    /// password and the DKIM key, for the confirmations.
    Serve,
}

/// The environment file, as an absolute path, and the variables the run
/// reads from it.
#[derive(Debug)]
pub(crate) struct Checked {
    pub env_file: PathBuf,
    pub variables: Vec<String>,
}

/// Loads every secret `needs` asks for from the environment file alone.
///
/// # Errors
/// Every problem at once: a secret that does not load (naming what to add
/// to the file, and saying when only this shell has it), no relay, a
/// subscriber list that does not open.
pub(crate) fn check(newsletter: &Newsletter, project: &Path, needs: Needs) -> Result<Checked> {
    let env_file = project.join(&newsletter.paths.env_file);
    let env = Env::file_only(&newsletter.paths.env_file)?;
    for warning in &newsletter.warnings {
        eprintln!("{}\n", warning.render());
    }
    let mut problems = Vec::new();
    if let Err(e) = newsletter.web.keys(&env) {
        problems.push(e.to_string());
    }
    let mut variables = secret_variables(newsletter);
    let mails = needs == Needs::Send || newsletter.subscribe.is_some();
    if mails {
        match super::send::relays(newsletter, &env, &[], false) {
            Ok(relays) => {
                variables.extend(
                    relays
                        .iter()
                        .filter(|smtp| smtp.username.is_some())
                        .map(|smtp| smtp.password_env.clone()),
                );
                let domain = newsletter.from.email.domain();
                if let Err(e) = crate::deliver::check_relays(&relays, domain, &env) {
                    problems.push(e.to_string());
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
        if !newsletter.dkim.is_empty()
            && let Err(d) =
                crate::mail::dkim::Signer::load(&newsletter.dkim, &newsletter.source, &env)
        {
            problems.push(d.message);
        }
    }
    if needs == Needs::Send
        && let Err(e) = crate::list::subscribers::Subscribers::open(&newsletter.paths.subscribers)
    {
        problems.push(e.to_string());
    }
    variables.sort();
    variables.dedup();
    if problems.is_empty() {
        return Ok(Checked {
            env_file,
            variables,
        });
    }
    let only_here: Vec<&str> = variables
        .iter()
        .map(String::as_str)
        .filter(|name| env.get(name).is_none() && std::env::var_os(name).is_some())
        .collect();
    if !only_here.is_empty() {
        problems.push(format!(
            "this shell has {}, but cron and systemd do not pass this shell's environment on",
            only_here.join(", ")
        ));
    }
    let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    Err(Error::config(format!(
        "an unattended run would fail at every start; it reads its secrets from `{}` alone:\n{}",
        env_file.display(),
        list.join("\n")
    )))
}

/// The variables the settings name for secrets: the link secrets and the
/// DKIM key (relay passwords follow the relays).
fn secret_variables(newsletter: &Newsletter) -> Vec<String> {
    let web = &newsletter.web;
    let mut names: Vec<String> = std::iter::once(&web.secret)
        .chain(web.previous_secret.as_ref())
        .filter_map(|secret| match secret {
            SecretSource::Env(var) => Some(var.clone()),
            SecretSource::File(_) => None,
        })
        .collect();
    for dkim in &newsletter.dkim {
        if let KeySource::Env(var) = &dkim.key {
            names.push(var.clone());
        }
    }
    names
}

/// A command as cron and systemd are to run it: the program and its
/// arguments, quoted for each when printed. A path, or a word with
/// anything but letters, digits and `-_.=:`, is quoted; `send`, `--due`
/// are not.
#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub words: Vec<String>,
}

impl Command {
    /// For a crontab: words in single quotes for sh, and every `%`
    /// escaped (cron turns a bare `%` into a new line, and takes the
    /// backslash away before sh sees the word).
    pub(crate) fn for_cron(&self) -> String {
        self.words
            .iter()
            .map(|w| cron_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// For a systemd `ExecStart=`: words in double quotes, `\` and `"`
    /// escaped, and `%` doubled (systemd's specifiers).
    pub(crate) fn for_systemd(&self) -> String {
        self.words
            .iter()
            .map(|w| {
                let value = systemd_value(w);
                if plain(w) {
                    value
                } else {
                    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// True for a word that needs no quotes anywhere.
fn plain(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | ':'))
}

/// A word for a crontab line: in single quotes for sh unless plain (any
/// `'` escaped), with cron's `%` escaped.
pub(crate) fn cron_word(word: &str) -> String {
    if plain(word) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''")).replace('%', r"\%")
}

/// A value for a systemd unit: its `%` doubled.
pub(crate) fn systemd_value(value: &str) -> String {
    value.replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: issue 18 (adversarial re-run, N5). A `%` or a space in a path
    /// broke the printed cron line and units.
    #[test]
    fn words_are_quoted_for_cron_and_for_systemd() {
        let command = Command {
            words: vec![
                "/srv/p%1/bin dir/catchup".into(),
                "send".into(),
                "--due".into(),
                "it's".into(),
            ],
        };
        assert_eq!(
            command.for_cron(),
            r"'/srv/p\%1/bin dir/catchup' send --due 'it'\''s'"
        );
        assert_eq!(
            command.for_systemd(),
            r#""/srv/p%%1/bin dir/catchup" send --due "it's""#
        );
    }
}
