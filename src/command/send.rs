//! `catchup send`: a test send, a list send, a dry run, or the file outbox.

use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;

use crate::cli::{SendArgs, Transport};
use crate::clock::Clock;
use crate::config::{Newsletter, Smtp};
use crate::deliver::engine::Tally;
use crate::deliver::plan::{Disposition, Widen};
use crate::deliver::{self, ListFiles, ListReport};
use crate::exit::{ConfigError, Exit};
use crate::message::Reader;

use super::compose::compose;

pub fn run(config: &Path, args: &SendArgs) -> anyhow::Result<Exit> {
    let Some(issue_path) = &args.issue else {
        return super::due::run(config, args);
    };
    let composed = compose(config, Some(issue_path))?;
    for warning in &composed.warnings {
        eprintln!("{}\n", warning.render());
    }
    let newsletter = &composed.newsletter;
    let issue = composed.issue.name.clone();
    let template = Arc::new(composed.template);
    let clock = args.now.map_or(Clock::System, Clock::Fixed);
    let (files, widen) = list_options(newsletter, args);
    let to = if args.to.is_empty() {
        None
    } else {
        Some(test_readers(&args.to)?)
    };

    if args.dry_run {
        return dry_run(&issue, to.as_deref(), &files, widen);
    }
    if args.transport == Transport::File {
        let dir = newsletter.paths.previews.join("outbox").join(&issue);
        let written = deliver::write_outbox(&template, &dir, to, &files, clock)?;
        println!(
            "wrote {} message(s) to {}/ (nothing sent, nothing recorded)",
            written.len(),
            dir.display()
        );
        return Ok(Exit::Ok);
    }

    let smtp = smtp_settings(newsletter, args)?;
    match to {
        Some(readers) => {
            let tally = deliver::test_send(template, &smtp, readers, clock)?;
            print_test(&tally);
            Ok(exit_for(&tally))
        }
        None => {
            let report = deliver::list_send(template, &smtp, &files, widen, clock)?;
            print_list(&issue, &report);
            Ok(report.tally.as_ref().map_or(Exit::Ok, exit_for))
        }
    }
}

/// The list files (the newsletter's, unless the command line names others)
/// and the flags that widen who is sent to.
pub(super) fn list_options(newsletter: &Newsletter, args: &SendArgs) -> (ListFiles, Widen) {
    let paths = &newsletter.paths;
    let files = ListFiles {
        subscribers: args
            .subscribers
            .clone()
            .unwrap_or_else(|| paths.subscribers.clone()),
        suppressed: paths.suppressed.clone(),
        state: args.state.clone().unwrap_or_else(|| paths.state.clone()),
    };
    let widen = Widen {
        resend_uncertain: args.resend_uncertain,
        retry_failed: args.retry_failed,
    };
    (files, widen)
}

/// `[smtp]` from the file, or the `--smtp` / `CATCHUP_SMTP_URL` override.
pub(super) fn smtp_settings(newsletter: &Newsletter, args: &SendArgs) -> anyhow::Result<Smtp> {
    match (&args.smtp, &newsletter.smtp) {
        (Some(url), base) => {
            Ok(Smtp::from_url(url, base.as_ref(), args.insecure).map_err(ConfigError)?)
        }
        (None, Some(smtp)) => Ok(smtp.clone()),
        (None, None) => Err(ConfigError(format!(
            "nowhere to send: add [smtp] to {}, or pass --smtp URL (or set CATCHUP_SMTP_URL)",
            newsletter.source.path.display()
        ))
        .into()),
    }
}

fn test_readers(addresses: &[String]) -> anyhow::Result<Vec<Reader>> {
    addresses
        .iter()
        .map(|a| {
            lettre::Address::from_str(a.trim())
                .map(|email| Reader { email, name: None })
                .map_err(|e| {
                    ConfigError(format!("--to: `{a}` is not an email address ({e})")).into()
                })
        })
        .collect()
}

/// Readers refused or uncertain: 3. Readers left for another run: 4.
pub(super) fn exit_for(tally: &Tally) -> Exit {
    if tally.stopped.is_some() || tally.deferred > 0 || tally.not_tried > 0 {
        Exit::Unavailable
    } else if tally.failed > 0 || tally.uncertain > 0 {
        Exit::ReadersFailed
    } else {
        Exit::Ok
    }
}

