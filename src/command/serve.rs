//! `catchup serve`: the web side (one-click unsubscribes, the archive), or
//! with `--systemd` a unit that runs it.

use std::io::Write as _;
use std::path::Path;

use crate::cli::ServeArgs;
use crate::compose::newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::web;

pub fn run(config: &Path, args: &ServeArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    if args.systemd {
        let project = std::env::current_dir()
            .and_then(|d| d.canonicalize())
            .map_err(|e| Error::failure(format!("cannot tell the project folder: {e}")))?;
        let exe = std::env::current_exe()
            .and_then(|e| e.canonicalize())
            .map_err(|e| Error::failure(format!("cannot tell where the catchup binary is: {e}")))?;
        let unit = web::systemd_unit(&project, &exe, &config.display().to_string(), args.listen);
        std::io::stdout().write_all(unit.as_bytes())?;
        return Ok(Exit::Ok);
    }
    web::serve(newsletter, args.listen)
}
