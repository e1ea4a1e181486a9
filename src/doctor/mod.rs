//! `catchup doctor`: what receivers will check of this newsletter's mail,
//! asked of real DNS before the first send. Each `[[dkim]]` selector's
//! record, SPF for the return path (its lookups, and whether it authorises
//! the relays), DMARC for From and the alignment it asks, that the return
//! path's domain takes mail, that the web address resolves, and (on
//! request) the relays' reverse DNS. Each finding says what would happen
//! to the mail, and what to publish.

mod dmarc;
pub(crate) mod dns;
mod spf;

use std::net::IpAddr;

use dns::{Dns, DnsError};

/// What a finding means for the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Fine,
    /// DNS did not answer: it could not be checked.
    Unknown,
    /// Receivers would put the mail in spam.
    Junk,
    /// Receivers would refuse it.
    Refuse,
}

impl Severity {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Severity::Fine => "ok",
            Severity::Unknown => "UNKNOWN",
            Severity::Junk => "JUNK",
            Severity::Refuse => "REFUSED",
        }
    }
}

/// Why a record could not be read: DNS did not answer, or what it holds
/// is broken for receivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trouble {
    Dns(String),
    Record(String),
}

impl Trouble {
    /// A finding about `what` (`SPF`), as bad as the trouble is.
    fn finding(self, what: &str) -> Finding {
        match self {
            Trouble::Dns(why) => Finding::new(Severity::Unknown, format!("{what}: {why}")),
            Trouble::Record(why) => Finding::new(Severity::Junk, format!("{what}: {why}")),
        }
    }
}

/// One thing checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub what: String,
    /// The record to publish, where one would put it right.
    pub publish: Option<String>,
}

impl Finding {
    fn new(severity: Severity, what: impl Into<String>) -> Finding {
        Finding {
            severity,
            what: what.into(),
            publish: None,
        }
    }

    fn publish(mut self, record: impl Into<String>) -> Finding {
        self.publish = Some(record.into());
        self
    }
}

/// One signing key: where its record goes, and what it must hold.
pub(crate) struct Key {
    pub name: String,
    pub domain: String,
    pub record: String,
}

/// One relay: its host, and the provider's SPF record to include when
/// receivers see the provider's servers rather than it.
pub(crate) struct Relay {
    pub host: String,
    pub spf_include: Option<String>,
}

/// What the newsletter sends as.
pub(crate) struct Setup {
    pub from_domain: String,
    pub return_path_domain: String,
    pub keys: Vec<Key>,
    pub relays: Vec<Relay>,
    pub web_host: Option<String>,
    /// Check the relays' reverse DNS too.
    pub reverse: bool,
}

/// Every check, in the order a reader would fix them.
pub(crate) fn examine(dns: &Dns, setup: &Setup) -> Vec<Finding> {
    let mut findings = Vec::new();
    let dkim_good = dkim(dns, setup, &mut findings);
    let spf_good = spf(dns, setup, &mut findings);
    dmarc(dns, setup, &dkim_good, spf_good, &mut findings);
    takes_mail(dns, setup, &mut findings);
    if let Some(host) = &setup.web_host {
        findings.push(match dns.ips(host) {
            Ok(_) => Finding::new(Severity::Fine, format!("web: {host} resolves")),
            Err(DnsError::None) => Finding::new(
                Severity::Junk,
                format!("web: {host} ([web] base_url) does not resolve: every unsubscribe link fails, and providers junk bulk mail without a working one"),
            ),
            Err(DnsError::Failed(why)) => Finding::new(Severity::Unknown, format!("web: {host}: {why}")),
        });
    }
    if setup.reverse {
        reverse(dns, setup, &mut findings);
    }
    findings
}

