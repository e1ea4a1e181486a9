//! `catchup send`: a test send, a list send, a dry run, or the file outbox.

mod due;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::cli::{SendArgs, Transport};
use crate::clock::Clock;
use crate::compose::{Repeats, Signing, compose};
use crate::config::{Env, Newsletter, Smtp};
use crate::deliver::plan::{Disposition, Widen};
use crate::deliver::tally::Tally;
use crate::deliver::{self, ListFiles, ListOptions, ListReport};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::issue::IssueName;
use crate::list::reader::Reader;

pub(crate) fn run(config: &Path, args: &SendArgs) -> Result<Exit> {
    let Some(issue_path) = &args.issue else {
        return due::run(config, args);
    };
    let composed = compose(config, Some(issue_path), signing(args), repeats(args))?;
    for warning in &composed.warnings {
        eprintln!("{}\n", warning.render());
    }
    let issue = composed.issue.name.clone();
    let newsletter = composed.newsletter.clone();
    let outgoing = composed.outgoing()?;
    let template = Arc::clone(&outgoing.template);
    let clock = args.now.map_or(Clock::System, Clock::Fixed);
    let (files, options) = list_options(&newsletter, args);
    let to = if args.to.is_empty() {
        None
    } else {
        Some(test_readers(&args.to)?)
    };

    let mut out = std::io::stdout().lock();
    if args.dry_run {
        return dry_run(&mut out, &issue, to.as_deref(), &files, options.widen);
    }
    if args.transport == Transport::File {
        let dir = newsletter
            .paths
            .previews
            .join("outbox")
            .join(issue.as_str());
        let written = deliver::write_outbox(&template, &dir, to, &files, clock)?;
        writeln!(
            out,
            "wrote {} message(s) to {}/ (nothing sent, nothing recorded)",
            written.len(),
            dir.display()
        )?;
        return Ok(Exit::Ok);
    }

    let smtp = smtp_settings(&newsletter, args)?;
    match to {
        Some(readers) => {
            let tally = deliver::test_send(template, &smtp, &newsletter.env, readers, clock)?;
            print_test(&mut out, &tally)?;
            Ok(tally.exit())
        }
        None => {
            let report =
                deliver::list_send(outgoing, &smtp, &newsletter.env, &files, options, clock)?;
            print_list(&mut out, &issue, &report)?;
            Ok(report.exit())
        }
    }
}

/// A dry run builds no message, so it needs no secret; everything else
/// signs the readers' links with the newsletter's.
pub(super) fn signing(args: &SendArgs) -> Signing {
    if args.dry_run {
        Signing::Preview
    } else {
        Signing::Live
    }
}

/// A list send of what an earlier one carried needs `--force`; a test
/// send goes to the editor alone.
pub(super) fn repeats(args: &SendArgs) -> Repeats {
    if args.force || !args.to.is_empty() {
        Repeats::Allow
    } else {
        Repeats::Refuse
    }
}

/// The list files (the newsletter's, unless the command line names others)
/// and the flags that widen who is sent to.
pub(super) fn list_options(newsletter: &Newsletter, args: &SendArgs) -> (ListFiles, ListOptions) {
    let paths = &newsletter.paths;
    let files = ListFiles {
        subscribers: args
            .subscribers
            .clone()
            .unwrap_or_else(|| paths.subscribers.clone()),
        suppressed: paths.suppressed.clone(),
        state: args.state.clone().unwrap_or_else(|| paths.state.clone()),
    };
    let options = ListOptions {
        widen: Widen {
            resend_uncertain: args.resend_uncertain,
            retry_failed: args.retry_failed,
        },
        force: args.force,
    };
    (files, options)
}

/// The variable that stands in for `--smtp`.
pub(super) const SMTP_URL_VAR: &str = "CATCHUP_SMTP_URL";

/// The relays for this command line (see [`relays`]).
pub(super) fn smtp_settings(newsletter: &Newsletter, args: &SendArgs) -> Result<Vec<Smtp>> {
    relays(newsletter, &newsletter.env, &args.smtp, args.insecure)
}

/// The relays: the `--smtp` URLs (one per relay) or else `CATCHUP_SMTP_URL`
/// from `env`, which keep the file's tuning; or else `[smtp]` from the file.
pub(super) fn relays(
    newsletter: &Newsletter,
    env: &Env,
    urls: &[String],
    insecure: bool,
) -> Result<Vec<Smtp>> {
    let urls: Vec<String> = if urls.is_empty() {
        env.get(SMTP_URL_VAR).into_iter().collect()
    } else {
        urls.to_vec()
    };
    let base = newsletter
        .smtp
        .as_ref()
        .and_then(|relays| relays.first())
        .map(Smtp::tuning);
    match (&urls[..], &newsletter.smtp) {
        ([], Some(relays)) => Ok(relays.clone()),
        ([], None) => Err(Error::config(format!(
            "nowhere to send: add [smtp] to {}, pass --smtp URL, or {}",
            newsletter.source.path.display(),
            env.where_to_set(SMTP_URL_VAR)
        ))),
        (urls, _) => urls
            .iter()
            .map(|url| Ok(Smtp::from_url(url, base.as_ref(), insecure)?))
            .collect(),
    }
}

fn test_readers(addresses: &[String]) -> Result<Vec<Reader>> {
    addresses
        .iter()
        .map(|a| {
            crate::list::address::parse(a)
                .map(|email| Reader { email, name: None })
                .map_err(|why| Error::config(format!("--to: {why}")))
        })
        .collect()
}

fn print_test(out: &mut impl Write, tally: &Tally) -> std::io::Result<()> {
    writeln!(
        out,
        "test send: {} sent, {} failed, {} uncertain",
        tally.sent, tally.failed, tally.uncertain
    )?;
    print_readers(out, tally, &[])?;
    if let Some(why) = &tally.stopped {
        writeln!(out, "stopped: {why}")?;
    }
    Ok(())
}

