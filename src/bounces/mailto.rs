//! A reader's request to leave by mail: a message to List-Unsubscribe's
//! `mailto:` address, read from the same mailbox as returned mail. Each
//! reader's address carries their token after a `+`
//! (`unsubscribe+<32 hex>@hsj.example`), which names them as the one-click
//! link does; a request to the bare address names a reader only when it
//! comes from their own address and the receiving server's
//! `Authentication-Results` (the `[unsubscribe] authserv_id` one) say that
//! From is genuine: DMARC passed for its domain, or DKIM or SPF passed
//! aligned with it.

use mail_parser::{HeaderValue, Message};

/// `[unsubscribe] mailto`, split, and whose authentication results to
/// trust.
#[derive(Debug, Clone)]
pub(crate) struct Mailto {
    /// Lowercased.
    pub user: String,
    /// Lowercased.
    pub domain: String,
    /// The `authserv-id` of the server that receives this mailbox's mail;
    /// without it, a request without a token is never honoured.
    pub authserv_id: Option<String>,
}

/// What a message to the unsubscribe address asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Sent to the reader's own address: the token after the `+`.
    Token(String),
    /// Sent to the bare address, from `from`; `authenticated` says whether
    /// the trusted results vouch for From, or why not.
    From {
        from: String,
        authenticated: Result<(), String>,
    },
}

/// The request a message makes, if it was sent to the unsubscribe address.
pub(crate) fn request(message: &Message<'_>, mailto: &Mailto) -> Option<Request> {
    let mut bare = false;
    for address in recipients(message) {
        let Some((local, domain)) = address.rsplit_once('@') else {
            continue;
        };
        if !domain.eq_ignore_ascii_case(&mailto.domain) {
            continue;
        }
        let local = local.to_ascii_lowercase();
        if let Some(token) = local
            .strip_prefix(&mailto.user)
            .and_then(|rest| rest.strip_prefix('+'))
            .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Some(Request::Token(token.to_string()));
        }
        bare |= local == mailto.user;
    }
    if !bare {
        return None;
    }
    // One sender, or none is vouched for.
    let from = message
        .from()
        .filter(|f| f.iter().count() == 1)
        .and_then(|f| f.first())
        .and_then(|a| a.address())?
        .to_ascii_lowercase();
    let authenticated = authenticated(message, &from, mailto.authserv_id.as_deref());
    Some(Request::From {
        from,
        authenticated,
    })
}

/// Every address the message was delivered to, as its headers say: what
/// the sender wrote (To, Cc) and what the receiving server added
/// (Delivered-To, X-Original-To, Envelope-To).
fn recipients(message: &Message<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for name in ["To", "Cc"] {
        if let Some(HeaderValue::Address(list)) = message.header(name) {
            found.extend(list.iter().filter_map(|a| a.address()).map(str::to_string));
        }
    }
    for name in ["Delivered-To", "X-Original-To", "Envelope-To"] {
        for value in message.header_values(name) {
            if let Some(text) = value.as_text() {
                found.push(text.trim().trim_matches(['<', '>']).to_string());
            } else if let Some(address) = value.as_address().and_then(|a| a.first()) {
                found.extend(address.address().map(str::to_string));
            }
        }
    }
    found
}

