//! `[smtp]` in `newsletter.toml`, or an `smtp://` / `smtps://` URL from
//! `--smtp` or `CATCHUP_SMTP_URL`: where and how to send.
//!
//! The password is never in the file and never in a URL (a URL on the
//! command line is visible to every local user in the process list): it is
//! read from the environment variable that `password_env` names,
//! `CATCHUP_SMTP_PASSWORD` unless the settings name another. [`Secret`]
//! never prints it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::env::Env;
use crate::config::fields::{Problems, Table};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn parse(text: &str) -> Option<Security> {
        match text.trim().to_ascii_lowercase().as_str() {
            "starttls" => Some(Security::Starttls),
            "tls" => Some(Security::Tls),
            "none" => Some(Security::None),
            _ => None,
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

/// The variable the password is read from when nothing names another.
pub(crate) const DEFAULT_PASSWORD_ENV: &str = "CATCHUP_SMTP_PASSWORD";

/// Validated SMTP settings.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// The environment variable holding the password (used when there is a
    /// username).
    pub password_env: String,
    /// SMTP connections to this relay used at once by a list send.
    pub connections: usize,
    /// Messages per second across this relay's connections; `None` for no
    /// limit.
    pub rate: Option<f64>,
    /// For connecting, and for each reply but the last.
    pub timeout: Duration,
    /// For the reply to the end of the message, which a server may take a
    /// long time over (RFC 5321 §4.5.3.2.6 suggests 10 minutes).
    pub data_timeout: Duration,
    /// Attempts per reader after a 4xx reply or a dropped connection.
    pub retries: u32,
    /// The first wait before a retry; it doubles with each attempt.
    pub retry_delay: Duration,
    /// The EHLO name; the sending domain if not given.
    pub hello_name: Option<String>,
    /// Extra root certificate (PEM) to trust, for a private CA.
    pub ca_file: Option<PathBuf>,
    /// Use PIPELINING and CHUNKING when the server offers them (on unless
    /// a server advertises them and gets them wrong).
    pub pipelining: bool,
    /// The provider's SPF record (`amazonses.com`) that the return path's
    /// SPF must include, when receivers see the provider's servers rather
    /// than this host: what `doctor` checks instead of the host's address.
    pub spf_include: Option<String>,
    /// Where these settings came from, for messages: `[smtp] in
    /// config/newsletter.toml:41` or `the SMTP URL`.
    pub origin: String,
}

/// Why SMTP settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

/// The most connections a list send opens at once to one relay.
pub(crate) const MAX_CONNECTIONS: usize = 64;

impl Default for Smtp {
    fn default() -> Smtp {
        Smtp {
            host: String::new(),
            port: Security::Starttls.default_port(),
            security: Security::Starttls,
            username: None,
            password_env: DEFAULT_PASSWORD_ENV.into(),
            connections: 4,
            rate: None,
            timeout: Duration::from_secs(30),
            data_timeout: Duration::from_secs(600),
            retries: 4,
            retry_delay: Duration::from_millis(1000),
            hello_name: None,
            ca_file: None,
            pipelining: true,
            spf_include: None,
            origin: String::new(),
        }
    }
}

/// Reads `[smtp]`: one relay (`host` and its keys in the table itself) or
/// several (`[[smtp.relays]]`, each with its own host, credentials,
/// connections and rate), with the settings they share.
pub(super) fn read(mut t: Table<'_>, problems: &mut Problems) -> Option<Vec<Smtp>> {
    let mut base = Smtp::default();
    read_shared(&mut t, &mut base, problems);
    if !t.has("relays") {
        let relay = read_relay(&mut t, &base, "[smtp]", problems);
        t.finish(problems);
        return relay.map(|r| vec![r]);
    }
    if let Some(host) = t.retired("host") {
        problems.push(
            t.error("give `host` here or [[smtp.relays]], not both", host.span())
                .help("with several relays, each [[smtp.relays]] table names its own host"),
        );
    }
    let tables = t.tables("relays", problems)?;
    let span = tables.span();
    let mut relays = Vec::new();
    for mut relay in tables.into_inner() {
        if let Some(smtp) = read_relay(&mut relay, &base, "[[smtp.relays]]", problems) {
            relays.push(smtp);
        }
        relay.finish(problems);
    }
    if relays.is_empty() {
        problems.push(t.error("[[smtp.relays]] names no relay", span));
    }
    t.finish(problems);
    (!relays.is_empty()).then_some(relays)
}

/// The settings every relay shares.
fn read_shared(t: &mut Table<'_>, smtp: &mut Smtp, problems: &mut Problems) {
    let seconds = |t: &mut Table<'_>, key, default: Duration, problems: &mut Problems| {
        t.integer(key, 1..=86_400, problems)
            .map_or(default, |s| Duration::from_secs(s.get_ref().unsigned_abs()))
    };
    smtp.timeout = seconds(t, "timeout_secs", smtp.timeout, problems);
    smtp.data_timeout = seconds(t, "data_timeout_secs", smtp.data_timeout, problems);
    if let Some(r) = t.integer("retries", 0..=100, problems) {
        smtp.retries = u32::try_from(*r.get_ref()).unwrap_or(0);
    }
    if let Some(d) = t.integer("retry_delay_ms", 0..=3_600_000, problems) {
        smtp.retry_delay = Duration::from_millis(d.get_ref().unsigned_abs());
    }
    smtp.hello_name = t.string("hello_name", problems).map(|h| h.into_inner());
    if let Some(pipelining) = t.boolean("pipelining", problems) {
        smtp.pipelining = pipelining;
    }
}