/// Each key's record; the domains of those that hold the key in use.
fn dkim(dns: &Dns, setup: &Setup, findings: &mut Vec<Finding>) -> Vec<String> {
    let mut good = Vec::new();
    for key in &setup.keys {
        let publish = format!("{}. TXT \"{}\"", key.name, key.record);
        let finding = match dns.txt(&key.name) {
            Ok(records) => {
                let ours = public_key(&key.record);
                let found: Vec<&String> =
                    records.iter().filter(|r| public_key(r).is_some()).collect();
                if let Some(why) = found
                    .iter()
                    .find(|r| public_key(r) == ours)
                    .and_then(|r| unusable(r, &key.record))
                {
                    Finding::new(
                        Severity::Junk,
                        format!("DKIM: {} holds the key in use, but {why}", key.name),
                    )
                    .publish(publish)
                } else if found.len() > 1 {
                    Finding::new(
                        Severity::Junk,
                        format!(
                            "DKIM: {} holds {} DKIM records; receivers may take any one of them",
                            key.name,
                            found.len()
                        ),
                    )
                    .publish(publish)
                } else if found.iter().any(|r| public_key(r) == ours) {
                    good.push(key.domain.clone());
                    Finding::new(
                        Severity::Fine,
                        format!("DKIM: {} holds the key in use", key.name),
                    )
                } else if found.is_empty() {
                    Finding::new(
                        Severity::Junk,
                        format!("DKIM: {} holds no DKIM key", key.name),
                    )
                    .publish(publish)
                } else {
                    Finding::new(
                        Severity::Junk,
                        format!("DKIM: {} holds another key than the one in use (a stale record, or the wrong selector): every signature with it fails", key.name),
                    )
                    .publish(publish)
                }
            }
            Err(DnsError::None) => Finding::new(
                Severity::Junk,
                format!(
                    "DKIM: there is no record at {}: every signature with it fails",
                    key.name
                ),
            )
            .publish(publish),
            Err(DnsError::Failed(why)) => {
                Finding::new(Severity::Unknown, format!("DKIM: {}: {why}", key.name))
            }
        };
        findings.push(finding);
    }
    good
}

