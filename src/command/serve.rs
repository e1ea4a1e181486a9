//! `catchup serve`: the web side (one-click unsubscribes, the archive), or
//! with `--systemd` a unit that runs it.

use std::io::Write as _;
use std::path::Path;

use crate::cli::ServeArgs;
use crate::compose::newsletter;
use crate::error::Result;
use crate::exit::Exit;
use crate::web;

use super::unattended::{self, Command, Needs, systemd_value};

pub(crate) fn run(config: &Path, args: &ServeArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    if args.systemd {
        let (project, exe) = super::project_and_binary()?;
        let secrets = unattended::check(&newsletter, &project, Needs::Serve)?;
        let unit = systemd_unit(&project, &exe, config, args.listen, &secrets.env_file);
        std::io::stdout().write_all(unit.as_bytes())?;
        return Ok(Exit::Ok);
    }
    for warning in &newsletter.warnings {
        eprintln!("{}\n", warning.render());
    }
    web::serve(newsletter, args.listen)
}

/// A systemd user unit that runs the service.
fn systemd_unit(
    project: &Path,
    exe: &Path,
    config: &Path,
    listen: std::net::SocketAddr,
    env_file: &Path,
) -> String {
    let command = Command {
        words: vec![
            exe.display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "serve".into(),
            "--listen".into(),
            listen.to_string(),
        ],
    };
    format!(
        "# ~/.config/systemd/user/catchup-serve.service\n\
         [Unit]\n\
         Description=catchup serve: one-click unsubscribes and the archive\n\
         After=network.target\n\n\
         [Service]\n\
         WorkingDirectory={}\n\
         ExecStart={}\n\
         # catchup reads its secrets itself, from {} (chmod 600).\n\
         Restart=on-failure\n\
         NoNewPrivileges=yes\n\
         PrivateTmp=yes\n\n\
         [Install]\n\
         WantedBy=default.target\n\n\
         # Then: systemctl --user daemon-reload && systemctl --user enable --now catchup-serve.service\n\
         # Logs: journalctl --user -u catchup-serve.service\n",
        systemd_value(&project.display().to_string()),
        command.for_systemd(),
        systemd_value(&env_file.display().to_string())
    )
}
