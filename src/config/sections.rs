//! The small sections of `newsletter.toml`: `[footer]`, `[unsubscribe]`,
//! `[colours]`, `[paths]` and `[schedule]`, each read field by field.

use std::path::PathBuf;

use super::env::Env;
use super::smtp::SettingsError;
use crate::config::colour::{MIN_CONTRAST, Rgb};
use crate::config::fields::{Problems, Table, nearest};
use crate::list::token::{Key, Keys};
use crate::schedule::{Schedule, Zone, parse_time, parse_weekday};

#[derive(Debug, Clone)]
pub struct Footer {
    /// Why the reader gets this email.
    pub reason: String,
    /// The sender's postal address (a legal requirement in many places).
    pub address: String,
    /// The privacy notice's page, linked from every footer.
    pub privacy_url: Option<String>,
}

pub(super) fn footer(mut t: Table<'_>, problems: &mut Problems) -> Option<Footer> {
    let reason = t.required_string("reason", problems);
    let address = t.required_string("address", problems);
    let privacy_url = t.string("privacy_url", problems).and_then(|u| {
        let text = u.get_ref().trim().to_string();
        match url::Url::parse(&text) {
            Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Some(text),
            _ => {
                problems.push(t.error(
                    "`privacy_url` is the https address of your privacy notice, e.g. \"https://hsj.example/privacy\"",
                    u.span(),
                ));
                None
            }
        }
    });
    t.finish(problems);
    Some(Footer {
        reason: reason?.into_inner(),
        address: address?.into_inner(),
        privacy_url,
    })
}

#[derive(Debug, Clone)]
pub struct Unsubscribe {
    /// An address for `List-Unsubscribe: <mailto:...>`, the second way out
    /// beside the one-click link; each reader is offered it with their
    /// token after a `+`.
    pub mailto: Option<lettre::Address>,
    /// The `authserv-id` of the server that receives the mailto address's
    /// mail, whose `Authentication-Results` may vouch for a request
    /// without a token.
    pub authserv_id: Option<String>,
}

/// `[unsubscribe]`; its mailto address may not be `return_path`, where
/// every returned message would read as a request to leave.
pub(super) fn unsubscribe(
    mut t: Table<'_>,
    return_path: Option<&lettre::Address>,
    problems: &mut Problems,
) -> Unsubscribe {
    if let Some(url) = t.retired("url") {
        problems.push(
            t.error(
                "the unsubscribe `url` is replaced by [web] base_url: links now point at `catchup serve`",
                url.span(),
            )
            .help("remove `url`, and add:\n[web]\nbase_url = \"https://news.example.com\"\nsecret_env = \"CATCHUP_SECRET\""),
        );
    }
    let mailto = t.string("mailto", problems).and_then(|m| {
        let text = m.get_ref().trim_start_matches("mailto:");
        let address = text
            .parse::<lettre::Address>()
            .map_err(|e| {
                problems.push(t.error(
                    format!("`{}` is not an email address: {e}", m.get_ref()),
                    m.span(),
                ));
            })
            .ok()?;
        if return_path.is_some_and(|r| AsRef::<str>::as_ref(r).eq_ignore_ascii_case(address.as_ref())) {
            problems.push(t.error(
                format!("`{address}` is also the return path, where returned mail comes: each return would read as a request to leave; give the mailto address one of its own (unsubscribe@…)"),
                m.span(),
            ));
            return None;
        }
        Some(address)
    });
    let authserv_id = t
        .string("authserv_id", problems)
        .map(|id| id.into_inner().trim().to_string())
        .filter(|id| !id.is_empty());
    t.finish(problems);
    Unsubscribe {
        mailto,
        authserv_id,
    }
}

/// `[web]`: where `catchup serve` is reached, and its signing secret.
#[derive(Debug, Clone)]
pub struct Web {
    /// The public URL the reverse proxy serves, without a trailing `/`.
    pub base_url: String,
    pub secret: SecretSource,
    /// The secret before the current one, accepted for links already sent.
    pub previous_secret: Option<SecretSource>,
}

