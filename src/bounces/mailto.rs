//! A reader's request to leave by mail: a message to List-Unsubscribe's
//! `mailto:` address, read from the same mailbox as returned mail. Each
//! reader's address carries their token after a `+`
//! (`unsubscribe+<32 hex>@hsj.example`), which names them as the one-click
//! link does. A request to the bare address names a reader only when its
//! sender wrote that address in To or Cc, it comes from the reader's own
//! address, the receiving server's `Authentication-Results` (the
//! `[unsubscribe] authserv_id` one, above the first `Received`) say that
//! From is genuine (DMARC passed for its domain, or DKIM or SPF passed
//! aligned with it), and every DKIM signature of that domain signs the
//! header that names the address: so a copy of another signed message,
//! sent on to the address, names no one.

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
    let to_us = |address: &str| {
        let (local, domain) = address.rsplit_once('@')?;
        domain
            .eq_ignore_ascii_case(&mailto.domain)
            .then(|| local.to_ascii_lowercase())
    };
    for local in envelope_and_headers(message)
        .iter()
        .filter_map(|a| to_us(a))
    {
        if let Some(token) = local
            .strip_prefix(&mailto.user)
            .and_then(|rest| rest.strip_prefix('+'))
            .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Some(Request::Token(token.to_string()));
        }
    }
    // Without a token, only what the sender wrote counts: the server's
    // Delivered-To says where a copy went, not that its sender asked.
    let named_in = ["To", "Cc"].into_iter().find(|name| {
        written(message, name)
            .iter()
            .filter_map(|a| to_us(a))
            .any(|local| local == mailto.user)
    })?;
    // One sender, or none is vouched for.
    let from = message
        .from()
        .filter(|f| f.iter().count() == 1)
        .and_then(|f| f.first())
        .and_then(|a| a.address())?
        .to_ascii_lowercase();
    let authenticated = once_each(message)
        .and_then(|()| authenticated(message, &from, mailto.authserv_id.as_deref()))
        .and_then(|domain| signed(message, &domain, named_in));
    Some(Request::From {
        from,
        authenticated,
    })
}

