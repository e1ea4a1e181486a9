//! DKIM: the signing key, checked before anything is sent, and the DNS
//! record it needs.
//!
//! The signing itself (canonicalisation, hashing, the signature) is
//! lettre's (`dkim` feature), with relaxed/relaxed canonicalisation and the
//! headers Gmail and Yahoo look at, `List-Unsubscribe` and
//! `List-Unsubscribe-Post` among them (RFC 8058 only counts a one-click
//! header the signature covers). Each reader's body differs (their
//! unsubscribe link), so each message is signed on its own; the key is
//! parsed once per run.

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use lettre::Message;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::EncodePublicKey as _;
use rsa::traits::PublicKeyParts as _;

use crate::config::{Dkim, DkimAlgorithm, Env, KeySource};
use crate::diagnostic::{Diagnostic, Source};

/// RSA keys below this many bits are refused (RFC 8301).
pub(crate) const MIN_RSA_BITS: usize = 1024;
/// RSA keys below this many bits are warned about.
pub(crate) const GOOD_RSA_BITS: usize = 2048;

/// The headers every signature covers.
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
];

/// A loaded key, ready to sign messages.
pub struct Signer {
    config: DkimConfig,
    /// The TXT record to publish.
    record: String,
    /// Where to publish it: `<selector>._domainkey.<domain>`.
    name: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads and checks the key `settings` name. Problems point at the key's
    /// line in `source`; warnings (an RSA key under 2048 bits) come back
    /// beside the signer.
    ///
    /// # Errors
    /// A key that is missing, unreadable, readable by everyone, malformed,
    /// of the other algorithm, or too short.
    pub fn load(
        settings: &Dkim,
        source: &Source,
        env: &Env,
    ) -> Result<(Signer, Vec<Diagnostic>), Diagnostic> {
        let at = |message: String| Diagnostic::error(message).at(source, settings.key_span.clone());
        let pem = read_key(&settings.key, env).map_err(at)?;
        let mut warnings = Vec::new();
        let (key, public) = match settings.algorithm {
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
                if bits < GOOD_RSA_BITS {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "the RSA key has {bits} bits; use {GOOD_RSA_BITS} or more"
                        ))
                        .at(source, settings.key_span.clone())
                        .help("make a new one with `catchup dkim keygen --selector S`"),
                    );
                }
                let pkcs1 = key
                    .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                    .map_err(|e| at(format!("the RSA key cannot be used: {e}")))?;
                let public = key
                    .to_public_key()
                    .to_public_key_der()
                    .map_err(|e| at(format!("the RSA key cannot be used: {e}")))?;
                let signing = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
                    .map_err(|e| at(format!("the RSA key cannot be used: {e}")))?;
                (signing, public.as_bytes().to_vec())
            }
            DkimAlgorithm::Ed25519 => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
                    at(
                        "the DKIM key is not an Ed25519 private key in PEM (BEGIN PRIVATE KEY)"
                            .into(),
                    )
                })?;
                let seed = base64::engine::general_purpose::STANDARD.encode(key.to_bytes());
                let signing = DkimSigningKey::new(&seed, DkimSigningAlgorithm::Ed25519)
                    .map_err(|e| at(format!("the Ed25519 key cannot be used: {e}")))?;
                (signing, key.verifying_key().to_bytes().to_vec())
            }
        };
        let config = DkimConfig::new(
            settings.selector.clone(),
            settings.domain.clone(),
            key,
            SIGNED_HEADERS
                .iter()
                .map(|h| HeaderName::new_from_ascii_str(h))
                .collect(),
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok((
            Signer {
                config,
                record: record(settings.algorithm, &public),
                name: format!("{}._domainkey.{}", settings.selector, settings.domain),
            },
            warnings,
        ))
    }

    /// Adds a `DKIM-Signature` header to `message`.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }

    /// The TXT record to publish: `v=DKIM1; k=rsa; p=...`.
    pub fn record(&self) -> &str {
        &self.record
    }

    /// Where to publish it.
    pub fn name(&self) -> &str {
        &self.name
    }
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
    let mut rng = rand_core::OsRng;
    let (pem, public) = match algorithm {
        DkimAlgorithm::Rsa => {
            let key = rsa::RsaPrivateKey::new(&mut rng, GOOD_RSA_BITS)
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
            let key = ed25519_dalek::SigningKey::generate(&mut rng);
            let pem = key
                .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
                .map_err(|e| e.to_string())?
                .to_string();
            (pem, key.verifying_key().to_bytes().to_vec())
        }
    };
    write_private(out, pem.as_bytes())?;
    Ok(record(algorithm, &public))
}

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

    #[test]
    fn a_key_made_by_keygen_loads_and_its_record_has_the_public_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        for algorithm in [DkimAlgorithm::Ed25519, DkimAlgorithm::Rsa] {
            let path = dir.path().join(format!("{}.pem", algorithm.name()));
            let record = keygen(algorithm, &path).expect("keygen");
            assert!(record.starts_with(&format!("v=DKIM1; k={}; p=", algorithm.name())));
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let settings = Dkim {
                domain: "hsj.example".into(),
                selector: "s1".into(),
                algorithm,
                key: KeySource::File(path.clone()),
                key_span: 0..0,
            };
            let (signer, warnings) =
                Signer::load(&settings, &Source::new("n.toml", ""), &Env::process()).expect("load");
            assert!(warnings.is_empty());
            assert_eq!(signer.record(), record);
            assert_eq!(signer.name(), "s1._domainkey.hsj.example");
            assert!(
                keygen(algorithm, &path)
                    .expect_err("exists")
                    .contains("never overwrites")
            );
        }
    }
}