/// Where a secret comes from: never the settings file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl Web {
    /// The keys links are made and checked with, read from the environment
    /// or a file now.
    ///
    /// # Errors
    /// A secret that is not set, too short, in a file others can read, or
    /// in a file that cannot be read.
    pub fn keys(&self, env: &Env) -> Result<Keys, SettingsError> {
        Ok(Keys {
            current: self.secret.key(env)?,
            previous: self
                .previous_secret
                .as_ref()
                .map(|secret| secret.key(env))
                .transpose()?,
        })
    }

    /// The public URL of an issue's web version.
    pub fn issue_url(&self, issue: &str) -> String {
        format!("{}/issues/{issue}.html", self.base_url)
    }

    /// A reader's unsubscribe URL.
    pub fn unsubscribe_url(&self, token: &str) -> String {
        format!("{}/u/{token}", self.base_url)
    }

    /// The unsubscribe link in one issue's mail: the reader's token, and
    /// the issue it came from (`?i=`), so that an unsubscribe is counted
    /// against the issue that caused it.
    pub fn unsubscribe_url_from(&self, token: &str, issue: &str) -> String {
        format!("{}/u/{token}?i={issue}", self.base_url)
    }
}

impl SecretSource {
    fn key(&self, env: &Env) -> Result<Key, SettingsError> {
        let hint = "generate one with `openssl rand -hex 32`";
        let text = self.text(env, "the link secret", hint)?;
        Key::new(&text).map_err(|why| SettingsError(format!("`{}`: {why}", self.name())))
    }

    /// The secret's text; `what` names it in an error, with `hint`.
    ///
    /// # Errors
    /// The variable is unset or empty, or the file cannot be read, is
    /// readable by others, or is not text.
    pub fn text(&self, env: &Env, what: &str, hint: &str) -> Result<String, SettingsError> {
        match self {
            SecretSource::Env(var) => {
                env.get(var)
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| {
                        SettingsError(format!(
                            "{what} variable `{var}` is not set; {hint} and {}",
                            env.where_to_set(var)
                        ))
                    })
            }
            SecretSource::File(path) => {
                let bytes = crate::fs::read_secret(path, 4096, 0o077)
                    .map_err(|e| SettingsError(format!("{what}: {e}")))?;
                String::from_utf8(bytes)
                    .map(|text| text.trim().to_string())
                    .map_err(|_| {
                        SettingsError(format!(
                            "{what} file `{}` is not text; {hint}",
                            path.display()
                        ))
                    })
            }
        }
    }

    /// The variable's or the file's name.
    fn name(&self) -> String {
        match self {
            SecretSource::Env(var) => var.clone(),
            SecretSource::File(path) => path.display().to_string(),
        }
    }
}

/// The variable the link secret is read from when nothing names another.
pub(crate) const DEFAULT_SECRET_ENV: &str = "CATCHUP_SECRET";

pub(super) fn web(mut t: Table<'_>, problems: &mut Problems) -> Option<Web> {
    let base_url = t.required_string("base_url", problems).and_then(|u| {
        crate::link::check(u.get_ref())
            .map(|link| link.trim_end_matches('/').to_string())
            .map_err(|why| problems.push(t.error(why, u.span())))
            .ok()
    });
    let secret = secret_source(&mut t, "secret", problems)
        .unwrap_or_else(|| SecretSource::Env(DEFAULT_SECRET_ENV.into()));
    let previous_secret = secret_source(&mut t, "previous_secret", problems);
    t.finish(problems);
    Some(Web {
        base_url: base_url?,
        secret,
        previous_secret,
    })
}

/// `<name>_env` or `<name>_file`, not both.
fn secret_source(t: &mut Table<'_>, name: &str, problems: &mut Problems) -> Option<SecretSource> {
    let env = t.string(&format!("{name}_env"), problems);
    let file = t.string(&format!("{name}_file"), problems);
    match (env, file) {
        (Some(_), Some(file)) => {
            problems.push(t.error(
                format!("give `{name}_env` or `{name}_file`, not both"),
                file.span(),
            ));
            None
        }
        (Some(env), None) if env.get_ref().trim().is_empty() => {
            problems.push(t.error(format!("`{name}_env` is empty"), env.span()));
            None
        }
        (Some(env), None) => Some(SecretSource::Env(env.get_ref().trim().to_string())),
        (None, Some(file)) => Some(SecretSource::File(PathBuf::from(file.into_inner()))),
        (None, None) => None,
    }
}

/// Colours as `#rrggbb`.
#[derive(Debug, Clone)]
pub struct Colours {
    /// The masthead background and link colour.
    pub brand: String,
    /// Body text.
    pub text: String,
    /// Bylines, dates and the footer.
    pub muted: String,
    /// Behind the email's column.
    pub background: String,
}

