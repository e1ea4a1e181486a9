//! `catchup archive --out DIR`: the public archive as static files, the same
//! pages `catchup serve` serves.

use std::io::Write as _;
use std::path::Path;

use crate::cli::ArchiveArgs;
use crate::compose::newsletter;
use crate::error::Result;
use crate::exit::Exit;
use crate::web::archive::Archive;

pub(crate) fn run(config: &Path, args: &ArchiveArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let archive = Archive::build(&newsletter, &newsletter.paths.state)?;
    let written = archive.write(&args.out)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} issue(s), the index and the feed to {}/ ({} files)",
        archive.issues(),
        args.out.display(),
        written.len()
    )?;
    Ok(Exit::Ok)
}
