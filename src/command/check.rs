//! `catchup check`: compose an issue, write nothing, report every problem.

use crate::check::{GMAIL_CLIP_BYTES, kb};
use crate::cli::CheckArgs;
use crate::diagnostic::Diagnostics;
use crate::exit::Exit;

use super::compose::compose;

pub fn run(config: &std::path::Path, args: &CheckArgs) -> anyhow::Result<Exit> {
    let composed = match compose(config, args.issue.as_deref()) {
        Ok(composed) => composed,
        Err(err) => {
            let Some(diagnostics) = err.downcast_ref::<Diagnostics>() else {
                return Err(err);
            };
            for d in &diagnostics.0 {
                eprintln!("{}\n", d.render());
            }
            let errors = diagnostics.errors().count();
            let warnings = diagnostics.0.len() - errors;
            eprintln!("{errors} error(s), {warnings} warning(s); nothing written");
            return Ok(Exit::Config);
        }
    };
    for warning in &composed.warnings {
        eprintln!("{}\n", warning.render());
    }
    let m = &composed.measurements;
    let stories = composed.issue.entries().count();
    println!(
        "{}: {} stories in {} sections; HTML {} ({} as sent, Gmail clips at {}); message {}; {} warning(s)",
        composed.issue_path.display(),
        stories,
        composed.issue.sections.len(),
        kb(m.html),
        kb(m.html_encoded),
        kb(GMAIL_CLIP_BYTES),
        kb(m.message),
        composed.warnings.len()
    );
    if args.strict && !composed.warnings.is_empty() {
        return Ok(Exit::Failure);
    }
    Ok(Exit::Ok)
}
