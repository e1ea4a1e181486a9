//! DKIM: the signing keys, checked before anything is sent, the DNS
//! records they need, and the signatures.
//!
//! Every message carries one signature per `[[dkim]]` key (typically an
//! RSA key and an Ed25519 key: receivers that cannot check Ed25519 check
//! the RSA one). Each signature is relaxed/relaxed and covers the headers
//! Gmail and Yahoo look at, `List-Unsubscribe` and `List-Unsubscribe-Post`
//! among them (RFC 8058 only counts a one-click header the signature
//! covers), each named once more than the message has it (oversigned), so
//! that a copy of one added on top breaks the signature. The body is
//! canonicalised and hashed once for all the keys. RSA keys of 2048 bits
//! or more, and Ed25519 keys, sign with aws-lc-rs (constant time, at
//! OpenSSL's speed); a shorter RSA key, which it refuses, with the rsa
//! crate's blinded signing.

use std::path::Path;

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::EncodePublicKey as _;
use rsa::traits::PublicKeyParts as _;

use crate::config::{Dkim, DkimAlgorithm, Env, KeySource};
use crate::diagnostic::{Diagnostic, Source};

/// RSA keys below this many bits are refused (RFC 8301).
pub(crate) const MIN_RSA_BITS: usize = 1024;
/// RSA keys below this many bits are warned about.
pub(crate) const GOOD_RSA_BITS: usize = 2048;

/// The headers every signature covers, each once more than the message
/// has it.
pub(crate) const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Feedback-ID",
    // Never on catchup's mail: named once, so that a copy added breaks
    // the signature (a replayer's Sender, Cc, thread or list headers).
    "Sender",
    "Cc",
    "In-Reply-To",
    "References",
    "List-Post",
    "List-Help",
    "List-Owner",
    "List-Subscribe",
    "List-Archive",
    "Content-Transfer-Encoding",
];

/// The loaded keys, ready to sign messages.
pub struct Signer {
    keys: Vec<Key>,
}

/// One key and where its record goes.
struct Key {
    domain: String,
    selector: String,
    algorithm: DkimAlgorithm,
    signing: Signing,
    /// The TXT record to publish.
    record: String,
}

enum Signing {
    Rsa(aws_lc_rs::signature::RsaKeyPair),
    /// Under 2048 bits, which aws-lc-rs does not sign with.
    ShortRsa(Box<rsa::RsaPrivateKey>),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field(
                "names",
                &self.keys.iter().map(Key::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads and checks every key `settings` name. Problems point at the
    /// key's line in `source`; warnings (an RSA key under 2048 bits) come
    /// back beside the signer.
    ///
    /// # Errors
    /// A key that is missing, unreadable, readable by everyone, malformed,
    /// of the other algorithm, or too short.
    pub fn load(
        settings: &[Dkim],
        source: &Source,
        env: &Env,
    ) -> Result<(Signer, Vec<Diagnostic>), Diagnostic> {
        let mut keys = Vec::new();
        let mut warnings = Vec::new();
        for one in settings {
            keys.push(Key::load(one, source, env, &mut warnings)?);
        }
        Ok((Signer { keys }, warnings))
    }

    /// `message` (a whole message, CRLF line endings) with a
    /// `DKIM-Signature` header for each key on top, signed at `now`.
    pub(crate) fn sign(&self, message: &[u8], now: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
        let (header, body) = split(message);
        let fields = fields(header);
        let body_hash = base64::engine::general_purpose::STANDARD.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &relaxed_body(body)),
        );
        let names = oversigned(&fields);
        let mut signed = Vec::with_capacity(message.len() + 1024 * self.keys.len());
        for key in &self.keys {
            signed.extend_from_slice(key.signature(&fields, &names, &body_hash, now).as_bytes());
        }
        signed.extend_from_slice(message);
        signed
    }

    /// Each key's record name (`<selector>._domainkey.<domain>`) and the
    /// TXT record to publish there.
    pub fn records(&self) -> Vec<(String, &str)> {
        self.keys
            .iter()
            .map(|k| (k.name(), k.record.as_str()))
            .collect()
    }
}

