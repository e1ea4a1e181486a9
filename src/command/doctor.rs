//! `catchup doctor`: the settings' DKIM keys, return path, relays and web
//! address, checked through real DNS as receivers will check them.

use std::io::Write as _;
use std::path::Path;

use crate::cli::DoctorArgs;
use crate::compose::newsletter;
use crate::diagnostic::Diagnostics;
use crate::doctor::dns::Dns;
use crate::doctor::{self, Key, Relay, Setup, Severity};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::mail::dkim::Signer;

pub(crate) fn run(config: &Path, args: &DoctorArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let signer = if newsletter.dkim.is_empty() {
        None
    } else {
        Some(
            Signer::load(&newsletter.dkim, &newsletter.source, &newsletter.env)
                .map_err(|d| Error::from(Diagnostics(vec![d])))?
                .0,
        )
    };
    let records = signer.as_ref().map(Signer::records).unwrap_or_default();
    let keys = records
        .iter()
        .zip(&newsletter.dkim)
        .map(|((name, record), settings)| Key {
            name: name.clone(),
            domain: settings.domain.clone(),
            record: record.to_string(),
        })
        .collect();
    let from_domain = newsletter.from.email.domain().to_ascii_lowercase();
    let return_path = newsletter
        .bounces
        .return_path
        .as_ref()
        .map_or(from_domain.clone(), |r| r.domain().to_ascii_lowercase());
    let relays = newsletter
        .smtp
        .iter()
        .flatten()
        .map(|smtp| Relay {
            host: smtp.host.clone(),
            spf_include: smtp.spf_include.clone(),
        })
        .collect();
    let setup = Setup {
        from_domain,
        return_path_domain: return_path,
        keys,
        relays,
        web_host: url::Url::parse(&newsletter.web.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string)),
        reverse: args.reverse,
    };
    let dns = Dns::new(args.resolver).map_err(Error::failure)?;
    let mut findings = doctor::examine(&dns, &setup);
    if setup.keys.is_empty() {
        findings.insert(
            0,
            doctor::Finding {
                severity: Severity::Junk,
                what: "DKIM: nothing is signed; add [[dkim]] (make a key with `catchup dkim keygen --selector S`)".into(),
                publish: None,
            },
        );
    }
    let mut out = std::io::stdout().lock();
    // What DNS says is text from outside: escaped before it is shown.
    for finding in &findings {
        writeln!(
            out,
            "{:<8} {}",
            finding.severity.label(),
            crate::log::printable(&finding.what)
        )?;
        if let Some(record) = &finding.publish {
            writeln!(out, "         publish: {}", crate::log::printable(record))?;
        }
    }
    let worst = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Fine);
    writeln!(
        out,
        "\n{}",
        match worst {
            Severity::Fine => "Receivers will find what they check: mail should be delivered.",
            Severity::Unknown => "DNS did not answer every question: run catchup doctor again.",
            Severity::Junk =>
                "Mail would go to spam: publish what is marked, then run catchup doctor again.",
            Severity::Refuse =>
                "Mail would be refused: publish what is marked, then run catchup doctor again.",
        }
    )?;
    if worst == Severity::Fine {
        // `check` asks whether doctor passed for the keys in use.
        doctor::record_pass(&newsletter.paths.state, &records)?;
    }
    Ok(match worst {
        Severity::Fine => Exit::Ok,
        Severity::Unknown => Exit::Unavailable,
        Severity::Junk => Exit::WouldBeJunked,
        Severity::Refuse => Exit::WouldBeRefused,
    })
}