/// One relay's settings, on top of the shared ones.
fn read_relay(t: &mut Table<'_>, base: &Smtp, what: &str, problems: &mut Problems) -> Option<Smtp> {
    let mut smtp = base.clone();
    let host = t.required_string("host", problems);
    if let Some(host) = &host
        && host.get_ref().trim().is_empty()
    {
        problems.push(t.error("the SMTP host is empty", host.span()));
    }
    let security = t.string("security", problems).and_then(|s| {
        let parsed = Security::parse(s.get_ref());
        if parsed.is_none() {
            problems.push(
                t.error(format!("unknown security `{}`", s.get_ref()), s.span())
                    .help("write \"starttls\", \"tls\" or \"none\""),
            );
        }
        parsed.map(|p| (p, s.span()))
    });
    if let Some(include) = t.string("spf_include", problems) {
        let include = include
            .get_ref()
            .trim()
            .trim_start_matches("include:")
            .to_ascii_lowercase();
        smtp.spf_include = (!include.is_empty()).then_some(include);
    }
    let allow_insecure = t.boolean("allow_insecure", problems).unwrap_or(false);
    if let (Some(host), Some((Security::None, span))) = (&host, &security)
        && !allow_insecure
        && !is_loopback(host.get_ref().trim())
    {
        problems.push(
            t.error(
                format!(
                    "security = \"none\" would send unencrypted to `{}`, which is not a loopback host",
                    host.get_ref().trim()
                ),
                span.clone(),
            )
            .help("use \"starttls\" or \"tls\", or set allow_insecure = true if you really mean it"),
        );
    }
    if let Some((security, _)) = security {
        smtp.security = security;
    }
    smtp.port = t
        .integer("port", 1..=65_535, problems)
        .map_or(smtp.security.default_port(), |p| {
            u16::try_from(*p.get_ref()).unwrap_or(25)
        });
    smtp.username = t.string("username", problems).map(|u| u.into_inner());
    if let Some(var) = t.string("password_env", problems) {
        if var.get_ref().trim().is_empty() {
            problems.push(t.error("password_env is empty", var.span()));
        } else {
            smtp.password_env = var.get_ref().trim().to_string();
        }
    }
    let max = i64::try_from(MAX_CONNECTIONS).unwrap_or(64);
    if let Some(c) = t.integer("connections", 1..=max, problems) {
        smtp.connections = usize::try_from(*c.get_ref()).unwrap_or(1);
    }
    smtp.rate = t.positive_number("rate", problems).map(|r| *r.get_ref());
    smtp.ca_file = t
        .string("ca_file", problems)
        .map(|c| PathBuf::from(c.into_inner()));
    let host = host?;
    let source = t.source();
    let (line, _) = source.line_column(host.span().start);
    smtp.host = host.get_ref().trim().to_string();
    smtp.origin = format!("{what} in {}:{line}", source.path.display());
    Some(smtp)
}