/// The addresses of a header the sender wrote (To, Cc), every instance.
fn written(message: &Message<'_>, name: &str) -> Vec<String> {
    message
        .header_values(name)
        .filter_map(|value| match value {
            HeaderValue::Address(list) => Some(list.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|a| a.address())
        .map(str::to_string)
        .collect()
}

/// Every address the message was delivered to, as its headers say: what
/// the sender wrote (To, Cc) and what the receiving server added
/// (Delivered-To, X-Original-To, Envelope-To).
fn envelope_and_headers(message: &Message<'_>) -> Vec<String> {
    let mut found = written(message, "To");
    found.extend(written(message, "Cc"));
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

/// A message may have one From, one To and one Cc (RFC 5322 §3.6); a
/// second, added above a signed one, would name what the signature does
/// not vouch for.
fn once_each(message: &Message<'_>) -> Result<(), String> {
    for name in ["From", "To", "Cc"] {
        if message.header_values(name).count() > 1 {
            return Err(format!(
                "it has more than one {name} header, which a genuine message never has"
            ));
        }
    }
    Ok(())
}

/// Whether the trusted `Authentication-Results` vouch for `from`, and if
/// so for which domain: the topmost header whose authserv-id is
/// `authserv_id`, above the first `Received` (one from anyone else, or
/// below the receiving server's own line, could have been written by the
/// sender).
fn authenticated(
    message: &Message<'_>,
    from: &str,
    authserv_id: Option<&str>,
) -> Result<String, String> {
    let Some(authserv_id) = authserv_id else {
        return Err(
            "no [unsubscribe] authserv_id is set, so no Authentication-Results can vouch for the sender".into(),
        );
    };
    let domain = from.rsplit('@').next().unwrap_or("").to_string();
    let results = message
        .headers()
        .iter()
        .take_while(|h| !h.name().eq_ignore_ascii_case("Received"))
        .filter(|h| h.name().eq_ignore_ascii_case("Authentication-Results"))
        .filter_map(|h| h.value().as_text())
        .map(results_parts)
        .find(|parts| {
            parts
                .first()
                .and_then(|id| id.split_whitespace().next())
                .is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))
        })
        .ok_or_else(|| {
            format!("it carries no Authentication-Results from {authserv_id} above its first Received line")
        })?;
    // The domain a property names: after the last `@` of an address
    // (whose local part may be quoted, and hold an `@` of its own).
    let aligned = |value: &str| {
        let value = value.trim_matches(['<', '>']).to_ascii_lowercase();
        let value = value.rsplit('@').next().unwrap_or(&value);
        value.trim_end_matches('.') == domain
    };
    let results: Vec<Checked> = results
        .iter()
        .skip(1)
        .filter_map(|r| Checked::of(r))
        .collect();
    // DMARC failed for From: nothing else vouches for it.
    if results.iter().any(|r| {
        r.method == "dmarc"
            && r.result != "pass"
            && r.result != "none"
            && r.property("header.from").is_some_and(aligned)
    }) {
        return Err(format!("{authserv_id} says DMARC failed for {domain}"));
    }
    let vouched = results.iter().any(|r| {
        r.result == "pass"
            && match r.method.as_str() {
                "dmarc" => r.property("header.from").is_some_and(aligned),
                "dkim" => r
                    .property("header.d")
                    .or_else(|| r.property("header.i"))
                    .is_some_and(aligned),
                "spf" => r.property("smtp.mailfrom").is_some_and(aligned),
                _ => false,
            }
    });
    if vouched {
        Ok(domain)
    } else {
        Err(format!(
            "{authserv_id}'s Authentication-Results do not say DMARC, or DKIM or SPF aligned with {domain}, passed"
        ))
    }
}

/// One result of the header: `dkim=pass header.d=nhs.example`.
struct Checked {
    /// Lowercased: `dkim`.
    method: String,
    /// Lowercased: `pass`.
    result: String,
    /// Names lowercased: (`header.d`, `nhs.example`).
    properties: Vec<(String, String)>,
}

impl Checked {
    fn of(text: &str) -> Option<Checked> {
        let mut words = words(text).into_iter();
        let first = words.next()?;
        let (method, result) = first.split_once('=')?;
        Some(Checked {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            properties: words
                .filter_map(|w| {
                    w.split_once('=')
                        .map(|(p, v)| (p.to_ascii_lowercase(), v.to_string()))
                })
                .collect(),
        })
    }

    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A result's words, split at white space outside quoted strings, each
/// quoted string's quotes and escapes undone (`smtp.mailfrom="a b"@x`
/// is one word, `smtp.mailfrom=a b@x`).
fn words(result: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in result.chars() {
        if escaped {
            word.push(c);
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c.is_whitespace() && !quoted {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// An `Authentication-Results` value in its `;`-separated parts, with
/// comments taken out and quoted strings kept whole (RFC 8601 §2.2): a
/// `;` in a comment does not start a result, and a comment's words are
/// not properties.
fn results_parts(value: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        let kept = if escaped {
            escaped = false;
            depth == 0
        } else {
            match c {
                '\\' if quoted || depth > 0 => {
                    escaped = true;
                    depth == 0
                }
                '"' if depth == 0 => {
                    quoted = !quoted;
                    true
                }
                '(' if !quoted => {
                    depth += 1;
                    false
                }
                ')' if !quoted && depth > 0 => {
                    depth -= 1;
                    false
                }
                ';' if !quoted && depth == 0 => {
                    parts.push(String::new());
                    false
                }
                _ => depth == 0,
            }
        };
        if let Some(part) = parts.last_mut() {
            // A comment parts the words around it.
            part.push(if kept { c } else { ' ' });
        }
    }
    parts
        .iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Whether every DKIM signature aligned with `domain` on the message signs
/// the header that names the unsubscribe address: where one does not, the
/// signature vouches for another message, whose copy anyone it was sent
/// to could send on to the unsubscribe address.
fn signed(message: &Message<'_>, domain: &str, named_in: &str) -> Result<(), String> {
    for signature in message
        .header_values("DKIM-Signature")
        .filter_map(|v| v.as_text())
    {
        let tag = |name: &str| {
            signature.split(';').find_map(|t| {
                let (n, v) = t.split_once('=')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.split_whitespace().collect::<String>())
            })
        };
        // Every signature DMARC would count for From (relaxed alignment:
        // the same registrable domain), not only one of From's domain.
        let of_domain = tag("d").is_some_and(|d| {
            crate::list::address::registrable(&d.trim_end_matches('.').to_ascii_lowercase())
                == crate::list::address::registrable(domain)
        });
        let signs =
            tag("h").is_some_and(|h| h.split(':').any(|n| n.eq_ignore_ascii_case(named_in)));
        if of_domain && !signs {
            return Err(format!(
                "{domain}'s DKIM signature does not sign its {named_in} header, so it may be a copy of another message sent on"
            ));
        }
    }
    Ok(())
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

    fn refused(raw: &str) -> String {
        match read(raw) {
            Some(Request::From {
                authenticated: Err(why),
                ..
            }) => why,
            other => panic!("{other:?}"),
        }
    }

    const PASS: &str = "Authentication-Results: mx.hsj.example; dkim=pass header.d=nhs.example\n";

    /// See: issue 20 (adversarial run, finding 3).
    #[test]
    fn a_signed_message_sent_on_to_the_address_names_no_one() {
        // Ann's signed mail to someone else, sent on by them: only the
        // envelope names the unsubscribe address.
        let replay = format!(
            "Delivered-To: unsubscribe@hsj.example\n{PASS}DKIM-Signature: v=1; d=nhs.example; h=from:to:subject; b=x\nFrom: ann@nhs.example\nTo: eve@evil.example\nSubject: lunch\n\n"
        );
        assert_eq!(read(&replay), None);
        // A To added above the signed one.
        let added = format!(
            "{PASS}To: unsubscribe@hsj.example\nDKIM-Signature: v=1; d=nhs.example; h=from:to; b=x\nFrom: ann@nhs.example\nTo: eve@evil.example\n\n"
        );
        assert_eq!(
            refused(&added),
            "it has more than one To header, which a genuine message never has"
        );
        // A signature that does not sign the header naming the address.
        let unsigned = format!(
            "{PASS}DKIM-Signature: v=1; d=nhs.example;\n h=from:subject; b=x\nFrom: ann@nhs.example\nCc: unsubscribe@hsj.example\n\n"
        );
        assert_eq!(
            refused(&unsigned),
            "nhs.example's DKIM signature does not sign its Cc header, so it may be a copy of another message sent on"
        );
        let signed = format!(
            "{PASS}DKIM-Signature: v=1; d=nhs.example; h=From : To : Subject; b=x\nFrom: ann@nhs.example\nTo: unsubscribe@hsj.example\n\n"
        );
        assert_eq!(
            read(&signed),
            Some(Request::From {
                from: "ann@nhs.example".into(),
                authenticated: Ok(())
            })
        );
    }

    /// See: issue 20 (adversarial run, findings 4 and 5).
    #[test]
    fn only_results_above_the_first_received_line_count_and_comments_say_nothing() {
        // Where the receiving server adds none, the sender's own below its
        // Received line are not taken.
        let below = format!(
            "Received: from x by mx.hsj.example; Fri, 20 Nov 2026 08:00:00 +0000\n{PASS}From: ann@nhs.example\nTo: unsubscribe@hsj.example\n\n"
        );
        assert_eq!(
            refused(&below),
            "it carries no Authentication-Results from mx.hsj.example above its first Received line"
        );
        // A `;` in a comment starts no result.
        let comment = "Authentication-Results: mx.hsj.example; dkim=fail (bad; dkim=pass header.d=nhs.example) header.d=nhs.example\nFrom: ann@nhs.example\nTo: unsubscribe@hsj.example\n\n";
        assert_eq!(
            refused(comment),
            "mx.hsj.example's Authentication-Results do not say DMARC, or DKIM or SPF aligned with nhs.example, passed"
        );
        assert_eq!(
            results_parts("mx (c;d) ; dkim=pass (x) header.d=\"a;b\""),
            ["mx", "dkim=pass header.d=\"a;b\""]
        );
    }

    /// See: issue 20 (adversarial re-run, F4 and F5).
    #[test]
    fn a_quoted_local_part_or_a_subdomains_signature_vouches_for_no_one() {
        let to_us = "From: dan@nhs.example\nTo: unsubscribe@hsj.example\n\n";
        // The attacker's own domain passes SPF; its local part names the
        // reader's domain.
        assert_eq!(
            refused(&format!(
                "Authentication-Results: mx.hsj.example; spf=pass smtp.mailfrom=\"@nhs.example x\"@evil.example\n{to_us}"
            )),
            "mx.hsj.example's Authentication-Results do not say DMARC, or DKIM or SPF aligned with nhs.example, passed"
        );
        // And where DMARC says it failed, nothing else counts.
        assert_eq!(
            refused(&format!(
                "Authentication-Results: mx.hsj.example; spf=pass smtp.mailfrom=dan@nhs.example; dmarc=fail header.from=nhs.example\n{to_us}"
            )),
            "mx.hsj.example says DMARC failed for nhs.example"
        );
        // A subdomain's signature counts for DMARC (relaxed), so it must
        // sign To too.
        assert_eq!(
            refused(&format!(
                "Authentication-Results: mx.hsj.example; dmarc=pass header.from=nhs.example\nDKIM-Signature: v=1; d=Mail.NHS.example.; h=from:subject; b=x\n{to_us}"
            )),
            "nhs.example's DKIM signature does not sign its To header, so it may be a copy of another message sent on"
        );
    }
}