impl Default for Colours {
    fn default() -> Self {
        Colours {
            brand: "#0b4f6c".into(),
            text: "#1f2933".into(),
            muted: "#52606d".into(),
            background: "#eef1f4".into(),
        }
    }
}

pub(super) fn colours(mut t: Table<'_>, problems: &mut Problems) -> Colours {
    let mut colours = Colours::default();
    let slots: [(&str, &mut String, bool); 4] = [
        ("brand", &mut colours.brand, true),
        ("text", &mut colours.text, true),
        ("muted", &mut colours.muted, true),
        ("background", &mut colours.background, false),
    ];
    for (name, slot, is_text) in slots {
        let Some(value) = t.string(name, problems) else {
            continue;
        };
        let Some(rgb) = Rgb::parse(value.get_ref()) else {
            problems.push(t.error(
                format!(
                    "colour `{name}` is `{}`, not a #rrggbb colour",
                    value.get_ref()
                ),
                value.span(),
            ));
            continue;
        };
        let ratio = rgb.contrast(Rgb::WHITE);
        if is_text && ratio < MIN_CONTRAST {
            problems.push(t.warning(
                format!(
                    "colour `{name}` has a contrast of {ratio:.1}:1 against white; low-vision readers need at least {MIN_CONTRAST}:1"
                ),
                value.span(),
            ));
        }
        *slot = rgb.to_string();
    }
    t.finish(problems);
    colours
}

/// Folders and files, relative to the folder catchup runs in.
#[derive(Debug, Clone)]
pub struct Paths {
    pub seeds: PathBuf,
    pub issues: PathBuf,
    pub previews: PathBuf,
    pub state: PathBuf,
    pub subscribers: PathBuf,
    pub suppressed: PathBuf,
    /// The secrets a run reads besides its environment (see [`super::env`]).
    pub env_file: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            seeds: "seeds".into(),
            issues: "config/issues".into(),
            previews: "previews".into(),
            state: "state".into(),
            subscribers: "config/subscribers.csv".into(),
            suppressed: "config/suppressed.csv".into(),
            env_file: super::env::DEFAULT_ENV_FILE.into(),
        }
    }
}

pub(super) fn paths(mut t: Table<'_>, problems: &mut Problems) -> Paths {
    let mut paths = Paths::default();
    let slots: [(&str, &mut PathBuf); 7] = [
        ("seeds", &mut paths.seeds),
        ("issues", &mut paths.issues),
        ("previews", &mut paths.previews),
        ("state", &mut paths.state),
        ("subscribers", &mut paths.subscribers),
        ("suppressed", &mut paths.suppressed),
        ("env_file", &mut paths.env_file),
    ];
    for (key, slot) in slots {
        if let Some(value) = t.string(key, problems) {
            if value.get_ref().trim().is_empty() {
                problems.push(t.error(format!("`{key}` is empty"), value.span()));
            } else {
                *slot = PathBuf::from(value.into_inner());
            }
        }
    }
    t.finish(problems);
    paths
}

pub(super) fn schedule(mut t: Table<'_>, problems: &mut Problems) -> Option<Schedule> {
    let weekday = t.required_string("weekday", problems).and_then(|w| {
        let day = parse_weekday(w.get_ref());
        if day.is_none() {
            problems.push(
                t.error(format!("unknown weekday `{}`", w.get_ref()), w.span())
                    .help("write one of Mon, Tue, Wed, Thu, Fri, Sat, Sun"),
            );
        }
        day
    });
    let time = t.required_string("time", problems).and_then(|s| {
        let time = parse_time(s.get_ref());
        if time.is_none() {
            problems.push(
                t.error(format!("`{}` is not a time", s.get_ref()), s.span())
                    .help("write a 24-hour local time, e.g. time = \"07:00\""),
            );
        }
        time
    });
    let zone = t.required_string("timezone", problems).and_then(|z| {
        let zone = Zone::named(z.get_ref());
        if zone.is_none() {
            let names = Zone::names();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let help = match nearest(z.get_ref(), &names) {
                Some(near) => format!("did you mean `{near}`? (an IANA name, e.g. Europe/London)"),
                None => "use an IANA time zone name, e.g. Europe/London".into(),
            };
            problems.push(
                t.error(format!("unknown time zone `{}`", z.get_ref()), z.span())
                    .help(help),
            );
        }
        zone
    });
    let grace = t.integer("grace_hours", 0..=24 * 14, problems);
    t.finish(problems);
    Some(Schedule {
        weekday: weekday?,
        time: time?,
        zone: zone?,
        grace: chrono::Duration::hours(grace.map_or(24, |g| *g.get_ref())),
    })
}

