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

/// Parses and normalises an address a message can go to.
///
/// # Errors
/// Why the text is not an address catchup can send to, in words.
pub fn parse(text: &str) -> Result<Address, String> {
    let text = text.trim();
    let address =
        Address::from_str(text).map_err(|e| format!("`{text}` is not an email address ({e})"))?;
    let (user, domain) = (address.user(), address.domain());
    if user.starts_with('"') {
        return Err(format!(
            "`{text}` has a quoted local part, which catchup cannot send to"
        ));
    }
    if domain.starts_with('[') {
        return Err(format!(
            "`{text}` has an IP address for a domain, which catchup cannot send to"
        ));
    }
    if domain.is_ascii() {
        return Ok(address);
    }
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| format!("`{text}` has a domain that is not a valid international name"))?;
    Address::new(user, ascii).map_err(|e| format!("`{text}` is not an email address ({e})"))
}

/// True when the address needs SMTPUTF8: a local part outside ASCII.
pub fn needs_smtputf8(address: &Address) -> bool {
    !address.user().is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: issue 9, item 1. These passed `lettre::Address` and then
    /// panicked while the message was built.
    #[test]
    fn addresses_lettre_cannot_address_a_message_to_are_refused() {
        for (text, why) in [
            ("user@[127.0.0.1]", "IP address"),
            ("user@[IPv6:2001:db8::1]", "IP address"),
            ("\"john doe\"@example.test", "quoted local part"),
            ("not-an-address", "is not an email address"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
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