/// Whether the trusted `Authentication-Results` vouch for `from`: the
/// topmost header whose authserv-id is `authserv_id` (a header from
/// anyone else, or below it, could have been written by the sender).
fn authenticated(
    message: &Message<'_>,
    from: &str,
    authserv_id: Option<&str>,
) -> Result<(), String> {
    let Some(authserv_id) = authserv_id else {
        return Err(
            "no [unsubscribe] authserv_id is set, so no Authentication-Results can vouch for the sender".into(),
        );
    };
    let domain = from.rsplit('@').next().unwrap_or("").to_string();
    let results = message
        .header_values("Authentication-Results")
        .filter_map(|v| v.as_text())
        .find(|text| {
            text.split(';')
                .next()
                .and_then(|id| id.split_whitespace().next())
                .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))
        })
        .ok_or_else(|| format!("it carries no Authentication-Results from {authserv_id}"))?;
    let aligned = |value: &str| {
        let value = value.trim_matches(['"', '<', '>']).to_ascii_lowercase();
        let value = value.rsplit('@').next().unwrap_or(&value).to_string();
        value == domain
    };
    for result in results.split(';').skip(1) {
        let mut words = result.split_whitespace();
        let Some((method, outcome)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        if !outcome.eq_ignore_ascii_case("pass") {
            continue;
        }
        let property = |name: &str| {
            result
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .find(|(p, _)| p.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let passes = match method.to_ascii_lowercase().as_str() {
            "dmarc" => property("header.from").is_some_and(aligned),
            "dkim" => property("header.d")
                .or_else(|| property("header.i"))
                .is_some_and(aligned),
            "spf" => property("smtp.mailfrom").is_some_and(aligned),
            _ => false,
        };
        if passes {
            return Ok(());
        }
    }
    Err(format!(
        "{authserv_id}'s Authentication-Results do not say DMARC, or DKIM or SPF aligned with {domain}, passed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailto() -> Mailto {
        Mailto {
            user: "unsubscribe".into(),
            domain: "hsj.example".into(),
            authserv_id: Some("mx.hsj.example".into()),
        }
    }

    fn read(raw: &str) -> Option<Request> {
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("message");
        request(&message, &mailto())
    }

    #[test]
    fn a_token_after_the_plus_names_the_reader_in_whatever_case() {
        let hex = "00112233445566778899AABBCCDDEEFF";
        assert_eq!(
            read(&format!(
                "From: x@y.example\nTo: <UNSUBSCRIBE+{hex}@HSJ.example>\nSubject: unsubscribe\n\n"
            )),
            Some(Request::Token(hex.to_ascii_lowercase()))
        );
        assert_eq!(
            read("From: x@y.example\nTo: bounces+00112233445566778899aabbccddeeff@hsj.example\n\n"),
            None,
            "not the unsubscribe address"
        );
    }

    #[test]
    fn a_bare_request_is_vouched_for_only_by_the_trusted_results_aligned_with_from() {
        let with = |results: &str| {
            read(&format!(
                "{results}From: Ann <ann@nhs.example>\nTo: unsubscribe@hsj.example\nSubject: unsubscribe\n\n"
            ))
        };
        let from = |authenticated: Result<(), String>| {
            Some(Request::From {
                from: "ann@nhs.example".into(),
                authenticated,
            })
        };
        assert_eq!(
            with(
                "Authentication-Results: mx.hsj.example; dkim=pass header.d=nhs.example; spf=fail\n"
            ),
            from(Ok(()))
        );
        assert_eq!(
            with("Authentication-Results: mx.hsj.example; dmarc=pass header.from=nhs.example\n"),
            from(Ok(()))
        );
        // The topmost trusted header decides; one below it, or from
        // another server, could be the sender's own.
        assert!(matches!(
            with(
                "Authentication-Results: mx.hsj.example; dkim=fail header.d=nhs.example\nAuthentication-Results: mx.hsj.example; dkim=pass header.d=nhs.example\n"
            ),
            Some(Request::From {
                authenticated: Err(_),
                ..
            })
        ));
        assert!(matches!(
            with("Authentication-Results: evil.example; dkim=pass header.d=nhs.example\n"),
            Some(Request::From {
                authenticated: Err(_),
                ..
            })
        ));
        // A signature of another domain is not Ann's.
        assert!(matches!(
            with("Authentication-Results: mx.hsj.example; dkim=pass header.d=evil.example\n"),
            Some(Request::From {
                authenticated: Err(_),
                ..
            })
        ));
        assert!(matches!(
            with(""),
            Some(Request::From {
                authenticated: Err(_),
                ..
            })
        ));
    }
}
