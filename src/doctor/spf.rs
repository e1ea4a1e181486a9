//! SPF (RFC 7208), as far as `doctor` needs it: the record of a domain,
//! the DNS lookups it costs (at most 10, or receivers give up on it), and
//! whether it authorises an address or includes a provider's record.

use std::net::IpAddr;

use super::Trouble;
use super::dns::{Dns, DnsError};

/// Receivers stop after this many DNS-querying terms (RFC 7208 §4.6.4).
pub(crate) const MAX_LOOKUPS: usize = 10;
/// Includes this deep are a loop, or as good as one.
const MAX_DEPTH: usize = 12;

/// What a record says of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// The SPF record of `domain`: `Ok(None)` when it has none.
///
/// # Errors
/// Two records (a permanent error for receivers), or DNS failed.
pub(crate) fn record(dns: &Dns, domain: &str) -> Result<Option<String>, Trouble> {
    let records = match dns.txt(domain) {
        Ok(records) => records,
        Err(DnsError::None) => return Ok(None),
        Err(DnsError::Failed(why)) => return Err(Trouble::Dns(format!("{domain}: {why}"))),
    };
    let spf: Vec<String> = records.into_iter().filter(|r| is_spf(r)).collect();
    match spf.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(Trouble::Record(format!(
            "{domain} has {} SPF records; receivers treat that as no SPF at all (RFC 7208 §4.5): merge them into one",
            spf.len()
        ))),
    }
}

