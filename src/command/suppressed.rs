//! `catchup suppressed`: who is never sent to and why; `catchup suppressed
//! remove ADDRESS`: an operator's correction, recorded as `removed`.

use std::io::Write as _;
use std::path::Path;

use chrono::SecondsFormat;

use crate::cli::{RemoveArgs, SuppressedArgs, SuppressedCommand};
use crate::clock::Clock;
use crate::compose::newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::list::reader::ReaderKey;
use crate::list::suppression::{self, Event};
use crate::log::printable;

pub(crate) fn run(config: &Path, args: &SuppressedArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let path = &newsletter.paths.suppressed;
    match &args.command {
        Some(SuppressedCommand::Remove(remove)) => self::remove(path, remove),
        None => list(path, args.json),
    }
}

/// Why a bounce suppressed (`user-unknown` of `hard-bounce 5.1.1
/// user-unknown`); none for other reasons and for rows written before the
/// reason was kept.
fn bounce_reason(reason: &str) -> Option<&'static str> {
    let last = reason.split_whitespace().last()?;
    crate::bounces::reason::Reason::parse(last).map(|r| r.as_str())
}

fn list(path: &Path, json: bool) -> Result<Exit> {
    let (events, warnings) = suppression::events(path)?;
    for warning in &warnings {
        eprintln!("warning: {}", printable(warning));
    }
    let now = suppression::current(&events);
    let mut out = std::io::stdout().lock();
    if json {
        let rows: Vec<serde_json::Value> = now
            .iter()
            .map(|e| {
                serde_json::json!({
                    "email": e.email,
                    "reason": e.reason,
                    "bounce_reason": bounce_reason(&e.reason),
                    "at": e.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "issue": e.issue,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    let width = now.iter().map(|e| e.email.len()).max().unwrap_or(5).max(5);
    let reason_width = now.iter().map(|e| e.reason.len()).max().unwrap_or(6).max(6);
    let row = |email: &str, reason: &str, since: &str, issue: &str| {
        format!("{email:width$}  {reason:reason_width$}  {since:20}  {issue}")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", row("email", "reason", "since", "issue"))?;
    for event in &now {
        let since = event.at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let issue = event.issue.as_deref().unwrap_or("");
        let (email, reason, issue) = (
            printable(&event.email),
            printable(&event.reason),
            printable(issue),
        );
        writeln!(out, "{}", row(&email, &reason, &since, &issue))?;
    }
    writeln!(out, "{} address(es) suppressed", now.len())?;
    Ok(Exit::Ok)
}

fn remove(path: &Path, args: &RemoveArgs) -> Result<Exit> {
    let address = crate::list::address::parse(&args.address).map_err(Error::config)?;
    let (events, _) = suppression::events(path)?;
    let key = ReaderKey::of(address.as_ref());
    let Some(current) = suppression::current(&events)
        .into_iter()
        .find(|e| ReaderKey::of(&e.email) == key)
    else {
        return Err(Error::failure(format!(
            "{address} is not on the suppression list `{}`",
            path.display()
        )));
    };
    // Their own unsubscribe or complaint counts, even if a bounce came
    // after it and is what the list shows now.
    let own = suppression::since_last_lift(&events, key)
        .into_iter()
        .rfind(|e| e.is_readers_own());
    if let (Some(own), false) = (own, args.force) {
        return Err(Error::config(format!(
            "{address} is suppressed because of their own {} on {}; take it off only if they asked to be sent to again, with --force",
            printable(&own.reason),
            own.at.format("%Y-%m-%d")
        )));
    }
    let was = format!(
        "{} since {}",
        printable(&current.reason),
        current.at.format("%Y-%m-%d")
    );
    let email = current.email.clone();
    suppression::append(
        path,
        &[Event {
            email: email.clone(),
            reason: "removed".into(),
            at: Clock::System.now(),
            issue: None,
        }],
    )?;
    writeln!(
        std::io::stdout().lock(),
        "removed {email} from the suppression list (it was: {was}); sends include them again"
    )?;
    Ok(Exit::Ok)
}
