//! DMARC (RFC 7489), as far as `doctor` needs it: the record that governs
//! a From domain, its policy, and whether a domain aligns with From.

use super::Trouble;
use super::dns::{Dns, DnsError};
use crate::list::address::registrable;

/// A domain's published DMARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Where it was found: `_dmarc.<from>` or `_dmarc.<organisational>`.
    pub name: String,
    /// `none`, `quarantine` or `reject`.
    pub policy: String,
    /// Strict (`s`) or relaxed DKIM alignment.
    pub strict_dkim: bool,
    pub strict_spf: bool,
}

/// The record for `from`: its own, else its organisational domain's.
///
/// # Errors
/// DNS failed, or the record does not parse.
pub(crate) fn record(dns: &Dns, from: &str) -> Result<Option<Record>, Trouble> {
    let organisational = registrable(from);
    let mut names = vec![format!("_dmarc.{from}")];
    if organisational != from {
        names.push(format!("_dmarc.{organisational}"));
    }
    for name in names {
        let records = match dns.txt(&name) {
            Ok(records) => records,
            Err(DnsError::None) => continue,
            Err(DnsError::Failed(why)) => return Err(Trouble::Dns(format!("{name}: {why}"))),
        };
        let dmarc: Vec<&String> = records
            .iter()
            // Exactly `v=DMARC1` first (RFC 7489 §6.4); anything else is
            // no record to a receiver.
            .filter(|r| is_dmarc(r))
            .collect();
        match dmarc.as_slice() {
            [] => continue,
            [one] => return parse(&name, one).map(Some).map_err(Trouble::Record),
            _ => {
                return Err(Trouble::Record(format!(
                    "{name} has {} DMARC records; receivers use none of them",
                    dmarc.len()
                )));
            }
        }
    }
    Ok(None)
}

/// Exactly `v=DMARC1` first (RFC 7489 §6.4): anything else is no record
/// to a receiver.
fn is_dmarc(text: &str) -> bool {
    text.split(';')
        .next()
        .is_some_and(|v| v.trim_end() == "v=DMARC1")
}

fn parse(name: &str, text: &str) -> Result<Record, String> {
    let tag = |wanted: &str| {
        text.split(';').find_map(|t| {
            let (n, v) = t.split_once('=')?;
            n.trim()
                .eq_ignore_ascii_case(wanted)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    let policy = tag("p").ok_or_else(|| format!("{name}'s DMARC record has no p= (policy)"))?;
    if !["none", "quarantine", "reject"].contains(&policy.as_str()) {
        return Err(format!(
            "{name}'s DMARC policy `p={policy}` is not none, quarantine or reject"
        ));
    }
    Ok(Record {
        name: name.to_string(),
        policy,
        strict_dkim: tag("adkim").as_deref() == Some("s"),
        strict_spf: tag("aspf").as_deref() == Some("s"),
    })
}

/// Whether `domain` aligns with `from`: the same domain (strict), or the
/// same organisational domain (relaxed).
pub(crate) fn aligned(domain: &str, from: &str, strict: bool) -> bool {
    let (domain, from) = (domain.to_ascii_lowercase(), from.to_ascii_lowercase());
    if strict {
        domain == from
    } else {
        registrable(&domain) == registrable(&from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: issue 21 (adversarial run, finding 6).
    #[test]
    fn only_v_dmarc1_first_is_a_record() {
        assert!(is_dmarc("v=DMARC1; p=reject"));
        assert!(is_dmarc("v=DMARC1 ; p=none"));
        for not in [
            "v=dmarc1; p=reject",
            "v=DMARC10; p=reject",
            " v=DMARC1; p=reject",
            "p=reject; v=DMARC1",
        ] {
            assert!(!is_dmarc(not), "{not}");
        }
        assert!(aligned("mail.nhs.example", "nhs.example", false));
        assert!(!aligned("mail.nhs.example", "nhs.example", true));
    }
}