fn is_spf(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

/// The DNS lookups `domain`'s record costs, through every include and
/// redirect.
///
/// # Errors
/// A term that does not parse, an include without a record, a loop.
pub(crate) fn lookups(dns: &Dns, domain: &str) -> Result<usize, Trouble> {
    let mut total = 0;
    count(dns, domain, 0, &mut total)?;
    Ok(total)
}

/// Adds the lookups of `domain`'s record to `total`, and stops once it is
/// over the limit: a hostile record of includes of includes would
/// otherwise be asked without end.
fn count(dns: &Dns, domain: &str, depth: usize, total: &mut usize) -> Result<(), Trouble> {
    if depth > MAX_DEPTH {
        return Err(Trouble::Record(format!(
            "includes nest deeper than {MAX_DEPTH} at {domain}"
        )));
    }
    let text = record(dns, domain)?
        .ok_or_else(|| Trouble::Record(format!("{domain} has no SPF record")))?;
    for term in terms(&text) {
        if *total > MAX_LOOKUPS {
            return Ok(());
        }
        let (_, mechanism) = qualifier(term);
        let (name, argument) = split_term(mechanism);
        match name.as_str() {
            "include" | "redirect" => {
                let target =
                    argument.ok_or_else(|| Trouble::Record(format!("`{term}` names no domain")))?;
                *total += 1;
                count(dns, target, depth + 1, total)?;
            }
            "a" | "mx" | "ptr" | "exists" => *total += 1,
            "all" | "ip4" | "ip6" | "v" | "exp" => {}
            _ if name.contains('=') => {}
            other => {
                return Err(Trouble::Record(format!(
                    "`{term}` in {domain}'s SPF is not a mechanism ({other})"
                )));
            }
        }
    }
    Ok(())
}

/// Whether `domain`'s record authorises `ip`.
///
/// # Errors
/// What a receiver would call a permanent or temporary error.
pub(crate) fn check(dns: &Dns, domain: &str, ip: IpAddr) -> Result<Verdict, Trouble> {
    evaluate(dns, domain, ip, 0, &mut 0)
}

/// `domain`'s verdict on `ip`, counting DNS-querying terms in `spent`: past
/// the limit it is a permanent error, as receivers have it (RFC 7208
/// §4.6.4).
fn evaluate(
    dns: &Dns,
    domain: &str,
    ip: IpAddr,
    depth: usize,
    spent: &mut usize,
) -> Result<Verdict, Trouble> {
    if depth > MAX_DEPTH {
        return Err(Trouble::Record(format!(
            "includes nest deeper than {MAX_DEPTH} at {domain}"
        )));
    }
    let text = record(dns, domain)?
        .ok_or_else(|| Trouble::Record(format!("{domain} has no SPF record")))?;
    let mut redirect = None;
    for term in terms(&text) {
        let (verdict, mechanism) = qualifier(term);
        let (name, argument) = split_term(mechanism);
        if matches!(
            name.as_str(),
            "include" | "a" | "mx" | "ptr" | "exists" | "redirect"
        ) {
            *spent += 1;
            if *spent > MAX_LOOKUPS {
                return Err(Trouble::Record(format!(
                    "{domain}'s SPF takes more than {MAX_LOOKUPS} DNS lookups to check an address: receivers give up (permerror)"
                )));
            }
        }
        let matches = match name.as_str() {
            "all" => true,
            "include" => {
                let target =
                    argument.ok_or_else(|| Trouble::Record(format!("`{term}` names no domain")))?;
                evaluate(dns, target, ip, depth + 1, spent)? == Verdict::Pass
            }
            "a" | "mx" => {
                let (target, prefix4, prefix6) = target_and_prefixes(argument, domain);
                let hosts = if name == "a" {
                    vec![target.to_string()]
                } else {
                    // Receivers look at ten MX hosts at most (§4.6.4).
                    dns.mx(target)
                        .unwrap_or_default()
                        .into_iter()
                        .take(10)
                        .collect()
                };
                hosts.iter().any(|host| {
                    dns.ips(host)
                        .unwrap_or_default()
                        .iter()
                        .any(|net| in_network(ip, *net, prefix4, prefix6))
                })
            }
            "ip4" | "ip6" => {
                let argument = argument
                    .ok_or_else(|| Trouble::Record(format!("`{term}` names no network")))?;
                let (net, prefix) = argument.split_once('/').unwrap_or((argument, ""));
                let net: IpAddr = net.parse().map_err(|_| {
                    Trouble::Record(format!("`{term}` in {domain}'s SPF is not a network"))
                })?;
                let prefix = prefix.parse::<u8>().ok();
                in_network(ip, net, prefix.unwrap_or(32), prefix.unwrap_or(128))
            }
            // Neither can be known here to match; receivers rarely see them.
            "ptr" | "exists" => false,
            "redirect" => {
                redirect = argument.map(str::to_string);
                false
            }
            _ => false,
        };
        if matches {
            return Ok(verdict);
        }
    }
    match redirect {
        Some(target) => evaluate(dns, &target, ip, depth + 1, spent),
        None => Ok(Verdict::Neutral),
    }
}

/// Whether `domain`'s record includes `target`'s, directly or through
/// another include or a redirect.
pub(crate) fn includes(dns: &Dns, domain: &str, target: &str) -> bool {
    includes_within(dns, domain, target, 0, &mut 0)
}

fn includes_within(dns: &Dns, domain: &str, target: &str, depth: usize, asked: &mut usize) -> bool {
    *asked += 1;
    if depth > MAX_DEPTH || *asked > MAX_LOOKUPS + 1 {
        return false;
    }
    let Ok(Some(text)) = record(dns, domain) else {
        return false;
    };
    terms(&text).any(|term| {
        let (_, mechanism) = qualifier(term);
        let (name, argument) = split_term(mechanism);
        matches!(name.as_str(), "include" | "redirect")
            && argument.is_some_and(|a| {
                a.eq_ignore_ascii_case(target) || includes_within(dns, a, target, depth + 1, asked)
            })
    })
}

/// The terms after `v=spf1`.
fn terms(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace().skip(1)
}

fn qualifier(term: &str) -> (Verdict, &str) {
    match term.as_bytes().first() {
        Some(b'+') => (Verdict::Pass, &term[1..]),
        Some(b'-') => (Verdict::Fail, &term[1..]),
        Some(b'~') => (Verdict::SoftFail, &term[1..]),
        Some(b'?') => (Verdict::Neutral, &term[1..]),
        _ => (Verdict::Pass, term),
    }
}

/// `include:x.example` → (`include`, `x.example`); `redirect=x` likewise;
/// `a/24` → (`a`, `/24`).
fn split_term(mechanism: &str) -> (String, Option<&str>) {
    if let Some((name, value)) = mechanism.split_once('=')
        && name.eq_ignore_ascii_case("redirect")
    {
        return ("redirect".into(), Some(value));
    }
    if let Some(at) = mechanism.find([':', '/']) {
        let name = mechanism[..at].to_ascii_lowercase();
        let rest = &mechanism[at..];
        let argument = rest.strip_prefix(':').unwrap_or(rest);
        return (name, Some(argument));
    }
    (mechanism.to_ascii_lowercase(), None)
}

/// `a:host/24//64` → (`host`, 24, 64); no host: `domain`.
fn target_and_prefixes<'a>(argument: Option<&'a str>, domain: &'a str) -> (&'a str, u8, u8) {
    let argument = argument.unwrap_or("");
    let (host, cidr) = match argument.find('/') {
        Some(at) => (&argument[..at], &argument[at..]),
        None => (argument, ""),
    };
    let host = if host.is_empty() { domain } else { host };
    let mut parts = cidr.split("//");
    let v4 = parts
        .next()
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.parse().ok())
        .unwrap_or(32);
    let v6 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(128);
    (host, v4, v6)
}

/// Whether `ip` is in `net`/prefix (of its own family).
fn in_network(ip: IpAddr, net: IpAddr, prefix4: u8, prefix6: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = u32::from(prefix4.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = u32::from(prefix6.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_split_into_their_names_and_arguments() {
        assert_eq!(
            split_term("include:_spf.x.example"),
            ("include".into(), Some("_spf.x.example"))
        );
        assert_eq!(
            split_term("redirect=x.example"),
            ("redirect".into(), Some("x.example"))
        );
        assert_eq!(split_term("a/24"), ("a".into(), Some("/24")));
        assert_eq!(split_term("MX"), ("mx".into(), None));
        assert_eq!(
            target_and_prefixes(Some("/24"), "d.example"),
            ("d.example", 24, 128)
        );
        assert_eq!(
            target_and_prefixes(Some("h.example/28//64"), "d.example"),
            ("h.example", 28, 64)
        );
        assert!(in_network(
            "192.0.2.7".parse().unwrap(),
            "192.0.2.0".parse().unwrap(),
            24,
            128
        ));
        assert!(!in_network(
            "192.0.3.7".parse().unwrap(),
            "192.0.2.0".parse().unwrap(),
            24,
            128
        ));
        assert!(in_network(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            32,
            32
        ));
    }
}