/// `[dkim]`: who signs, with which key.
#[derive(Debug, Clone)]
pub struct Dkim {
    /// The signing domain (`d=`): the From domain or a parent of it.
    pub domain: String,
    pub selector: String,
    pub algorithm: DkimAlgorithm,
    pub key: KeySource,
    /// Where the key is named in the file, for problems with the key.
    pub key_span: std::ops::Range<usize>,
}

/// The signing algorithm: RSA-SHA256 (RFC 6376) or Ed25519-SHA256 (RFC 8463).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    Rsa,
    Ed25519,
}

impl DkimAlgorithm {
    pub fn parse(text: &str) -> Option<DkimAlgorithm> {
        match text.trim().to_ascii_lowercase().as_str() {
            "rsa" => Some(DkimAlgorithm::Rsa),
            "ed25519" => Some(DkimAlgorithm::Ed25519),
            _ => None,
        }
    }

    /// The name DNS records and `a=` use.
    pub fn name(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// Where a private key comes from: a PEM file, or a variable holding PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Env(String),
}

/// Every `[dkim]` or `[[dkim]]` table; two for one selector of one domain
/// are refused (one record cannot hold both keys).
pub(super) fn dkims(
    tables: Vec<Table<'_>>,
    from_domain: Option<&str>,
    problems: &mut Problems,
) -> Vec<Dkim> {
    let mut keys: Vec<Dkim> = Vec::new();
    for t in tables {
        let mut error = t.error("", t.span());
        let Some(key) = dkim(t, from_domain, problems) else {
            continue;
        };
        if keys
            .iter()
            .any(|k| k.domain == key.domain && k.selector == key.selector)
        {
            error.message = format!(
                "two [[dkim]] keys for the selector `{}` of {}: each key needs a selector of its own",
                key.selector, key.domain
            );
            problems.push(error);
            continue;
        }
        keys.push(key);
    }
    keys
}

fn dkim(mut t: Table<'_>, from_domain: Option<&str>, problems: &mut Problems) -> Option<Dkim> {
    let domain = t.required_string("domain", problems).and_then(|d| {
        let domain = d.get_ref().trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() || domain.contains(char::is_whitespace) || !domain.contains('.') {
            problems.push(t.error(format!("`{}` is not a domain", d.get_ref()), d.span()));
            return None;
        }
        if let Some(from) = from_domain
            && !aligned(from, &domain)
        {
            problems.push(
                t.error(
                    format!("the DKIM domain `{domain}` does not align with the From domain `{from}`"),
                    d.span(),
                )
                .help("Gmail and Yahoo require DKIM aligned with From: use the From domain or a parent of it"),
            );
        }
        Some(domain)
    });
    let selector = t.required_string("selector", problems).and_then(|s| {
        let selector = s.get_ref().trim().to_string();
        let valid = !selector.is_empty()
            && selector.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            problems.push(
                t.error(
                    format!("`{}` is not a DKIM selector", s.get_ref()),
                    s.span(),
                )
                .help("letters, digits and `-`, e.g. selector = \"catchup2026\""),
            );
            return None;
        }
        Some(selector)
    });
    let algorithm = match t.string("algorithm", problems) {
        Some(a) => DkimAlgorithm::parse(a.get_ref()).or_else(|| {
            problems.push(
                t.error(
                    format!("unknown DKIM algorithm `{}`", a.get_ref()),
                    a.span(),
                )
                .help("write \"rsa\" or \"ed25519\""),
            );
            None
        }),
        None => Some(DkimAlgorithm::Rsa),
    };
    let file = t.string("private_key", problems);
    let env = t.string("private_key_env", problems);
    let key = match (file, env) {
        (Some(_), Some(env)) => {
            problems.push(t.error(
                "give `private_key` or `private_key_env`, not both",
                env.span(),
            ));
            None
        }
        (Some(file), None) => Some((KeySource::File(PathBuf::from(file.get_ref())), file.span())),
        (None, Some(env)) => Some((KeySource::Env(env.get_ref().trim().to_string()), env.span())),
        (None, None) => {
            problems.push(
                t.error(
                    "[dkim] needs `private_key` (a PEM file) or `private_key_env`",
                    t.span(),
                )
                .help("make one with `catchup dkim keygen --selector S`"),
            );
            None
        }
    };
    t.finish(problems);
    let (key, key_span) = key?;
    Some(Dkim {
        domain: domain?,
        selector: selector?,
        algorithm: algorithm?,
        key,
        key_span,
    })
}