impl Key {
    fn load(
        settings: &Dkim,
        source: &Source,
        env: &Env,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Key, Diagnostic> {
        let at = |message: String| Diagnostic::error(message).at(source, settings.key_span.clone());
        let pem = read_key(&settings.key, env).map_err(at)?;
        let (signing, public) = match settings.algorithm {
            DkimAlgorithm::Rsa => {
                let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem)
                    .or_else(|_| rsa::pkcs8::DecodePrivateKey::from_pkcs8_pem(&pem))
                    .map_err(|_| at("the DKIM key is not an RSA private key in PEM (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)".into()))?;
                let bits = key.size() * 8;
                if bits < MIN_RSA_BITS {
                    return Err(at(format!(
                        "the RSA key has {bits} bits; mail providers refuse signatures under {MIN_RSA_BITS}"
                    )));
                }
                let public = key
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| at(format!("the RSA key cannot be used: {e}")))?
                    .as_bytes()
                    .to_vec();
                let signing = if bits < GOOD_RSA_BITS {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "the RSA key has {bits} bits; use {GOOD_RSA_BITS} or more"
                        ))
                        .at(source, settings.key_span.clone())
                        .help("make a new one with `catchup dkim keygen --selector S`"),
                    );
                    Signing::ShortRsa(Box::new(key))
                } else {
                    let der = key
                        .to_pkcs1_der()
                        .map_err(|e| at(format!("the RSA key cannot be used: {e}")))?;
                    Signing::Rsa(
                        aws_lc_rs::signature::RsaKeyPair::from_der(der.as_bytes())
                            .map_err(|e| at(format!("the RSA key cannot be used: {e}")))?,
                    )
                };
                (signing, public)
            }
            DkimAlgorithm::Ed25519 => {
                let not_ed25519 = || {
                    at(
                        "the DKIM key is not an Ed25519 private key in PEM (BEGIN PRIVATE KEY)"
                            .into(),
                    )
                };
                let (label, der) =
                    rsa::pkcs8::der::pem::decode_vec(pem.as_bytes()).map_err(|_| not_ed25519())?;
                if label != "PRIVATE KEY" {
                    return Err(not_ed25519());
                }
                // Both RFC 8410's form (what OpenSSL writes) and PKCS#8 v2.
                let key = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map_err(|_| not_ed25519())?;
                use aws_lc_rs::signature::KeyPair as _;
                let public = key.public_key().as_ref().to_vec();
                (Signing::Ed25519(key), public)
            }
        };
        Ok(Key {
            domain: settings.domain.clone(),
            selector: settings.selector.clone(),
            algorithm: settings.algorithm,
            signing,
            record: record(settings.algorithm, &public),
        })
    }

    fn name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The `DKIM-Signature` header, folded, with its CRLF.
    fn signature(
        &self,
        fields: &[Field<'_>],
        names: &[&str],
        body_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let algorithm = match self.algorithm {
            DkimAlgorithm::Rsa => "rsa-sha256",
            DkimAlgorithm::Ed25519 => "ed25519-sha256",
        };
        let unsigned = format!(
            "DKIM-Signature: v=1; a={algorithm}; c=relaxed/relaxed; d={}; s={};\r\n\tt={}; h={};\r\n\tbh={body_hash};\r\n\tb=",
            self.domain,
            self.selector,
            now.timestamp(),
            names.join(":").to_ascii_lowercase(),
        );
        let mut data = relaxed_headers(fields, names);
        // The signature's own header, without its CRLF (RFC 6376 §3.7).
        data.extend_from_slice(relaxed_field(&unsigned).trim_end().as_bytes());
        let signature = self.sign_data(&data);
        let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
        let mut header = unsigned;
        for (i, chunk) in b64.as_bytes().chunks(72).enumerate() {
            if i > 0 {
                header.push_str("\r\n\t ");
            }
            header.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        }
        header.push_str("\r\n");
        header
    }

    /// RSA-SHA256 signs the data; Ed25519-SHA256 signs its SHA-256 hash
    /// (RFC 8463 §3).
    fn sign_data(&self, data: &[u8]) -> Vec<u8> {
        match &self.signing {
            Signing::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                // Fails only on a broken system random source.
                key.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    data,
                    &mut signature,
                )
                .expect("the system's random source");
                signature
            }
            Signing::ShortRsa(key) => {
                use sha2::Digest as _;
                let hash = sha2::Sha256::digest(data);
                key.sign_with_rng(
                    &mut rand_core::OsRng,
                    rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    &hash,
                )
                .expect("an RSA key of at least 1024 bits signs a SHA-256 hash")
            }
            Signing::Ed25519(key) => {
                let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
                key.sign(hash.as_ref()).as_ref().to_vec()
            }
        }
    }
}

/// One header field as the message has it: its name, and the whole field
/// (name, colon, value, folds) without its final CRLF.
struct Field<'m> {
    name: &'m str,
    raw: &'m str,
}

/// The header block (with its last CRLF) and the body.
fn split(message: &[u8]) -> (&str, &[u8]) {
    let at = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |i| i + 2);
    let header = std::str::from_utf8(&message[..at]).unwrap_or("");
    let body = message.get(at + 2..).unwrap_or(&[]);
    (header, body)
}

