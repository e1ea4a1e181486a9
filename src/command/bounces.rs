//! `catchup bounces PATH...`: returned mail read into the suppression list,
//! with a line for each message that changed something or could not be
//! understood, and a summary.

use std::io::Write as _;
use std::path::Path;

use crate::bounces::{Action, Lookup, Run, Settings, mailbox};
use crate::cli::BouncesArgs;
use crate::clock::Clock;
use crate::compose::newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;

/// Where the bounce log lives in the state folder.
const LOG: &str = "bounces.csv";

pub(crate) fn run(config: &Path, args: &BouncesArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let keys = newsletter.web.keys(&newsletter.env)?;
    let paths = &newsletter.paths;
    crate::fs::create_folder(&paths.state)?;
    // Two runs at once would each record what the other records.
    let _lock =
        crate::fs::lock::take_lock(&paths.state.join("bounces.lock"), "returned mail (bounces)")?;
    let subscribers = args.subscribers.as_ref().unwrap_or(&paths.subscribers);
    let lookup = Lookup::build(subscribers, keys)?;
    let mut run = Run::start(
        Settings::new(&newsletter),
        lookup,
        &paths.suppressed,
        &paths.state.join(LOG),
        Clock::System.now(),
    )?;
    for warning in &run.warnings {
        eprintln!("warning: {warning}");
    }
    let mut tally = Tally::default();
    let mut list_failure = None;
    let mut out = std::io::stdout().lock();
    let problems = mailbox::each(&args.paths, |item| {
        if list_failure.is_some() {
            return;
        }
        match run.read(&item.bytes) {
            Ok(actions) => {
                for action in &actions {
                    tally.count(action);
                    if let Some(line) = describe(action) {
                        let _ = writeln!(out, "{}: {line}", item.origin);
                    }
                }
                tally.messages += 1;
            }
            Err(e) => list_failure = Some(e),
        }
    });
    if let Some(e) = list_failure {
        return Err(e.into());
    }
    for problem in &problems {
        let level = if problem.error { "error" } else { "warning" };
        eprintln!("{level}: {}", problem.text);
    }
    if args.dry_run {
        writeln!(out, "{} (dry run: nothing written)", tally.summary())?;
    } else {
        run.commit(&paths.suppressed)?;
        writeln!(out, "{}", tally.summary())?;
    }
    if problems.iter().any(|p| p.error) {
        return Err(Error::failure(
            "some mail could not be read (above); the rest was processed",
        ));
    }
    Ok(Exit::Ok)
}

/// A line for an action worth a line.
fn describe(action: &Action) -> Option<String> {
    Some(match action {
        Action::Suppressed {
            email,
            reason,
            issue,
        } => match issue {
            Some(issue) => format!("suppressed {email} ({reason}, issue {issue})"),
            None => format!("suppressed {email} ({reason})"),
        },
        Action::AlreadySuppressed { email } => format!("{email} is already suppressed"),
        Action::Counted {
            email,
            status,
            issues,
            limit,
        } if status.starts_with("5.7.") => format!(
            "refused by policy ({status}) for {email}: {issues} of {limit} issues before suppression. If many readers at one provider get this, check your DKIM, SPF and DMARC records"
        ),
        Action::Counted {
            email,
            status,
            issues,
            limit,
        } => format!(
            "soft bounce ({status}) for {email}: {issues} of {limit} issues before suppression"
        ),
        Action::Ignored(why) => format!("nothing to do: {why}"),
        Action::NotUnderstood(why) => format!("not understood, left alone: {why}"),
        Action::ReadBefore => return None,
    })
}

#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    suppressed: usize,
    counted: usize,
    ignored: usize,
    not_understood: usize,
    read_before: usize,
}

impl Tally {
    fn count(&mut self, action: &Action) {
        match action {
            Action::Suppressed { .. } => self.suppressed += 1,
            Action::Counted { .. } => self.counted += 1,
            Action::AlreadySuppressed { .. } | Action::Ignored(_) => self.ignored += 1,
            Action::NotUnderstood(_) => self.not_understood += 1,
            Action::ReadBefore => self.read_before += 1,
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} message(s): {} reader(s) suppressed, {} soft bounce(s) counted, {} with nothing to do, {} not understood, {} read before",
            self.messages,
            self.suppressed,
            self.counted,
            self.ignored,
            self.not_understood,
            self.read_before
        )
    }
}
