//! `catchup bounces PATH...`: returned mail read into the suppression list,
//! with a line for each message that changed something or could not be
//! understood, and a summary; or, with `--explain`, what each message is,
//! changing nothing.

use std::io::Write as _;
use std::path::Path;

use crate::bounces::block::Block;
use crate::bounces::classify::Finding;
use crate::bounces::mailto::Request;
use crate::bounces::reason::Meaning;
use crate::bounces::{Action, Explanation, Lookup, Run, Settings, explain, mailbox};
use crate::cli::BouncesArgs;
use crate::clock::Clock;
use crate::compose::newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;

pub(crate) fn run(config: &Path, args: &BouncesArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    if args.explain {
        return explain_each(&Settings::new(&newsletter), args);
    }
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
        &paths.state.join(crate::bounces::seen::FILE),
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
        match run.read(&item.origin, &item.bytes) {
            Ok(actions) => {
                for action in &actions {
                    tally.count(action);
                    if let Some(line) = action.describe() {
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
    let finished = run.finish();
    for (origin, action) in &finished.actions {
        tally.count(action);
        if let Some(line) = action.describe() {
            writeln!(out, "{origin}: {line}")?;
        }
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
    for block in &finished.blocks {
        eprintln!("{}", describe_block(block));
    }
    if problems.iter().any(|p| p.error) {
        return Err(Error::failure(
            "some mail could not be read (above); the rest was processed",
        ));
    }
    Ok(if finished.blocks.is_empty() {
        Exit::Ok
    } else {
        Exit::ProviderBlock
    })
}

/// What an operator is told of a provider's block.
fn describe_block(block: &Block) -> String {
    format!(
        "warning: {} is refusing mail from this newsletter: {} readers refused for {} (\"{}\"). Nobody was suppressed or counted for it. Check {}; then send again.",
        block.provider,
        block.readers,
        block.reason,
        crate::log::printable(&block.example),
        block.reason.what_to_check()
    )
}

#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    suppressed: usize,
    counted: usize,
    refused: usize,
    ignored: usize,
    not_understood: usize,
    read_before: usize,
}

impl Tally {
    fn count(&mut self, action: &Action) {
        match action {
            Action::Suppressed { .. } | Action::Unsubscribed { .. } => self.suppressed += 1,
            Action::Counted { .. } => self.counted += 1,
            Action::Refused { .. } | Action::Blocked { .. } => self.refused += 1,
            Action::AlreadySuppressed { .. }
            | Action::AlreadyUnsubscribed { .. }
            | Action::Ignored(_) => self.ignored += 1,
            Action::NotUnderstood(_) => self.not_understood += 1,
            Action::ReadBefore => self.read_before += 1,
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} message(s): {} reader(s) suppressed, {} soft bounce(s) counted, {} refusal(s) of the sender, {} with nothing to do, {} not understood, {} read before",
            self.messages,
            self.suppressed,
            self.counted,
            self.refused,
            self.ignored,
            self.not_understood,
            self.read_before
        )
    }
}

/// `--explain`: each message read as a run would read it, and nothing
/// changed.
fn explain_each(settings: &Settings, args: &BouncesArgs) -> Result<Exit> {
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    let problems = mailbox::each(&args.paths, |item| {
        let explanation = explain(&item.bytes, settings);
        let written = if args.json {
            let object = explanation_json(&item.origin, &explanation);
            writeln!(out, "{object}")
        } else {
            write!(out, "{}", explanation_text(&item.origin, &explanation))
        };
        if let Err(e) = written {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    for problem in &problems {
        let level = if problem.error { "error" } else { "warning" };
        eprintln!("{level}: {}", problem.text);
    }
    if problems.iter().any(|p| p.error) {
        return Err(Error::failure(
            "some mail could not be read (above); the rest was explained",
        ));
    }
    Ok(Exit::Ok)
}

/// What a finding means, as `--explain` names it.
fn outcome(finding: &Finding) -> &'static str {
    match finding.failure.meaning() {
        Meaning::Hard => "hard",
        Meaning::Soft => "soft",
        Meaning::Complaint => "complaint",
        Meaning::NotTheReader => "refused",
    }
}

fn unsubscribe_text(request: &Request) -> String {
    match request {
        Request::Token(token) => format!(
            "an unsubscribe request by mail, with the token {token}: a run unsubscribes the reader it names"
        ),
        Request::From {
            from,
            authenticated: Ok(()),
        } => format!(
            "an unsubscribe request by mail from {}, vouched for by the trusted Authentication-Results: a run unsubscribes them if they are on the list",
            crate::bounces::printable(from)
        ),
        Request::From {
            from,
            authenticated: Err(why),
        } => format!(
            "an unsubscribe request by mail from {} without a token, not honoured: {why}",
            crate::bounces::printable(from)
        ),
    }
}

fn explanation_text(origin: &str, explanation: &Explanation) -> String {
    match explanation {
        Explanation::Unsubscribe(request) => format!("{origin}: {}\n", unsubscribe_text(request)),
        Explanation::NotABounce(why) => format!("{origin}: not a bounce: {why}\n"),
        Explanation::NotUnderstood(why) => format!("{origin}: not understood: {why}\n"),
        Explanation::Report { findings, marked } => {
            let mut text = format!(
                "{origin}: {}\n",
                if *marked {
                    "carries catchup's mark: a run acts on it"
                } else {
                    "no mark of catchup's: a run acts on it only with [bounces] trust_unmarked"
                }
            );
            for finding in findings {
                let failure = &finding.failure;
                text.push_str(&format!(
                    "  {} {}: {} {}, \"{}\"\n",
                    outcome(finding),
                    finding
                        .recipient
                        .as_deref()
                        .map_or_else(|| "(no address)".to_string(), crate::bounces::printable),
                    failure.reason,
                    failure.status_or_dash(),
                    crate::log::printable(&failure.text)
                ));
            }
            text
        }
    }
}

fn explanation_json(origin: &str, explanation: &Explanation) -> serde_json::Value {
    match explanation {
        Explanation::Unsubscribe(request) => serde_json::json!({
            "message": origin,
            "outcome": "unsubscribe",
            "why": unsubscribe_text(request),
            "recipients": match request {
                Request::Token(_) => vec![],
                Request::From { from, authenticated } => vec![serde_json::json!({
                    "address": from,
                    "outcome": if authenticated.is_ok() { "unsubscribe" } else { "not-honoured" },
                })],
            },
        }),
        Explanation::NotABounce(why) => serde_json::json!({
            "message": origin, "outcome": "not-a-bounce", "why": why,
        }),
        Explanation::NotUnderstood(why) => serde_json::json!({
            "message": origin, "outcome": "not-understood", "why": why,
        }),
        Explanation::Report { findings, marked } => serde_json::json!({
            "message": origin,
            "outcome": "report",
            "marked": marked,
            "recipients": findings.iter().map(|f| serde_json::json!({
                "address": f.recipient,
                "outcome": outcome(f),
                "reason": f.failure.reason.as_str(),
                "status": f.failure.status,
                "stage": f.failure.stage.as_str(),
                "text": f.failure.text,
            })).collect::<Vec<_>>(),
        }),
    }
}
