//! `catchup serve`: the web side (one-click unsubscribes, the archive), or
//! with `--systemd` a unit that runs it.

use std::io::Write as _;
use std::path::Path;

use crate::cli::ServeArgs;
use crate::compose::newsletter;
use crate::error::Result;
use crate::exit::Exit;
use crate::web;

use super::unattended::{self, Needs};

pub fn run(config: &Path, args: &ServeArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    if args.systemd {
        let (project, exe) = super::project_and_binary()?;
        let secrets = unattended::check(&newsletter, &project, Needs::Serve)?;
        let unit = web::systemd_unit(
            &project,
            &exe,
            &config.display().to_string(),
            args.listen,
            &secrets.env_file,
        );
        std::io::stdout().write_all(unit.as_bytes())?;
        return Ok(Exit::Ok);
    }
    web::serve(newsletter, args.listen)
}
