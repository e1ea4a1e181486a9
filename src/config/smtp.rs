//! `[smtp]` in `newsletter.toml`, or an `smtp://` / `smtps://` URL from
//! `--smtp` or `CATCHUP_SMTP_URL`: where and how to send.
//!
//! The password is never in the file: `password_env` names the environment
//! variable that holds it. A URL may carry one (lettre's URL form), and then
//! it lives only in memory. [`Secret`] never prints it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Source};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (usually port 587).
    Starttls,
    /// TLS from the first byte, "implicit TLS" (usually port 465).
    Tls,
    /// No encryption: only for a loopback host unless `allow_insecure`.
    None,
}

impl Security {
    fn default_port(self) -> u16 {
        match self {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Starttls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        })
    }
}

/// A password, kept out of every `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    None,
    /// The named environment variable, read when the run starts.
    Env(String),
    /// Given in an `--smtp` / `CATCHUP_SMTP_URL` URL.
    Given(Secret),
}

/// Validated SMTP settings.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Password,
    /// SMTP connections used at once by a list send.
    pub connections: usize,
    /// Messages per second across all connections; `None` for no limit.
    pub rate: Option<f64>,
    /// For connecting, and for each reply.
    pub timeout: Duration,
    /// Attempts per reader after a 4xx reply or a dropped connection.
    pub retries: u32,
    /// The first wait before a retry; it doubles with each attempt.
    pub retry_delay: Duration,
    /// The EHLO name; the sending domain if not given.
    pub hello_name: Option<String>,
    /// Extra root certificate (PEM) to trust, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// Where these settings came from, for messages: `config/newsletter.toml:41`
    /// or `--smtp`.
    pub origin: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SmtpFile {
    host: Spanned<String>,
    port: Option<u16>,
    #[serde(default = "default_security")]
    security: Spanned<Security>,
    #[serde(default)]
    allow_insecure: bool,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    #[serde(default = "default_connections")]
    connections: Spanned<usize>,
    rate: Option<Spanned<f64>>,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_retry_delay")]
    retry_delay_ms: u64,
    hello_name: Option<String>,
    ca_file: Option<PathBuf>,
}

fn default_security() -> Spanned<Security> {
    Spanned::new(0..0, Security::Starttls)
}
fn default_connections() -> Spanned<usize> {
    Spanned::new(0..0, 4)
}
fn default_timeout() -> u64 {
    30
}
fn default_retries() -> u32 {
    4
}
fn default_retry_delay() -> u64 {
    1000
}

/// The most connections a list send opens at once.
pub const MAX_CONNECTIONS: usize = 64;

impl SmtpFile {
    pub(super) fn validate(self, source: &Source, problems: &mut Vec<Diagnostic>) -> Smtp {
        let host = self.host.get_ref().trim().to_string();
        let security = *self.security.get_ref();
        if host.is_empty() {
            problems.push(Diagnostic::error("the SMTP host is empty").at(source, self.host.span()));
        }
        if security == Security::None && !self.allow_insecure && !is_loopback(&host) {
            problems.push(
                Diagnostic::error(format!(
                    "security = \"none\" would send unencrypted to `{host}`, which is not a loopback host"
                ))
                .at(source, self.security.span())
                .help("use \"starttls\" or \"tls\", or set allow_insecure = true if you really mean it"),
            );
        }
        let connections = *self.connections.get_ref();
        if !(1..=MAX_CONNECTIONS).contains(&connections) {
            problems.push(
                Diagnostic::error(format!("connections must be 1 to {MAX_CONNECTIONS}"))
                    .at(source, self.connections.span()),
            );
        }
        let rate = self.rate.as_ref().map(|r| *r.get_ref());
        if let (Some(r), Some(spanned)) = (rate, &self.rate)
            && !(r.is_finite() && r > 0.0)
        {
            problems.push(
                Diagnostic::error("rate must be a number of messages per second above 0")
                    .at(source, spanned.span()),
            );
        }
        let password = match &self.password_env {
            Some(var) if var.get_ref().trim().is_empty() => {
                problems.push(Diagnostic::error("password_env is empty").at(source, var.span()));
                Password::None
            }
            Some(var) => Password::Env(var.get_ref().trim().to_string()),
            None => Password::None,
        };
        let (line, _) = source.line_column(self.host.span().start);
        Smtp {
            port: self.port.unwrap_or(security.default_port()),
            host,
            security,
            username: self.username,
            password,
            connections,
            rate,
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            retries: self.retries,
            retry_delay: Duration::from_millis(self.retry_delay_ms),
            hello_name: self.hello_name,
            ca_file: self.ca_file,
            origin: format!("[smtp] in {}:{line}", source.path.display()),
        }
    }
}

