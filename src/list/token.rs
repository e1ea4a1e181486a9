//! Links no one can forge: each reader's unsubscribe token and Message-ID id
//! are HMAC-SHA256 of their address under the newsletter's secret.
//!
//! Without the secret, a token cannot be made for an address, and a token
//! says nothing about the address it belongs to: changing any character of
//! it gives a token that matches no one. The two uses are separated by a
//! label, so a Message-ID (which every mail server along the way sees) does
//! not give away a reader's unsubscribe token.
//!
//! Rotating the secret: new links use the current secret, and a service
//! that is also given the previous one accepts links made with either (see
//! [`Keys`]).

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of HMAC kept in an unsubscribe token: 128 bits, as unguessable as
/// a random id, in 22 URL-safe characters.
pub(crate) const TOKEN_BYTES: usize = 16;
/// The shortest secret accepted.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

const UNSUBSCRIBE: &[u8] = b"catchup unsubscribe v1\0";
const MESSAGE_ID: &[u8] = b"catchup message-id v1\0";
const FORM: &[u8] = b"catchup form v1\0";
const CONFIRM: &[u8] = b"catchup confirm v1\0";
const ERASED: &[u8] = b"catchup erased v1\0";

/// A secret key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Vec<u8>);

impl Key {
    /// A key from the operator's secret.
    ///
    /// # Errors
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &str) -> Result<Key, String> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the secret is {} characters; it needs at least {MIN_SECRET_BYTES} (generate one with `openssl rand -hex 32`)",
                secret.len()
            ));
        }
        Ok(Key(secret.as_bytes().to_vec()))
    }

    /// The fixed key previews use, so that `preview` and `check` need no
    /// secret. Its links work nowhere: the service never holds this key.
    pub fn preview() -> Key {
        Key(b"catchup preview key: links made with it work nowhere".to_vec())
    }

    fn mac(&self, label: &[u8], email: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(label);
        mac.update(crate::list::address::identity(email).as_bytes());
        mac
    }

    /// The reader's unsubscribe token: 22 URL-safe characters.
    pub fn token(&self, email: &str) -> String {
        let tag = self.mac(UNSUBSCRIBE, email).finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..TOKEN_BYTES])
    }

    /// The reader's token for a VERP return path (`bounces+<token>@`): the
    /// same 16 bytes as [`Key::token`], in lower-case hex, because mail
    /// systems may change the case of a local part and base64 would not
    /// survive it.
    pub fn verp_token(&self, email: &str) -> String {
        let tag = self.mac(UNSUBSCRIBE, email).finalize().into_bytes();
        tag[..TOKEN_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The first 8 bytes of the token, as a number: what an index of
    /// readers keeps (a match is then checked in full with [`Key::verify`]).
    pub fn token_prefix(&self, email: &str) -> u64 {
        let tag = self.mac(UNSUBSCRIBE, email).finalize().into_bytes();
        u64::from_be_bytes(tag[..8].try_into().unwrap_or_default())
    }

    /// True if `token` is this reader's, compared in constant time.
    pub fn verify(&self, email: &str, token: &Token) -> bool {
        self.mac(UNSUBSCRIBE, email)
            .verify_truncated_left(&token.0)
            .is_ok()
    }

    /// A form token for `purpose` on the page of `link` (a reader's link
    /// token): a hidden field of the service's own form, so that a POST
    /// made anywhere else (a cross-site form, a bare request) is refused.
    pub fn form_token(&self, purpose: &str, link: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(FORM);
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(link.as_bytes());
        let tag = mac.finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..TOKEN_BYTES])
    }

    /// True if `form` is [`Key::form_token`]'s for `purpose` and `link`,
    /// compared in constant time.
    pub fn verify_form(&self, purpose: &str, link: &str, form: &str) -> bool {
        let expected = self.form_token(purpose, link);
        expected.len() == form.len()
            && expected
                .bytes()
                .zip(form.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// A sign-up's confirmation token: `<id>.<expiry, Unix seconds>.<MAC>`,
    /// the MAC over the id and the expiry, so that neither can be changed.
    /// (The id is random and kept with the address it is for; the MAC is
    /// checked before anything is read.)
    pub fn confirm_token(&self, id: &str, expires: i64) -> String {
        let tag = self
            .mac(CONFIRM, &format!("{id}\0{expires}"))
            .finalize()
            .into_bytes();
        format!(
            "{id}.{expires}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag[..TOKEN_BYTES])
        )
    }

    /// True if `mac` (the token's last part) is [`Key::confirm_token`]'s
    /// for `id` and `expires`, compared in constant time.
    pub fn verify_confirm(&self, id: &str, expires: i64, mac: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        tag.len() == TOKEN_BYTES
            && self
                .mac(CONFIRM, &format!("{id}\0{expires}"))
                .verify_truncated_left(&tag)
                .is_ok()
    }

    /// What an erased reader leaves behind: a keyed hash of their address
    /// (32 hex digits) that says whether an address is theirs, and without
    /// the secret says nothing about which address it was.
    pub fn erased(&self, email: &str) -> String {
        let tag = self.mac(ERASED, email).finalize().into_bytes();
        tag[..TOKEN_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The reader's id in Message-IDs: 16 hex digits, unrelated to the
    /// token.
    pub fn message_id(&self, email: &str) -> String {
        format!("{:016x}", self.message_id_number(email))
    }

    /// The same id as a number (what an index of readers keeps).
    pub fn message_id_number(&self, email: &str) -> u64 {
        let tag = self.mac(MESSAGE_ID, email).finalize().into_bytes();
        u64::from_be_bytes(tag[..8].try_into().unwrap_or_default())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(***)")
    }
}

/// The keys a service accepts links under: the current one, and the one
/// before it while links made with it are still in inboxes.
#[derive(Debug, Clone)]
pub struct Keys {
    pub current: Key,
    pub previous: Option<Key>,
}

impl Keys {
    pub fn all(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// A token as it came in a link, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token([u8; TOKEN_BYTES]);

impl Token {
    /// Decodes a token from a link (22 characters of base64url) or a VERP
    /// return path (32 hex digits, in either case); `None` for anything
    /// malformed.
    pub fn parse(text: &str) -> Option<Token> {
        let bytes = match text.len() {
            22 => base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text)
                .ok()?,
            32 if text.bytes().all(|b| b.is_ascii_hexdigit()) => (0..TOKEN_BYTES)
                .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?,
            _ => return None,
        };
        Some(Token(bytes.try_into().ok()?))
    }

    /// The first 8 bytes, as [`Key::token_prefix`] gives them.
    pub fn prefix(&self) -> u64 {
        u64::from_be_bytes(self.0[..8].try_into().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::new("0123456789abcdef0123456789abcdef").expect("key")
    }

    #[test]
    fn a_token_round_trips_and_ignores_the_case_of_the_address() {
        let token = key().token("Ann@NHS.example");
        assert_eq!(token.len(), 22);
        assert_eq!(token, key().token("ann@nhs.example"));
        let parsed = Token::parse(&token).expect("parses");
        assert!(key().verify("ann@nhs.example", &parsed));
        assert!(!key().verify("bob@nhs.example", &parsed));
        assert_eq!(parsed.prefix(), key().token_prefix("ann@nhs.example"));
    }

    /// See: issue 18, item 3. A VERP address given back in capitals was
    /// ignored: base64 does not survive a change of case, hex does.
    /// Links already in readers' mailboxes must keep working through any
    /// upgrade of the HMAC crates: the token is HMAC-SHA256 as Python's
    /// `hmac` module computes it (`hmac.new(secret, label + address,
    /// sha256).digest()[:16]`), not whatever the crate of the day returns.
    #[test]
    fn a_token_is_the_standard_hmac_of_the_address() {
        assert_eq!(key().token("Ann@nhs.example"), "M1nhzqxjm1njFPL_osFZuA");
        assert_eq!(
            key().verp_token("ann@nhs.example"),
            "3359e1ceac639b59e314f2ffa2c159b8"
        );
    }

    #[test]
    fn a_verp_token_is_the_same_token_in_either_case() {
        let verp = key().verp_token("ann@nhs.example");
        assert_eq!(verp.len(), 32);
        let link = Token::parse(&key().token("ann@nhs.example")).expect("link");
        assert_eq!(Token::parse(&verp), Some(link.clone()));
        assert_eq!(Token::parse(&verp.to_uppercase()), Some(link));
        assert_eq!(Token::parse(&verp.replace(&verp[..1], "g")), None);
    }

    /// Changing any character of a token gives one that matches no one.
    #[test]
    fn every_one_character_change_is_refused() {
        let token = key().token("ann@nhs.example");
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            for c in alphabet.chars() {
                let mut forged: Vec<char> = token.chars().collect();
                if forged[i] == c {
                    continue;
                }
                forged[i] = c;
                let forged: String = forged.into_iter().collect();
                if let Some(t) = Token::parse(&forged) {
                    assert!(!key().verify("ann@nhs.example", &t), "{forged}");
                }
            }
        }
    }

    #[test]
    fn tokens_and_message_ids_depend_on_the_secret_and_differ() {
        let other = Key::new("another secret, at least 32 bytes long").expect("key");
        assert_ne!(key().token("a@x.example"), other.token("a@x.example"));
        assert_ne!(
            key().message_id("a@x.example"),
            other.message_id("a@x.example")
        );
        assert!(
            !key()
                .token("a@x.example")
                .contains(&key().message_id("a@x.example")[..8])
        );
        assert!(Key::new("short").is_err());
        assert_eq!(format!("{:?}", key()), "Key(***)");
    }
}