/// The header fields, in order, folded lines joined to theirs.
fn fields(header: &str) -> Vec<Field<'_>> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut start = 0;
    for (at, _) in header.match_indices("\r\n") {
        let next = header.as_bytes().get(at + 2);
        if matches!(next, Some(b' ' | b'\t')) {
            continue;
        }
        let raw = &header[start..at];
        if let Some((name, _)) = raw.split_once(':') {
            fields.push(Field {
                name: name.trim_end(),
                raw,
            });
        }
        start = at + 2;
    }
    fields
}

/// `SIGNED_HEADERS`, each as many times as the message has it, and once
/// more.
fn oversigned<'n>(fields: &[Field<'_>]) -> Vec<&'n str> {
    let mut names = Vec::new();
    for name in SIGNED_HEADERS {
        let count = fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(name))
            .count();
        names.extend(std::iter::repeat_n(*name, count + 1));
    }
    names
}

/// The fields `names` select, relaxed (RFC 6376 §5.4.2): each name takes
/// the last instance not yet taken, from the bottom up; a name with none
/// left adds nothing.
fn relaxed_headers(fields: &[Field<'_>], names: &[&str]) -> Vec<u8> {
    let mut taken = vec![false; fields.len()];
    let mut data = Vec::new();
    for name in names {
        let found = (0..fields.len())
            .rev()
            .find(|&i| !taken[i] && fields[i].name.eq_ignore_ascii_case(name));
        if let Some(i) = found {
            taken[i] = true;
            data.extend_from_slice(relaxed_field(fields[i].raw).as_bytes());
        }
    }
    data
}

/// One field in relaxed form (RFC 6376 §3.4.2): the name lowercased, the
/// folds undone, runs of white space one space, none around the colon or
/// at the end; with CRLF.
fn relaxed_field(raw: &str) -> String {
    let (name, value) = raw.split_once(':').unwrap_or((raw, ""));
    let value = value.replace("\r\n", "");
    let value: Vec<&str> = value.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    format!(
        "{}:{}\r\n",
        name.trim_end().to_ascii_lowercase(),
        value.join(" ")
    )
}

/// The body in relaxed form (RFC 6376 §3.4.4): runs of white space one
/// space, none at the end of a line, no empty lines at the end, and a
/// final CRLF unless it is empty.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut blank_run = 0;
    let mut canonical = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &[][..]),
        };
        rest = next;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Most lines (quoted-printable writes no trailing white space) are
        // already relaxed: copied as they are.
        let plain = memchr::memchr(b'\t', line).is_none()
            && memchr::memmem::find(line, b"  ").is_none()
            && line.last() != Some(&b' ');
        let line: &[u8] = if plain {
            line
        } else {
            canonical.clear();
            let mut space = false;
            for &b in line {
                if b == b' ' || b == b'\t' {
                    space = true;
                } else {
                    if space {
                        canonical.push(b' ');
                    }
                    space = false;
                    canonical.push(b);
                }
            }
            &canonical
        };
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        for _ in 0..blank_run {
            out.extend_from_slice(b"\r\n");
        }
        blank_run = 0;
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The DNS TXT record for a public key.
fn record(algorithm: DkimAlgorithm, public: &[u8]) -> String {
    format!(
        "v=DKIM1; k={}; p={}",
        algorithm.name(),
        base64::engine::general_purpose::STANDARD.encode(public)
    )
}

/// The key's PEM text, from its file (which must not be readable by
/// everyone) or its variable.
fn read_key(source: &KeySource, env: &Env) -> Result<String, String> {
    match source {
        KeySource::Env(var) => env
            .get(var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                format!(
                    "the DKIM key variable `{var}` is not set; {}",
                    env.where_to_set(var)
                )
            }),
        KeySource::File(path) => {
            // Group-readable is allowed: a milter's group may share it.
            let bytes = crate::fs::read_secret(path, 64 * 1024, 0o004)
                .map_err(|e| format!("the DKIM key: {e}"))?;
            String::from_utf8(bytes)
                .map_err(|_| format!("the DKIM key `{}` is not PEM text", path.display()))
        }
    }
}

/// Makes a new private key, writes it to `out` in PEM (mode 0600, never
/// over an existing file), and returns the DNS TXT record for it.
///
/// # Errors
/// The file exists already, or cannot be written.
pub fn keygen(algorithm: DkimAlgorithm, out: &Path) -> Result<String, String> {
    let (pem, public) = match algorithm {
        DkimAlgorithm::Rsa => {
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, GOOD_RSA_BITS)
                .map_err(|e| format!("cannot make an RSA key: {e}"))?;
            let pem = key
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| e.to_string())?
                .to_string();
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|e| e.to_string())?;
            (pem, public.as_bytes().to_vec())
        }
        DkimAlgorithm::Ed25519 => {
            let mut seed = [0u8; 32];
            aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut seed)
                .map_err(|_| "the system's random source failed".to_string())?;
            let key = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&seed)
                .map_err(|e| format!("cannot make an Ed25519 key: {e}"))?;
            use aws_lc_rs::signature::KeyPair as _;
            let public = key.public_key().as_ref().to_vec();
            // RFC 8410's form, which OpenSSL 3.0 and python-cryptography
            // read (PKCS#8 v2, with the public key, they do not).
            let mut der = ED25519_PKCS8_V1_PREFIX.to_vec();
            der.extend_from_slice(&seed);
            let pem = rsa::pkcs8::der::pem::encode_string(
                "PRIVATE KEY",
                rsa::pkcs8::LineEnding::LF,
                &der,
            )
            .map_err(|e| e.to_string())?;
            (pem, public)
        }
    };
    write_private(out, pem.as_bytes())?;
    Ok(record(algorithm, &public))
}

