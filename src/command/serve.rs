//! `catchup serve`: the web side (one-click unsubscribes, the archive), or
//! with `--systemd` a unit that runs it.

use std::io::Write as _;
use std::path::Path;

use crate::cli::ServeArgs;
use crate::compose::newsletter;
use crate::error::Result;
use crate::exit::Exit;
use crate::web;

pub fn run(config: &Path, args: &ServeArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    if args.systemd {
        let (project, exe) = super::project_and_binary()?;
        let unit = web::systemd_unit(&project, &exe, &config.display().to_string(), args.listen);
        std::io::stdout().write_all(unit.as_bytes())?;
        return Ok(Exit::Ok);
    }
    web::serve(newsletter, args.listen)
}
