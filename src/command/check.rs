//! `catchup check`: compose an issue, write nothing, report every problem.

use std::io::Write as _;
use std::path::Path;

use crate::cli::CheckArgs;
use crate::compose::{Repeats, Signing, compose};
use crate::diagnostic::{Diagnostic, Diagnostics};
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
    let mut warnings = composed.warnings.clone();
    if let Some(warning) = doctor_not_passed(&composed.newsletter) {
        warnings.push(warning);
    }
    for warning in &warnings {
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
        warnings.len()
    )?;
    if args.strict && !warnings.is_empty() {
        return Ok(Exit::Failure);
    }
    Ok(Exit::Ok)
}

/// A warning when mail is signed but `catchup doctor` has not passed for
/// the keys in use: the records may not be published.
fn doctor_not_passed(newsletter: &crate::config::Newsletter) -> Option<Diagnostic> {
    if newsletter.dkim.is_empty() {
        return None;
    }
    let (signer, _) =
        crate::mail::dkim::Signer::load(&newsletter.dkim, &newsletter.source, &newsletter.env)
            .ok()?;
    (!crate::doctor::passed_with(&newsletter.paths.state, &signer.records())).then(|| {
        Diagnostic::warning(
            "`catchup doctor` has not passed for the DKIM keys in use: receivers may not find their records",
        )
        .help("publish what `catchup dkim check` prints, then run `catchup doctor`")
    })
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