/// The summary of a list send. Every count that is not zero names its
/// readers below it.
fn print_list(out: &mut impl Write, issue: &IssueName, report: &ListReport) -> std::io::Result<()> {
    let c = &report.counts;
    let during = match report.suppressed_while_sending {
        0 => String::new(),
        n => format!(" ({n} while sending)"),
    };
    let skipped = format!(
        "skipped {} suppressed{during}, {} invalid row(s), {} duplicate(s)",
        c.suppressed, c.invalid, c.duplicates
    );
    let earlier = report.uncertain_earlier.len();
    let Some(tally) = &report.tally else {
        writeln!(
            out,
            "{issue}: already complete, nothing to send ({} sent earlier, {} failed earlier, {earlier} uncertain; {skipped})",
            c.already_sent, c.already_failed
        )?;
        print_readers(out, &Tally::default(), &report.uncertain_earlier)?;
        return print_marker(out, report);
    };
    let uncertain = match earlier {
        0 => format!("uncertain {}", tally.uncertain),
        n => format!(
            "uncertain {} ({n} from an earlier run)",
            tally.uncertain + n as u64
        ),
    };
    writeln!(
        out,
        "{issue}: sent {}, failed {}, deferred {}, {uncertain}, not tried {}; {skipped}; {} sent earlier; {:.1} s, {}",
        tally.sent,
        tally.failed,
        tally.deferred,
        tally.not_tried,
        c.already_sent,
        report.elapsed.as_secs_f64(),
        rate(report.rate())
    )?;
    print_readers(out, tally, &report.uncertain_earlier)?;
    if !tally.unrecorded.is_empty() {
        writeln!(
            out,
            "{} reader(s) were accepted by the server but could not be recorded; the next run lists them as uncertain (do not resend them):",
            tally.unrecorded.len()
        )?;
        for email in &tally.unrecorded {
            writeln!(out, "  {email}")?;
        }
    }
    if let Some(why) = &tally.stopped {
        writeln!(
            out,
            "stopped early: {why}\n{} reader(s) not delivered; run the same command again to resume",
            tally.left()
        )?;
    } else if tally.deferred > 0 {
        writeln!(
            out,
            "{} reader(s) deferred after repeated temporary failures; run the same command again to retry them",
            tally.deferred
        )?;
    }
    print_marker(out, report)
}

fn print_marker(out: &mut impl Write, report: &ListReport) -> std::io::Result<()> {
    match &report.marker_error {
        Some(why) => writeln!(
            out,
            "warning: the issue is fully sent, but it could not be marked complete ({why}); the ledger keeps every reader from a second copy"
        ),
        None => Ok(()),
    }
}

/// `1621 messages/s`, or `0.4 messages/s` for a slow run.
fn rate(per_second: f64) -> String {
    if per_second >= 10.0 {
        format!("{per_second:.0} messages/s")
    } else {
        format!("{per_second:.1} messages/s")
    }
}

fn print_readers(
    out: &mut impl Write,
    tally: &Tally,
    uncertain_earlier: &[String],
) -> std::io::Result<()> {
    for (email, reply) in &tally.failures {
        writeln!(out, "  failed {email}: {reply}")?;
    }
    for (email, reply) in &tally.deferred_readers {
        writeln!(out, "  deferred {email}: {reply}")?;
    }
    if tally.uncertain_readers.is_empty() && uncertain_earlier.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "uncertain (the server may have accepted these; not sent again without --resend-uncertain):"
    )?;
    for (email, why) in &tally.uncertain_readers {
        writeln!(out, "  {email} ({why})")?;
    }
    for email in uncertain_earlier {
        writeln!(out, "  {email} (an earlier run)")?;
    }
    Ok(())
}

fn dry_run(
    out: &mut impl Write,
    issue: &IssueName,
    to: Option<&[Reader]>,
    files: &ListFiles,
    widen: Widen,
) -> Result<Exit> {
    if let Some(readers) = to {
        for reader in readers {
            writeln!(out, "would send a [TEST] copy to {}", reader.email)?;
        }
        return Ok(Exit::Ok);
    }
    let list = files.subscribers.display().to_string();
    let mut written = Ok(());
    let (counts, _) = deliver::dry_run(issue, files, widen, |line, disposition| {
        if written.is_ok() {
            written = writeln!(out, "{list}:{line}: {}", fate(disposition));
        }
    })?;
    written?;
    writeln!(
        out,
        "{issue}: would send {}; {} already sent, {} refused earlier, {} uncertain, {} suppressed, {} invalid, {} duplicate(s) (dry run: nothing sent, nothing recorded)",
        counts.to_send,
        counts.already_sent,
        counts.already_failed,
        counts.uncertain,
        counts.suppressed,
        counts.invalid,
        counts.duplicates
    )?;
    Ok(Exit::Ok)
}

/// What a dry run says of one row.
fn fate(disposition: &Disposition) -> String {
    match disposition {
        Disposition::Send(reader) => match &reader.name {
            Some(name) => format!("would send to {name} <{}>", reader.email),
            None => format!("would send to {}", reader.email),
        },
        Disposition::AlreadySent => "skip, already sent".into(),
        Disposition::AlreadyFailed => "skip, refused earlier (--retry-failed to try again)".into(),
        Disposition::Uncertain => {
            "skip, delivery uncertain (--resend-uncertain to send again)".into()
        }
        Disposition::Suppressed => "skip, suppressed".into(),
        Disposition::Duplicate { first_line } => format!("skip, duplicate of line {first_line}"),
        Disposition::Invalid(why) => format!("skip, {why}"),
    }
}
