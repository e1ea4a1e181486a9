//! `catchup check`: compose an issue, write nothing, report every problem.

use std::io::Write as _;
use std::path::Path;

use crate::cli::CheckArgs;
use crate::compose::{Repeats, Signing, compose};
use crate::diagnostic::Diagnostics;
use crate::error::Result;
use crate::exit::Exit;
use crate::mail::measure::{GMAIL_CLIP_BYTES, kb};

pub(crate) fn run(config: &Path, args: &CheckArgs) -> Result<Exit> {
    let composed = match compose(
        config,
        args.issue.as_deref(),
        Signing::Preview,
        Repeats::Refuse,
    ) {
        Ok(composed) => composed,
        Err(err) => {
            let Some(diagnostics) = err.downcast_ref::<crate::diagnostic::Diagnostics>() else {
                return Err(err);
            };
            print_all(diagnostics);
            return Ok(Exit::Config);
        }
    };
    for warning in &composed.warnings {
        eprintln!("{}\n", warning.render());
    }
    let m = &composed.measurements;
    let stories = composed.issue.entries().count();
    writeln!(
        std::io::stdout(),
        "{}: {} stories in {} sections; HTML {} ({} as sent, Gmail clips at {}); message {}; {} warning(s)",
        composed.issue_path.display(),
        stories,
        composed.issue.sections.len(),
        kb(m.html),
        kb(m.html_encoded),
        kb(GMAIL_CLIP_BYTES),
        kb(m.message),
        composed.warnings.len()
    )?;
    if args.strict && !composed.warnings.is_empty() {
        return Ok(Exit::Failure);
    }
    Ok(Exit::Ok)
}

/// Every diagnostic, then a count.
fn print_all(diagnostics: &Diagnostics) {
    for d in &diagnostics.0 {
        eprintln!("{}\n", d.render());
    }
    let errors = diagnostics.errors().count();
    let warnings = diagnostics.0.len() - errors;
    eprintln!("{errors} error(s), {warnings} warning(s); nothing written");
}