/// PKCS#8 v1 for Ed25519 (RFC 8410 §10.3), up to the 32-byte seed:
/// version 0, the algorithm 1.3.101.112, and the key in an OCTET STRING.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Writes a private key: mode 0600 from creation, refusing to replace a file.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::fs::write_new(path, bytes, 0o600).map_err(|e| {
        if e.kind() == Some(std::io::ErrorKind::AlreadyExists) {
            format!(
                "`{}` exists already; keygen never overwrites a key",
                path.display()
            )
        } else {
            e.to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// The key at `path` as `[dkim]` for `s1._domainkey.hsj.example`
    /// would load it.
    fn load(
        algorithm: DkimAlgorithm,
        path: &Path,
    ) -> Result<(Signer, Vec<Diagnostic>), Diagnostic> {
        let settings = Dkim {
            domain: "hsj.example".into(),
            selector: "s1".into(),
            algorithm,
            key: KeySource::File(path.to_path_buf()),
            key_span: 0..0,
        };
        Signer::load(
            std::slice::from_ref(&settings),
            &Source::new("n.toml", ""),
            &Env::process(),
        )
    }

    #[test]
    fn a_key_made_by_keygen_loads_and_its_record_has_the_public_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        for algorithm in [DkimAlgorithm::Ed25519, DkimAlgorithm::Rsa] {
            let path = dir.path().join(format!("{}.pem", algorithm.name()));
            let record = keygen(algorithm, &path).expect("keygen");
            assert!(record.starts_with(&format!("v=DKIM1; k={}; p=", algorithm.name())));
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let (signer, warnings) = load(algorithm, &path).expect("load");
            assert!(warnings.is_empty());
            assert_eq!(
                signer.records(),
                [("s1._domainkey.hsj.example".to_string(), record.as_str())]
            );
            assert!(
                keygen(algorithm, &path)
                    .expect_err("exists")
                    .contains("never overwrites")
            );
        }
    }

    /// RFC 6376 §3.4.5's example.
    #[test]
    fn relaxed_canonicalisation_is_the_rfcs() {
        let fields = fields("A: X\r\nB : Y\t\r\n\tZ  \r\n");
        assert_eq!(
            String::from_utf8(relaxed_headers(&fields, &["a", "b"])).unwrap(),
            "a:X\r\nb:Y Z\r\n"
        );
        assert_eq!(relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(b""), b"");
        assert_eq!(relaxed_body(b"\r\n\r\n"), b"");
        assert_eq!(relaxed_body(b"x"), b"x\r\n");
    }

    #[test]
    fn every_signed_header_is_named_once_more_than_the_message_has_it() {
        let fields =
            fields("From: a@b.example\r\nTo: c@d.example\r\nSubject: one\r\nX-Other: 1\r\n");
        let names = oversigned(&fields);
        assert_eq!(names.iter().filter(|n| **n == "From").count(), 2);
        assert_eq!(names.iter().filter(|n| **n == "Subject").count(), 2);
        assert_eq!(names.iter().filter(|n| **n == "Reply-To").count(), 1);
        assert!(!names.contains(&"X-Other"));
        // The extra name selects nothing now; a copy added on top would be
        // selected by it, and break the signature.
        let once = relaxed_headers(&fields, &["Subject"]);
        assert_eq!(relaxed_headers(&fields, &["Subject", "Subject"]), once);
    }

    /// Keys written before RFC 8410's form was (PKCS#8 v2, with the
    /// public key) still load.
    #[test]
    fn an_ed25519_key_in_pkcs8_v2_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let der = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("key");
        let pem = rsa::pkcs8::der::pem::encode_string(
            "PRIVATE KEY",
            rsa::pkcs8::LineEnding::LF,
            der.as_ref(),
        )
        .expect("pem");
        let path = dir.path().join("v2.pem");
        crate::fs::write_new(&path, pem.as_bytes(), 0o600).expect("write");
        let (signer, _) = load(DkimAlgorithm::Ed25519, &path).expect("a v2 key loads");
        assert!(signer.records()[0].1.starts_with("v=DKIM1; k=ed25519; p="));
    }
}