/// Why a record that holds the right key is still not one receivers use
/// (RFC 6376 §3.6.1): a version other than `DKIM1` first, a key type other
/// than the one in use, hashes that leave out SHA-256, a service other
/// than email.
fn unusable(record: &str, ours: &str) -> Option<String> {
    let tags: Vec<(String, String)> = record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(n, v)| {
            (
                n.trim().to_string(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect();
    let tag = |name: &str| {
        tags.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(position) = tags.iter().position(|(n, _)| n == "v")
        && (position != 0 || tags[0].1 != "DKIM1")
    {
        return Some("its `v=` is not `DKIM1` first".into());
    }
    let kind = |record: &str| {
        record
            .split(';')
            .filter_map(|t| t.split_once('='))
            .find(|(n, _)| n.trim() == "k")
            .map_or("rsa".to_string(), |(_, v)| v.trim().to_string())
    };
    if kind(record) != kind(ours) {
        return Some(format!(
            "it says `k={}`, and the key is {}",
            kind(record),
            kind(ours)
        ));
    }
    if let Some(hashes) = tag("h")
        && !hashes.split(':').any(|h| h == "sha256")
    {
        return Some(format!(
            "its `h={hashes}` leaves out sha256, which catchup signs with"
        ));
    }
    if let Some(service) = tag("s")
        && !service.split(':').any(|s| s == "*" || s == "email")
    {
        return Some(format!("its `s={service}` is not for email"));
    }
    None
}

/// A DKIM record's `p=`, white space taken out.
fn public_key(record: &str) -> Option<String> {
    record.split(';').find_map(|tag| {
        let (name, value) = tag.split_once('=')?;
        (name.trim() == "p").then(|| value.split_whitespace().collect())
    })
}

/// SPF for the return path: whether it passes for every relay.
fn spf(dns: &Dns, setup: &Setup, findings: &mut Vec<Finding>) -> bool {
    let domain = &setup.return_path_domain;
    let mut addresses: Vec<IpAddr> = Vec::new();
    for relay in setup.relays.iter().filter(|r| r.spf_include.is_none()) {
        addresses.extend(dns.ips(&relay.host).unwrap_or_default());
    }
    let suggestion = || {
        let mut terms: Vec<String> = addresses
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => format!("ip4:{v4}"),
                IpAddr::V6(v6) => format!("ip6:{v6}"),
            })
            .collect();
        terms.extend(
            setup
                .relays
                .iter()
                .filter_map(|r| r.spf_include.as_ref().map(|i| format!("include:{i}"))),
        );
        format!("{domain}. TXT \"v=spf1 {} -all\"", terms.join(" "))
    };
    match spf::record(dns, domain) {
        Ok(Some(_)) => {}
        Ok(None) => {
            findings.push(
                Finding::new(
                    Severity::Junk,
                    format!("SPF: {domain} (the return path's domain) has no SPF record"),
                )
                .publish(suggestion()),
            );
            return false;
        }
        Err(trouble) => {
            findings.push(trouble.finding("SPF"));
            return false;
        }
    }
    let mut good = true;
    match spf::lookups(dns, domain) {
        Ok(n) if n > spf::MAX_LOOKUPS => {
            good = false;
            findings.push(Finding::new(
                Severity::Junk,
                format!("SPF: {domain}'s record takes more than {max} DNS lookups (at least {n}); receivers stop at {max} and treat it as broken (permerror): flatten includes into ip4:/ip6: terms", max = spf::MAX_LOOKUPS),
            ));
        }
        Ok(n) => findings.push(Finding::new(
            Severity::Fine,
            format!(
                "SPF: {domain} has a record, {n} of {} lookups",
                spf::MAX_LOOKUPS
            ),
        )),
        Err(trouble) => {
            good = false;
            findings.push(trouble.finding("SPF"));
        }
    }
    for relay in &setup.relays {
        let finding = match &relay.spf_include {
            Some(include) if spf::includes(dns, domain, include) => Finding::new(
                Severity::Fine,
                format!(
                    "SPF: {domain} includes {include}, for the relay {}",
                    relay.host
                ),
            ),
            Some(include) => Finding::new(
                Severity::Junk,
                format!(
                    "SPF: {domain} does not include {include}, the relay {}'s record",
                    relay.host
                ),
            )
            .publish(suggestion()),
            None => relay_authorised(dns, domain, &relay.host, &suggestion),
        };
        good &= finding.severity == Severity::Fine;
        findings.push(finding);
    }
    good
}

fn relay_authorised(
    dns: &Dns,
    domain: &str,
    host: &str,
    suggestion: &dyn Fn() -> String,
) -> Finding {
    let addresses = match dns.ips(host) {
        Ok(addresses) => addresses,
        Err(DnsError::None) => {
            return Finding::new(
                Severity::Junk,
                format!("SPF: the relay {host} does not resolve"),
            );
        }
        Err(DnsError::Failed(why)) => {
            return Finding::new(Severity::Unknown, format!("SPF: {host}: {why}"));
        }
    };
    for ip in &addresses {
        match spf::check(dns, domain, *ip) {
            Ok(spf::Verdict::Pass) => {}
            Ok(verdict) => {
                return Finding::new(
                    Severity::Junk,
                    format!(
                        "SPF: {domain} does not authorise the relay {host} ({ip}): {verdict:?}"
                    ),
                )
                .publish(suggestion());
            }
            Err(trouble) => return trouble.finding("SPF"),
        }
    }
    Finding::new(
        Severity::Fine,
        format!("SPF: {domain} authorises the relay {host}"),
    )
}

/// DMARC for From, and whether what passes aligns with it.
fn dmarc(
    dns: &Dns,
    setup: &Setup,
    dkim_good: &[String],
    spf_good: bool,
    findings: &mut Vec<Finding>,
) {
    let from = &setup.from_domain;
    let record = match dmarc::record(dns, from) {
        Ok(Some(record)) => record,
        Ok(None) => {
            findings.push(
                Finding::new(
                    Severity::Junk,
                    format!("DMARC: {from} has no DMARC record; Gmail and Yahoo require one of bulk senders"),
                )
                .publish(format!("_dmarc.{from}. TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{from}\"")),
            );
            return;
        }
        Err(trouble) => {
            findings.push(trouble.finding("DMARC"));
            return;
        }
    };
    let dkim_aligned = dkim_good
        .iter()
        .any(|d| dmarc::aligned(d, from, record.strict_dkim));
    let spf_aligned =
        spf_good && dmarc::aligned(&setup.return_path_domain, from, record.strict_spf);
    let finding = if dkim_aligned || spf_aligned {
        let by = match (dkim_aligned, spf_aligned) {
            (true, true) => "DKIM and SPF",
            (true, false) => "DKIM",
            _ => "SPF",
        };
        Finding::new(
            Severity::Fine,
            format!(
                "DMARC: {} (p={}) passes, aligned by {by}",
                record.name, record.policy
            ),
        )
    } else {
        let severity = if record.policy == "reject" {
            Severity::Refuse
        } else {
            Severity::Junk
        };
        Finding::new(
            severity,
            format!(
                "DMARC: {} (p={}) fails: neither a good DKIM signature nor SPF aligns with {from} ({} alignment); sign with d={from}, or send from a return path at it",
                record.name,
                record.policy,
                if record.strict_dkim || record.strict_spf {
                    "strict"
                } else {
                    "relaxed"
                }
            ),
        )
    };
    findings.push(finding);
}

/// Receivers refuse mail whose return path's domain cannot take mail.
fn takes_mail(dns: &Dns, setup: &Setup, findings: &mut Vec<Finding>) {
    let domain = &setup.return_path_domain;
    let finding = match dns.mx(domain) {
        // RFC 7505's null MX (`0 .`): the domain takes no mail.
        Ok(hosts) if hosts.iter().all(|h| h.is_empty()) => Finding::new(
            Severity::Refuse,
            format!(
                "return path: {domain} publishes a null MX (it takes no mail): receivers refuse mail from it, and returned mail is lost"
            ),
        ),
        Ok(hosts) => Finding::new(
            Severity::Fine,
            format!("return path: {domain} takes mail (MX {})", hosts[0]),
        ),
        Err(DnsError::None) => match dns.ips(domain) {
            Ok(_) => Finding::new(
                Severity::Fine,
                format!("return path: {domain} takes mail (no MX; its address)"),
            ),
            Err(DnsError::None) => Finding::new(
                Severity::Refuse,
                format!(
                    "return path: {domain} has neither MX nor address: receivers refuse mail from a domain that cannot be answered, and returned mail is lost"
                ),
            ),
            Err(DnsError::Failed(why)) => {
                Finding::new(Severity::Unknown, format!("return path: {domain}: {why}"))
            }
        },
        Err(DnsError::Failed(why)) => {
            Finding::new(Severity::Unknown, format!("return path: {domain}: {why}"))
        }
    };
    findings.push(finding);
}

/// Each relay's address names a host that resolves back to it.
fn reverse(dns: &Dns, setup: &Setup, findings: &mut Vec<Finding>) {
    for relay in &setup.relays {
        for ip in dns.ips(&relay.host).unwrap_or_default() {
            let back = dns.ptr(ip).unwrap_or_default();
            let confirmed = back
                .iter()
                .any(|name| dns.ips(name).unwrap_or_default().contains(&ip));
            findings.push(if confirmed {
                Finding::new(Severity::Fine, format!("reverse DNS: {ip} ({}) is {}", relay.host, back[0]))
            } else {
                Finding::new(
                    Severity::Junk,
                    format!("reverse DNS: {ip} ({}) has no name that resolves back to it; ask whoever runs the address for a PTR record", relay.host),
                )
            });
        }
    }
}

/// Where a pass is recorded: the DKIM records it passed with, one a line.
const PASSED: &str = "doctor.passed";

/// The keys' records as a pass records them.
fn pass_text(records: &[(String, &str)]) -> String {
    records
        .iter()
        .map(|(name, record)| format!("{name} {record}\n"))
        .collect()
}

/// Records that `doctor` passed with these DKIM records, durably.
///
/// # Errors
/// The state folder cannot be written.
pub(crate) fn record_pass(
    state: &std::path::Path,
    records: &[(String, &str)],
) -> Result<(), crate::fs::FileError> {
    crate::fs::create_folder(state)?;
    crate::fs::write_atomic(&state.join(PASSED), pass_text(records).as_bytes())
}

/// Whether `doctor` last passed with these DKIM records.
pub(crate) fn passed_with(state: &std::path::Path, records: &[(String, &str)]) -> bool {
    crate::fs::read_input(&state.join(PASSED), 1024 * 1024)
        .is_ok_and(|bytes| bytes == pass_text(records).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: issue 21 (adversarial run, finding 4): the right `p=` in a
    /// record receivers do not use.
    #[test]
    fn a_record_with_the_right_key_can_still_be_unusable() {
        let ours = "v=DKIM1; k=rsa; p=AAAA";
        assert_eq!(unusable("v=DKIM1; k=rsa; p=AAAA", ours), None);
        assert_eq!(unusable("p=AAAA", ours), None);
        for (record, why) in [
            ("v=DKIM2; k=rsa; p=AAAA", "its `v=` is not `DKIM1` first"),
            ("k=rsa; v=DKIM1; p=AAAA", "its `v=` is not `DKIM1` first"),
            (
                "v=DKIM1; k=ed25519; p=AAAA",
                "it says `k=ed25519`, and the key is rsa",
            ),
            (
                "v=DKIM1; h=sha1; p=AAAA",
                "its `h=sha1` leaves out sha256, which catchup signs with",
            ),
            ("v=DKIM1; s=foo; p=AAAA", "its `s=foo` is not for email"),
        ] {
            assert_eq!(unusable(record, ours).as_deref(), Some(why), "{record}");
        }
    }
}