impl Smtp {
    /// Settings from a lettre-style URL, keeping the tuning (connections,
    /// rate, timeouts, retries, password variable) of `base` when there is
    /// one: `smtp://host:25` (no encryption), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user@host:465` (implicit TLS).
    ///
    /// # Errors
    /// A URL that is malformed, has another scheme, carries a password, or
    /// asks for no encryption to a host that is not loopback without
    /// `insecure`.
    pub fn from_url(
        text: &str,
        base: Option<&Smtp>,
        insecure: bool,
    ) -> Result<Smtp, SettingsError> {
        let bad = |why: String| SettingsError(format!("bad SMTP URL: {why}"));
        let url = url::Url::parse(text).map_err(|e| bad(e.to_string()))?;
        let mut smtp = base.cloned().unwrap_or_default();
        if url.password().is_some() {
            return Err(SettingsError(format!(
                "the SMTP URL carries a password, which every user of this machine can read in the process list; remove it from the URL and put it in the environment variable {}",
                smtp.password_env
            )));
        }
        let security = match url.scheme() {
            "smtps" => Security::Tls,
            "smtp" => match url
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.into_owned())
            {
                Some(v) if v == "required" || v == "opportunistic" => Security::Starttls,
                Some(v) => return Err(bad(format!("unknown tls={v} (use required)"))),
                None => Security::None,
            },
            other => return Err(bad(format!("scheme `{other}` (use smtp:// or smtps://)"))),
        };
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host".into()))?;
        if security == Security::None && !insecure && !is_loopback(&host) {
            return Err(SettingsError(format!(
                "the SMTP URL sends unencrypted to `{host}`, which is not a loopback host; add ?tls=required, use smtps://, or pass --insecure"
            )));
        }
        let user = percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned();
        smtp.port = url.port().unwrap_or(security.default_port());
        smtp.host = host;
        smtp.security = security;
        if !user.is_empty() {
            smtp.username = Some(user);
        }
        smtp.origin = "the SMTP URL".into();
        Ok(smtp)
    }

    /// These settings without what identifies a relay (its host, login and
    /// private CA): the base an `--smtp` URL fills in, so that a URL never
    /// logs in somewhere else with the file's username or trusts the file's
    /// CA for another host.
    pub fn tuning(&self) -> Smtp {
        Smtp {
            connections: self.connections,
            rate: self.rate,
            timeout: self.timeout,
            data_timeout: self.data_timeout,
            retries: self.retries,
            retry_delay: self.retry_delay,
            hello_name: self.hello_name.clone(),
            pipelining: self.pipelining,
            password_env: self.password_env.clone(),
            ..Smtp::default()
        }
    }

    /// `host:port (security)`, for messages; never the credentials.
    pub fn describe(&self) -> String {
        format!("{}:{} ({})", self.host, self.port, self.security)
    }

    /// The password to log in with, if there is a username.
    ///
    /// # Errors
    /// A username is set, but the environment variable that should hold the
    /// password is not set.
    pub fn password(&self, env: &Env) -> Result<Option<Secret>, SettingsError> {
        if self.username.is_none() {
            return Ok(None);
        }
        match env.get(&self.password_env) {
            Some(value) => Ok(Some(Secret::new(value))),
            None => Err(SettingsError(format!(
                "the SMTP password variable `{}` is not set (the password for {}); {} before sending",
                self.password_env,
                self.origin,
                env.where_to_set(&self.password_env)
            ))),
        }
    }
}

/// `localhost`, or an address in 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl From<SettingsError> for crate::error::Error {
    fn from(error: SettingsError) -> crate::error::Error {
        crate::error::Error::new(crate::error::Kind::Config, error)
    }
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

        let s = Smtp::from_url("smtps://user%40x@mail.example.com", None, false).expect("tls");
        assert_eq!((s.port, s.security), (465, Security::Tls));
        assert_eq!(s.username.as_deref(), Some("user@x"));
        assert_eq!(s.password_env, DEFAULT_PASSWORD_ENV);
    }

    /// See: issue 9, item 10. A password on the command line is in the
    /// process list for every local user.
    #[test]
    fn a_password_in_the_url_is_refused_and_where_to_put_it_is_said() {
        let err =
            Smtp::from_url("smtps://u:hunter2@mail.example.com", None, false).expect_err("refused");
        assert!(err.0.contains("carries a password"), "{err}");
        assert!(err.0.contains("CATCHUP_SMTP_PASSWORD"), "{err}");
        assert!(!err.0.contains("hunter2"), "{err}");
    }

    #[test]
    fn no_encryption_is_only_for_loopback_unless_forced() {
        let err = Smtp::from_url("smtp://mail.example.com", None, false).expect_err("refused");
        assert!(err.0.contains("not a loopback host"), "{err}");
        assert!(Smtp::from_url("smtp://mail.example.com", None, true).is_ok());
        assert!(Smtp::from_url("smtp://[::1]:25", None, false).is_ok());
        assert!(Smtp::from_url("smtp://localhost", None, false).is_ok());
        assert!(Smtp::from_url("http://x", None, false).is_err());
    }

    #[test]
    fn a_missing_password_variable_is_named() {
        let mut s = Smtp::from_url("smtps://u@mail.example.com", None, false).expect("url");
        s.password_env = "CATCHUP_TEST_SURELY_UNSET_VAR".into();
        let err = s.password(&Env::process()).expect_err("unset");
        assert!(
            err.0.contains("`CATCHUP_TEST_SURELY_UNSET_VAR` is not set"),
            "{err}"
        );
        assert!(!format!("{s:?}").contains("hunter"));
    }
}