impl Smtp {
    /// Settings from a lettre-style URL, keeping the tuning (connections,
    /// rate, timeouts, retries) of `base` when there is one:
    /// `smtp://host:25` (no encryption), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (implicit TLS).
    ///
    /// # Errors
    /// A URL that is malformed, has another scheme, or asks for no encryption
    /// to a host that is not loopback without `insecure`.
    pub fn from_url(text: &str, base: Option<&Smtp>, insecure: bool) -> Result<Smtp, String> {
        let url = url::Url::parse(text).map_err(|e| format!("bad SMTP URL: {e}"))?;
        let security = match url.scheme() {
            "smtps" => Security::Tls,
            "smtp" => match url
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.into_owned())
            {
                Some(v) if v == "required" || v == "opportunistic" => Security::Starttls,
                Some(v) => return Err(format!("bad SMTP URL: unknown tls={v} (use required)")),
                None => Security::None,
            },
            other => {
                return Err(format!(
                    "bad SMTP URL: scheme `{other}` (use smtp:// or smtps://)"
                ));
            }
        };
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty())
            .ok_or("bad SMTP URL: no host")?;
        if security == Security::None && !insecure && !is_loopback(&host) {
            return Err(format!(
                "the SMTP URL sends unencrypted to `{host}`, which is not a loopback host; add ?tls=required, use smtps://, or pass --insecure"
            ));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let username = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = match url.password() {
            Some(p) => Password::Given(Secret::new(decode(p))),
            None => base.map_or(Password::None, |b| b.password.clone()),
        };
        let mut smtp = base.cloned().unwrap_or(Smtp {
            host: String::new(),
            port: 0,
            security,
            username: None,
            password: Password::None,
            connections: default_connections().into_inner(),
            rate: None,
            timeout: Duration::from_secs(default_timeout()),
            retries: default_retries(),
            retry_delay: Duration::from_millis(default_retry_delay()),
            hello_name: None,
            ca_file: None,
            origin: String::new(),
        });
        smtp.port = url.port().unwrap_or(security.default_port());
        smtp.host = host;
        smtp.security = security;
        smtp.username = username.or(smtp.username);
        smtp.password = password;
        smtp.origin = "the SMTP URL".into();
        Ok(smtp)
    }

    /// `host:port (security)`, for messages; never the credentials.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.security)
    }

    /// The password to log in with, if any.
    ///
    /// # Errors
    /// A username is set, but the environment variable that should hold the
    /// password is not set.
    pub fn password(&self) -> Result<Option<Secret>, String> {
        match (&self.password, &self.username) {
            (_, None) => Ok(None),
            (Password::Given(secret), Some(_)) => Ok(Some(secret.clone())),
            (Password::Env(var), Some(_)) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Some(Secret::new(value))),
                _ => Err(format!(
                    "the SMTP password variable `{var}` is not set (named by password_env in {}); export it before sending",
                    self.origin
                )),
            },
            (Password::None, Some(user)) => Err(format!(
                "SMTP username `{user}` has no password: set password_env in {}",
                self.origin
            )),
        }
    }
}

/// `localhost`, or an address in 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_lettre_form() {
        let s = Smtp::from_url("smtp://127.0.0.1:2525", None, false).expect("plain loopback");
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("127.0.0.1", 2525, Security::None)
        );

        let s =
            Smtp::from_url("smtp://mail.example.com?tls=required", None, false).expect("starttls");
        assert_eq!((s.port, s.security), (587, Security::Starttls));

        let s =
            Smtp::from_url("smtps://user%40x:p%3Ass@mail.example.com", None, false).expect("tls");
        assert_eq!((s.port, s.security), (465, Security::Tls));
        assert_eq!(s.username.as_deref(), Some("user@x"));
        assert_eq!(
            s.password().expect("given").map(|p| p.expose().to_string()),
            Some("p:ss".into())
        );
    }

    #[test]
    fn no_encryption_is_only_for_loopback_unless_forced() {
        let err = Smtp::from_url("smtp://mail.example.com", None, false).expect_err("refused");
        assert!(err.contains("not a loopback host"), "{err}");
        assert!(Smtp::from_url("smtp://mail.example.com", None, true).is_ok());
        assert!(Smtp::from_url("smtp://[::1]:25", None, false).is_ok());
        assert!(Smtp::from_url("smtp://localhost", None, false).is_ok());
        assert!(Smtp::from_url("http://x", None, false).is_err());
    }

    #[test]
    fn the_password_never_prints() {
        let s = Smtp::from_url("smtps://u:hunter2@mail.example.com", None, false).expect("url");
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!s.describe().contains("hunter2"));
    }

    #[test]
    fn a_missing_password_variable_is_named() {
        let mut s = Smtp::from_url("smtps://u@mail.example.com", None, false).expect("url");
        s.password = Password::Env("CATCHUP_TEST_SURELY_UNSET_VAR".into());
        let err = s.password().expect_err("unset");
        assert!(
            err.contains("`CATCHUP_TEST_SURELY_UNSET_VAR` is not set"),
            "{err}"
        );
    }
}
