//! `catchup preview`: compose an issue and write its previews.

use crate::cli::PreviewArgs;
use crate::exit::Exit;
use crate::preview::{self, ArchiveEntry, Preview};

use super::compose::compose;

pub fn run(config: &std::path::Path, args: &PreviewArgs) -> anyhow::Result<Exit> {
    let composed = compose(config, args.issue.as_deref())?;
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
                name: issue.name.clone(),
                date: issue.date,
                subject: issue.subject.clone(),
                preheader: issue.preheader.clone(),
            },
            html: &seen.html,
            text: &seen.text,
            eml: &composed.sample,
        },
    )?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    if let Some(html) = written.first() {
        println!("open {} in a browser to see the email", html.display());
    }
    Ok(Exit::Ok)
}
