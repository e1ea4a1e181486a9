//! `catchup preview`: compose an issue and write its proofs; with
//! `--watch`, the live preview instead.

use std::io::Write as _;

use crate::cli::PreviewArgs;
use crate::compose::{Repeats, Signing, compose};
use crate::error::Result;
use crate::exit::Exit;
use crate::preview::{self, ArchiveEntry, Preview};

pub(crate) fn run(config: &std::path::Path, args: &PreviewArgs) -> Result<Exit> {
    if args.watch {
        return crate::preview::live::run(crate::preview::live::Options {
            config: config.to_path_buf(),
            issue: args.issue.clone(),
            listen: args.listen,
            open: args.open,
        });
    }
    let composed = compose(
        config,
        args.issue.as_deref(),
        Signing::Preview,
        Repeats::Allow,
    )?;
    for warning in &composed.warnings {
        eprintln!("{}\n", warning.render());
    }
    let seen = &composed.seen;
    let issue = &composed.issue;
    let out = args
        .out
        .as_deref()
        .unwrap_or(&composed.newsletter.paths.previews);
    let written = preview::write(
        out,
        &composed.newsletter.name,
        &Preview {
            entry: ArchiveEntry {
                name: issue.name.to_string(),
                date: issue.date,
                subject: issue.subject.clone(),
                preheader: issue.preheader.clone(),
            },
            html: &seen.html,
            text: &seen.text,
            eml: &composed.sample,
        },
    )?;
    let mut stdout = std::io::stdout().lock();
    for path in &written {
        writeln!(stdout, "wrote {}", path.display())?;
    }
    if let Some(html) = written.first() {
        writeln!(
            stdout,
            "open {} in a browser to see the email",
            html.display()
        )?;
    }
    Ok(Exit::Ok)
}
