//! Which addresses catchup can send to, in the form it sends them.
//!
//! `lettre::Address` accepts everything RFC 5321 allows, including forms
//! that no newsletter reader has and that lettre cannot put in a `To:`
//! header: a quoted local part (`"john doe"@example.test`) and an IP-literal
//! domain (`user@[127.0.0.1]`). Those are refused here with a reason, so a
//! list row with one is a bad row with its line number, never a panic.
//! An internationalised domain is converted to its ASCII (punycode) form; a
//! non-ASCII local part needs the server's SMTPUTF8 (RFC 6531), which the
//! session checks per reader.

use std::str::FromStr as _;

use lettre::Address;

/// Why a text is not an address catchup can send to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressError {
    #[error("`{text}` is not an email address ({reason})")]
    Invalid {
        text: String,
        reason: lettre::address::AddressError,
    },
    #[error("`{0}` has a quoted local part, which catchup cannot send to")]
    QuotedLocalPart(String),
    #[error("`{0}` has an IP address for a domain, which catchup cannot send to")]
    IpDomain(String),
    #[error("`{0}` has a domain that is not a valid international name")]
    InternationalDomain(String),
}

/// Parses and normalises an address a message can go to.
///
/// # Errors
/// Why the text is not an address catchup can send to.
pub(crate) fn parse(text: &str) -> Result<Address, AddressError> {
    let text = text.trim();
    let invalid = |reason| AddressError::Invalid {
        text: text.into(),
        reason,
    };
    let address = Address::from_str(text).map_err(invalid)?;
    let (user, domain) = (address.user(), address.domain());
    if user.starts_with('"') {
        return Err(AddressError::QuotedLocalPart(text.into()));
    }
    if domain.starts_with('[') {
        return Err(AddressError::IpDomain(text.into()));
    }
    if domain.is_ascii() {
        return Ok(address);
    }
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| AddressError::InternationalDomain(text.into()))?;
    Address::new(user, ascii).map_err(invalid)
}

/// The one form an address is compared in: whoever is the same reader
/// gets the same form, and two addresses a mail server would treat as two
/// never do.
///
/// - The domain is the same domain in any case and in either of its
///   internationalised forms: it is mapped by IDNA (UTS #46) to its ASCII
///   form, lower case (`Bücher.EXAMPLE` is `xn--bcher-kva.example`).
/// - The local part is the receiving server's to interpret (RFC 5321
///   §2.4), and servers compare ASCII letters without regard to case:
///   `Ann` and `ann` are one reader. Anything outside ASCII is kept as it
///   is, byte for byte: `K` (U+212A, the Kelvin sign) is not `k`, though
///   Unicode lower-cases one to the other, and `é` composed is not `é`
///   decomposed. No dots are removed and no `+tag` is cut off: some
///   servers would deliver those to someone else.
///
/// Text that is not an address at all is only lower-cased in ASCII, so it
/// still has one form.
pub(crate) fn identity(email: &str) -> String {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email.to_ascii_lowercase();
    };
    let domain = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_string())
    };
    format!("{}@{domain}", local.to_ascii_lowercase())
}

/// True when the address needs SMTPUTF8: a local part outside ASCII.
pub(crate) fn needs_smtputf8(address: &Address) -> bool {
    !address.user().is_ascii()
}

/// The registrable domain of a host (what DMARC calls the organisational
/// domain, by a short rule rather than the public suffix list):
/// `aspmx.l.google.com` → `google.com`; `mx.trust.nhs.uk` → `trust.nhs.uk`
/// (two-letter country domains keep a third label when the second is one
/// of the generic few: `co`, `ac`, `nhs`, `org`, `gov`, ...).
pub(crate) fn registrable(host: &str) -> String {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, top]
            if top.len() == 2
                && [
                    "co", "ac", "nhs", "org", "gov", "net", "com", "ne", "or", "ltd", "plc", "me",
                ]
                .contains(second) =>
        {
            3
        }
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: issue 9, item 1. These passed `lettre::Address` and then
    /// panicked while the message was built.
    #[test]
    fn addresses_lettre_cannot_address_a_message_to_are_refused() {
        let ip = |t: &str| AddressError::IpDomain(t.into());
        for (text, why) in [
            ("user@[127.0.0.1]", ip("user@[127.0.0.1]")),
            ("user@[IPv6:2001:db8::1]", ip("user@[IPv6:2001:db8::1]")),
            (
                "\"john doe\"@example.test",
                AddressError::QuotedLocalPart("\"john doe\"@example.test".into()),
            ),
            (
                "not-an-address",
                AddressError::Invalid {
                    text: "not-an-address".into(),
                    reason: lettre::address::AddressError::MissingParts,
                },
            ),
        ] {
            assert_eq!(parse(text), Err(why), "{text}");
        }
        assert_eq!(
            parse("user@[127.0.0.1]").map_err(|e| e.to_string()),
            Err(
                "`user@[127.0.0.1]` has an IP address for a domain, which catchup cannot send to"
                    .into()
            )
        );
    }

    /// See: issue 18, item 9. An address starting with the Kelvin sign got
    /// kate@'s key and token, and kate was then skipped as a duplicate.
    #[test]
    fn two_addresses_a_server_tells_apart_never_share_an_identity() {
        let kate = identity("kate@nhs.example");
        assert_eq!(identity("KATE@NHS.Example"), kate);
        assert_ne!(identity("\u{212a}ate@nhs.example"), kate, "the Kelvin sign");
        assert_ne!(
            identity("k\u{0131}te@nhs.example"),
            identity("kite@nhs.example")
        );
        assert_ne!(identity("\u{e9}@x.example"), identity("e\u{301}@x.example"));
        assert_eq!(identity("Ann@Bücher.EXAMPLE"), "ann@xn--bcher-kva.example");
        assert_eq!(
            identity("ann@xn--bcher-kva.example"),
            "ann@xn--bcher-kva.example"
        );
        assert_ne!(identity("a.nn@x.example"), identity("ann@x.example"));
        assert_ne!(identity("ann+news@x.example"), identity("ann@x.example"));
    }

    /// See: issue 9, item 11.
    #[test]
    fn international_domains_become_punycode_and_local_parts_are_flagged() {
        let a = parse("anne@bücher.example").expect("idn");
        assert_eq!(a.to_string(), "anne@xn--bcher-kva.example");
        assert!(!needs_smtputf8(&a));
        let b = parse("jöhn@example.test").expect("utf8 local part");
        assert!(needs_smtputf8(&b));
        assert_eq!(
            parse(" Ann@NHS.example ").expect("plain").to_string(),
            "Ann@NHS.example"
        );
    }
}