/// Relaxed DMARC alignment: the From domain is the signing domain or below
/// it (`news.hsj.example` aligns with `hsj.example`).
pub(crate) fn aligned(from: &str, signing: &str) -> bool {
    let from = from.trim_end_matches('.').to_ascii_lowercase();
    let signing = signing.trim_end_matches('.').to_ascii_lowercase();
    from == signing || from.ends_with(&format!(".{signing}"))
}

/// `[bounces]`: where returned mail goes, and when soft bounces suppress.
#[derive(Debug, Clone)]
pub struct Bounces {
    /// The envelope sender (`MAIL FROM`), where returned mail goes; the
    /// From address if not set.
    pub return_path: Option<lettre::Address>,
    /// Per-reader return paths (`bounces+<token>@domain`), so that any
    /// returned mail names its reader.
    pub verp: bool,
    /// Soft bounces (4.x.x) across this many distinct issues suppress.
    pub soft_limit: u32,
    /// Act on a report that names a listed address without catchup's mark
    /// for them (a VERP return path, a Message-ID, a link). Off: anyone who
    /// can send mail to the return path could then suppress any reader.
    pub trust_unmarked: bool,
    /// Amazon SES notifications through SNS, to `catchup serve`.
    pub ses: Option<Ses>,
    /// Postmark's bounce and spam-complaint webhooks, to `catchup serve`.
    pub postmark: Option<Postmark>,
}

/// `[bounces.ses]`: which SNS topic's notifications to accept, and the
/// signing certificates to check them with.
#[derive(Debug, Clone)]
pub struct Ses {
    pub topic_arn: String,
    /// A folder of SNS signing certificates (PEM), each named as the last
    /// part of its `SigningCertURL`; catchup never fetches one.
    pub certificates: PathBuf,
}

/// `[bounces.postmark]`: the HTTP Basic credentials set in Postmark's
/// webhook URL.
#[derive(Debug, Clone)]
pub struct Postmark {
    pub user: String,
    pub password: SecretSource,
}

impl Default for Bounces {
    fn default() -> Bounces {
        Bounces {
            return_path: None,
            verp: false,
            soft_limit: 3,
            trust_unmarked: false,
            ses: None,
            postmark: None,
        }
    }
}

pub(super) fn bounces(mut t: Table<'_>, problems: &mut Problems) -> Bounces {
    let mut bounces = Bounces {
        return_path: t.string("return_path", problems).and_then(|r| {
            crate::list::address::parse(r.get_ref())
                .map_err(|why| problems.push(t.error(why, r.span())))
                .ok()
        }),
        ..Bounces::default()
    };
    if let Some(verp) = t.boolean("verp", problems) {
        bounces.verp = verp;
    }
    if let Some(limit) = t.integer("soft_limit", 1..=100, problems) {
        bounces.soft_limit = u32::try_from(*limit.get_ref()).unwrap_or(3);
    }
    if let Some(trust) = t.boolean("trust_unmarked", problems) {
        bounces.trust_unmarked = trust;
    }
    bounces.ses = t.table("ses", problems).and_then(|mut ses| {
        let topic_arn = ses.required_string("topic_arn", problems).and_then(|arn| {
            arn.get_ref()
                .starts_with("arn:aws:sns:")
                .then(|| arn.get_ref().trim().to_string())
                .or_else(|| {
                    problems.push(ses.error(
                        "`topic_arn` is an SNS topic's ARN: arn:aws:sns:<region>:<account>:<topic>",
                        arn.span(),
                    ));
                    None
                })
        });
        let certificates = ses.required_string("certificates", problems);
        ses.finish(problems);
        Some(Ses {
            topic_arn: topic_arn?,
            certificates: PathBuf::from(certificates?.into_inner()),
        })
    });
    bounces.postmark = t.table("postmark", problems).and_then(|mut postmark| {
        let user = postmark.required_string("user", problems);
        let password = secret_source(&mut postmark, "password", problems);
        if password.is_none() {
            problems.push(postmark.error(
                "[bounces.postmark] needs `password_env` or `password_file`: the password in the webhook URL you give Postmark",
                postmark.span(),
            ));
        }
        postmark.finish(problems);
        Some(Postmark {
            user: user?.into_inner(),
            password: password?,
        })
    });
    t.finish(problems);
    bounces
}
