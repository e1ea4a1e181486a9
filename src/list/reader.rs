//! A reader: who a message goes to ([`Reader`]), and the 16 bytes that
//! stand for them wherever catchup keeps readers ([`ReaderKey`]).

use lettre::Address;
use lettre::message::Mailbox;
use sha2::{Digest, Sha256};

/// Who a message is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub email: Address,
    pub name: Option<String>,
}

impl Reader {
    /// The stand-in reader that previews are addressed to.
    pub fn placeholder() -> Reader {
        Reader {
            email: "reader@example.com".parse().expect("valid address"),
            name: Some("Reader".into()),
        }
    }

    pub fn key(&self) -> ReaderKey {
        ReaderKey::of(self.email.as_ref())
    }

    pub fn mailbox(&self) -> Mailbox {
        let name = self
            .name
            .as_deref()
            .map(clean_name)
            .filter(|n| !n.is_empty());
        Mailbox::new(name, self.email.clone())
    }
}

/// The longest display name kept: a name is a name, and a longer `To:` line
/// could be refused by the server and fail the reader for good.
pub(crate) const MAX_NAME_CHARS: usize = 100;

/// A display name with control characters (CR, LF, tab, NUL...) turned into
/// spaces, runs of spaces collapsed, and cut to [`MAX_NAME_CHARS`]: a name
/// can never break a header or make it too long.
pub(crate) fn clean_name(raw: &str) -> String {
    let spaced: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut name = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = name.char_indices().nth(MAX_NAME_CHARS) {
        name.truncate(cut);
        name.truncate(name.trim_end().len());
    }
    name
}

/// A name that came from outside (the form, an import) as catchup writes
/// it to the list: cleaned as [`clean_name`] does, without invisible
/// formatting characters (right-to-left overrides, zero-width spaces)
/// that make one text look like another, and without the `=`, `+`, `-`
/// or `@` a spreadsheet would run as a formula when the list is opened in
/// one.
pub(crate) fn safe_name(raw: &str) -> String {
    let visible: String = raw
        .chars()
        .filter(|c| {
            !matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
        })
        .collect();
    clean_name(&visible)
        .trim_start_matches(['=', '+', '-', '@', ' '])
        .to_string()
}

/// A reader's identity in 16 bytes: the first half of SHA-256 of the
/// address in its compared form ([`super::address::identity`]). Ledgers, duplicate checks and the suppression list
/// keep these rather than strings, so memory stays small as lists grow (a
/// byte array, not a `u128`, so that map entries need no 16-byte padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReaderKey([u8; 16]);

impl ReaderKey {
    /// A placeholder for empty slots (see [`crate::deliver::keymap`]).
    pub const ZERO: ReaderKey = ReaderKey([0; 16]);

    /// The first eight bytes, already uniformly spread (a hash).
    pub fn prefix(&self) -> [u8; 8] {
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        prefix
    }

    pub fn of(email: &str) -> ReaderKey {
        let digest = address_digest(email);
        let mut half = [0u8; 16];
        half.copy_from_slice(&digest[..16]);
        ReaderKey(half)
    }
}

fn address_digest(email: &str) -> [u8; 32] {
    Sha256::digest(crate::list::address::identity(email).as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_from_outside_loses_formulas_and_invisible_characters() {
        assert_eq!(safe_name("=cmd|'/C calc'!A0"), "cmd|'/C calc'!A0");
        assert_eq!(safe_name("@SUM(1+1)"), "SUM(1+1)");
        assert_eq!(safe_name(" - + =Ann"), "Ann");
        assert_eq!(safe_name("Ann\u{202e}lmth.exe"), "Annlmth.exe");
        assert_eq!(safe_name("Jo\u{200b}Ann-Smith"), "JoAnn-Smith");
    }

    #[test]
    fn reader_keys_ignore_case_and_differ_between_readers() {
        assert_eq!(
            ReaderKey::of("Ann@Example.com"),
            ReaderKey::of("ann@example.com")
        );
        assert_ne!(
            ReaderKey::of("ann@example.com"),
            ReaderKey::of("bob@example.com")
        );
    }
}