fn print_test(tally: &Tally) {
    println!(
        "test send: {} sent, {} failed, {} uncertain",
        tally.sent, tally.failed, tally.uncertain
    );
    for (email, reply) in &tally.failures {
        println!("  failed {email}: {reply}");
    }
    for email in &tally.uncertain_readers {
        println!("  uncertain {email}");
    }
    if let Some(why) = &tally.stopped {
        println!("stopped: {why}");
    }
}

fn print_list(issue: &str, report: &ListReport) {
    let c = &report.counts;
    let skipped = format!(
        "skipped {} suppressed, {} invalid row(s), {} duplicate(s)",
        c.suppressed, c.invalid, c.duplicates
    );
    let Some(tally) = &report.tally else {
        println!(
            "{issue}: already complete, nothing to send ({} sent earlier, {} failed earlier, {} uncertain; {skipped})",
            c.already_sent, c.already_failed, c.uncertain
        );
        print_uncertain(&report.uncertain_earlier);
        return;
    };
    println!(
        "{issue}: sent {}, failed {}, uncertain {}, not delivered {}; {skipped}; {} sent earlier ({:.0} messages/s)",
        tally.sent,
        tally.failed,
        tally.uncertain,
        tally.deferred + tally.not_tried,
        c.already_sent,
        report.rate
    );
    for (email, reply) in &tally.failures {
        println!("  failed {email}: {reply}");
    }
    let mut uncertain = report.uncertain_earlier.clone();
    uncertain.extend(tally.uncertain_readers.iter().cloned());
    print_uncertain(&uncertain);
    if let Some(why) = &tally.stopped {
        println!(
            "stopped early: {why}\n{} reader(s) not delivered; run the same command again to resume",
            tally.deferred + tally.not_tried
        );
    } else if tally.deferred > 0 {
        println!(
            "{} reader(s) deferred after repeated temporary failures; run the same command again to retry them",
            tally.deferred
        );
    }
}

fn print_uncertain(uncertain: &[String]) {
    if uncertain.is_empty() {
        return;
    }
    println!(
        "uncertain (the server may have accepted these; not sent again without --resend-uncertain):"
    );
    for email in uncertain {
        println!("  {email}");
    }
}

fn dry_run(
    issue: &str,
    to: Option<&[Reader]>,
    files: &ListFiles,
    widen: Widen,
) -> anyhow::Result<Exit> {
    if let Some(readers) = to {
        for reader in readers {
            println!("would send a [TEST] copy to {}", reader.email);
        }
        return Ok(Exit::Ok);
    }
    let list = files.subscribers.display().to_string();
    let (counts, _) = deliver::dry_run(issue, files, widen, |line, disposition| {
        let at = format!("{list}:{line}");
        match disposition {
            Disposition::Send(reader) => match &reader.name {
                Some(name) => println!("{at}: would send to {name} <{}>", reader.email),
                None => println!("{at}: would send to {}", reader.email),
            },
            Disposition::AlreadySent => println!("{at}: skip, already sent"),
            Disposition::AlreadyFailed => {
                println!("{at}: skip, refused earlier (--retry-failed to try again)")
            }
            Disposition::Uncertain => {
                println!("{at}: skip, delivery uncertain (--resend-uncertain to send again)")
            }
            Disposition::Suppressed => println!("{at}: skip, suppressed"),
            Disposition::Duplicate { first_line } => {
                println!("{at}: skip, duplicate of line {first_line}")
            }
            Disposition::Invalid(why) => println!("{at}: skip, {why}"),
        }
    })?;
    println!(
        "{issue}: would send {}; {} already sent, {} refused earlier, {} uncertain, {} suppressed, {} invalid, {} duplicate(s) (dry run: nothing sent, nothing recorded)",
        counts.to_send,
        counts.already_sent,
        counts.already_failed,
        counts.uncertain,
        counts.suppressed,
        counts.invalid,
        counts.duplicates
    );
    Ok(Exit::Ok)
}
